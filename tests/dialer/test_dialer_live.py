"""The live dialer on the PBX emulator (sim/rig.py): humans connected within 2 s,
machines never reach an agent, drops are counted and get the message, no dial
without an agent, outcomes drive the lead's retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from config.schema import StoreConfig
from cti.ami_codec import Message
from cti.live_items import InLoop
from dialer.campaign import CampaignConfigError, LeadStatus
from dialer.leads import Lead
from dialer.live import (
    DialerRunner,
    campaign_agents,
    lead_customer_id,
    load_book,
    parse_live_campaigns,
)
from events import (
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    DialerAttempted,
    DialerDropped,
    DialerResulted,
)
from sim.rig import Rig, live_rig
from store import open_store
from store.models import User
from tests.cancel_swallow import SwallowsOneCancel

AGENTS = [
    User(login="olga", display_name="Olga", skills={"outbound": 5, "billing": 5}, phone_endpoint="Local/2001@agents"),
    User(login="otto", display_name="Otto", skills={"outbound": 5}, phone_endpoint="Local/2002@agents"),
    User(login="ivan", display_name="Ivan (inbound only)", skills={"billing": 5}, phone_endpoint="Local/2003@agents"),
]
FATES = {
    "human": {"CUST_BEHAVIOUR": "answer", "CUST_AMD": "HUMAN"},
    "machine": {"CUST_BEHAVIOUR": "answer", "CUST_AMD": "MACHINE"},
    "busy": {"CUST_BEHAVIOUR": "busy"},
    "noanswer": {"CUST_BEHAVIOUR": "noanswer"},
}


def write_leads(path: Path, fates: list[str]) -> Path:
    rows = ["lead_id,phone,time_zone,first_name,last_name,fate,plan"]
    for n, fate in enumerate(fates, start=1):
        rows.append(f"L{n},+1212736{n:04d},UTC,Lead,Number{n},{fate},gold")
    path.write_text("\n".join(rows) + "\n")
    return path


def campaign_table(leads: Path, **extra: Any) -> dict[str, Any]:
    return {
        "spring": {
            "leads": str(leads),
            "name": "Spring promo",
            "mode": "progressive",
            "caller_id": '"ACME" <8005550100>',
            "calling_window": {
                "start": "00:00:00",
                "end": "23:59:59",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            },
            "retry": {"busy": {"delay_minutes": 10}},
            "max_attempts": 3,
            **extra,
        }
    }


def fate_variables(lead: Lead) -> dict[str, str]:
    return {
        **FATES[lead.attributes["fate"]],
        "CUST_RING": "2",
        "__AGENT_RING": "0",
        "__AGENT_TALK": "3",
        "CUST_TALK": "3",
    }


@asynccontextmanager
async def dialer_rig(
    tmp_path: Path, fates: list[str], standing_lines: str = "off", durable_dnc: bool = False, **extra: Any
) -> AsyncIterator[tuple[Rig, DialerRunner, list[Message]]]:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/dialer.sqlite3"))
    await store.migrate()
    try:
        async with live_rig(
            store, AGENTS, speed=10.0, standing_lines=standing_lines, campaign_skills=("outbound",)
        ) as rig:
            [campaign] = parse_live_campaigns(campaign_table(write_leads(tmp_path / "leads.csv", fates), **extra))
            book, rejected = load_book(campaign, rig.emulator.pbx.now())
            assert rejected == []
            runner = DialerRunner(
                rig.center,
                campaign,
                book,
                campaign_agents(campaign, AGENTS),
                variables_for=fate_variables,
                store=store,
                agent_skills={u.login: set(u.skills) for u in AGENTS},
                dnc_lists=store if durable_dnc else None,
            )
            await runner.prepare()
            rig.client.subscribe("UserEvent", runner.on_ami_message)
            played: list[Message] = []
            rig.client.subscribe("Newexten", lambda m: played.append(m) if m.get("Application") == "Playback" else None)
            yield rig, runner, played
    finally:
        await store.close()


async def in_loop(rig: Rig, fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run `fn` inside the live center's consumer and return its result."""
    result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def call() -> None:
        try:
            result.set_result(await fn())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting test, which re-raises it
            result.set_exception(exc)

    rig.center.submit(InLoop(call))
    return await asyncio.wait_for(result, 5)


