"""End to end through the emulator: a call that arrives is answered by the right agent,
RONA returns it to the queue, an abandoned call is counted once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from events import CallConnected, CallEnded, CallOffered, CallQueued, CallTransferred
from reports.kpi import KpiConfig, batch_report
from sim.rig import DEFAULT_ROUTING
from store.models import User
from tests.live.harness import live_center


async def test_call_is_answered_by_the_available_skilled_agent(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.command("bob", "available")
        await h.caller("Alice", "5551234", talk_s=3)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        connected = [e for e in h.events if isinstance(e, CallConnected)]
        assert connected and connected[0].agent_id == "2002"  # the call model names the leg
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events))
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        stored = await h.store.events_between(0, 1e12)
        kinds = [s.event.__class__.__name__ for s in stored]
        assert kinds.count("CallQueued") == 1 and kinds.count("CallOffered") >= 1
        offered = [s.event for s in stored if isinstance(s.event, CallOffered)]
        assert offered[0].agent_id == "bob" and "rules v" in offered[0].reason
        call_id = connected[0].call_id
        await h.wait_for(lambda: h.center.stats.calls_offered == 1)

        async def interaction_written() -> bool:
            try:
                return (await h.store.get_interaction(call_id)).outcome == "answered"
            except LookupError:
                return False

        import asyncio

        async def poll() -> None:
            while not await interaction_written():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), 10)
        row = await h.store.get_interaction(call_id)
        assert (row.agent_id, row.queue, row.caller) == ("bob", row.queue, "5551234")


async def _poll_interaction(h, call_id: str):
    import asyncio

    async def poll():
        while True:
            try:
                return await h.store.get_interaction(call_id)
            except LookupError:
                await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), 10)


async def test_ring_no_answer_returns_the_call_and_the_next_agent_takes_it(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.command("nora", "available")  # highest billing skill, never answers
        await h.center.wait_idle()
        await h.caller("Carl", "5553456", talk_s=2)
        await h.wait_for(lambda: h.center.stats.rona == 1, timeout=15)
        assert h.center.router.agent_state("nora") == "paused"  # max_misses = 1
        await h.command("alice", "available")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
        connected = [e for e in h.events if isinstance(e, CallConnected)]
        assert connected[0].agent_id == "2001"
        assert h.center.stats.calls_offered == 1  # one call, offered twice, counted once
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events))
        row = await _poll_interaction(h, connected[0].call_id)
        assert (row.agent_id, row.outcome) == ("alice", "answered")


async def test_caller_who_gives_up_is_counted_abandoned_once(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.caller("Brian", "5552345", patience_s=5)
        await h.wait_for(lambda: h.center.stats.calls_abandoned == 1, timeout=15)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events))
        call_id = next(e.call_id for e in h.events if isinstance(e, CallQueued))
        row = await _poll_interaction(h, call_id)
        assert row.outcome == "abandoned" and row.agent_id == ""
        assert h.center.stats.calls_offered == 1 and h.center.stats.calls_answered == 0


async def test_ivr_choice_routes_to_the_skilled_agent(tmp_path: Path) -> None:
    """1500 -> AGI -> Hotline's IVR (menu digit 4: sales) -> hold -> router -> agent."""

    from events import IvrStepped
    from tests.live.harness import example_ivr, ivr_caller

    ivr = example_ivr()
    agents = [
        User(login="sam", display_name="Sam", skills={"sales": 6}, phone_endpoint="Local/2003@agents"),
        User(login="bill", display_name="Bill", skills={"billing": 9}, phone_endpoint="Local/2004@agents"),
    ]
    async with live_center(tmp_path, agents=agents, ivr=ivr) as h:
        await h.command("sam", "available")
        await h.command("bill", "available")
        await ivr_caller(h, "4")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=20)
        connected = [e for e in h.events if isinstance(e, CallConnected)]
        assert connected[0].agent_id == "2003"  # sam, the sales agent
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        stored = [s.event for s in await h.store.events_between(0, 1e12)]
        queued = [e for e in stored if isinstance(e, CallQueued)]
        assert len(queued) == 1 and queued[0].queue == "sales"
        assert queued[0].attributes["ivr_path"] == ["main", "sales"]
        assert [(e.node, e.result) for e in stored if isinstance(e, IvrStepped)] == [
            ("main", "4"),
            ("sales", "queue:sales"),
        ]


def callback_ivr() -> dict:
    """The example IVR, open at all hours: its option 9 asks for a call-back."""
    import tomllib

    ivr = tomllib.loads((Path(__file__).parents[2] / "config/examples/ivr.toml").read_text())["ivr"]
    ivr.pop("hours")
    ivr["holidays"] = []
    return ivr


SUE = User(login="sue", display_name="Sue", skills={"support": 5}, phone_endpoint="Local/2005@agents")


async def caller_asks_for_a_callback(h) -> str:
    """A caller presses 9 in the IVR (and hangs up after the confirmation): the call's id."""
    await h.pbx.originate(
        "Local/1500@inbound",
        context="caller-phone",
        exten="dtmf",
        caller_id='"Cal" <5556789>',
        variables={"DTMF_DIGITS": "9", "DTMF_DELAY": "1", "PATIENCE": "60", "__AGENT_TALK": "2"},
    )
    await h.wait_for(lambda: bool(next_call_id(h)), timeout=10)
    return next_call_id(h)


