"""Reports and the wallboard by channel (issue 18): what each channel's contacts did.

Pure: folds of stored rows (tasks/model.Task for the written channels, store.models.
Interaction for voice), times passed in; `tasks_from_events` gives the same rows from
the written tasks' events in the log. Per channel, over the contacts that arrived in
[start, end):

- `offered`, `answered` (an agent took it), `abandoned` (the customer left first),
  `abandon_rate` (abandoned / offered);
- `first_response_s`: mean seconds from arrival to the first answer the customer got (a
  written task: the agent's first outbound message; a call: it was answered), and its
  90th percentile; `wait_s`: mean seconds until an agent took it;
- `handle_s`: mean seconds an agent held it (taken to closed / ended);
- `concurrency`: how many of the channel's contacts an agent held at once, on average
  over the time they held at least one (`concurrency_max`: the most at once);
- `overdue`: contacts with a due time (e-mails: answer within hours) not answered by
  it: their first response came later, or none by then (still waiting now, or ended
  without one).

`blended` gives the agents' concurrency over every channel together (a call and two
e-mails at once is 3). `board` is the live view: per channel, the tasks waiting now,
the longest wait, the tasks being handled and those not yet taken past their due time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from events import TaskAbandoned, TaskAccepted, TaskClosed, TaskNotAccepted, TaskOffered, TaskQueued
from store.models import Interaction
from tasks.model import CHANNELS, Task, check_channel

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ChannelStats:
    channel: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    abandon_rate: float | None = None
    first_response_s: float | None = None
    first_response_p90_s: float | None = None
    wait_s: float | None = None
    handle_s: float | None = None
    concurrency: float | None = None
    concurrency_max: int = 0
    overdue: int = 0


@dataclass(frozen=True, slots=True)
class _Contact:
    channel: str
    agent: str
    arrived: float
    taken: float | None
    responded: float | None
    ended: float | None
    abandoned: bool
    due: float | None = None

    def overdue(self, now: float) -> bool:
        """Not answered by its due time (the first response, else its end, else now)."""
        if self.due is None:
            return False
        answered = self.responded if self.responded is not None else self.ended
        return (answered if answered is not None else now) > self.due


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1)


def concurrency(spans: Iterable[Span]) -> tuple[float | None, int]:
    """One agent's spans: (mean held at once while holding any, most at once)."""
    edges: list[tuple[float, int]] = []
    for a, b in spans:
        if b > a:
            edges += [(a, 1), (b, -1)]
    if not edges:
        return None, 0
    edges.sort(key=lambda e: (e[0], e[1]))
    held = peak = 0
    busy = weighted = 0.0
    last = edges[0][0]
    for at, step in edges:
        if held:
            busy += at - last
            weighted += held * (at - last)
        held += step
        peak = max(peak, held)
        last = at
    return (weighted / busy if busy else None), peak


def _contacts(tasks: Iterable[Task], calls: Iterable[Interaction], start: float, end: float) -> list[_Contact]:
    found = [
        _Contact(
            t.channel,
            t.agent_id or "",
            t.created_at,
            t.assigned_at,
            t.first_response_at,
            t.closed_at,
            t.state == "abandoned",
            t.due_at,
        )
        for t in tasks
        if start <= t.created_at < end
    ]
    for i in calls:
        if not start <= i.started_at < end or i.direction != "inbound":
            continue
        found.append(
            _Contact(
                "voice", i.agent_id, i.started_at, i.answered_at, i.answered_at, i.ended_at, i.outcome == "abandoned"
            )
        )
    return found


def tasks_from_events(events: Iterable[object]) -> list[Task]:
    """The written tasks as their events tell them (events/: TaskQueued ... TaskClosed),
    in the rows' form `channel_report` reads: the log and the rows give one report.
    A task counts from its first TaskQueued; taken by its last TaskAccepted."""
    found: dict[str, Task] = {}
    for e in sorted(events, key=lambda e: getattr(e, "at", 0.0)):
        if isinstance(e, TaskQueued):
            if e.task_id not in found:
                found[e.task_id] = Task(
                    e.task_id,
                    check_channel(e.channel),
                    e.queue,
                    e.customer_id or None,
                    created_at=e.at,
                    due_at=e.due_at,
                )
            continue
        task = found.get(getattr(e, "task_id", ""))
        if task is None:
            continue
        if isinstance(e, TaskOffered):
            found[task.task_id] = replace(task, state="offered", agent_id=e.agent_id, offered_at=e.at)
        elif isinstance(e, TaskNotAccepted):
            found[task.task_id] = replace(task, state="waiting", agent_id=None)
        elif isinstance(e, TaskAccepted):
            found[task.task_id] = replace(task, state="assigned", agent_id=e.agent_id, assigned_at=e.at)
        elif isinstance(e, TaskClosed):
            found[task.task_id] = replace(
                task,
                state="closed",
                agent_id=e.agent_id or task.agent_id,
                closed_at=e.at,
                first_response_at=e.first_response_at,
                disposition=e.disposition,
            )
        elif isinstance(e, TaskAbandoned):
            found[task.task_id] = replace(task, state="abandoned", closed_at=e.at, outcome=e.reason)
    return list(found.values())


