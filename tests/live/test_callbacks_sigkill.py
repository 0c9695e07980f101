"""Issue 14, item 5: `hotline serve` as its own process on PostgreSQL and the PBX
emulator, killed with SIGKILL under load (callers arriving all along) while call-back
promises fall due before the kill, while it is down and after its restart. Every
call-back is dialled exactly once, as counted at the emulator by a client of the test's
own (the customer's channel each dial opens), and no call is stranded (sim/stranded.py:
a call waiting more than 10 s while an eligible agent is free)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx
from events import CallEnded
from sim.stranded import stranded_calls
from store import SqlStore
from store.models import Callback, User
from tests.live.serve_process import free_port, health, kill, pbx_and_store, serve, stop, until, until_up, write_config

SECRET = "callback-sigkill-secret"
AGENTS = [
    User(login=f"cbk{n}", display_name=f"Agent {n}", skills={"billing": 5}, phone_endpoint=f"Local/200{n}@agents")
    for n in (1, 2, 3)
]
CALLER_EVERY_S = 2.5  # under the three agents' capacity (talk 3 s, wrap-up 1 s, ringing): no backlog to drain
TALK_S = "3"
# promises by when they fall due: numbers the callers never use (55501xx)
PHASES = {"before": ("5559101", "5559102"), "during": ("5559201", "5559202"), "after": ("5559301", "5559302")}


async def _callers(pbx: AmiPbx, numbers: list[str]) -> None:
    """Load: a caller every CALLER_EVERY_S seconds until cancelled."""
    n = 0
    while True:
        number = f"55501{n % 100:02d}"
        numbers.append(number)
        await pbx.originate(
            "Local/1000@inbound",
            context="caller-phone",
            exten="wait",
            caller_id=f'"Caller {n}" <{number}>',
            variables={"PATIENCE": "90", "__AGENT_TALK": TALK_S},
        )
        n += 1
        await asyncio.sleep(CALLER_EVERY_S)


async def _promise(store: SqlStore, phase: str, due_at: float) -> None:
    for number in PHASES[phase]:
        await store.put_callback(Callback(id=f"{phase}-{number}", due_at=due_at, number=number, created_at=time.time()))


async def _until_kept(store: SqlStore, phase: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = [await store.get_callback(f"{phase}-{number}") for number in PHASES[phase]]
        if all(r.state == "done" for r in rows):
            return
        assert time.monotonic() < deadline, (f"the {phase} call-backs not kept", rows, log.read_text()[-3000:])
        await asyncio.sleep(0.2)


async def test_call_backs_due_before_during_and_after_a_sigkill_under_load_are_each_dialled_once(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    emulator, store = await pbx_and_store(SECRET, fresh_pg_url, AGENTS)
    port = free_port()
    config = write_config(
        tmp_path / "hotline.toml",
        port,
        fresh_pg_url,
        "memory://",
        emulator.port,
        SECRET,
        'callback_poll_s = 0.5\ncallback_variables = { CUST_TALK = "3" }\n',
    )
    dials: Counter[str] = Counter()

    def on_channel(m: Any) -> None:  # each dial of a customer opens one Local/<number>@customers;1
        if m.get("Context") == "customers" and m.get("Channel").endswith(";1"):
            dials[m.get("Exten")] += 1

    observer = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    observer.subscribe("Newchannel", on_channel)
    log = tmp_path / "serve.log"
    server = serve(config, log)
    callers: list[str] = []
    load: asyncio.Task[None] | None = None
    try:
        await observer.start()
        await observer.wait_ready(10)
        await until_up(port, "the first server")
        await _promise(store, "before", time.time() + 2)
        load = asyncio.create_task(_callers(AmiPbx(observer), callers))
        await _until_kept(store, "before", 30, log)
        # promised now, due while the server is down and after it is back
        killed_at = time.time() + 1
        await _promise(store, "during", killed_at + 2)
        await _promise(store, "after", killed_at + 12)
        await asyncio.sleep(killed_at - time.time())
        kill(server)
        await asyncio.sleep(4)  # "during" falls due; callers keep arriving
        server = serve(config, log)
        await until_up(port, "the restarted server")
        await _until_kept(store, "during", 30, log)
        await _until_kept(store, "after", 40, log)
        load.cancel()
        await until(lambda: emulator.ledger.summary()["open"] == 0, 60, "every call to end")
        await until(lambda: health(port)["event_log"]["backlog"] == 0, 20, "the event log to be written")
        await asyncio.sleep(1)  # (a second dial in flight would reach the observer by now)
    finally:
        if load is not None:
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await load
        await observer.close()
        stop(server)
        await emulator.stop()
    try:
        tail = log.read_text()[-3000:]
        promised = [n for numbers in PHASES.values() for n in numbers]
        assert {n: dials[n] for n in promised} == dict.fromkeys(promised, 1), (dict(dials), tail)
        for phase, numbers in PHASES.items():
            for number in numbers:
                row = await store.get_callback(f"{phase}-{number}")
                assert (row.state, row.attempts, row.outcome) == ("done", 1, "connected"), row
        assert await store.open_callbacks() == []
        stored = [s.event for s in await store.events_between(0, 1e12)]
        assert stranded_calls(stored, {u.login: u.skills for u in AGENTS}) == {}, tail
        assert len(callers) >= 12  # under load: a caller every 2.5 s all along, before, during and after the kill
        ended = Counter(e.call_id for e in stored if isinstance(e, CallEnded))
        ledger = emulator.ledger.summary()
        assert ledger["abandoned"] == 0, ledger
        # every call the PBX had ended once in the log (the call-backs under their own ids)
        assert (len(ended), set(ended.values())) == (ledger["created"], {1}), (ledger, ended, tail)
        assert {f"cb-{phase}-{n}" for phase, numbers in PHASES.items() for n in numbers} <= set(ended)
    finally:
        await store.close()
