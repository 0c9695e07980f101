"""Wallboard alerts as events: an alert's condition beginning is an `AlertRaised`, its
end an `AlertCleared`, in the event log (and on the bus, like every event).

Every web process computes the same alerts from the same log, so each would log each
change. The event log decides: which alerts are up, and how often each was raised
today, is folded from today's log (`AlertBook.apply`), and a change is appended with a
dedupe key naming the day, the alert's subject (a queue, `team:NAME`, `agent:ID`), its
rule and the how-many-th raise it is (`alert:<day>:<subject>:<rule>:<n>:raised` /
`:cleared`). Two processes making the same change make the same key: the store keeps
one, and the other learns of it from the bus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from events import AlertCleared, AlertRaised, Event

Key = tuple[str, str]  # (subject: a queue, "team:NAME" or "agent:ID"; rule: its name)


def key_of(event: AlertRaised | AlertCleared) -> Key:
    """An alert event's identity (before the rules: its queue and kind)."""
    if event.agent:
        subject = f"agent:{event.agent}"
    elif event.team and not event.queue:
        subject = f"team:{event.team}"
    else:
        subject = event.queue
    return subject, event.rule or event.alert


def alert_key(alert: Mapping[str, Any]) -> Key:
    """A current alert's identity (reports/alerts.py)."""
    return str(alert.get("subject") or alert.get("queue", "")), str(alert.get("rule") or alert.get("kind", ""))


class AlertBook:
    """Today's alerts as the log tells them: which are up, how many times each was raised."""

    def __init__(self) -> None:
        self.up: dict[Key, AlertRaised] = {}
        self.raises: Counter[Key] = Counter()

    def apply(self, event: object) -> None:
        if isinstance(event, AlertRaised):
            key = key_of(event)
            if key not in self.up:
                self.raises[key] += 1
            self.up[key] = event
        elif isinstance(event, AlertCleared):
            self.up.pop(key_of(event), None)

    def changes(self, alerts: Iterable[Mapping[str, Any]], now: float, day: float) -> list[tuple[Event, str]]:
        """(event, dedupe key) for each alert raised or cleared by `alerts` (the
        wallboard's list now, reports/alerts.py) against what is up."""
        current = {alert_key(a): a for a in alerts}
        out: list[tuple[Event, str]] = []
        for key, a in current.items():
            if key not in self.up:
                n = self.raises[key] + 1
                raised = AlertRaised(
                    at=now,
                    queue=str(a.get("queue", "")),
                    alert=str(a["kind"]),
                    text=str(a["text"]),
                    value=_num(a.get("value")),
                    target=_num(a.get("target")),
                    rule=str(a.get("rule", "")),
                    team=str(a.get("team", "")),
                    agent=str(a.get("agent", "")),
                    state=str(a.get("state", "")),
                )
                out.append((raised, f"alert:{day:.0f}:{key[0]}:{key[1]}:{n}:raised"))
        for key, up in list(self.up.items()):
            if key not in current:
                n = self.raises[key]
                cleared = AlertCleared(
                    at=now, queue=up.queue, alert=up.alert, rule=up.rule, team=up.team, agent=up.agent
                )
                out.append((cleared, f"alert:{day:.0f}:{key[0]}:{key[1]}:{n}:cleared"))
        return out


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def episodes(events: Iterable[object]) -> list[dict[str, Any]]:
    """The alert history: one row per alert raised (latest first), with when it was
    cleared (None: still up, or not cleared within the events read)."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[Key, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, AlertRaised) and key_of(event) not in open_rows:
            row = {
                "queue": event.queue,
                "team": event.team,
                "agent": event.agent,
                "rule": event.rule,
                "alert": event.alert,
                "text": event.text,
                "value": event.value,
                "target": event.target,
                "raised_at": event.at,
                "cleared_at": None,
            }
            rows.append(row)
            open_rows[key_of(event)] = row
        elif isinstance(event, AlertCleared):
            cleared = open_rows.pop(key_of(event), None)
            if cleared is not None:
                cleared["cleared_at"] = event.at
    return rows[::-1]
