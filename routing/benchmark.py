"""Router benchmark: per-event decision latency over a realistic mixed stream.

Used by `bench/bench_router.py` (make bench) and `hotline bench router`.

The workload: `skills` skills and one queue per skill, each with three widening
targets (proficiency >= 7, then >= 4 after 20 s, then >= 1 after 40 s more) and a
strategy taken in turn from all six load/skill strategies; one queue in three has a
gold-tier filter whose first target is the preferred agent (15 s), one in four has
priority ageing, one in five a final step (callback after 15 min). Agents have 2-6
skills at levels 1-10. The stream is driven by a small discrete-event loop that keeps
about `waiting` calls queued: arrivals, answers (2-8 s) or ring-no-answer (4%),
talk times (exponential, 3 min mean), wrap-ups (router timers), abandons
(exponential patience), agent breaks, and Ticks at `next_deadline()`. Timing starts
once the initial load is through and ~3 talk times have passed (steady state).

Only `router.handle(...)` is timed; the driver's own work is not. Latencies are wall
clock (`p50_us`, `p99_us`: what a caller waits, including time the OS gave to other
processes) and this thread's CPU time (`cpu_p50_us`, `cpu_p99_us`: the router's own
cost, steady on a busy machine).
"""

from __future__ import annotations

import gc
import heapq
import random
import statistics
import time
from typing import Any

from events import (
    AgentLoggedIn,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallQueued,
)
from routing.model import AgentProfile, FinalStep, Offer, Tick
from routing.router import Router
from routing.rules import RuleSet, load_rules

_STRATEGIES = ("longest_idle", "most_skilled", "fewest_calls", "least_occupied", "round_robin", "random")


def skill_names(k: int) -> list[str]:
    return [f"s{i:03d}" for i in range(k)]


