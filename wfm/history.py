"""Recorded call history (the Anonymous Bank log, or the generic calls CSV) read into
plain call records, then into the domain events the KPI library folds. Pure: the
readers take lines, the CLI (`hotline history import`) does the I/O.

What the events say, and why:

- each call: CallQueued when it joined the queue, then CallConnected (at queue entry
  + recorded wait) and CallEnded (+ recorded service time), or CallAbandoned (+ wait);
- a WrapUpEnded at the call's end: neither log records after-call work, so none is
  counted (without it the idle time to the agent's next call would read as wrap-up);
- a call served with no agent named (Anonymous Bank `NO_SERVER`) is answered and
  handled with no agent: it counts in the queue's figures, in no agent's;
- presence is *derived*: neither log says when agents logged in. An agent is taken as
  logged in from the start of a call to the end of the last call before an idle gap
  longer than `PRESENCE_GAP_S` (then logged out until its next call). Time an agent
  waited before its first call or after its last one is not known, so occupancy is an
  upper bound; the generic CSV may instead give no agent at all (no presence).

Times: the Anonymous Bank clock is the bank's local time with no zone; it is kept as
UTC (1999-02-01 07:00 is stored as 07:00 UTC), so intervals read as the log's clock.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallQueued,
    Event,
    WrapUpEnded,
)

PRESENCE_GAP_S = 3600.0  # an idle gap longer than this ends a derived presence session
_DAY = 86400


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One recorded call that reached the queue."""

    call_id: str
    queue: str
    queued_at: float  # epoch seconds
    wait: float  # seconds waiting (to answer or to hang-up)
    answered: bool
    talk: float = 0.0  # service time of an answered call
    wrap: float | None = None  # after-call work, when the log has it
    agent: str = ""  # "" = no agent named
    priority: int = 0
    customer_id: str = ""

    @property
    def connected_at(self) -> float:
        return self.queued_at + self.wait

    @property
    def ended_at(self) -> float:
        return self.connected_at + self.talk if self.answered else self.connected_at


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


Item = tuple[int, CallRecord | Rejected | None]  # None: a row deliberately left out


# ---------------------------------------------------------------- Anonymous Bank

AB_COLUMNS = ("vru+line", "call_id", "customer_id", "priority", "type", "date", "vru_entry", "vru_exit",
              "q_start", "q_time", "outcome", "ser_time", "server")  # fmt: skip


def _clock(value: str, field: str) -> int:
    parts = value.strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{field}: {value!r} is not H:MM:SS")
    h, m, s = (int(p) for p in parts)
    if m > 59 or s > 59 or h > 23:
        raise ValueError(f"{field}: {value!r} is not a time of day")
    return h * 3600 + m * 60 + s


