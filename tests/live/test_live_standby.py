"""Hot standby (issue 15, items 2 and 5): three `hotline serve` on one PBX emulator and
one PostgreSQL, started side by side; one leads. Asterisk's AGI reaches a standby (as behind a load balancer):
its FastAGI runs the IVR and hands the caller, with their answers, to the leader
through the store, so a Spanish-speaking caller reaches the Spanish-speaking agent.
Each call is offered and redirected once, no event is logged twice, and each event the
leader logged carries its epoch. The leader SIGKILLed, another takes over from its
snapshot of the log and the IVR keeps handing callers to whoever leads."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx
from events import CallConnected, CallEnded, CallOffered, CallQueued, IvrStepped
from store.models import User
from tests.live.serve_process import (
    free_port,
    health,
    health_of,
    kill,
    pbx_and_store,
    serve,
    stop_all,
    until,
    write_config,
)

# (one after the other with the other load-and-kill tests under `make test`'s workers, tests/conftest.py)
pytestmark = pytest.mark.xdist_group("live-load")

SECRET = "standby-secret"
AGENTS = [
    # (most skilled: the one a call without its language goes to)
    User(login="eve", display_name="Eve", skills={"support": 9}, languages=("en",), phone_endpoint="Local/2001@agents"),
    User(login="sol", display_name="Sol", skills={"support": 2}, languages=("es",), phone_endpoint="Local/2002@agents"),
]
TABLES = """
[routing.queues.support]
strategy = "most_skilled"
[[routing.queues.support.filters]]
name = "spanish"
when = 'language == "es"'
targets = [{ expression = '"es" in languages' }]
[[routing.queues.support.targets]]
expression = "skills.support >= 1"

