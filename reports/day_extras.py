"""What a day's events say beyond the KPI buckets: time paused by reason, wrap-up
dispositions, and the dialer's campaigns (dials, results, drops). Counted per day with
the KPI buckets (reports/day_fold.py) and summed over a range; all additive.
"""

from __future__ import annotations

from typing import Any

CONTACTS = frozenset({"human", "answered"})  # a person on the line (predictive, or preview dialled)

Extras = dict[str, dict[str, dict[str, float]]]  # section -> row -> column -> number


def empty() -> Extras:
    return {"pauses": {}, "dispositions": {}, "campaigns": {}}


def merge(into: Extras, other: Extras) -> None:
    for section, rows in other.items():
        target = into.setdefault(section, {})
        for row, columns in rows.items():
            cells = target.setdefault(row, {})
            for column, value in columns.items():
                cells[column] = cells.get(column, 0.0) + value


def only_agents(extras: Extras, allowed: set[str]) -> Extras:
    """A supervisor's view: pauses and dispositions of their teams' agents (campaigns whole)."""
    return {
        "pauses": {r: {a: v for a, v in c.items() if a in allowed} for r, c in extras["pauses"].items()},
        "dispositions": {r: {a: v for a, v in c.items() if a in allowed} for r, c in extras["dispositions"].items()},
        "campaigns": extras["campaigns"],
    }


def summary(extras: Extras) -> dict[str, Any]:
    """The report's tables: totals per row, and each campaign's drop rate (drops over
    contacts, what the abandonment cap is measured on)."""

    def rows(section: str, total: str) -> dict[str, Any]:
        return {
            r: {total: sum(c.values()), "by_agent": dict(sorted(c.items()))} for r, c in sorted(extras[section].items())
        }

    out: dict[str, Any] = {
        "pauses": rows("pauses", "total_s"),
        "dispositions": rows("dispositions", "total"),
        "campaigns": {},
    }
    for name, c in sorted(extras["campaigns"].items()):
        contacts = c.get("contacts", 0.0)
        out["campaigns"][name] = {**c, "drop_rate": c.get("drops", 0.0) / contacts if contacts else None}
    return out
