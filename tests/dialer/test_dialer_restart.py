"""Campaigns across a restart of the server (issue 14), through the composition root
(cti/live_root.py `build_live`, as `hotline serve` runs it) on the PBX emulator: the
Hotline side is stopped (or killed) mid-campaign and started again on the same store.
No lead is dialled before its next try or from attempt 0, and a number put on a
do-not-call list before the restart (over the REST API, or by an agent's disposition)
is never dialled after it. Dials are counted at the PBX by a client of its own, which
lives through the restarts."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.schema import StoreConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.server import create_app
from dialer.live import DialerRunner
from events import CallEnded
from sim.rig import AMI_SECRET, Rig, live_rig
from store import SqlStore, open_store
from store.models import ApiToken, LeadRecord, User
from tests.dialer.test_dialer_live import write_leads
from tests.web.conftest import web_config
from web.security import hash_token

ALWAYS = {"start": "00:00:00", "end": "23:59:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
ROUTING = {"defaults": {"wrap_up_s": 600}, "rona": {"ring_timeout_s": 15, "max_misses": 1}}
AGENTS = [
    User(login="ada", display_name="Ada", skills={"outbound": 5, "care": 5}, phone_endpoint="Local/2001@agents"),
    User(login="bea", display_name="Bea", skills={"outbound": 5, "later": 5}, phone_endpoint="Local/2002@agents"),
]
TOKEN = "hl_restart_supervisor-token"


def campaign(leads: Path, **extra: Any) -> dict[str, Any]:
    return {
        "leads": str(leads),
        "mode": "progressive",
        "calling_window": ALWAYS,
        "max_attempts": 2,
        **extra,
    }


@dataclass
class Dials:
    """Every customer call the PBX is asked to make: (number, the PBX clock)."""

    rig: Rig
    seen: list[tuple[str, float]] = field(default_factory=list)

    def on_channel(self, m: Any) -> None:
        if m.get("Context") == "customers" and m.get("Channel").endswith(";1"):
            self.seen.append((m.get("Exten"), self.rig.emulator.pbx.now()))

    def of(self, phone: str) -> list[float]:
        return [at for number, at in self.seen if number == phone.lstrip("+")]


@asynccontextmanager
async def watched(rig: Rig) -> AsyncIterator[Dials]:
    dials = Dials(rig)
    observer = AmiClient(AmiSettings("127.0.0.1", rig.emulator.port, "hotline", AMI_SECRET), CallModel())
    observer.subscribe("Newchannel", dials.on_channel)
    await observer.start()
    await observer.wait_ready(10)
    try:
        yield dials
    finally:
        await observer.close()


async def rows(store: SqlStore, campaign_id: str) -> dict[str, LeadRecord]:
    return {r.lead_id: r for r in await store.lead_states(campaign_id)}


def runner(rig: Rig, campaign_id: str) -> DialerRunner:
    return next(d for d in rig.live.dialers if d.campaign.id == campaign_id)


async def stop(rig: Rig, how: str) -> None:
    if how == "kill":
        await rig.kill_center()  # as SIGKILL would: no log-off, no flush
    else:
        await rig.stop_center()


async def start(rig: Rig, available: tuple[str, ...]) -> None:
    await rig.start_center(AGENTS, ROUTING)
    for agent in available:  # (again: a killed server may not have logged their state)
        await rig.command(agent, "available")
    await rig.center.wait_idle()


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_after_a_restart_no_lead_is_redialled_early_or_from_attempt_0(tmp_path: Path, how: str) -> None:
    leads = write_leads(tmp_path / "leads.csv", ["busy"] * 4)
    section = {
        "spring": campaign(
            leads,
            skill="outbound",
            demo_behaviour={"busy": 1.0},
            # a dial cut by the stop counts as failed: its retry waits as long as a busy one
            retry={"busy": {"delay_minutes": 1.0}, "failed": {"delay_minutes": 1.0}},
        )
    }
    url = f"sqlite:///{tmp_path}/restart.sqlite3"
    store = await open_store(StoreConfig(url=url))
    await store.migrate()
    await store.put_user(User("sup", "Sue", role="supervisor"))
    await store.put_api_token(ApiToken("t1", "sup", "restart test"), hash_token(TOKEN))
    web = TestClient(TestServer(create_app(web_config(url, campaigns=section))))
    await asyncio.wait_for(web.start_server(), 20)
    phones = {f"L{n}": f"+1212736{n:04d}" for n in range(1, 5)}
    try:
        rig_ = live_rig(store, AGENTS, speed=10.0, routing=ROUTING, campaigns=section)
        async with rig_ as rig, watched(rig) as dials:
            first = runner(rig, "spring")
            await rig.command("ada", "available")
            await rig.command("bea", "available")
            # every lead dialled once (busy), each waiting 60 s of the PBX's clock for its retry
            await rig.wait_for(lambda: first.stats.results.get("busy", 0) >= 4, timeout=20)
            # a customer's "do not call" taken by a supervisor over the API, mid-campaign
            r = await asyncio.wait_for(
                web.post("/api/v1/dnc", json={"number": phones["L4"]}, headers={"Authorization": f"Bearer {TOKEN}"}),
                10,
            )
            assert r.status == 201, await r.text()
            await stop(rig, how)
            before = await rows(store, "spring")  # what the stopped server left in the store
            dials_before = {lead: len(dials.of(phone)) for lead, phone in phones.items()}
            restarted_at = rig.emulator.pbx.now()
            await start(rig, ("ada", "bea"))

            second = runner(rig, "spring")
            for lead_id in phones:  # not from attempt 0: each dial made before the restart counts
                assert second.book.state(lead_id).attempts >= dials_before[lead_id] >= 1, lead_id
            # the campaign runs to its end: each lead's second and last attempt, L4 never again
            await rig.wait_for(
                lambda: all(second.book.state(f"L{n}").status.value in ("exhausted", "blocked") for n in range(1, 5)),
                timeout=30,
            )
            await rig.center.wait_idle()
            for lead_id, phone in phones.items():
                times = dials.of(phone)
                assert len(times) <= 2, (lead_id, times)  # max_attempts
                assert all(b - a >= 60 for a, b in itertools.pairwise(times)), (lead_id, times)  # the busy retry
            for lead_id, phone in phones.items():  # the store said so
                row = before[lead_id]
                assert row.attempts == dials_before[lead_id], row
                times = dials.of(phone)
                if row.status == "pending":  # dialled again no earlier than its stored next try
                    assert all(at >= row.next_at - 0.01 for at in times if at >= restarted_at), (lead_id, row, times)
            assert dials.of(phones["L4"]) == dials.of(phones["L4"])[: dials_before["L4"]]  # none after the API's DNC
            final = await rows(store, "spring")
            assert final["L4"].status == "blocked"
            assert {final[f"L{n}"].status for n in range(1, 4)} == {"exhausted"}
            assert all(final[f"L{n}"].attempts == 2 for n in range(1, 4))
    finally:
        await asyncio.wait_for(web.close(), 20)
        await store.close()


async def test_a_do_not_call_said_to_an_agent_is_kept_through_a_kill(tmp_path: Path) -> None:
    phone = "+12127360001"
    care = tmp_path / "care.csv"
    care.write_text(f"lead_id,phone,time_zone\nC1,{phone},UTC\n")
    later = tmp_path / "later.csv"  # another campaign with the same customer, not started before the kill
    later.write_text(f"lead_id,phone,time_zone\nD1,{phone},UTC\nD2,+12127360002,UTC\n")
    section = {
        "care": campaign(care, skill="care", demo_behaviour={"answer": 1.0}, dnc_scope="global"),
        "later": campaign(later, skill="later", demo_behaviour={"busy": 1.0}),
    }
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/kill.sqlite3"))
    await store.migrate()
    try:
        rig_ = live_rig(store, AGENTS, speed=10.0, routing=ROUTING, campaigns=section)
        async with rig_ as rig, watched(rig) as dials:
            care_runner = runner(rig, "care")
            await rig.command("ada", "available")
            await rig.wait_for(lambda: care_runner.stats.connected == 1, timeout=20)
            [call_id] = list(care_runner._connected_leads)
            await rig.wait_for(lambda: any(isinstance(e, CallEnded) and e.call_id == call_id for e in rig.events))
            await rig.command("ada", "wrap_up_done", call_id=call_id, disposition="do_not_call")
            await rig.center.wait_idle()
            assert runner(rig, "later").book.state("D1").attempts == 0  # bea never logged in: not dialled yet

            await stop(rig, "kill")
            await start(rig, ("ada", "bea"))
            later_runner = runner(rig, "later")
            await rig.wait_for(lambda: len(dials.of("+12127360002")) == 1, timeout=20)  # bea's campaign dials
            await rig.center.wait_idle()
            assert len(dials.of(phone)) == 1  # the call that said "do not call", never again
            await rig.wait_for(lambda: later_runner.book.state("D1").status.value == "blocked")
            assert runner(rig, "care").book.state("C1").status.value == "done"
            assert (await rows(store, "later"))["D1"].status == "blocked"
            entries = await store.dnc_entries("")
            assert [(e.number, e.source, e.added_by) for e in entries] == [(phone, f"disposition:{call_id}", "ada")]
    finally:
        await store.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_a_preview_shown_before_a_restart_is_shown_again_to_the_same_agent(tmp_path: Path, how: str) -> None:
    """A preview is a promise to the agent reading it: after a restart the same lead
    (the same call) is offered to that agent first, no attempt is lost, nothing is
    counted abandoned or ended, and the lead is dialled once, when the agent dials."""
    phone = "+12127360001"
    leads = tmp_path / "preview.csv"
    leads.write_text(f"lead_id,phone,time_zone\nP1,{phone},UTC\n")
    section = {"look": campaign(leads, skill="outbound", mode="preview", demo_behaviour={"answer": 1.0})}
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/preview.sqlite3"))
    await store.migrate()
    try:
        rig_ = live_rig(store, AGENTS, speed=10.0, routing=ROUTING, campaigns=section)
        async with rig_ as rig, watched(rig) as dials:
            first = runner(rig, "look")
            await rig.command("ada", "available")
            await rig.wait_for(lambda: any(a.state == "previewing" for a in first._by_call.values()), timeout=20)
            [call_id] = list(first._by_call)
            await rig.wait_for(lambda: rig.center.router.agent_state("ada") == "reserved")
            await rig.wait_for(lambda: first._unsaved == set())
            row = (await rows(store, "look"))["P1"]
            assert (row.status, row.call_id, row.offered_to, row.attempts) == ("preview", call_id, "ada", 1)

            await stop(rig, how)
            await start(rig, ("bea",))  # another agent of the campaign is free first
            second = runner(rig, "look")
            await rig.wait_for(lambda: call_id in second._by_call, timeout=20)
            await rig.center.wait_idle()
            assert rig.center.router.agent_state("bea") == "available"  # not hers: promised to ada
            assert second.book.state("P1").attempts == 1  # no attempt lost to the restart
            await rig.command("ada", "available")
            await rig.wait_for(lambda: rig.center.router.agent_state("ada") == "reserved", timeout=20)
            assert rig.center.router.call_info(call_id)["state"] == "offered"
            assert dials.of(phone) == []  # shown twice, dialled never

            await rig.command("ada", "preview_dial", call_id=call_id)
            await rig.wait_for(lambda: second.book.state("P1").status.value in ("connected", "done"), timeout=20)
            await rig.center.wait_idle()
            await rig.wait_for(lambda: rig.eventlog.backlog == 0)
            assert len(dials.of(phone)) == 1
            assert second.book.state("P1").attempts == 1
            stored = [s.event for s in await store.events_between(0, 1e12)]
            assert not [e for e in stored if isinstance(e, CallEnded) and e.call_id == call_id]
            assert not [e for e in stored if type(e).__name__ == "CallAbandoned" and e.call_id == call_id]
            offers = [e.agent_id for e in stored if type(e).__name__ == "CallOffered" and e.call_id == call_id]
            assert set(offers) == {"ada"}, offers
    finally:
        await store.close()