[ivr]
start = "main"
[ivr.nodes.main]
type = "menu"
prompt = "hotline-main-menu"
options = { "1" = "spanish", "2" = "english" }
timeout_s = 5
retries = 1
on_fail = "english"
[ivr.nodes.spanish]
type = "queue"
queue = "support"
skills = { support = 1 }
language = "es"
[ivr.nodes.english]
type = "queue"
queue = "support"
skills = { support = 1 }
language = "en"
"""


def _statuses(ports: list[int]) -> list[str]:
    return [health(port)["pbx"]["status"] for port in ports]


def _leader(ports: list[int]) -> int:
    """The index of the server whose /healthz says it leads with its AMI link up."""
    for n, port in enumerate(ports):
        try:
            if health(port)["pbx"]["status"] == "ok":
                return n
        except OSError:
            continue
    return -1


async def test_three_servers_a_standbys_ivr_hands_callers_to_the_leader_and_a_takeover_keeps_them(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    ports, agi_ports = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    emulator, store = await pbx_and_store(SECRET, fresh_pg_url, AGENTS)
    configs = [
        write_config(
            tmp_path / f"hotline-{n}.toml",
            ports[n],
            fresh_pg_url,
            "memory://",
            emulator.port,
            SECRET,
            agi_port=agi_ports[n],
            tables=TABLES,
        )
        for n in range(3)
    ]
    logs = [tmp_path / f"serve-{n}.log" for n in range(3)]
    servers = [serve(configs[n], logs[n]) for n in range(3)]  # side by side: one of them leads
    callers = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())

    async def ivr_call(n: int, digit: str) -> None:
        await AmiPbx(callers).originate(
            "Local/1500@inbound",
            context="caller-phone",
            exten="dtmf",
            caller_id=f'"Caller {n}" <55577{n:02d}>',
            variables={"DTMF_DIGITS": digit, "DTMF_DELAY": "0.5", "PATIENCE": "60", "__AGENT_TALK": "1"},
        )

    try:
        statuses: list[list[str]] = []

        def settled() -> bool:
            statuses.append(_statuses(ports))
            return sorted(statuses[-1]) == ["ok", "standby", "standby"]

        await until(settled, 60, "one leader, two standbys")
        lead = statuses[-1].index("ok")
        ivr = next(n for n in range(3) if n != lead)  # Asterisk's AGI() reaches a standby
        emulator.pbx.agi_url = f"agi://127.0.0.1:{agi_ports[ivr]}/ivr"
        await until(lambda: health(ports[ivr])["pbx"]["standby"]["ivr"], 10, "the standby's FastAGI")
        first = (await health_of(ports[lead]))["pbx"]["leader"]
        for n in range(3):
            seen = (await health_of(ports[n]))["pbx"]
            if n != lead:
                assert seen["leader"]["role"] == "standby" and seen["leader"]["leader"] == first["holder"]
                assert seen["leader"]["epoch"] == first["epoch"]
        await callers.start()
        await callers.wait_ready(10)
        await ivr_call(0, "1")  # Spanish
        await ivr_call(1, "2")  # English
        await until(lambda: emulator.ledger.summary()["ended"] == 2, 30, "both IVR calls answered and ended")
        handed = (await health_of(ports[ivr]))["pbx"]["standby"]["handoffs"]
        assert handed["handed"] >= 2 and handed["not_taken"] == 0 and handed["failed"] == 0, handed

        kill(servers[lead])
        killed_at = time.monotonic()
        await until(lambda: _leader(ports) not in (-1, lead), 20, "a standby to take over")
        print(f"takeover: {time.monotonic() - killed_at:.2f} s")
        new = await asyncio.to_thread(_leader, ports)
        took = (await health_of(ports[new]))["pbx"]
        assert took["leader"]["epoch"] == first["epoch"] + 1
        assert took["standby"]["catch_up_s"] < 1.0  # the snapshot's tail, not the day's log
        await ivr_call(2, "1")  # Spanish again, whoever leads now and whoever runs the IVR
        await until(lambda: emulator.ledger.summary()["ended"] == 3, 30, "the third call to end")
        await until(lambda: health(ports[new])["event_log"]["backlog"] == 0, 20, "the event log to be written")
    finally:
        await callers.close()
        await asyncio.to_thread(
            stop_all, servers
        )  # (not blocking the loop: its emulator and proxies serve the shutdown)
        await emulator.stop()

    try:
        rows = [s async for s in store.iter_events(0, 1e12)]
        events = [r.event for r in rows]
        calls = [c.linkedid for c in emulator.ledger.calls.values() if c.kind == "inbound"]
        assert len(calls) == 3
        connected = {e.call_id: e.agent_id for e in events if isinstance(e, CallConnected)}
        assert [connected.get(c) for c in calls] == ["sol", "eve", "sol"], (connected, logs[ivr].read_text()[-3000:])
        for call_id in calls:  # each call offered, redirected, queued, connected and ended once
            kinds = Counter(type(e).__name__ for e in events if getattr(e, "call_id", "") == call_id)
            assert (kinds["CallQueued"], kinds["CallOffered"], kinds["CallConnected"], kinds["CallEnded"]) == (
                1,
                1,
                1,
                1,
            ), kinds
            steps = [e.node for e in events if isinstance(e, IvrStepped) and e.call_id == call_id]
            assert steps[0] == "main" and len(steps) == len(set(steps)) == 2, steps  # the standby's IVR, once
            assert [ctx for linked, ctx in emulator.ledger.redirects if linked == call_id] == ["agent-connect"]
            queued = next(e for e in events if isinstance(e, CallQueued) and e.call_id == call_id)
            assert queued.attributes.get("language") in ("es", "en")
        # the leader's decisions carry its term: epoch 1 before the kill, 2 after
        epochs = {(r.event.call_id, r.epoch) for r in rows if isinstance(r.event, CallOffered | IvrStepped)}
        assert {e for c, e in epochs if c in calls[:2]} == {first["epoch"]}
        assert {e for c, e in epochs if c == calls[2]} == {first["epoch"] + 1}
        assert not [e for e in events if isinstance(e, CallEnded) and e.call_id not in calls]
        mine = [repr(e) for e in events if getattr(e, "call_id", "") in calls]
        assert len(set(mine)) == len(mine)  # no event logged twice
    finally:
        await store.close()
