""" "Simulate on the last 7 days": the stored calls of the last days replayed through
the simulator (`sim.run.what_if`, common random numbers) with the live routing rules
and with the edited ones, staffed as the agents actually were (their stored login /
logout spans, skills and teams).

The simulation is synchronous (SimPy): it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import structlog

from events import AgentLoggedIn, AgentLoggedOut, CallQueued, to_record
from store.sql import SqlStore

log = structlog.get_logger()

PAGE = 10_000
SUMMARY = (
    "offered",
    "answered",
    "abandoned",
    "abandon_rate",
    "asa",
    "service_level",
    "avg_wait",
    "max_wait",
    "occupancy",
    "aht",
)


class SimulationUnavailable(RuntimeError):
    pass


class NothingToSimulate(ValueError):
    pass


def available() -> bool:
    try:
        from sim.run import what_if  # noqa: F401
        from sim.scenario import AgentGroup, ReplaySpec, Scenario  # noqa: F401
    except ImportError:
        return False
    return True


def _shifts(events: list[Any], start: float, end: float) -> dict[str, list[tuple[float, float]]]:
    """Per agent, logged-in spans relative to `start` (an open span ends at `end`)."""
    open_at: dict[str, float] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        if isinstance(e, AgentLoggedIn) and e.agent_id not in open_at:
            open_at[e.agent_id] = e.at
        elif isinstance(e, AgentLoggedOut) and e.agent_id in open_at:
            spans.setdefault(e.agent_id, []).append((open_at.pop(e.agent_id) - start, e.at - start))
    for agent, at in open_at.items():
        spans.setdefault(agent, []).append((at - start, end - start))
    return {a: [(max(0.0, s), e) for s, e in v if e > max(0.0, s)] for a, v in spans.items()}


def _run(
    live_text: str,
    candidate_text: str,
    events: list[Any],
    users: list[Any],
    start: float,
    end: float,
    sl_threshold_s: float,
    seed: int,
) -> dict[str, Any]:
    from reports.kpi import KpiConfig
    from routing import load_rules
    from sim.run import what_if
    from sim.scenario import AgentGroup, ReplaySpec, Scenario

    shifts = _shifts(events, start, end)
    groups = tuple(
        AgentGroup(
            prefix=f"{u.login}-",
            count=1,
            skills=dict(u.skills) or {"any": 1},
            team=u.team,
            languages=tuple(u.languages),
            shifts=tuple(shifts[u.login]),
        )
        for u in users
        if u.role == "agent" and shifts.get(u.login)
    )
    calls = sum(1 for e in events if isinstance(e, CallQueued))
    if not groups:
        raise NothingToSimulate("no agent logged in during the period: nothing to staff the simulation with")
    if not calls:
        raise NothingToSimulate("no call was queued during the period: nothing to replay")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        path.write_text("".join(json.dumps(to_record(e)) + "\n" for e in events), encoding="utf-8")
        scenario = Scenario(
            name="last days",
            seed=seed,
            duration_s=end - start,
            queues=(),
            agents=groups,
            start_s=start,
            rules_text=live_text,
            rules_filename="live.toml",
            kpi=KpiConfig(sl_threshold_s=sl_threshold_s),
            replay=ReplaySpec(kind="events", path=path, queue_skills=True),
        )
        current, candidate, diff = what_if(scenario, load_rules(candidate_text, "edited.toml"), seed=seed)
    return {
        "calls_replayed": calls,
        "agents": len(groups),
        "current": {k: current.summary().get(k) for k in SUMMARY},
        "candidate": {k: candidate.summary().get(k) for k in SUMMARY},
        "difference": {k: diff[k]["difference"] for k in SUMMARY if k in diff},
    }


async def simulate_last_days(
    store: SqlStore,
    live_text: str,
    candidate_text: str,
    now: float,
    days: int = 7,
    sl_threshold_s: float = 20.0,
    seed: int = 7,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    if not available():
        raise SimulationUnavailable("the simulator (sim.run.what_if) is not installed")
    start, end = now - days * 86400, now
    events = [s.event async for s in store.iter_events(start, end, page=PAGE)]
    users = await store.list_users()
    result = await asyncio.wait_for(
        asyncio.to_thread(_run, live_text, candidate_text, events, users, start, end, sl_threshold_s, seed), timeout_s
    )
    log.info("what_if_done", days=days, calls=result["calls_replayed"], agents=result["agents"])
    return {"days": days, "start": start, "end": end, **result}