def results(rig: Rig, runner: DialerRunner) -> list[str]:
    return [r for r, n in sorted(runner.stats.results.items()) for _ in range(n)]


async def test_human_is_connected_within_two_seconds_and_machine_never_reaches_an_agent(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["human", "machine"]) as (rig, runner, played):
        await rig.command("olga", "available")
        await rig.command("otto", "available")
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 2  # progressive: one dial per idle agent
        await rig.wait_for(lambda: runner.stats.connected == 1 and runner.stats.results.get("machine") == 1)
        await rig.wait_for(lambda: any(isinstance(e, CallConnected) for e in rig.events))
        human = runner.book.state("L1")
        machine = runner.book.state("L2")
        assert human.status == LeadStatus.CONNECTED and human.attempts == 1
        assert machine.status == LeadStatus.PENDING and machine.last_outcome == "machine"
        assert runner.stats.dropped == 0 and runner.stats.connect_delays[0] <= 2.0
        connected = [e for e in rig.events if isinstance(e, CallConnected)]
        assert len(connected) == 1  # only the human reached an agent
        await rig.center.wait_idle()
        await rig.wait_for(lambda: rig.eventlog.backlog == 0)
        stored = [s.event for s in await rig.store.events_between(0, 1e12)]
        offered = [e for e in stored if isinstance(e, CallOffered) and e.reason]  # the router's offers
        queued = [e for e in stored if isinstance(e, CallQueued) and e.queue == "campaign-spring"]
        human_at = next(e.at for e in stored if isinstance(e, DialerResulted) and e.result == "human")
        assert len(offered) == 1 and offered[0].call_id == connected[0].call_id
        assert offered[0].at - human_at <= 2.0
        # the screen-pop finds the lead's record
        assert queued[0].customer_id == lead_customer_id("spring", "L1")
        assert queued[0].attributes["lead_id"] == "L1" and queued[0].attributes["plan"] == "gold"
        customer = await rig.store.get_customer(queued[0].customer_id)
        assert customer.name == "Lead Number1" and customer.phones == ("+12127360001",)
        assert {e.result for e in stored if isinstance(e, DialerResulted)} == {"human", "machine"}
        assert sum(isinstance(e, DialerAttempted) for e in stored) == 2
        # the machine got the campaign's message from the dialplan (after its beep), and no agent
        await rig.wait_for(lambda: runner.stats.machine_messages == 1)
        assert any(m.get("AppData") == "dialer-message" for m in played)
        # the agent's disposition closes the lead
        await rig.wait_for(
            lambda: any(isinstance(e, CallEnded) and e.call_id == connected[0].call_id for e in rig.events)
        )
        await rig.command("olga", "wrap_up_done", call_id=connected[0].call_id, disposition="sale")
        await rig.center.wait_idle()
        assert runner.book.state("L1").status == LeadStatus.DONE and runner.book.state("L1").disposition == "sale"


async def test_on_a_standing_line_the_human_joins_the_agent_without_ringing_its_phone(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["human"], standing_lines="campaigns") as (rig, runner, _):
        dials: list[Message] = []
        rig.client.subscribe("DialBegin", dials.append)
        await rig.command("ivan", "available")  # inbound only: no line
        await rig.command("olga", "available")
        await rig.wait_for(lambda: rig.center.lines.is_up("olga"))
        assert rig.center.lines.get("ivan") is None
        line_dials = len(dials)
        assert await in_loop(rig, runner.tick) == 1
        await rig.wait_for(lambda: len(runner.stats.talk_delays) == 1)
        assert runner.stats.dropped == 0 and runner.stats.talk_delays[0] <= 0.5  # redirect into the conference
        connected = [e for e in rig.events if isinstance(e, CallConnected)]
        assert [e.agent_id for e in connected] == ["2001"]
        assert not [m for m in dials[line_dials:] if m.get("DestChannel").startswith("Local/2001@agents")]


