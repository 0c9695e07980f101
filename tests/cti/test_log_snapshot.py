"""A hot standby's snapshot of the event log (cti/log_snapshot.py) gives the live loop's
start-up folds (agents' states, open and waiting calls, the day's counts) the same
answers as the whole last day of the log, and reads the log incrementally."""

from __future__ import annotations

import time
from typing import Any

from cti.live import LiveStats
from cti.live_calls import CallState
from cti.live_recovery import Recovery, open_waiting, waiting_since
from cti.live_root import restore_agent_states
from cti.log_snapshot import FOLLOWED, LogSnapshot
from events import Event
from routing import AgentProfile, Router, rules_from_data
from sim.log_history import a_day
from store.memory import MemoryStore
from store.models import StoredEvent

AGENTS = [f"a{i}" for i in range(12)]


class _Center:
    """What Recovery's preload and count_today touch of the center."""

    def __init__(self) -> None:
        self.stats = LiveStats()
        self.calls: dict[str, CallState] = {}

    def adopt_calls(self, states: Any) -> None:
        self.calls = {s.call_id: s for s in states}


def _folds(history: list[Event], now: float) -> dict[str, Any]:
    router = Router(rules_from_data({}))
    for agent in AGENTS:
        router.add_agent(AgentProfile(agent, skills={"support": 5}))
    restore_agent_states(history, router, now)
    center = _Center()
    recovery = Recovery(center)  # type: ignore[arg-type]
    open_calls = recovery.preload(history)
    recovery.count_today(history, now)
    return {
        "agents": {a: router.agent_state(a) for a in AGENTS},
        "open": sorted(open_calls),
        "states": {k: (v.queue, v.answered, v.agent, v.attributes, sorted(v.logged)) for k, v in center.calls.items()},
        "waiting": open_waiting(history),
        "since": waiting_since(history),
        "today": (center.stats.calls_offered, center.stats.calls_answered, center.stats.calls_abandoned),
        # the calls ended just before the start, whose rows a new leader checks
        "ended": {
            k: (s.caller, s.queue, s.customer_id, s.answered_at, s.agent, s.queued, e.at)
            for k, (s, e) in recovery.ended.items()
        },
    }


def test_the_snapshot_answers_the_start_up_folds_as_the_whole_day_does() -> None:
    now = time.time()
    history = a_day(now, 3000, AGENTS)
    snapshot = LogSnapshot()
    for seq, event in enumerate(history, start=1):
        snapshot.add(StoredEvent(seq, event))
    snapshot.prune(now)
    short = snapshot.events(now)
    assert len(short) < len(history) / 50  # what a new leader folds: the open calls and the agents
    whole = _folds(history, now)
    assert whole["open"] and whole["waiting"] and whole["today"][0] > 0  # (the test can fail)
    assert whole["ended"] and len(whole["ended"]) < 200
    mine = _folds(short, now)
    stats = LiveStats()
    snapshot.count_today(stats, now)
    mine["today"] = (stats.calls_offered, stats.calls_answered, stats.calls_abandoned)
    assert mine == whole


async def test_a_standby_reads_the_log_incrementally_and_catches_up_at_takeover() -> None:
    store = MemoryStore()
    now = time.time()
    history = a_day(now, 200, AGENTS)
    followed = [isinstance(e, tuple(FOLLOWED)) for e in history]  # (IVR steps, wrap-ups: not read)
    assert not all(followed)
    await store.append_many(history[:1000])
    snapshot = LogSnapshot()
    assert snapshot.health(lambda: now)["synced_s_ago"] is None  # not hot yet
    assert await snapshot.read_tail(store, now) == sum(followed[:1000])
    assert await snapshot.read_tail(store, now) == 0  # nothing new: nothing read
    await store.append_many(history[1000:])
    assert await snapshot.catch_up(store, now) == sum(followed[1000:])  # (the margin re-read is skipped)
    assert snapshot.last_seq == max(i + 1 for i, f in enumerate(followed) if f)
    assert _folds(snapshot.events(now), now)["open"] == _folds(history, now)["open"]
    assert snapshot.health()["synced_s_ago"] is not None
