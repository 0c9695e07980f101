"""Schedule adherence: the published schedule (web/adherence.py) against what each
agent actually did (their state events in the log), per interval. Pure: shifts and
events in, numbers out.

For each agent and interval, over the time up to `now`:

- `scheduled_s`: time inside a scheduled shift (its break included);
- `scheduled_on_s`: of it, time scheduled on the phones (the break taken out);
- `actual_on_s`: time the agent was on the phones (logged in and available, reserved,
  on a call or in wrap-up; paused or logged out is off them), shift or not;
- `adherent_s`: time inside the shift doing what the schedule says: on the phones when
  scheduled on them, off them during the break;
- adherence = adherent_s / scheduled_s (the usual "in adherence" share of the
  scheduled time); conformance = actual_on_s / scheduled_on_s (worked as much as
  scheduled, whenever).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged, Event
from wfm.schedule import Shift

ON_PHONE = frozenset({"available", "reserved", "on_call", "wrap_up"})
Span = tuple[float, float]


@dataclass(slots=True)
class Figures:
    scheduled_s: float = 0.0
    scheduled_on_s: float = 0.0
    actual_on_s: float = 0.0
    adherent_s: float = 0.0

    def add(self, other: Figures) -> None:
        self.scheduled_s += other.scheduled_s
        self.scheduled_on_s += other.scheduled_on_s
        self.actual_on_s += other.actual_on_s
        self.adherent_s += other.adherent_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduled_s": round(self.scheduled_s, 1),
            "scheduled_on_s": round(self.scheduled_on_s, 1),
            "actual_on_s": round(self.actual_on_s, 1),
            "adherent_s": round(self.adherent_s, 1),
            "adherence": round(self.adherent_s / self.scheduled_s, 4) if self.scheduled_s else None,
            "conformance": round(self.actual_on_s / self.scheduled_on_s, 4) if self.scheduled_on_s else None,
        }


def _overlap(a: Iterable[Span], b: Iterable[Span]) -> float:
    b = list(b)
    return sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in a for y0, y1 in b)


def _clip(spans: Iterable[Span], lo: float, hi: float) -> list[Span]:
    return [(max(s, lo), min(e, hi)) for s, e in spans if min(e, hi) > max(s, lo)]


def on_phone_spans(events: Iterable[Event], until: float) -> dict[str, list[Span]]:
    """Each agent's time on the phones, from their state events (in time order) up to `until`."""
    since: dict[str, float] = {}  # agent -> on the phones since
    out: dict[str, list[Span]] = {}
    for e in events:
        if not isinstance(e, AgentLoggedIn | AgentStateChanged | AgentLoggedOut) or e.at >= until:
            continue
        on = isinstance(e, AgentLoggedIn) or (isinstance(e, AgentStateChanged) and e.state in ON_PHONE)
        if on:
            since.setdefault(e.agent_id, e.at)
        elif e.agent_id in since:
            out.setdefault(e.agent_id, []).append((since.pop(e.agent_id), e.at))
    for agent, t in since.items():
        out.setdefault(agent, []).append((t, until))
    return out


def adherence(
    shifts: Iterable[Shift],
    events: Iterable[Event],
    start: float,
    end: float,
    interval_s: int,
    now: float,
    teams: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Per agent (each interval and the total) and per team, over [start, min(end, now))."""
    until = min(end, now)
    by_agent: dict[str, list[Shift]] = {}
    for s in shifts:
        by_agent.setdefault(s.agent, []).append(s)
    actual = on_phone_spans(events, until)
    agents: dict[str, Any] = {}
    team_totals: dict[str, Figures] = {}
    overall = Figures()
    for agent in sorted(set(by_agent) | set(actual)):
        planned = by_agent.get(agent, [])
        spans = [(s.start, s.end) for s in planned]
        on = [span for s in planned for span in s.on_phone()]
        off = [s.break_ for s in planned if s.break_ is not None]
        worked = actual.get(agent, [])
        rows, total = [], Figures()
        t = start
        while t < end:
            lo, hi = t, min(t + interval_s, until)
            f = Figures()
            if hi > lo:
                f.scheduled_s = _overlap(_clip(spans, lo, hi), [(lo, hi)])
                f.scheduled_on_s = _overlap(_clip(on, lo, hi), [(lo, hi)])
                f.actual_on_s = _overlap(_clip(worked, lo, hi), [(lo, hi)])
                breaks = _clip(off, lo, hi)
                f.adherent_s = _overlap(_clip(on, lo, hi), worked) + (
                    _overlap(breaks, [(lo, hi)]) - _overlap(breaks, worked)
                )
            rows.append({"start": t, **f.to_dict()})
            total.add(f)
            t += interval_s
        team = (teams or {}).get(agent, "")
        team_totals.setdefault(team, Figures()).add(total)
        overall.add(total)
        agents[agent] = {"team": team, "total": total.to_dict(), "intervals": rows}
    return {
        "start": start,
        "end": end,
        "interval_s": interval_s,
        "agents": agents,
        "teams": {name: f.to_dict() for name, f in sorted(team_totals.items())},
        "overall": overall.to_dict(),
    }


def scheduled_now(shifts: Iterable[Shift], now: float) -> dict[str, str]:
    """Each agent with a shift around `now`: "on" (the phones) or "break"."""
    out: dict[str, str] = {}
    for s in shifts:
        if s.start <= now < s.end:
            out[s.agent] = "break" if s.break_ is not None and s.break_[0] <= now < s.break_[1] else "on"
    return out