async def test_machine_is_hung_up_without_a_message_when_the_campaign_says_so(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["machine"], amd_action="hangup") as (rig, runner, played):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 1
        await rig.wait_for(lambda: runner.stats.results.get("machine") == 1)
        await rig.wait_for(lambda: not rig.emulator.pbx.channels)
        assert runner.stats.machine_messages == 0 and not any(m.get("AppData") == "dialer-message" for m in played)
        assert rig.center.router.agent_state("olga") == "available"


async def test_human_with_no_agent_free_is_dropped_counted_and_hears_the_message(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["human"]) as (rig, runner, played):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 1
        await rig.command("olga", "pause", reason="break")  # the only agent leaves before the answer
        await rig.wait_for(lambda: runner.stats.dropped == 1)
        await rig.wait_for(lambda: any(m.get("AppData") == "dialer-sorry" for m in played))
        await rig.wait_for(lambda: runner.stats.drop_messages == 1)
        assert runner.stats.connected == 0
        assert not any(isinstance(e, CallConnected) for e in rig.events)
        assert runner.pacer.budget.total_answers == 1 and runner.pacer.budget.total_drops == 1
        state = runner.book.state("L1")
        assert state.status == LeadStatus.PENDING and state.last_outcome == "dropped" and state.attempts == 1
        assert runner.tile(rig.emulator.pbx.now())["drop_rate"] == 1.0
        # an agent coming back later does not get the dropped call
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        assert rig.center.router.agent_state("olga") == "available"
        await rig.wait_for(lambda: rig.eventlog.backlog == 0)
        stored = [s.event for s in await rig.store.events_between(0, 1e12)]
        drops = [e for e in stored if isinstance(e, DialerDropped)]
        assert len(drops) == 1 and drops[0].lead_id == "L1" and drops[0].campaign == "spring"
        assert not any(isinstance(e, CallOffered) for e in stored)


async def test_no_dialing_without_an_agent_logged_in(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["human", "human"], mode="predictive") as (rig, runner, _):
        assert await in_loop(rig, runner.tick) == 0
        await rig.command("ivan", "available")  # logged in, but not on the campaign
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 0
        await rig.command("olga", "pause", reason="meeting")  # logged in and paused
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 0
        assert runner.stats.dials == 0 and runner.book.state("L1").attempts == 0
        assert "no_agent_ready" in runner.stats.last_decision


