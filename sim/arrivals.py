"""Call arrivals for the simulator: Poisson with a rate per interval (a day profile),
or replayed from an Asterisk queue_log, a stored domain-event log (JSONL of
`events.to_record`) or the Anonymous Bank dataset (data/anonymous-bank).

An `Arrival` carries what the recording knows about the caller: its patience when it
hung up while waiting (None when it was served: its patience is censored and the
scenario's distribution is drawn instead) and its handle time when served (None: drawn).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from events import (
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallQueued,
    UnknownEventKind,
    from_record,
)
from sim.dists import ScenarioError

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # seconds on the simulation clock
    queue: str
    patience: float | None = None
    handle: float | None = None
    priority: int = 0
    customer_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    skills: Mapping[str, int] = field(default_factory=dict)  # as recorded (stored events)


def poisson_profile(
    rng: random.Random,
    queue: str,
    rates_per_hour: Sequence[float],
    interval_s: float,
    start: float,
    end: float,
) -> Iterator[float]:
    """Arrival times of a Poisson process whose rate is rates_per_hour[i] during
    [start + i*interval_s, start + (i+1)*interval_s) (the last rate holds to `end`).
    Exact for piecewise-constant rates (memoryless restart at each boundary)."""
    t = start
    i = 0
    expovariate = rng.expovariate
    while t < end:
        rate = rates_per_hour[min(i, len(rates_per_hour) - 1)] / 3600.0
        bound = min(end, start + (i + 1) * interval_s) if i < len(rates_per_hour) - 1 else end
        if rate > 0:
            # the arrivals of interval i (rate and bound worked out once per interval:
            # the simulator takes one arrival per call)
            while True:
                nxt = t + expovariate(rate)
                if nxt >= bound:
                    break
                t = nxt
                yield t
        t = bound
        i += 1


# ---------------------------------------------------------------- Asterisk queue_log


def read_queue_log(path: str | Path, origin: float | None = None) -> list[Arrival]:
    """Arrivals from an Asterisk queue_log (`time|callid|queue|agent|event|data...`):
    ENTERQUEUE opens a call; ABANDON/EXITWITHTIMEOUT gives its patience (wait), and
    COMPLETEAGENT/COMPLETECALLER its talk time. Times are shifted so the first line is
    at `origin` (default: keep the epoch seconds). Malformed lines are skipped and logged."""
    p = Path(path)
    calls: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    first: float | None = None
    for lineno, raw in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = raw.strip().split("|")
        if len(parts) < 5:
            if raw.strip():
                log.warning("queue_log_bad_line", file=str(p), line=lineno, reason="fewer than 5 fields")
            continue
        try:
            t = float(parts[0])
        except ValueError:
            log.warning("queue_log_bad_line", file=str(p), line=lineno, reason="time is not a number")
            continue
        first = t if first is None else first
        callid, queue, event, data = parts[1], parts[2], parts[4], parts[5:]
        if event == "ENTERQUEUE":
            calls[callid] = {"at": t, "queue": queue}
            order.append(callid)
            continue
        c = calls.get(callid)
        if c is None:
            continue
        try:
            if event in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"):
                c["patience"] = float(data[2]) if event == "ABANDON" and len(data) > 2 else t - c["at"]
            elif event in ("COMPLETEAGENT", "COMPLETECALLER"):
                c["handle"] = float(data[1])
            elif event == "CONNECT":
                c.setdefault("handle", None)
        except (ValueError, IndexError):
            log.warning("queue_log_bad_line", file=str(p), line=lineno, reason=f"bad {event} data")
    shift = 0.0 if origin is None or first is None else origin - first
    return [
        Arrival(
            at=calls[cid]["at"] + shift,
            queue=calls[cid]["queue"],
            patience=calls[cid].get("patience"),
            handle=calls[cid].get("handle"),
        )
        for cid in order
    ]


# ---------------------------------------------------------------- stored events


def read_event_log(path: str | Path) -> list[Arrival]:
    """Arrivals from a JSONL domain-event log (one `events.to_record` dict per line)."""
    p = Path(path)
    queued: dict[str, CallQueued] = {}
    connected: dict[str, float] = {}
    patience: dict[str, float] = {}
    handle: dict[str, float] = {}
    order: list[str] = []
    for lineno, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            e = from_record(json.loads(raw))
        except (json.JSONDecodeError, UnknownEventKind, TypeError) as exc:
            log.warning("event_log_bad_line", file=str(p), line=lineno, reason=str(exc))
            continue
        if isinstance(e, CallQueued) and e.call_id not in queued:
            queued[e.call_id] = e
            order.append(e.call_id)
        elif isinstance(e, CallConnected) and e.call_id in queued:
            connected.setdefault(e.call_id, e.at)
        elif isinstance(e, CallAbandoned) and e.call_id in queued and e.call_id not in connected:
            patience[e.call_id] = e.at - queued[e.call_id].at
        elif isinstance(e, CallEnded) and e.call_id in connected:
            handle.setdefault(e.call_id, e.at - connected[e.call_id])
    return [
        Arrival(
            at=queued[c].at,
            queue=queued[c].queue,
            patience=patience.get(c),
            handle=handle.get(c),
            priority=queued[c].priority,
            customer_id=queued[c].customer_id,
            attributes=dict(queued[c].attributes),
            skills=dict(queued[c].skills),
        )
        for c in order
    ]


# ---------------------------------------------------------------- Anonymous Bank


def _bank_records(path: str | Path, dates: Sequence[str] | None, types: Sequence[str] | None) -> list[Any]:
    """The log's queued calls (wfm.history reads the format: call ids, the midnight
    crossing, PHANTOM rows and VRU hang-ups) filed under those dates, of those types, on
    a clock whose 0 is midnight of the first date. Rejected rows are logged and skipped."""
    import dataclasses

    from wfm.history import Rejected
    from wfm.history import read_anonymous_bank as read_rows

    p = Path(path)
    want_types = set(types) if types else None
    with p.open(encoding="utf-8", newline="") as fh:
        header = fh.readline()
        names = header.rstrip("\r\n").split("\t")
        col = names.index("date") if "date" in names else -1
        lines = [header] + [ln for ln in fh if not dates or ln.split("\t")[col] in dates] if col >= 0 else [header]
    calls = []
    try:
        for lineno, item in read_rows(lines):
            if isinstance(item, Rejected):
                log.warning("anonymous_bank_bad_row", file=str(p), line=lineno, reason=item.reason)
            elif item is not None and (want_types is None or item.queue in want_types):
                calls.append(item)
    except ValueError as exc:
        raise ScenarioError(f"{p}: not the Anonymous Bank format ({exc})") from None
    if not calls:
        return []
    first = min(dates) if dates else None
    d0 = (datetime.strptime(first, "%y%m%d").replace(tzinfo=UTC).timestamp() if first
          else min(c.queued_at for c in calls) // 86400 * 86400)  # fmt: skip
    return sorted((dataclasses.replace(c, queued_at=c.queued_at - d0) for c in calls), key=lambda c: c.queued_at)


def read_anonymous_bank(
    path: str | Path, dates: Sequence[str] | None = None, types: Sequence[str] | None = None
) -> list[Arrival]:
    """Arrivals from the Anonymous Bank TSV: one per call that reached the queue (served
    calls, and hang-ups with q_time > 0; PHANTOM rows and IVR-only hang-ups are left
    out). Queue = call `type` (PS, PE, IN, NE, NW, TT); time on the clock = seconds
    since midnight of the first selected date (several dates run one after another)."""
    return [
        Arrival(
            at=c.queued_at,
            queue=c.queue,
            patience=None if c.answered else c.wait,
            handle=c.talk if c.answered and c.talk > 0 else None,
            priority=c.priority,
            customer_id=c.customer_id,
        )
        for c in _bank_records(path, dates, types)
    ]


def anonymous_bank_events(path: str | Path, dates: Sequence[str] | None = None) -> list[object]:
    """The recorded outcomes of the Anonymous Bank calls as domain events (what the
    live server would have logged; wfm.history.call_events: wrap-up closed at the call's
    end, no-agent rows with no agent, presence derived). For checking the KPI library
    against what the data record."""
    from wfm.history import call_events

    return list(call_events(_bank_records(path, dates, None)))