def channel_report(
    tasks: Iterable[Task], calls: Iterable[Interaction], start: float, end: float, now: float
) -> dict[str, Any]:
    """{"channels": {channel: ChannelStats as a dict}, "blended": {concurrency, concurrency_max}}."""
    contacts = _contacts(tasks, calls, start, end)
    by_channel: dict[str, list[_Contact]] = defaultdict(list)
    for c in contacts:
        by_channel[c.channel].append(c)
    out: dict[str, Any] = {}
    for channel in [*CHANNELS, *sorted(set(by_channel) - set(CHANNELS))]:
        rows = by_channel.get(channel, [])
        firsts = [c.responded - c.arrived for c in rows if c.responded is not None]
        spans: dict[str, list[Span]] = defaultdict(list)
        for c in rows:
            if c.taken is not None and c.agent:
                spans[c.agent].append((c.taken, c.ended if c.ended is not None else now))
        per_agent = [concurrency(s) for s in spans.values()]
        weights = [sum(b - a for a, b in spans[agent]) for agent in spans]
        means = [(m, w) for (m, _), w in zip(per_agent, weights, strict=True) if m is not None]
        held = sum(w / m for m, w in means)  # the seconds agents held at least one
        abandoned = sum(1 for c in rows if c.abandoned)
        out[channel] = asdict(
            ChannelStats(
                channel=channel,
                offered=len(rows),
                answered=sum(1 for c in rows if c.taken is not None),
                abandoned=abandoned,
                abandon_rate=round(abandoned / len(rows), 4) if rows else None,
                first_response_s=_mean(firsts),
                first_response_p90_s=_p90(firsts),
                wait_s=_mean([c.taken - c.arrived for c in rows if c.taken is not None]),
                handle_s=_mean([c.ended - c.taken for c in rows if c.taken is not None and c.ended is not None]),
                concurrency=round(sum(w for _, w in means) / held, 2) if held else None,
                concurrency_max=max((p for _, p in per_agent), default=0),
                overdue=sum(1 for c in rows if c.overdue(now)),
            )
        )
    every: dict[str, list[Span]] = defaultdict(list)
    for c in contacts:
        if c.taken is not None and c.agent:
            every[c.agent].append((c.taken, c.ended if c.ended is not None else now))
    blended = [concurrency(s) for s in every.values()]
    total = [sum(b - a for a, b in s) for s in every.values()]
    pairs = [(m, w) for (m, _), w in zip(blended, total, strict=True) if m is not None]
    held_any = sum(w / m for m, w in pairs)
    return {
        "channels": out,
        "blended": {
            "concurrency": round(sum(w for _, w in pairs) / held_any, 2) if held_any else None,
            "concurrency_max": max((p for _, p in blended), default=0),
        },
    }


def board(open_tasks: Iterable[Task], now: float) -> dict[str, dict[str, Any]]:
    """Now, per written channel: tasks waiting, the longest wait (s), tasks being handled,
    and those waiting past their due time."""
    view: dict[str, dict[str, Any]] = {
        ch: {"waiting": 0, "longest_wait_s": None, "handling": 0, "overdue": 0} for ch in CHANNELS if ch != "voice"
    }
    for t in open_tasks:
        row = view.setdefault(t.channel, {"waiting": 0, "longest_wait_s": None, "handling": 0, "overdue": 0})
        if t.state == "waiting":
            row["waiting"] += 1
            wait = round(now - t.created_at, 1)
            row["longest_wait_s"] = wait if row["longest_wait_s"] is None else max(row["longest_wait_s"], wait)
        else:
            row["handling"] += 1
        if t.state in ("waiting", "offered") and t.due_at is not None and t.due_at < now:
            row["overdue"] += 1  # (not taken yet: an offer the agent has not accepted counts)
    return view


__all__ = ["ChannelStats", "board", "channel_report", "concurrency", "tasks_from_events"]