async def test_the_runner_ends_at_a_cancel_its_flush_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's asyncio.wait_for, with which the runner bounds its store writes,
    returns the store's answer when the cancel comes with it: the runner then went on to
    its next tick, awaiting a consumer stopped with it, and the server's stop waited
    for it forever."""
    async with dialer_rig(tmp_path, ["busy"]) as (_rig, runner, _):
        flush = SwallowsOneCancel()  # (the store's answer came with the cancel)
        monkeypatch.setattr(runner, "_flush", flush)
        runner._unsaved.add("L1")  # (a write a failure left behind: flushed at the next turn)
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.wait_for(flush.started.wait(), 5)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=2)
            assert task in done and task.cancelled()
            assert flush.swallowed and not runner.running
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_outcomes_update_attempts_and_retries(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["busy", "noanswer"], no_answer_timeout_s=15) as (rig, runner, _):
        await rig.command("olga", "available")
        await rig.command("otto", "available")
        await rig.center.wait_idle()
        now = rig.emulator.pbx.now()
        assert await in_loop(rig, runner.tick) == 2
        await rig.wait_for(lambda: sum(runner.stats.results.values()) == 2, timeout=10)
        busy, noanswer = runner.book.state("L1"), runner.book.state("L2")
        assert (busy.status, busy.last_outcome, busy.attempts) == (LeadStatus.PENDING, "busy", 1)
        assert 10 * 60 <= busy.next_at - now <= 10 * 60 + 30
        assert (noanswer.status, noanswer.last_outcome, noanswer.attempts) == (LeadStatus.PENDING, "no_answer", 1)
        assert 60 * 60 <= noanswer.next_at - now <= 60 * 60 + 30
        assert runner.pacer.dials_resolved == 2 and runner.pacer.humans == 0
        # nothing is due now: the next tick dials nobody although both agents are idle
        assert await in_loop(rig, runner.tick) == 0
        tile = runner.tile(rig.emulator.pbx.now())
        assert tile["leads_left"] == 2 and tile["dials"] == 2 and tile["answered"] == 0


def test_campaign_section_errors_name_the_key() -> None:
    with pytest.raises(CampaignConfigError) as err:
        parse_live_campaigns(
            {"spring": {"mode": "fast", "leads": "x.csv", "tick_s": 0, "bogus": 1}, "autumn": {"name": "no leads"}}
        )
    text = str(err.value)
    assert "campaigns.spring.mode" in text and "campaigns.spring.tick_s" in text
    assert "campaigns.spring.bogus: unknown key" in text and "campaigns.autumn.leads: required" in text


async def test_wallboard_shows_the_campaign_tiles_from_the_bus() -> None:
    import json

    from reports.kpi import KpiConfig
    from reports.web_live import LiveBoard, View, WallboardHub
    from store import MemoryBus

    bus = MemoryBus()

    async def board() -> LiveBoard:
        return LiveBoard(KpiConfig(), {})

    hub = WallboardHub(None, bus, board)  # type: ignore[arg-type]
    assert json.loads(hub.render(0.0, [View()])["*"])["campaigns"] == []
    await bus.set_state(
        "campaigns",
        "spring",
        {"name": "Spring promo", "dial_level": 1.5, "drop_rate": 0.01, "drop_cap": 0.03, "leads_left": 7},
    )
    await hub.refresh_campaigns()
    [tile] = json.loads(hub.render(0.0, [View()])["*"])["campaigns"]
    assert tile["id"] == "spring" and tile["leads_left"] == 7 and tile["dial_level"] == 1.5


async def test_campaign_tile_is_published_every_tick(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["busy"]) as (rig, runner, _):
        await in_loop(rig, runner.tick)
        tiles = await rig.bus.get_state("campaigns")
        assert tiles["spring"]["leads_left"] == 1 and tiles["spring"]["agents_ready"] == 0
        assert tiles["spring"]["drop_cap"] == 0.03 and tiles["spring"]["name"] == "Spring promo"


async def test_unreadable_leads_file_is_a_clear_error(tmp_path: Path) -> None:
    [campaign] = parse_live_campaigns(campaign_table(tmp_path / "missing.csv"))
    with pytest.raises(CampaignConfigError, match=r"campaigns.spring.leads: cannot read .*missing.csv"):
        load_book(campaign, 0.0)


@asynccontextmanager
async def blended_rig(
    tmp_path: Path, routing: dict[str, Any], agents: list[User], fates: list[str]
) -> AsyncIterator[tuple[Rig, DialerRunner]]:
    """The live rig with `routing` and a campaign dialer (the leads' `fates`) that
    knows its agents' skills, for blending; nothing stored for the leads."""
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/blend.sqlite3"))
    await store.migrate()
    try:
        async with live_rig(store, agents, speed=10.0, routing=routing) as rig:
            [campaign] = parse_live_campaigns(campaign_table(write_leads(tmp_path / "leads.csv", fates)))
            book, _ = load_book(campaign, rig.emulator.pbx.now())
            runner = DialerRunner(
                rig.center,
                campaign,
                book,
                campaign_agents(campaign, agents),
                variables_for=fate_variables,
                agent_skills={u.login: set(u.skills) for u in agents},
            )
            yield rig, runner
    finally:
        await store.close()


async def test_inbound_calls_waiting_for_campaign_agents_go_first(tmp_path: Path) -> None:
    routing = {
        "defaults": {"wrap_up_s": 1},
        "rona": {"ring_timeout_s": 15, "max_misses": 1},
        "queues": {"billing": {"targets": [{"name": "billing", "expression": "skills.billing >= 1"}]}},
    }
    async with blended_rig(tmp_path, routing, AGENTS, ["busy"] * 3) as (rig, runner):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        await rig.caller("Ann", "5551001", talk_s=60)  # olga (billing + outbound) takes it
        await rig.wait_for(lambda: rig.center.router.agent_state("olga") == "on_call")
        await rig.caller("Ben", "5551002", talk_s=60)  # waits for olga: nobody else has billing
        await rig.wait_for(lambda: len(rig.center.router.waiting_call_ids()) == 1)
        await rig.command("otto", "available")
        await rig.center.wait_idle()
        snap = await in_loop(rig, lambda: _async(runner.snapshot(rig.emulator.pbx.now())))
        assert (snap.agents_ready, snap.agents_idle, snap.inbound_waiting) == (2, 1, 1)
        assert await in_loop(rig, runner.tick) == 0  # the capacity is kept for the inbound call
        assert runner.stats.dials == 0 and "progressive" in runner.stats.last_decision


async def _async(value: Any) -> Any:
    return value


async def test_started_from_the_config_section_the_runner_paces_by_itself(tmp_path: Path) -> None:
    from dialer.live import start_dialers

    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/run.sqlite3"))
    await store.migrate()
    try:
        async with live_rig(store, AGENTS, speed=10.0) as rig:
            section = campaign_table(
                write_leads(tmp_path / "leads.csv", ["x"] * 6),
                mode="predictive",
                demo_behaviour={"answer": 0.5, "machine": 0.5},
            )
            [runner] = await start_dialers(section, rig.center, rig.client, store, AGENTS)
            assert runner.agents == ("olga", "otto")
            await rig.command("olga", "available")
            await rig.command("otto", "available")
            task = asyncio.create_task(runner.run())
            try:
                await rig.wait_for(lambda: sum(runner.stats.results.values()) == 6, timeout=20)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            stats = runner.stats
            assert stats.dials == 6 and stats.results.get("human", 0) + stats.results.get("machine", 0) == 6
            await rig.wait_for(lambda: stats.connected + stats.dropped == stats.humans)
            assert all(d <= 2.0 for d in stats.connect_delays)
            await rig.center.wait_idle()
            await rig.wait_for(lambda: rig.eventlog.backlog == 0)
            stored = [s.event for s in await rig.store.events_between(0, 1e12)]
            machines = {e.call_id for e in stored if isinstance(e, DialerResulted) and e.result == "machine"}
            assert len(machines) == stats.results["machine"]
            assert not machines & {e.call_id for e in rig.events if isinstance(e, CallConnected)}
            assert runner.book.counts()["pending"] + runner.book.counts()["connected"] == 6
    finally:
        await store.close()


async def test_the_campaign_follows_agents_the_admin_gives_or_takes_its_skill(tmp_path: Path) -> None:
    from dataclasses import replace

    from cti.live_items import DirectoryChanged
    from dialer.live import start_dialers

    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/run.sqlite3"))
    await store.migrate()
    try:
        async with live_rig(store, AGENTS, speed=10.0) as rig:
            section = campaign_table(write_leads(tmp_path / "leads.csv", ["x"]))
            [runner] = await start_dialers(section, rig.center, rig.client, store, AGENTS)
            assert runner.agents == ("olga", "otto")
            olga, _otto, ivan = AGENTS
            await store.put_user(replace(olga, skills={"billing": 5}))  # off the campaign
            await store.put_user(replace(ivan, skills={"billing": 5, "outbound": 3}))  # on it
            rig.center.submit(DirectoryChanged(tuple(await store.list_users("agent"))))
            await rig.center.wait_idle()
            assert runner.agents == ("ivan", "otto")
    finally:
        await store.close()


async def test_a_dial_whose_result_never_came_is_closed_as_failed(tmp_path: Path) -> None:
    from dialer.live import _Attempt

    async with dialer_rig(tmp_path, ["busy"]) as (rig, runner, _):
        now = rig.emulator.pbx.now()
        [lead] = runner.book.next_leads(now, 1).leads
        runner._by_originate["lost"] = _Attempt("lost", lead, "12127360001", now - 200)  # AMI dropped meanwhile
        await in_loop(rig, runner.tick)
        state = runner.book.state(lead.lead_id)
        assert runner.stats.results == {"failed": 1} and not runner._by_originate
        assert (state.status, state.last_outcome) == (LeadStatus.PENDING, "failed")


async def preview_offered(rig: Rig, runner: DialerRunner, agent: str) -> str:
    """The preview call id offered to `agent` once the runner has queued it."""
    await rig.wait_for(lambda: any(a.state == "previewing" for a in runner._by_call.values()))
    await rig.center.wait_idle()
    [call_id] = [cid for cid, a in runner._by_call.items() if a.state == "previewing"]
    assert rig.center.router.call_info(call_id)["state"] == "offered"
    assert rig.center.router.agent_state(agent) == "reserved"
    return call_id


async def written_interaction(rig: Rig, call_id: str) -> Any:
    """The interaction row once the center's background write has landed."""
    for _ in range(250):
        try:
            return await rig.store.get_interaction(call_id)
        except LookupError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"interaction {call_id} never written")


