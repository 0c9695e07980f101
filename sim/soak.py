"""Load and fault runs of the live loop on the emulator, reconciled call by call.

`run_load` plays Poisson callers through AMI (a separate connection, as real callers
are separate from Hotline) at `calls_per_s` against `agents` simulated agents, with
optional faults: the AMI link dropped every `drop_every_s`, or the Hotline side killed
(as SIGKILL would) and restarted. When every call has ended it reconciles three
independent views: the emulator's own ledger, Hotline's event log (through the KPI
library) and the live loop's counters. Used by the fault tests (short) and
`make soak` (long, `python -m sim.soak`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx, PbxError
from events import CallAbandoned, CallConnected, CallEnded, CallQueued
from reports.kpi import batch_report
from sim.netfault import TcpOutage
from sim.rig import AMI_SECRET, DEFAULT_ROUTING, Rig, live_rig, simulated_agents
from sim.stranded import stranded_calls
from store import SqlStore


@dataclass(frozen=True, slots=True)
class LoadSpec:
    calls_per_s: float = 20.0
    duration_s: float = 180.0  # emulated seconds of arrivals
    agents: int = 50
    talk_s: float = 10.0
    patience_mean_s: float = 20.0
    speed: float = 1.0
    drop_every_s: float | None = None
    kill_at_s: float | None = None  # kill and restart the Hotline side at this time
    store_outage: tuple[float, float] | None = None  # (start, duration): the database unreachable
    seed: int = 1
    # a call waiting longer than this (emulated seconds) beside a free agent who could
    # take it is stranded: a failure (sim/stranded.py)
    stranded_after_s: float = 10.0


@dataclass
class LoadReport:
    spec: dict[str, Any]
    placed: int
    uncertain_originates: int
    ledger: dict[str, int]
    event_log: dict[str, int]
    kpi: dict[str, Any]
    live: dict[str, int]
    max_concurrent: int
    drops: int
    restarts: int
    store_outages: int
    max_event_backlog: int
    stuck_agents: list[str]
    stranded: dict[str, float]  # call -> longest wait beside a free eligible agent (s)
    # calls that came and went while the Hotline side was down (killed, not yet resynced):
    # no AMI client can see them, so they are left out of the reconciliation
    unseen_while_down: int
    backlog_at_kill: int  # events not yet written when the Hotline side was killed (lost)
    wall_s: float
    events_stored: int
    rss_mb: float
    problems: list[str]


async def _traffic(pbx: AmiPbx, rig: Rig, spec: LoadSpec, counts: Counter[str]) -> None:
    rng = random.Random(spec.seed)
    start = rig.emulator.pbx.now()
    t = 0.0
    n = 0
    while True:
        t += rng.expovariate(spec.calls_per_s)
        if t >= spec.duration_s:
            return
        delay = (start + t - rig.emulator.pbx.now()) / spec.speed
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        patience = max(1.0, rng.expovariate(1 / spec.patience_mean_s))
        try:
            await pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id=f'"Load {n}" <555{n:07d}>',
                variables={"PATIENCE": f"{patience:.2f}", "__AGENT_TALK": f"{spec.talk_s:.2f}"},
                timeout_s=30,
            )
            counts["placed"] += 1
        except PbxError:
            # The link dropped: this originate may or may not have reached the PBX. It is
            # never re-sent; the reconciliation allows it at most once.
            counts["uncertain"] += 1


async def _interactions_reach(store: SqlStore, count: int) -> None:
    while len(await store.interactions_between(0, 1e12)) < count:
        await asyncio.sleep(0.2)


async def _faults(
    rig: Rig,
    spec: LoadSpec,
    agents: Any,
    counts: Counter[str],
    outage: TcpOutage | None,
    stop: asyncio.Event,
    down: list[tuple[float, float]],
) -> None:
    """Until `stop` is set. A fault step in progress (a kill and its restart) is never
    cut: cancelled mid-restart, the rig would be left on the killed center. `down`
    gets each kill's (PBX time killed, PBX time back after the first resync)."""
    start = rig.emulator.pbx.now()
    next_drop = spec.drop_every_s
    killed = False
    while not stop.is_set():
        await asyncio.sleep(0.05)
        elapsed = rig.emulator.pbx.now() - start
        if outage is not None and spec.store_outage is not None:
            cut_at, length = spec.store_outage
            if not outage.down and cut_at <= elapsed < cut_at + length:
                outage.cut()
                counts["store_outages"] += 1
            elif outage.down and elapsed >= cut_at + length:
                outage.restore()
                counts["max_backlog"] = max(counts["max_backlog"], rig.eventlog.backlog)
        if outage is not None and outage.down:
            counts["max_backlog"] = max(counts["max_backlog"], rig.eventlog.backlog)
        if next_drop is not None and elapsed >= next_drop:
            await rig.emulator.drop_connections()
            counts["drops"] += 1
            next_drop += spec.drop_every_s  # type: ignore[operator]
        if spec.kill_at_s is not None and not killed and elapsed >= spec.kill_at_s:
            killed = True
            # What this step tries is the restart from the PBX's resync and the log: the
            # log catches up first (a kill loses what is not yet written, as a crash of
            # the process would; under a heavy load that is many events, which no
            # reconciliation could match; `backlog_at_kill` says how many).
            with contextlib.suppress(TimeoutError):
                await rig.wait_for(lambda: rig.eventlog.backlog == 0, timeout=10)
            counts["backlog_at_kill"] += rig.eventlog.backlog
            killed_at = rig.emulator.pbx.now()
            await rig.kill_center()
            await rig.start_center(agents, DEFAULT_ROUTING)
            down.append((killed_at, rig.emulator.pbx.now()))
            counts["restarts"] += 1


