"""What a day's events say beyond the KPI buckets: time paused by reason, wrap-up
dispositions, and the dialer's campaigns (dials, results, drops). Counted per day with
the KPI buckets (reports/report_days.py keeps both for a closed day) and summed over a
range; all additive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    DialerAttempted,
    DialerDropped,
    DialerResulted,
    Event,
    WrapUpEnded,
)

CONTACTS = frozenset({"human", "answered"})  # a person on the line (predictive, or preview dialled)

Extras = dict[str, dict[str, dict[str, float]]]  # section -> row -> column -> number


def empty() -> Extras:
    return {"pauses": {}, "dispositions": {}, "campaigns": {}}


def day_extras(events: Iterable[Event], start: float, until: float) -> Extras:
    """Pauses clipped to [start, until) (`events` from before `start` tell who was
    paused at its beginning); dispositions and dialer counts of events in [start, until).
    pauses: reason -> agent -> seconds; dispositions: disposition -> agent -> calls;
    campaigns: campaign -> {dials, <result>..., drops}."""
    pauses: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    dispositions: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    campaigns: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    paused: dict[str, tuple[str, float]] = {}  # agent -> (reason, since)

    def close(agent: str, at: float) -> None:
        was = paused.pop(agent, None)
        if was is not None:
            lo, hi = max(was[1], start), min(at, until)
            if hi > lo:
                pauses[was[0] or "(no reason)"][agent] += hi - lo

    for e in sorted(events, key=lambda e: e.at):
        if isinstance(e, (AgentStateChanged, AgentLoggedIn, AgentLoggedOut)):
            close(e.agent_id, e.at)
            if isinstance(e, AgentStateChanged) and e.state == "paused":
                paused[e.agent_id] = (e.reason, e.at)
        if not start <= e.at < until:
            continue
        if isinstance(e, WrapUpEnded):
            dispositions[e.disposition or "(none)"][e.agent_id or "(queue)"] += 1
        elif isinstance(e, DialerAttempted):
            campaigns[e.campaign]["dials"] += 1
        elif isinstance(e, DialerResulted):
            campaigns[e.campaign][e.result] += 1
            if e.result in CONTACTS:
                campaigns[e.campaign]["contacts"] += 1
        elif isinstance(e, DialerDropped):
            campaigns[e.campaign]["drops"] += 1
    for agent in list(paused):
        close(agent, until)
    return {
        "pauses": {k: dict(v) for k, v in pauses.items()},
        "dispositions": {k: dict(v) for k, v in dispositions.items()},
        "campaigns": {k: dict(v) for k, v in campaigns.items()},
    }


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