async def stored_events(rig: Rig) -> list[Any]:
    await rig.center.wait_idle()
    await rig.wait_for(lambda: rig.eventlog.backlog == 0)
    return [s.event for s in await rig.store.events_between(0, 1e12)]


@pytest.mark.parametrize("lines", ["off", "campaigns"])
async def test_preview_agent_sees_the_lead_before_anything_is_dialled_then_dials_it(tmp_path: Path, lines: str) -> None:
    async with dialer_rig(tmp_path, ["human", "busy"], standing_lines=lines, mode="preview") as (rig, runner, _played):
        joined: list[Message] = []
        rig.client.subscribe("BridgeEnter", joined.append)
        await rig.command("olga", "available")
        if lines != "off":
            await rig.wait_for(lambda: rig.center.lines.is_up("olga"))
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 1  # one lead shown to the one idle agent
        call_id = await preview_offered(rig, runner, "olga")
        assert await in_loop(rig, runner.tick) == 0  # nobody else idle: nothing more queued
        assert runner.stats.dials == 0 and not runner._by_originate  # nothing dialled yet
        stored = await stored_events(rig)
        [queued] = [e for e in stored if isinstance(e, CallQueued) and e.call_id == call_id]
        assert queued.attributes["preview"] is True and queued.attributes["lead_id"] == "L1"
        assert queued.customer_id == lead_customer_id("spring", "L1")  # the desktop pops the lead's record
        assert [e.agent_id for e in stored if isinstance(e, CallOffered) and e.call_id == call_id] == ["olga"]
        assert not any(isinstance(e, DialerAttempted) for e in stored)

        await rig.command("olga", "preview_dial", call_id=call_id)
        await rig.wait_for(lambda: rig.center.router.agent_state("olga") == "on_call")
        assert runner.stats.dials == 1 and runner.stats.connected == 1
        assert runner.book.state("L1").status == LeadStatus.CONNECTED
        await rig.wait_for(lambda: rig.center.router.agent_state("olga") == "wrap_up")  # the customer hung up
        await rig.command("olga", "wrap_up_done", call_id=call_id, disposition="sale")
        await rig.center.wait_idle()
        assert runner.book.state("L1").status == LeadStatus.DONE
        stored = await stored_events(rig)
        # the PBX call's events speak of the preview: one call, offered, connected and ended
        assert [e.agent_id for e in stored if isinstance(e, CallConnected) and e.call_id == call_id] == ["olga"]
        assert sum(isinstance(e, CallEnded) and e.call_id == call_id for e in stored) == 1
        assert [e.result for e in stored if isinstance(e, DialerResulted)] == ["answered"]
        interaction = await written_interaction(rig, call_id)
        assert interaction.outcome == "answered" and interaction.direction == "outbound"
        assert interaction.agent_id == "olga"
        # on a standing line the dialled customer was sent into the agent's conference
        customer_joins = [
            m for m in joined if m.get("Channel").startswith("Local/") and "@customers" in m.get("Channel")
        ]
        assert [m.get("BridgeName") == "hotline-agent-2001" for m in customer_joins] == [lines != "off"]