def _int(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a whole number") from None


def _after(clock: int, ref: int) -> int:
    """`clock` on the day of `ref`, or the next day when it is well before it (a call
    that entered the VRU before midnight and queued after it: its q_start reads 0:00:xx)."""
    return clock + _DAY if clock < ref - 6 * 3600 else clock


def _ab_row(f: dict[str, str]) -> CallRecord | None:
    outcome = f["outcome"].strip()
    if outcome not in ("AGENT", "HANG", "PHANTOM"):
        raise ValueError(f"outcome: {outcome!r} is not AGENT, HANG or PHANTOM")
    if outcome == "PHANTOM":
        return None
    q_time = _int(f["q_time"], "q_time")
    if outcome == "HANG" and q_time <= 0:
        return None  # hung up in the VRU: never offered to the queue
    date = f["date"].strip()
    try:
        day = datetime.strptime(date, "%y%m%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"date: {date!r} is not YYMMDD") from None
    entry = _clock(f["vru_entry"], "vru_entry")
    start = _clock(f["q_start"], "q_start") if q_time > 0 else _clock(f["vru_exit"], "vru_exit")
    ser_time = _int(f["ser_time"], "ser_time")
    if q_time < 0 or ser_time < 0:
        raise ValueError("q_time, ser_time: negative")
    server = f["server"].strip()
    prio = _int(f["priority"], "priority")
    cust = f["customer_id"].strip()
    return CallRecord(
        call_id=f"{f['vru+line'].strip()}-{f['call_id'].strip()}",  # call_id alone repeats
        queue=f["type"].strip(),
        queued_at=day + _after(start, entry),
        wait=float(q_time),
        answered=outcome == "AGENT",
        talk=float(ser_time) if outcome == "AGENT" else 0.0,
        agent="" if server == "NO_SERVER" or outcome != "AGENT" else server,
        priority=2 if prio == 2 else 0,
        customer_id="" if cust == "0" else cust,
    )


def read_anonymous_bank(lines: Iterable[str]) -> Iterator[Item]:
    """(line number, record | Rejected | None) per data row of the tab-separated log.
    None: a PHANTOM row or a hang-up in the VRU (never queued). A header without the
    needed columns raises ValueError."""
    rows = csv.reader(lines, delimiter="\t")
    header = [h.strip() for h in next(rows, [])]
    missing = [c for c in AB_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"line 1: not the Anonymous Bank format: missing column(s) {', '.join(missing)}")
    for lineno, row in enumerate(rows, 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            yield lineno, Rejected(lineno, f"{len(row)} fields, the header has {len(header)}")
            continue
        try:
            yield lineno, _ab_row(dict(zip(header, row, strict=True)))
        except ValueError as exc:
            yield lineno, Rejected(lineno, str(exc))


# ---------------------------------------------------------------- generic CSV

CSV_COLUMNS = ("call_id", "queue", "queued_at", "wait_s", "outcome", "talk_s", "wrap_s", "agent")
CSV_REQUIRED = ("call_id", "queue", "queued_at", "wait_s", "outcome")


def _when(value: str) -> float:
    v = value.strip()
    try:
        return float(v)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"queued_at: {value!r} is neither epoch seconds nor ISO 8601") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _seconds(value: str, field: str, default: float | None = None) -> float | None:
    v = value.strip()
    if not v:
        if default is None:
            raise ValueError(f"{field}: required")
        return default
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a number of seconds") from None
    if not x >= 0:
        raise ValueError(f"{field}: must be >= 0, got {value!r}")
    return x


def _csv_row(f: dict[str, str]) -> CallRecord:
    for c in CSV_REQUIRED:
        if not (f.get(c) or "").strip():
            raise ValueError(f"{c}: required")
    outcome = f["outcome"].strip().lower()
    if outcome not in ("answered", "abandoned"):
        raise ValueError(f"outcome: {f['outcome']!r} is not answered or abandoned")
    answered = outcome == "answered"
    wrap_text = (f.get("wrap_s") or "").strip()
    return CallRecord(
        call_id=f["call_id"].strip(),
        queue=f["queue"].strip(),
        queued_at=_when(f["queued_at"]),
        wait=_seconds(f["wait_s"], "wait_s") or 0.0,
        answered=answered,
        talk=(_seconds(f.get("talk_s") or "", "talk_s") or 0.0) if answered else 0.0,
        wrap=_seconds(wrap_text, "wrap_s") if answered and wrap_text else None,
        agent=(f.get("agent") or "").strip() if answered else "",
    )


def read_calls_csv(lines: Iterable[str]) -> Iterator[Item]:
    """The generic calls CSV (comma-separated, a header naming the columns, any order):

    call_id, queue, queued_at (epoch seconds, or ISO 8601; no zone = UTC), wait_s
    (seconds waiting), outcome (answered | abandoned) are required; talk_s (service
    time, required when answered), wrap_s (after-call work; empty = none recorded) and
    agent (empty = no agent named, no presence derived) are optional."""
    rows = csv.DictReader(lines)
    header = [h.strip() for h in rows.fieldnames or []]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise ValueError(f"line 1: missing column(s) {', '.join(missing)} (see `hotline history import --help`)")
    rows.fieldnames = header
    for row in rows:
        lineno = rows.line_num
        if None in row:
            yield lineno, Rejected(lineno, f"more fields than the header's {len(header)}")
            continue
        try:
            yield lineno, _csv_row({k: v or "" for k, v in row.items()})
        except ValueError as exc:
            yield lineno, Rejected(lineno, str(exc))


# ---------------------------------------------------------------- events

# order of events at one instant: a call ends (and its agent is free) before the next
# one is connected; an agent logs in before, and out after, its calls
_RANK = {CallEnded: 0, WrapUpEnded: 1, AgentLoggedOut: 2, AgentLoggedIn: 3, CallQueued: 4,
         CallAbandoned: 5, CallConnected: 6}  # fmt: skip


def presence_sessions(
    calls: Iterable[CallRecord], gap_s: float = PRESENCE_GAP_S
) -> dict[str, list[tuple[float, float]]]:
    """Derived presence per named agent: (login, logout) spans covering its calls, cut
    at idle gaps longer than gap_s (see the module docstring)."""
    busy: dict[str, list[tuple[float, float]]] = {}
    for c in calls:
        if c.answered and c.agent:
            busy.setdefault(c.agent, []).append((c.connected_at, c.ended_at + (c.wrap or 0.0)))
    out: dict[str, list[tuple[float, float]]] = {}
    for agent, spans in busy.items():
        spans.sort()
        sessions: list[tuple[float, float]] = []
        lo, hi = spans[0]
        for s, e in spans[1:]:
            if s - hi > gap_s:
                sessions.append((lo, hi))
                lo = s
            hi = max(hi, e)
        sessions.append((lo, hi))
        out[agent] = sessions
    return out


def call_events(calls: Iterable[CallRecord], presence: bool = True, gap_s: float = PRESENCE_GAP_S) -> list[Event]:
    """The events of the recorded calls (and the derived presence), in time order."""
    calls = list(calls)
    keyed: list[tuple[float, int, Event]] = []

    def add(event: Event, late: int = 0) -> None:
        keyed.append((event.at, _RANK[type(event)] + late, event))

    for c in calls:
        add(CallQueued(c.queued_at, c.call_id, queue=c.queue, priority=c.priority, customer_id=c.customer_id))
        if not c.answered:
            add(CallAbandoned(c.connected_at, c.call_id, queue=c.queue))
            continue
        add(CallConnected(c.connected_at, c.call_id, c.agent, queue=c.queue))
        late = len(_RANK) if c.talk == 0 else 0  # served in 0 s: it ends after its own connect
        add(CallEnded(c.ended_at, c.call_id), late)
        add(WrapUpEnded(c.ended_at + (c.wrap or 0.0), c.call_id, c.agent), 0 if c.wrap else late)
    if presence:
        for agent, sessions in presence_sessions(calls, gap_s).items():
            for lo, hi in sessions:
                add(AgentLoggedIn(lo, agent))
                add(AgentLoggedOut(hi, agent), 2 * len(_RANK))  # after the last call's own end
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [e for _, _, e in keyed]


def records_from_events(events: Iterable[Event]) -> list[CallRecord]:
    """Call records back from stored events (what `call_events` writes, or the live
    server's log): a call's first CallQueued, its first CallConnected (agent, answer),
    then CallEnded and WrapUpEnded, or CallAbandoned. A call still open at the end of
    the events is left out."""
    queued: dict[str, CallQueued] = {}
    connected: dict[str, CallConnected] = {}
    ended: dict[str, float] = {}
    out: dict[str, CallRecord] = {}
    for e in events:
        cid = getattr(e, "call_id", "")
        if isinstance(e, CallQueued):
            queued.setdefault(cid, e)
        elif cid not in queued or cid in out:
            continue
        elif isinstance(e, CallConnected):
            connected.setdefault(cid, e)
        elif isinstance(e, CallAbandoned) and cid not in connected:
            q = queued[cid]
            out[cid] = CallRecord(cid, q.queue, q.at, e.at - q.at, False, priority=q.priority,
                                  customer_id=q.customer_id)  # fmt: skip
        elif isinstance(e, CallEnded) and cid in connected:
            ended.setdefault(cid, e.at)
        elif isinstance(e, WrapUpEnded) and cid in ended:
            q, c = queued[cid], connected[cid]
            wrap = e.at - ended[cid]
            out[cid] = CallRecord(cid, q.queue, q.at, c.at - q.at, True, ended[cid] - c.at, wrap or None,
                                  c.agent_id, q.priority, q.customer_id)  # fmt: skip
    for cid, end in ended.items():  # ended with no wrap-up recorded
        if cid not in out:
            q, c = queued[cid], connected[cid]
            out[cid] = CallRecord(cid, q.queue, q.at, c.at - q.at, True, end - c.at, None, c.agent_id, q.priority,
                                  q.customer_id)  # fmt: skip
    return sorted(out.values(), key=lambda r: (r.queued_at, r.call_id))


def dedupe_key(source: str, event: Event) -> str:
    """One key per imported event: importing the same log again stores nothing twice."""
    ident = getattr(event, "call_id", "") or getattr(event, "agent_id", "")
    return f"history:{source}:{type(event).__name__}:{ident}:{event.at:.0f}"