def _odd_sequences(events: list[Any], most: int = 3) -> dict[str, list[str]]:
    """Calls whose log an abandon count may read otherwise than the log's count: an
    abandon not after a queueing, a transfer before it, or times that go backwards."""
    seqs: dict[str, list[Any]] = {}
    for e in events:
        call_id = getattr(e, "call_id", "")
        if call_id and type(e).__name__.startswith("Call"):
            seqs.setdefault(call_id, []).append(e)
    odd: dict[str, list[str]] = {}
    for call_id, seq in seqs.items():
        kinds = [type(e).__name__ for e in seq]
        if "CallAbandoned" not in kinds:
            continue
        first = kinds.index("CallAbandoned")
        backwards = any(b.at < a.at for a, b in itertools.pairwise(seq))
        if "CallQueued" not in kinds[:first] or "CallTransferred" in kinds[:first] or backwards:
            odd[call_id] = [f"{k}@{e.at:.3f}" for k, e in zip(kinds, seq, strict=True)]
        if len(odd) >= most:
            break
    return odd


def agents_on_two_calls(events: list[Any], slack_s: float = 0.5) -> dict[str, list[str]]:
    """Agents connected to a call while still connected to another (each agent takes
    one call at a time): agent -> ["<call> during <call>", ...]. `slack_s` allows for
    the PBX's hang-up and the next connect being logged a moment apart."""
    ended = {e.call_id: e.at for e in events if isinstance(e, CallEnded)}
    spans: dict[str, list[tuple[float, float, str]]] = {}
    seen: set[tuple[str, str]] = set()
    for e in events:
        # a call is with an agent from its first connect there (a resync may report it again)
        if isinstance(e, CallConnected) and e.agent_id and (e.agent_id, e.call_id) not in seen:
            seen.add((e.agent_id, e.call_id))
            spans.setdefault(e.agent_id, []).append((e.at, ended.get(e.call_id, float("inf")), e.call_id))
    out: dict[str, list[str]] = {}
    for agent, mine in spans.items():
        mine.sort()
        for cur, nxt in itertools.pairwise(mine):
            if nxt[0] < cur[1] - slack_s:
                out.setdefault(agent, []).append(f"{nxt[2]} during {cur[2]}")
    return out


def _within(start: float, end: float | None, windows: list[tuple[float, float]]) -> bool:
    """Did [start, end] fall inside one of the windows (an open end never does)?"""
    return end is not None and any(a <= start and end <= b for a, b in windows)


