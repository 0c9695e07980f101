"""Several Asterisks, one router (issue 15, item 3): two emulators joined by a SIP
trunk (sim/rig_pbxs.py), an agent on each, the same extension on both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from config.schema import StoreConfig
from cti.ami_codec import Message
from cti.live_app import AMI, EVENTLOG, LIVE, live_health
from cti.live_pbxs import PBX_LINKS
from events import CallConnected, CallEnded, CallHeld, CallOffered, CallQueued, CallResumed, Event, IvrStepped
from sim.rig import DEFAULT_ROUTING
from sim.rig_pbxs import TwoPbxRig, two_pbx_rig
from store import open_store
from store.models import User

# The same extension on both PBXs: their legs must not be taken for each other.
AGENTS = [
    User(login, login.title(), skills={"billing": 5, "support": 5}, phone_endpoint="Local/2001@agents", pbx=pbx)
    for login, pbx in (("anna", "a"), ("boris", "b"))
]


@asynccontextmanager
async def rig(tmp_path: Path, cross_pbx: str = "trunk", **options: Any) -> AsyncIterator[TwoPbxRig]:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/live.sqlite3"))
    await store.migrate()
    try:
        async with two_pbx_rig(store, AGENTS, cross_pbx=cross_pbx, **options) as h:
            yield h
    finally:
        await store.close()


async def stored(h: TwoPbxRig) -> list[Event]:
    await h.center.wait_idle()
    await h.wait_for(lambda: h.eventlog.backlog == 0)
    return [s.event for s in await h.store.events_between(0, 1e12)]


def healthz(h: TwoPbxRig) -> dict:
    """/healthz's `pbx` part, as the server's live loop reports it."""
    app = web.Application()
    app[AMI], app[LIVE], app[EVENTLOG], app[PBX_LINKS] = h.client, h.center, h.eventlog, h.live.pbx_links
    return live_health(app, h.config(DEFAULT_ROUTING))[0]


async def both_talking(h: TwoPbxRig, talk_a: float, talk_b: float) -> None:
    """Anna (PBX a) and Boris (PBX b) each with a caller of their own PBX."""
    await h.command("anna", "available")
    await h.command("boris", "available")
    await h.center.wait_idle()
    await h.caller_on("a", "Carla", "5551111", talk_s=talk_a)
    await h.caller_on("b", "Dmitri", "5552222", talk_s=talk_b)
    await h.wait_for(lambda: h.center.stats.calls_answered == 2, timeout=15)


def asked(messages: list[Message], action: str) -> list[dict[str, str]]:
    return [dict(m.headers) for m in messages if m.get("Action") == action]


async def test_a_call_on_pbx_a_is_answered_by_an_agent_on_pbx_b_through_the_trunk(tmp_path: Path) -> None:
    async with rig(tmp_path, cross_pbx="trunk") as h:
        assert h.other is not None
        await h.command("boris", "available")  # on PBX b; Anna (PBX a) stays logged out
        await h.center.wait_idle()
        await h.caller_on("a", "Carla", "5551234", talk_s=2)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events), timeout=15)
        events = await stored(h)
        connected = [e for e in events if isinstance(e, CallConnected)]
        assert [(e.agent_id, ":" in e.call_id) for e in connected] == [("boris", False)]  # a call of PBX a
        # PBX a was asked to dial Boris through its trunk: the dial string, then the trunk context
        setvar = asked(list(h.emulator.actions), "Setvar")
        redirect = asked(list(h.emulator.actions), "Redirect")
        assert [(s["Variable"], s["Value"]) for s in setvar] == [("HOTLINE_TRUNK_DIAL", "PJSIP/2001@b")]
        assert [(r["Context"], r["Exten"], r["Priority"]) for r in redirect] == [("hotline-trunk", "2001", "1")]
        assert setvar[0]["Channel"] == redirect[0]["Channel"]
        # PBX b was asked nothing (besides its resync): the trunk brought the call
        assert not asked(list(h.other.actions), "Redirect") and not asked(list(h.other.actions), "Originate")
        # ...and its agent's phone rang and answered (b's own call, from the trunk)
        rang = [c for c in h.other.ledger.calls.values() if any(n.startswith("Local/2001@agents") for n in c.channels)]
        assert len(rang) == 1 and any(n.startswith("PJSIP/a-") for n in rang[0].channels)
        # PBX b's half of the call is no call of Hotline's: one call offered, answered, ended
        assert sum(isinstance(e, CallEnded) for e in events) == 1
        assert [e.agent_id for e in events if isinstance(e, CallOffered)] == ["boris"]
        await h.interactions_written()
        row = await h.store.get_interaction(connected[0].call_id)
        assert (row.agent_id, row.caller, row.outcome) == ("boris", "5551234", "answered")
        await h.wait_for(lambda: h.center.router.agent_state("boris") in ("wrap_up", "available"))


async def test_with_same_pbx_a_call_waits_for_an_agent_of_its_own_pbx(tmp_path: Path) -> None:
    async with rig(tmp_path, cross_pbx="same_pbx") as h:
        await h.command("boris", "available")
        await h.center.wait_idle()
        await h.caller_on("a", "Carla", "5551234", patience_s=60, talk_s=1)
        await h.wait_for(lambda: bool(h.center.router.waiting_call_ids()), timeout=10)
        await h.center.wait_idle()
        assert h.center.stats.calls_answered == 0  # Boris is free, but on PBX b
        assert h.center.router.agent_state("boris") == "available"
        await h.command("anna", "available")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
        events = await stored(h)
        assert [e.agent_id for e in events if isinstance(e, CallOffered)] == ["anna"]
        assert [e.agent_id for e in events if isinstance(e, CallConnected)] == ["anna"]
        assert not asked(list(h.emulator.actions), "Setvar")  # no trunk
        assert [r["Context"] for r in asked(list(h.emulator.actions), "Redirect")] == ["agent-connect"]


async def test_identical_uniqueids_on_both_pbxs_are_two_calls(tmp_path: Path) -> None:
    async with rig(tmp_path, cross_pbx="same_pbx") as h:
        assert h.other is not None
        await h.command("anna", "available")
        await h.command("boris", "available")
        await h.center.wait_idle()
        # an emulator's first call id is the second it began: both in the same second
        await asyncio.sleep(1 - time.time() % 1 + 0.05 if time.time() % 1 > 0.5 else 0)
        await asyncio.gather(
            h.caller_on("a", "Carla", "5551111", talk_s=2), h.caller_on("b", "Dmitri", "5552222", talk_s=2)
        )
        await h.wait_for(lambda: h.center.stats.calls_answered == 2, timeout=15)
        await h.wait_for(lambda: sum(isinstance(e, CallEnded) for e in h.events) == 2, timeout=15)
        # both emulators numbered their first call alike
        assert set(h.emulator.ledger.calls) & set(h.other.ledger.calls)
        events = await stored(h)
        by_call = {e.call_id: e.agent_id for e in events if isinstance(e, CallConnected)}
        (first, anna), (second, boris) = sorted(by_call.items())
        assert (anna, boris) == ("anna", "boris") and second == f"b:{first}"
        assert first in h.emulator.ledger.calls and first in h.other.ledger.calls
        assert sum(isinstance(e, CallEnded) for e in events) == 2
        await h.interactions_written()
        rows = {c: (await h.store.get_interaction(c)) for c in (first, second)}
        assert {c: (r.agent_id, r.caller) for c, r in rows.items()} == {
            first: ("anna", "5551111"),
            second: ("boris", "5552222"),
        }


async def test_one_pbx_link_cut_the_other_keeps_routing(tmp_path: Path) -> None:
    async with rig(tmp_path, cross_pbx="same_pbx") as h:
        assert h.outage is not None
        second = h.live.pbx_links[1]
        await h.command("anna", "available")
        await h.center.wait_idle()
        h.outage.cut()  # PBX b's AMI link is gone (and stays gone)
        await h.wait_for(lambda: not second.client.connected, timeout=5)
        health = healthz(h)
        assert health["status"] == "degraded"
        assert [(p["name"], p["status"]) for p in health["pbxs"]] == [("a", "ok"), ("b", "down")]
        await h.caller_on("a", "Carla", "5551234", talk_s=1)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
        assert [e.agent_id for e in await stored(h) if isinstance(e, CallConnected)] == ["anna"]
        # back: PBX b reconnects and resyncs on its own, and its calls are routed again
        h.outage.restore()
        await h.wait_for(lambda: second.client.connected and second.client.resyncs >= 2, timeout=10)
        assert healthz(h)["status"] == "ok"
        await h.command("boris", "available")
        await h.caller_on("b", "Dmitri", "5552222", talk_s=1)
        await h.wait_for(lambda: h.center.stats.calls_answered == 2, timeout=15)
        connected = [e for e in await stored(h) if isinstance(e, CallConnected)]
        assert [(e.agent_id, e.call_id.startswith("b:")) for e in connected] == [("anna", False), ("boris", True)]


async def test_restart_recovery_follows_each_pbx_on_its_own(tmp_path: Path) -> None:
    """Killed while a call is up on each PBX: the one that ended meanwhile (on b) is
    ended once at restart, under its own id; the one still up (on a) goes on."""
    async with rig(tmp_path, cross_pbx="same_pbx") as h:
        assert h.other is not None
        await both_talking(h, talk_a=60, talk_b=10)
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        other = h.other
        assert [c.ended_at for c in other.ledger.calls.values()] == [None]  # up when Hotline dies
        await h.kill_center()
        await h.wait_for(lambda: all(c.ended_at is not None for c in other.ledger.calls.values()), timeout=10)
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        events = await stored(h)
        ended = [e.call_id for e in events if isinstance(e, CallEnded)]
        connected = {e.agent_id: e.call_id for e in events if isinstance(e, CallConnected)}
        assert connected["boris"].startswith("b:") and ended == [connected["boris"]]
        # the call on a is followed: it ends live, once, later
        assert h.center.calls.get(connected["anna"]) is not None
        phone = next(c for c in h.emulator.pbx.channels.values() if c.name.startswith("Local/1000@inbound-"))
        h.emulator.pbx.hangup(phone, 16)  # Carla hangs up
        await h.wait_for(lambda: h.center.calls.get(connected["anna"]) is None, timeout=10)
        ended = [e.call_id for e in await stored(h) if isinstance(e, CallEnded)]
        assert sorted(ended) == sorted([connected["boris"], connected["anna"]])


async def test_the_ivr_of_pbx_b_hands_its_caller_to_the_one_router(tmp_path: Path) -> None:
    """Each PBX's AGI() reaches its own FastAGI IVR; the caller's steps and hand-off
    carry PBX b's call id, and the call goes to b's agent (same_pbx)."""
    from tests.live.harness import example_ivr, ivr_caller

    async with rig(tmp_path, cross_pbx="same_pbx", ivr=example_ivr()) as h:
        await h.command("anna", "available")
        await h.command("boris", "available")
        await h.center.wait_idle()
        await ivr_caller(h, "2", on="b:")  # PBX b's caller: support
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=20)
        events = await stored(h)
        queued = [e for e in events if isinstance(e, CallQueued)]
        assert len(queued) == 1 and queued[0].call_id.startswith("b:")
        assert (queued[0].attributes["pbx"], queued[0].attributes["agent_pbx"]) == ("b", "b")
        assert {e.call_id for e in events if isinstance(e, IvrStepped)} == {queued[0].call_id}
        assert [(e.agent_id, e.call_id) for e in events if isinstance(e, CallConnected)] == [
            ("boris", queued[0].call_id)
        ]


async def test_the_agent_of_pbx_b_holds_resumes_and_hangs_up_a_call_of_pbx_a(tmp_path: Path) -> None:
    """The desktop's call control on a call that came through the trunk: hold returns
    the caller to hold on PBX a (the trunk leg goes), resume dials the agent through the
    trunk again, hang-up ends the call on a."""
    async with rig(tmp_path, cross_pbx="trunk", speed=4.0) as h:  # (b's phone talks 8 s: 2 s here)
        await h.command("boris", "available")
        await h.center.wait_idle()
        await h.caller_on("a", "Carla", "5551234")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=10)
        call_id = next(c for c, state in h.center.calls.items() if state.agent == "boris")
        assert h.center.calls[call_id].agent_channels["boris"].startswith("PJSIP/b-")  # the trunk leg
        await h.command("boris", "hold", call_id=call_id)
        await h.wait_for(lambda: any(isinstance(e, CallHeld) for e in h.events), timeout=5)
        await h.command("boris", "resume", call_id=call_id)
        await h.wait_for(lambda: any(isinstance(e, CallResumed) for e in h.events), timeout=5)
        redirects = [(r["Context"], r["Exten"]) for r in asked(list(h.emulator.actions), "Redirect")]
        assert redirects == [("hotline-trunk", "2001"), ("inbound", "1000"), ("hotline-trunk", "2001")]
        await h.command("boris", "hangup", call_id=call_id)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events), timeout=5)
        events = await stored(h)
        assert [e.call_id for e in events if isinstance(e, CallEnded)] == [call_id]
        caller = asked(list(h.emulator.actions), "Setvar")[0]["Channel"]  # (HOTLINE_TRUNK_DIAL's)
        assert [a["Channel"] for a in asked(list(h.emulator.actions), "Hangup")] == [caller]


async def test_standing_lines_are_kept_for_the_first_pbxs_agents_only(tmp_path: Path) -> None:
    """standing_lines = "all": Anna's phone (PBX a) is called into her conference; Boris's
    (PBX b) is not: PBX a must not ring its own extension 2001 for him, and b's calls
    reach him by dialling, as without a line."""
    async with rig(tmp_path, standing_lines="all") as h:
        assert h.other is not None
        await h.command("anna", "available")
        await h.command("boris", "available")
        await h.center.wait_idle()
        await h.wait_for(lambda: h.center.on_line("anna"), timeout=10)
        originated = [o["Channel"] for o in asked(list(h.emulator.actions), "Originate")]
        assert originated == ["Local/2001@agents"]
        assert not asked(list(h.other.actions), "Originate") and not h.center.on_line("boris")


async def test_a_call_back_of_pbx_a_reaches_an_agent_of_pbx_b_through_the_trunk(tmp_path: Path) -> None:
    """IVR option 9 on PBX a: the customer is dialled from a when Boris (PBX b) is free,
    into the trunk context (not a's own extension 2001, which is another phone)."""
    from tests.live.harness import example_ivr, ivr_caller

    async with rig(tmp_path, cross_pbx="trunk", ivr=example_ivr()) as h:
        await ivr_caller(h, "9")  # Ivy asks to be called back
        await h.wait_for(lambda: bool(h.center.router.waiting_call_ids()), timeout=10)
        await h.command("boris", "available")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=20)
        dials = [o for o in asked(list(h.emulator.actions), "Originate") if o.get("Context") != "caller-phone"]
        assert [(o["Channel"], o["Context"], o["Exten"]) for o in dials] == [
            ("Local/5557777@customers", "hotline-trunk", "2001")
        ]
        variables = next(m.get_all("Variable") for m in h.emulator.actions if m.get("Context") == "hotline-trunk")
        assert "HOTLINE_TRUNK_DIAL=PJSIP/2001@b" in variables
        events = await stored(h)
        assert [e.agent_id for e in events if isinstance(e, CallConnected)] == ["boris"]


async def test_supervisors_listen_to_the_first_pbxs_calls_and_are_told_why_not_the_others(tmp_path: Path) -> None:
    from agents.commands import Monitor
    from cti.call_control import CommandRefused

    async with rig(tmp_path, cross_pbx="same_pbx") as h:
        await both_talking(h, talk_a=30, talk_b=30)
        listen = Monitor(action="monitor", supervisor="sam", phone="Local/2090@agents")
        with pytest.raises(CommandRefused, match="is on PBX 'b': supervisors listen to the calls of PBX 'a' only"):
            await h.center.monitors.start("boris", listen, h.center.now())
        await h.center.monitors.start("anna", listen, h.center.now())
        spies = [o for o in asked(list(h.emulator.actions), "Originate") if o.get("Application") == "ChanSpy"]
        assert [o["Channel"] for o in spies] == ["Local/2090@agents"]
        assert spies[0]["Data"].startswith("Local/2001@agents-")  # Anna's leg on PBX a