def build_rules_text(k: int) -> str:
    names = skill_names(k)
    lines = [
        "version = 1",
        "skills = [" + ", ".join(f'"{s}"' for s in names) + "]",
        "[defaults]",
        "wrap_up_s = 10",
        "[rona]",
        "max_misses = 3",
        'pause_reason = "rona"',
    ]
    for i, s in enumerate(names):
        strategy = _STRATEGIES[i % len(_STRATEGIES)]
        lines += [f"[queues.q_{s}]", f"wrap_up_s = {5 + (i % 4) * 5}", f'strategy = "{strategy}"']
        if i % 4 == 0:
            lines.append("ageing = { every_s = 60, step = 1, max = 9 }")
        if i % 5 == 0:
            lines.append('final = { action = "callback", after_s = 900 }')
        if i % 3 == 0:
            lines += [
                f"[[queues.q_{s}.filters]]",
                'name = "gold"',
                "when = 'tier == \"gold\"'",
                f"[[queues.q_{s}.filters.targets]]",
                'strategy = "preferred_agent"',
                "timeout_s = 15",
                f"[[queues.q_{s}.filters.targets]]",
                f"expression = 'skills.{s} >= 5'",
                "priority = 5",
            ]
        lines += [
            f"[[queues.q_{s}.targets]]",
            f'expression = "skills.{s} >= 7"',
            "timeout_s = 20",
            f"[[queues.q_{s}.targets]]",
            f'expression = "skills.{s} >= 4"',
            "timeout_s = 40",
            f"[[queues.q_{s}.targets]]",
            f'expression = "skills.{s} >= 1"',
        ]
    return "\n".join(lines) + "\n"


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def run_benchmark(
    agents: int,
    skills: int,
    waiting: int,
    seed: int = 0,
    events: int = 100_000,
    rules: RuleSet | None = None,
    freeze_gc: bool = False,
) -> dict[str, Any]:
    """Drive the router; return figures (latencies in microseconds)."""
    rng = random.Random(seed)
    rules = rules or load_rules(build_rules_text(skills), "bench-routing.toml")
    router = Router(rules, seed=seed)
    names = skill_names(skills)
    languages = ("en", "fr", "es", "de")

    lat_ns: list[int] = []  # wall clock per event
    cpu_ns: list[int] = []  # this thread's CPU time per event (unaffected by other processes)
    perf, thread_time = time.perf_counter_ns, time.thread_time_ns
    timed = False
    decisions_total = 0
    now = 0.0

    future: list[tuple[float, int, str, Any]] = []
    seq = 0

    def later(t: float, kind: str, data: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(future, (t, seq, kind, data))

    call_state: dict[str, str] = {}  # call_id -> waiting | offered | connected
    customer_agent: dict[str, str] = {}
    waiting_count = 0
    call_no = 0

    def feed(event: Any, t: float) -> None:
        nonlocal decisions_total, waiting_count
        if timed:
            c0 = thread_time()
            t0 = perf()
            out = router.handle(event, t)
            lat_ns.append(perf() - t0)
            cpu_ns.append(thread_time() - c0)
        else:
            out = router.handle(event, t)
        decisions_total += len(out)
        for d in out:
            if isinstance(d, Offer):
                if call_state.get(d.call_id) == "waiting":
                    waiting_count -= 1
                call_state[d.call_id] = "offered"
                if rng.random() < 0.04:
                    later(t + 18.0, "rona", (d.call_id, d.agent_id))
                else:
                    later(t + rng.uniform(2.0, 8.0), "answer", (d.call_id, d.agent_id))
            elif isinstance(d, FinalStep):
                if call_state.pop(d.call_id, None) == "waiting":
                    waiting_count -= 1
            elif isinstance(d, AgentStateChanged) and d.state == "paused":
                later(t + rng.uniform(30.0, 120.0), "unpause", d.agent_id)

    def pick_skill() -> str:
        # Demand and supply share one skewed mix: a few busy skills, a long tail.
        if rng.random() < 0.5:
            return names[min(len(names) - 1, int(rng.paretovariate(1.2)) - 1)]
        return names[rng.randrange(len(names))]

    # ---- set-up (not timed): agents log in, the queue fills up
    for i in range(agents):
        n_skills = min(len(names), rng.randint(2, 6))
        own_d: dict[str, None] = {}
        while len(own_d) < n_skills:
            own_d[pick_skill()] = None
        own = list(own_d)
        profile = AgentProfile(
            agent_id=f"a{i:05d}",
            skills={s: rng.randint(1, 10) for s in own},
            languages=tuple(rng.sample(languages, k=rng.randint(1, 2))),
            team=f"t{i % 50}",
        )
        router.add_agent(profile)
        feed(AgentLoggedIn(at=now, agent_id=profile.agent_id), now)

    mean_talk = 180.0
    mean_handle = mean_talk + 15.0
    base_rate = agents / mean_handle

    def new_call(t: float) -> None:
        nonlocal call_no, waiting_count
        call_no += 1
        cid = f"c{call_no}"
        skill = pick_skill()
        customer = f"cust{rng.randrange(agents * 5)}"
        attrs: dict[str, Any] = {"language": rng.choice(languages)}
        if rng.random() < 0.1:
            attrs["tier"] = "gold"
        if customer in customer_agent and rng.random() < 0.5:
            attrs["preferred_agent"] = customer_agent[customer]
        call_state[cid] = "waiting"
        waiting_count += 1
        feed(
            CallQueued(
                at=t,
                call_id=cid,
                queue=f"q_{skill}",
                skills={skill: 1},
                priority=rng.choice((0, 0, 0, 0, 1, 2, 5)),
                customer_id=customer,
                attributes=attrs,
            ),
            t,
        )
        if call_state.get(cid) == "waiting":
            later(t + rng.expovariate(1 / 900.0), "abandon", cid)
        customer_agent.setdefault(customer, "")

    # The initial load arrives over two minutes (so that its timers do not all
    # fall on one instant), then the steady stream runs.
    initial = agents + waiting
    for i in range(initial):
        later(now + 120.0 * i / initial, "arrival0", None)
    later(now + 120.0 + rng.expovariate(base_rate), "arrival", None)
    # Measure the steady state: after the initial load and ~3 talk times.
    warmup = initial + max(2_000, events // 5)
    warmup_s = 120.0 + 3 * mean_talk
    processed = 0
    t_start = 0.0
    wall0 = time.perf_counter()
    while not timed or len(lat_ns) < events:
        deadline = router.next_deadline()
        if deadline is not None and (not future or deadline <= future[0][0]):
            now = max(now, deadline)
            feed(Tick(now), now)
            processed += 1
        else:
            t, _, kind, data = heapq.heappop(future)
            now = max(now, t)
            if kind == "arrival0":
                new_call(now)
            elif kind == "arrival":
                new_call(now)
                factor = 2.5 if waiting_count < waiting else 0.8
                later(now + rng.expovariate(base_rate * factor), "arrival", None)
            elif kind == "answer":
                cid, aid = data
                if call_state.get(cid) != "offered":
                    continue
                call_state[cid] = "connected"
                feed(CallConnected(at=now, call_id=cid, agent_id=aid), now)
                later(now + rng.expovariate(1 / mean_talk), "end", (cid, aid))
            elif kind == "rona":
                cid, aid = data
                if call_state.get(cid) != "offered":
                    continue
                call_state[cid] = "waiting"
                waiting_count += 1
                feed(CallNotAnswered(at=now, call_id=cid, agent_id=aid), now)
            elif kind == "end":
                cid, aid = data
                if call_state.pop(cid, None) != "connected":
                    continue
                feed(CallEnded(at=now, call_id=cid), now)
                if rng.random() < 0.01:
                    later(now + 1.0, "pause", aid)
            elif kind == "abandon":
                if call_state.get(data) != "waiting":
                    continue
                call_state.pop(data)
                waiting_count -= 1
                feed(CallAbandoned(at=now, call_id=data), now)
            elif kind == "pause":
                feed(AgentStateChanged(at=now, agent_id=data, state="paused", reason="break"), now)
                later(now + rng.uniform(60.0, 600.0), "unpause", data)
            elif kind == "unpause":
                feed(AgentStateChanged(at=now, agent_id=data, state="available"), now)
            else:  # pragma: no cover
                raise AssertionError(kind)
            processed += 1
        if not timed and processed >= warmup and now >= warmup_s:
            timed = True
            if freeze_gc:
                # What a long-running server does after start-up: move the long-lived
                # objects (agents, indexes, rules) out of the cyclic collector's sight,
                # so its occasional full passes stay short.
                gc.collect()
                gc.freeze()
            lat_ns.clear()
            cpu_ns.clear()
            t_start = now
            wall0 = time.perf_counter()
    wall = time.perf_counter() - wall0

    snap = router.snapshot(now)
    # one live rule change, timed on its own: validating the text, then the swap
    # (every waiting call re-evaluated)
    t0 = time.perf_counter_ns()
    new_rules = load_rules(build_rules_text(skills), "bench-routing.toml")
    load_us = (time.perf_counter_ns() - t0) / 1000
    t0 = time.perf_counter_ns()
    router.swap_rules(new_rules, now)
    swap_us = (time.perf_counter_ns() - t0) / 1000

    if freeze_gc:
        gc.unfreeze()
    lat_us = sorted(x / 1000 for x in lat_ns)
    cpu_us = sorted(x / 1000 for x in cpu_ns)
    total_s = sum(lat_ns) / 1e9
    return {
        "agents": agents,
        "skills": skills,
        "waiting_target": waiting,
        "waiting_at_end": snap["waiting"],
        "seed": seed,
        "gc_frozen_after_warmup": freeze_gc,
        "events": len(lat_us),
        "decisions": decisions_total,
        "simulated_s": round(now - t_start, 1),
        "events_per_s": round(len(lat_us) / total_s) if total_s else 0,
        "p50_us": round(_percentile(lat_us, 0.50), 1),
        "p90_us": round(_percentile(lat_us, 0.90), 1),
        "p99_us": round(_percentile(lat_us, 0.99), 1),
        "max_us": round(lat_us[-1], 1) if lat_us else 0.0,
        "mean_us": round(statistics.fmean(lat_us), 1) if lat_us else 0.0,
        "cpu_p50_us": round(_percentile(cpu_us, 0.50), 1),
        "cpu_p99_us": round(_percentile(cpu_us, 0.99), 1),
        "cpu_max_us": round(cpu_us[-1], 1) if cpu_us else 0.0,
        "load_rules_ms": round(load_us / 1000, 2),
        "swap_rules_ms": round(swap_us / 1000, 2),
        "driver_wall_s": round(wall, 2),
        "agents_by_state": snap["agents"],
    }