async def test_callback_request_keeps_the_place_and_calls_back(tmp_path: Path) -> None:
    """IVR option 9: the caller leaves, their place is kept; when an agent is free the
    customer is called back and connected to that agent."""
    async with live_center(tmp_path, agents=[SUE], ivr=callback_ivr()) as h:
        original = await _poll_interaction(h, await caller_asks_for_a_callback(h))
        assert original.outcome == "callback_requested"  # the caller hung up after the confirmation
        assert h.center.router.call_info(f"cb-{original.id}")["state"] == "waiting"  # place kept

        await h.command("sue", "available")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=20)
        callback = await _poll_interaction(h, f"cb-{original.id}")
        await h.wait_for(lambda: h.center.router.call_info(f"cb-{original.id}") is None, timeout=20)
        callback = await h.store.get_interaction(f"cb-{original.id}")
        assert (callback.outcome, callback.agent_id, callback.caller, callback.direction) == (
            "answered",
            "sue",
            "5556789",
            "outbound",
        )
        assert callback.attributes["callback_for"] == original.id
        # the reports: one call answered (the call-back), nobody abandoned
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        report = batch_report([s.event for s in await h.store.events_between(0, 1e12)], KpiConfig()).overall
        assert (report["answered"], report["abandoned"]) == (1, 0)


async def test_a_call_back_the_customer_does_not_answer_is_not_an_abandon(tmp_path: Path) -> None:
    async with live_center(tmp_path, agents=[SUE], ivr=callback_ivr()) as h:
        h.center.dials.callback_variables = {"CUST_BEHAVIOUR": "noanswer"}  # the customer's phone rings out
        h.center.dials.callback_ring_s = 3
        original = await _poll_interaction(h, await caller_asks_for_a_callback(h))
        await h.command("sue", "available")
        callback = await _poll_interaction(h, f"cb-{original.id}")
        assert (callback.outcome, callback.answered_at) == ("not_reached", None)
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        report = batch_report([s.event for s in await h.store.events_between(0, 1e12)], KpiConfig()).overall
        # offered once (the call-back: the caller chose it in the IVR, before any queue), deflected
        assert (report["offered"], report["answered"], report["abandoned"], report["deflected"]) == (1, 0, 0, 1)


async def test_final_step_sends_the_caller_to_voicemail_counted_deflected_not_abandoned(tmp_path: Path) -> None:
    routing = {
        "defaults": {"wrap_up_s": 1},
        "rona": {"ring_timeout_s": 15, "max_misses": 1},
        "queues": {
            "billing": {
                "targets": [{"name": "billing", "expression": "skills.billing >= 1"}],
                "final": {"action": "voicemail", "after_s": 3, "destination": "vm-billing"},
            }
        },
    }
    played: list = []
    async with live_center(tmp_path, routing=routing) as h:  # nobody is available
        h.client.subscribe("Newexten", lambda m: played.append(m) if m.get("Application") == "Playback" else None)
        await h.caller("Vera", "5550001", patience_s=60)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events), timeout=20)
        call_id = next(e.call_id for e in h.events if isinstance(e, CallQueued))
        assert any(m.get("AppData") == "vm-billing" for m in played)  # the voicemail greeting
        row = await _poll_interaction(h, call_id)
        assert row.outcome == "voicemail"
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        stored = [s.event for s in await h.store.events_between(0, 1e12)]
        assert [(e.mode, e.target) for e in stored if isinstance(e, CallTransferred)] == [("voicemail", "vm-billing")]
        report = batch_report(stored, KpiConfig()).overall
        assert (report["offered"], report["abandoned"], report["deflected"]) == (1, 0, 1)


def next_call_id(h) -> str:
    from events import CallArrived

    return next((e.call_id for e in h.events if isinstance(e, CallArrived)), "")


async def test_a_call_ringing_when_hotline_restarts_is_not_lost(tmp_path: Path) -> None:
    """Killed while an agent's phone rings (agent-connect's Dial, 20 s timeout): the
    restarted server finds the call ringing and times it from when the agent's leg
    began, so the caller goes back to hold before the Dial timeout would hang them up,
    and the next agent takes the call."""
    from tests.live.harness import AGENTS

    async with live_center(tmp_path) as h:
        await h.command("nora", "available")  # her phone never answers
        await h.center.wait_idle()
        await h.caller("Fay", "5557890", patience_s=120, talk_s=2)
        await h.wait_for(lambda: h.center.stats.calls_offered == 1)
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        await asyncio.sleep(5 / h.emulator.speed)  # 5 s of ringing at nora's
        await h.kill_center()
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        await h.command("alice", "available")
        await h.wait_for(lambda: h.center.stats.rona == 1, timeout=20)
        await h.wait_for(lambda: h.emulator.ledger.summary()["open"] == 0, timeout=30)
        ledger = h.emulator.ledger.summary()
        assert (ledger["connected"], ledger["abandoned"]) == (1, 0), ledger
        connected = [e for e in h.events if isinstance(e, CallConnected)]
        assert [e.agent_id for e in connected] == ["2001"]  # alice
        assert sum(1 for e in h.events if isinstance(e, CallQueued)) >= 1