async def run_load(store: SqlStore, spec: LoadSpec, outage: TcpOutage | None = None) -> LoadReport:
    """`outage`: the proxy `store` reaches its database through (for `store_outage`)."""
    wall0 = time.monotonic()
    agents = simulated_agents(spec.agents)
    counts: Counter[str] = Counter()
    async with live_rig(store, agents, speed=spec.speed) as rig:
        for user in agents:
            await rig.command(user.login, "available")
        callers = AmiClient(
            AmiSettings(
                "127.0.0.1", rig.emulator.port, "hotline", AMI_SECRET, reconnect_min_s=0.05, reconnect_max_s=0.5
            ),
            CallModel(),
        )
        await callers.start()
        await callers.wait_ready(10)
        max_concurrent = 0

        async def watch() -> None:
            nonlocal max_concurrent
            while True:
                max_concurrent = max(max_concurrent, rig.emulator.ledger.summary()["open"])
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        stop_faults = asyncio.Event()
        down: list[tuple[float, float]] = []
        faults = asyncio.create_task(_faults(rig, spec, agents, counts, outage, stop_faults, down))
        try:
            await _traffic(AmiPbx(callers), rig, spec, counts)
            stop_faults.set()
            [fault_outcome] = await asyncio.gather(faults, return_exceptions=True)
            if isinstance(fault_outcome, Exception):  # e.g. the restart failed: the old center is gone
                raise RuntimeError(f"fault injection failed: {fault_outcome!r}") from fault_outcome
            if outage is not None:
                outage.restore()
            limit = (spec.patience_mean_s * 12 + spec.talk_s * 4 + 60) / spec.speed + 30
            await rig.wait_for(lambda: rig.emulator.ledger.summary()["open"] == 0, timeout=limit)
            # every agent back from wrap-up (a phantom state would never clear: reported below)
            busy = ("reserved", "on_call", "wrap_up")
            try:
                await rig.wait_for(
                    lambda: not any(rig.center.router.agent_state(u.login) in busy for u in agents), timeout=30
                )
            except TimeoutError:
                pass
            await asyncio.wait_for(rig.center.wait_idle(), 60)  # (a consumer that stopped: a failure, not a hang)
            await rig.wait_for(lambda: rig.eventlog.backlog == 0, timeout=60)
            # (less the calls that may have come and gone unseen while it was down)
            created = sum(
                1
                for c in rig.emulator.ledger.calls.values()
                if c.kind == "inbound" and not _within(c.created_at, c.ended_at, down)
            )
            try:
                await asyncio.wait_for(_interactions_reach(store, created), timeout=60)
            except TimeoutError:
                pass  # reported below as a problem
        finally:
            watcher.cancel()
            faults.cancel()
            await asyncio.gather(watcher, faults, return_exceptions=True)
            await callers.close()
        stuck = [u.login for u in agents if rig.center.router.agent_state(u.login) not in ("available", "paused")]
        live = {
            "offered": rig.center.stats.calls_offered,
            "answered": rig.center.stats.calls_answered,
            "abandoned": rig.center.stats.calls_abandoned,
            "rona": rig.center.stats.rona,
        }
        ledger_calls = [c for c in rig.emulator.ledger.calls.values() if c.kind == "inbound"]
    stored = []
    after = 0
    while True:
        page = await store.events_between(0, 1e12, after_seq=after, limit=10_000)
        if not page:
            break
        stored.extend(page)
        after = page[-1].seq
    events = [s.event for s in stored]
    per_call: dict[str, Counter[str]] = {}
    for e in events:
        if isinstance(e, (CallQueued, CallConnected, CallAbandoned, CallEnded)):
            per_call.setdefault(e.call_id, Counter())[type(e).__name__] += 1
    kpi = batch_report(events, with_intervals=False).overall
    logged = {call_id for e in events if (call_id := getattr(e, "call_id", ""))}
    unseen = {c.linkedid for c in ledger_calls if c.linkedid not in logged and _within(c.created_at, c.ended_at, down)}
    ledger_calls = [c for c in ledger_calls if c.linkedid not in unseen]
    ledger = {
        "created": len(ledger_calls),
        "connected": sum(1 for c in ledger_calls if c.connected_at is not None),
        "abandoned": sum(1 for c in ledger_calls if c.connected_at is None),
        "open": sum(1 for c in ledger_calls if c.ended_at is None),
    }
    interactions = await store.interactions_between(0, 1e12)
    answered_calls = sum(1 for c in per_call.values() if c["CallConnected"] >= 1)
    log_view = {
        "calls": len(per_call),
        "queued_once": sum(1 for c in per_call.values() if c["CallQueued"] == 1),
        "answered": answered_calls,
        "abandoned": sum(1 for c in per_call.values() if c["CallAbandoned"] >= 1),
        "ended": sum(1 for c in per_call.values() if c["CallEnded"] >= 1),
        "answered_and_abandoned": sum(1 for c in per_call.values() if c["CallConnected"] and c["CallAbandoned"]),
        # (no transfers in this load: a call connects once; a resync must not log it again)
        "connected_twice": sum(1 for c in per_call.values() if c["CallConnected"] > 1),
    }
    problems = []
    if ledger["open"]:
        problems.append(f"{ledger['open']} call(s) never ended in the emulator")
    if ledger["created"] > counts["placed"] + counts["uncertain"]:
        problems.append(f"the PBX saw {ledger['created']} calls for {counts['placed']} originates: one was repeated")
    if log_view["calls"] != ledger["created"] or log_view["ended"] != ledger["created"]:
        problems.append(
            f"event log has {log_view['calls']} calls ({log_view['ended']} ended), ledger {ledger['created']}"
        )
    if log_view["queued_once"] != log_view["calls"]:
        problems.append(f"{log_view['calls'] - log_view['queued_once']} call(s) not queued exactly once")
    if log_view["connected_twice"]:
        problems.append(f"{log_view['connected_twice']} call(s) logged connected more than once")
    if log_view["answered_and_abandoned"]:
        problems.append(f"{log_view['answered_and_abandoned']} call(s) both answered and abandoned")
    for name in ("answered", "abandoned"):
        want = ledger["connected" if name == "answered" else "abandoned"]
        if not (log_view[name] == kpi.get(name) == want):
            odd = _odd_sequences(events)
            problems.append(
                f"{name}: ledger {want}, event log {log_view[name]}, KPI {kpi.get(name)}"
                + (f" (calls whose events read otherwise: {odd})" if odd else "")
            )
    if kpi.get("offered") != ledger["created"]:
        problems.append(f"offered: ledger {ledger['created']}, KPI {kpi.get('offered')}")
    if stuck:
        problems.append(f"agents stuck in a phantom state: {stuck}")
    stranded = stranded_calls(events, {u.login: u.skills for u in agents}, spec.stranded_after_s)
    if stranded:
        worst = sorted(stranded.items(), key=lambda kv: -kv[1])[:5]
        problems.append(f"{len(stranded)} call(s) stranded beside a free agent (worst: {worst})")
    doubled = agents_on_two_calls(events)
    if doubled:
        problems.append(f"agents given a call while on another: {doubled}")
    outcomes = Counter(i.outcome for i in interactions)
    if len(interactions) != ledger["created"] or outcomes["answered"] != ledger["connected"]:
        problems.append(
            f"interactions: {len(interactions)} rows ({dict(outcomes)}), ledger {ledger['created']} calls "
            f"({ledger['connected']} answered)"
        )
    return LoadReport(
        spec=asdict(spec),
        placed=counts["placed"],
        uncertain_originates=counts["uncertain"],
        ledger=ledger,
        event_log=log_view,
        kpi={k: kpi.get(k) for k in ("offered", "answered", "abandoned", "asa", "abandon_rate")},
        live=live,
        max_concurrent=max_concurrent,
        drops=counts["drops"],
        restarts=counts["restarts"],
        store_outages=counts["store_outages"],
        max_event_backlog=counts["max_backlog"],
        stuck_agents=stuck,
        stranded={k: round(v, 1) for k, v in stranded.items()},
        unseen_while_down=len(unseen),
        backlog_at_kill=counts["backlog_at_kill"],
        wall_s=round(time.monotonic() - wall0, 1),
        events_stored=len(events),
        rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        problems=problems,
    )