async def test_preview_skip_returns_the_lead_and_an_unreached_dial_retries_it(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["busy", "noanswer"], mode="preview") as (rig, runner, _played):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        await in_loop(rig, runner.tick)
        first = await preview_offered(rig, runner, "olga")
        await rig.command("olga", "preview_skip", call_id=first)
        await rig.center.wait_idle()
        skipped = runner.book.state("L1")
        assert skipped.status == LeadStatus.PENDING and skipped.attempts == 0  # no attempt counted; comes back later
        assert rig.center.router.agent_state("olga") == "available" and rig.center.router.call_info(first) is None

        await in_loop(rig, runner.tick)  # the next lead (the skipped one waits its hour)
        second = await preview_offered(rig, runner, "olga")
        assert runner._by_call[second].lead.lead_id == "L2"
        await rig.command("olga", "preview_dial", call_id=second)
        await rig.wait_for(lambda: runner.stats.results.get("no_answer") == 1, timeout=20)
        await rig.wait_for(lambda: rig.center.router.agent_state("olga") == "available")
        unreached = runner.book.state("L2")
        assert (
            unreached.status == LeadStatus.PENDING and unreached.attempts == 1 and unreached.last_outcome == "no_answer"
        )
        stored = await stored_events(rig)
        assert not any(isinstance(e, CallConnected) for e in stored)
        assert not any(e.call_id in (first, second) for e in stored if type(e).__name__ == "CallAbandoned")
        assert sorted(e.result for e in stored if isinstance(e, DialerResulted)) == ["no_answer", "skipped"]
        assert (await written_interaction(rig, first)).outcome == "skipped"
        assert (await written_interaction(rig, second)).outcome == "not_reached"


