"""Wallboard alerts as events: an alert's condition beginning is an `AlertRaised`, its
end an `AlertCleared`, in the event log (and on the bus, like every event).

Every web process computes the same alerts from the same log, so each would log each
change. The event log decides: which alerts are up, and how often each was raised
today, is folded from today's log (`AlertBook.apply`), and a change is appended with a
dedupe key naming the day, the queue, the kind and the how-many-th raise it is
(`alert:<day>:<queue>:<kind>:<n>:raised` / `:cleared`). Two processes making the same
change make the same key: the store keeps one, and the other learns of it from the bus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from events import AlertCleared, AlertRaised, Event

Key = tuple[str, str]  # (queue, kind)


class AlertBook:
    """Today's alerts as the log tells them: which are up, how many times each was raised."""

    def __init__(self) -> None:
        self.up: dict[Key, AlertRaised] = {}
        self.raises: Counter[Key] = Counter()

    def apply(self, event: object) -> None:
        if isinstance(event, AlertRaised):
            key = (event.queue, event.alert)
            if key not in self.up:
                self.raises[key] += 1
            self.up[key] = event
        elif isinstance(event, AlertCleared):
            self.up.pop((event.queue, event.alert), None)

    def changes(self, alerts: Iterable[Mapping[str, Any]], now: float, day: float) -> list[tuple[Event, str]]:
        """(event, dedupe key) for each alert raised or cleared by `alerts` (the
        wallboard's list now, reports/alerts.py) against what is up."""
        current = {(str(a["queue"]), str(a["kind"])): a for a in alerts}
        out: list[tuple[Event, str]] = []
        for (queue, kind), a in current.items():
            if (queue, kind) not in self.up:
                n = self.raises[(queue, kind)] + 1
                raised = AlertRaised(
                    at=now,
                    queue=queue,
                    alert=kind,
                    text=str(a["text"]),
                    value=_num(a.get("value")),
                    target=_num(a.get("target")),
                )
                out.append((raised, f"alert:{day:.0f}:{queue}:{kind}:{n}:raised"))
        for queue, kind in list(self.up):
            if (queue, kind) not in current:
                n = self.raises[(queue, kind)]
                out.append(
                    (AlertCleared(at=now, queue=queue, alert=kind), f"alert:{day:.0f}:{queue}:{kind}:{n}:cleared")
                )
        return out


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def episodes(events: Iterable[object]) -> list[dict[str, Any]]:
    """The alert history: one row per alert raised (latest first), with when it was
    cleared (None: still up, or not cleared within the events read)."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[Key, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, AlertRaised) and (event.queue, event.alert) not in open_rows:
            row = {
                "queue": event.queue,
                "alert": event.alert,
                "text": event.text,
                "value": event.value,
                "target": event.target,
                "raised_at": event.at,
                "cleared_at": None,
            }
            rows.append(row)
            open_rows[(event.queue, event.alert)] = row
        elif isinstance(event, AlertCleared):
            cleared = open_rows.pop((event.queue, event.alert), None)
            if cleared is not None:
                cleared["cleared_at"] = event.at
    return rows[::-1]