async def _main(args: argparse.Namespace) -> int:
    import os

    from cti.logs import configure

    configure("warning", "text")
    import uuid

    import asyncpg

    from config.schema import StoreConfig
    from store import open_store

    admin_url = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"hotline_soak_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    results = []
    try:
        scenarios = {
            "load": LoadSpec(duration_s=args.minutes * 60),
            "ami-drops": LoadSpec(duration_s=args.minutes * 60, drop_every_s=30),
            "kill-restart": LoadSpec(duration_s=max(60.0, args.minutes * 30), kill_at_s=max(30.0, args.minutes * 15)),
            "store-outage": LoadSpec(duration_s=max(90.0, args.minutes * 60), store_outage=(15.0, 60.0)),
        }
        for label, spec in scenarios.items():
            if args.only and label != args.only:
                continue
            url = admin_url.rpartition("/")[0] + "/" + name
            outage = None
            if spec.store_outage is not None:
                host_port = url.rpartition("@")[2].partition("/")[0]
                host, _, port = host_port.partition(":")
                outage = TcpOutage(host, int(port or 5432))
                await outage.start()
                url = url.replace(host_port, f"127.0.0.1:{outage.port}")
            store = await open_store(StoreConfig(url=url))
            await store.migrate()
            await store._db.execute("TRUNCATE events, interactions, users RESTART IDENTITY")
            report = await run_load(store, spec, outage)
            await store.close()
            if outage is not None:
                await outage.stop()
            print(
                f"{label}: {report.ledger['created']} calls ({report.ledger['connected']} answered, "
                f"{report.ledger['abandoned']} abandoned), peak {report.max_concurrent} concurrent, "
                f"{report.drops} AMI drops, {report.restarts} restarts, {report.store_outages} store outages "
                f"(max event backlog {report.max_event_backlog}), {report.events_stored} events, "
                f"wall {report.wall_s} s, RSS {report.rss_mb} MB: "
                f"{'RECONCILED' if not report.problems else 'PROBLEMS ' + '; '.join(report.problems)}"
            )
            results.append({"scenario": label, **asdict(report)})
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    out = Path("bench/results/soak.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Soak the live loop on the emulator (PostgreSQL store).")
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of arrivals per scenario")
    parser.add_argument("--only", choices=["load", "ami-drops", "kill-restart", "store-outage"])
    raise SystemExit(asyncio.run(_main(parser.parse_args())))