async def test_a_preview_whose_number_went_on_a_do_not_call_list_is_not_dialled(tmp_path: Path) -> None:
    """Shown to the agent, then put on the campaign's do-not-call list (API, another
    agent's disposition): Dial is refused with the reason, nothing is dialled, the lead
    is blocked for good and the agent is free for the next one."""
    from store.models import DncEntry

    async with dialer_rig(tmp_path, ["human"], mode="preview", durable_dnc=True) as (rig, runner, _played):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        await in_loop(rig, runner.tick)
        call_id = await preview_offered(rig, runner, "olga")
        lead = runner._by_call[call_id].lead
        await rig.store.add_dnc([DncEntry(number=lead.phone, campaign="spring", source="api")])
        async with rig.bus.subscribe("agent-replies") as replies:
            await rig.center.handle_agent_command(
                {"agent_id": "olga", "request_id": "r1", "action": "preview_dial", "call_id": call_id}
            )
            _, reply = await asyncio.wait_for(replies.get(), 10)
        assert reply["ok"] is False and "do-not-call" in reply["error"], reply
        await rig.center.wait_idle()
        assert runner.stats.dials == 0 and not runner._by_originate
        assert runner.book.state(lead.lead_id).status == LeadStatus.BLOCKED
        assert rig.center.router.agent_state("olga") == "available"
        stored = await stored_events(rig)
        assert [e.result for e in stored if isinstance(e, DialerResulted)] == ["dnc_blocked"]
        assert not any(isinstance(e, DialerAttempted) for e in stored)
        assert (await written_interaction(rig, call_id)).outcome == "do_not_call"


async def test_preview_dial_for_a_call_not_offered_to_the_agent_is_refused(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["human"], mode="preview") as (rig, runner, _played):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        await in_loop(rig, runner.tick)
        call_id = await preview_offered(rig, runner, "olga")
        replies: list[dict[str, Any]] = []
        async with rig.bus.subscribe("agent-replies") as sub:
            await rig.command("otto", "preview_dial", call_id=call_id, request_id="r1")
            async for _channel, message in sub:
                replies.append(message)
                break
        assert replies[0]["ok"] is False and "no preview" in replies[0]["error"]
        assert runner.stats.dials == 0 and rig.center.router.agent_state("olga") == "reserved"
