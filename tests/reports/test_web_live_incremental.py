"""The wallboard keeps its agents' cells and counts between pushes (reports/web_live.py):
after any stream of events, with snapshots taken along the way, it shows exactly what
a board given the same events at once shows."""

from __future__ import annotations

import json
import random

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    Event,
    WrapUpEnded,
)
from reports.kpi import KpiConfig
from reports.web_live import LiveBoard, View

AGENTS = [f"a{n}" for n in range(8)]
TEAMS = {a: ("red" if n % 3 == 0 else "blue" if n % 3 == 1 else "") for n, a in enumerate(AGENTS)}
SKILLS = {a: frozenset({"billing", "sales"} if n % 2 else {"billing"}) for n, a in enumerate(AGENTS)}


def board() -> LiveBoard:
    return LiveBoard(
        KpiConfig(teams=TEAMS),
        {"billing": {"sl_target": 0.8}, "sales": {}},
        names={a: a.upper() for a in AGENTS},
        skills=SKILLS,
    )


def stream(rng: random.Random, n: int) -> list[Event]:
    out: list[Event] = []
    t = 1_000.0
    calls: list[str] = []
    for i in range(n):
        t += rng.random() * 3
        agent, r = rng.choice(AGENTS), rng.random()
        cid = rng.choice(calls) if calls and r > 0.3 else f"c{i}"
        if r < 0.08:
            out.append(AgentLoggedIn(at=t, agent_id=agent))
        elif r < 0.11:
            out.append(AgentLoggedOut(at=t, agent_id=agent))
        elif r < 0.16:
            state = rng.choice(("available", "paused", "wrap_up", "logged_out"))
            reason = "lunch" if state == "paused" else ""
            out.append(AgentStateChanged(at=t, agent_id=agent, state=state, reason=reason))
        elif r < 0.3:
            calls.append(cid)
            out.append(CallArrived(at=t, call_id=cid, caller=f"555{i}", caller_name=f"Caller {i}"))
            out.append(CallQueued(at=t, call_id=cid, queue=rng.choice(("billing", "sales")), customer_id=f"k{i % 4}"))
        elif r < 0.45:
            out.append(CallOffered(at=t, call_id=cid, agent_id=agent, queue="billing"))
        elif r < 0.55:
            out.append(CallNotAnswered(at=t, call_id=cid, agent_id=agent))
        elif r < 0.7:
            out.append(CallConnected(at=t, call_id=cid, agent_id=agent))
        elif r < 0.8:
            out.append(CallEnded(at=t, call_id=cid))
        elif r < 0.86:
            out.append(CallAbandoned(at=t, call_id=cid))
        else:
            out.append(WrapUpEnded(at=t, agent_id=agent, call_id=cid))
    return out


def test_a_board_kept_between_pushes_shows_what_a_fresh_board_shows() -> None:
    rng = random.Random(11)
    for _run in range(20):
        events = stream(rng, 300)
        kept = board()
        views = [View(), View(frozenset({"red"})), View(frozenset({"blue", ""}))]
        for i, event in enumerate(events):
            kept.apply(event)
            if i % 7 == 0:
                kept.snapshot(event.at, rng.choice(views))
            if i % 29 == 0:
                kept.name_customer(f"k{i % 4}", f"Customer {i}")
        fresh = board()
        fresh.customer_names.update(kept.customer_names)
        for event in events:
            fresh.apply(event)
        now = events[-1].at + 5
        for view in views:
            assert kept.snapshot(now, view) == fresh.snapshot(now, view)
            text = json.loads(kept.snapshot_text(kept.frame(now), view, {"campaigns": []}))
            assert text == {**json.loads(json.dumps(fresh.snapshot(now, view))), "campaigns": []}


def test_the_boards_totals_equal_the_full_reports_totals() -> None:
    """The wallboard's report reads only the whole-run, non-agent buckets (kept aside
    as they are made): the same totals as the full report's."""
    rng = random.Random(5)
    for _run in range(10):
        kept = board()
        events = stream(rng, 300)
        for event in events:
            kept.apply(event)
        now = events[-1].at + 5
        head = kept.engine.report(now, agents=False, with_intervals=False).to_dict()
        full = kept.engine.report(now).to_dict()
        assert head["overall"] == full["overall"]
        for section in ("queues", "teams"):
            assert {k: v["total"] for k, v in head[section].items()} == {
                k: v["total"] for k, v in full[section].items()
            }
