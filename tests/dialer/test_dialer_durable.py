"""Every promise of the dialer is a row (issue 14): the pure core's restore / block /
release, the book rebuilt from the store, and the live runner on the PBX emulator
writing each lead's state before it dials and reading the durable do-not-call lists
before every dial."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from config.schema import StoreConfig
from cti.ami_codec import Message
from dialer.campaign import CampaignBook, CampaignConfig, InvalidTransition, LeadState, LeadStatus, utc
from dialer.durable import lead_details, record_of, state_of
from dialer.leads import Lead
from dialer.live import DialerRunner, campaign_agents, open_book, parse_live_campaigns
from events import CallEnded, WrapUpEnded
from sim.rig import Rig, live_rig
from store import open_store
from store.memory import MemoryStore
from store.models import DncEntry, LeadRecord
from tests.dialer.test_dialer_live import AGENTS, campaign_table, fate_variables, in_loop, write_leads

NOON = utc(2026, 6, 1, 12)
ALWAYS = {"start": "00:00:00", "end": "23:59:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
ROUTING = {"defaults": {"wrap_up_s": 600}, "rona": {"ring_timeout_s": 15, "max_misses": 1}}


def lead(lead_id: str, phone: str = "+12127360001", priority: int = 0) -> Lead:
    return Lead(lead_id, phone, ("UTC",), first_name="Ann", priority=priority, attributes={"plan": "gold"}, line=3)


def book(**overrides: Any) -> CampaignBook:
    return CampaignBook(CampaignConfig(id="spring", calling_window=ALWAYS, max_attempts=3, **overrides))


# ---------------------------------------------------------------- the pure core


def test_a_restored_pending_lead_keeps_its_attempts_and_waits_for_its_next_try() -> None:
    b = book()
    stored = LeadState(lead("L1"), LeadStatus.PENDING, attempts=2, next_at=NOON + 600, last_outcome="busy")
    assert b.restore([stored], NOON) == []
    assert b.next_leads(NOON + 599, 5).leads == ()  # not early
    [again] = b.next_leads(NOON + 600, 5).leads
    assert again.lead_id == "L1" and b.state("L1").attempts == 3  # not from attempt 0


def test_a_lead_being_dialled_when_the_dialer_stopped_counts_as_a_failed_attempt() -> None:
    b = book()
    dialing = LeadState(lead("L1"), LeadStatus.DIALING, attempts=1, next_at=NOON - 5)
    last = LeadState(lead("L2", "+12127360002"), LeadStatus.DIALING, attempts=3, next_at=NOON - 5)
    b.restore([dialing, last], NOON)
    state = b.state("L1")
    assert (state.status, state.attempts, state.last_outcome) == (LeadStatus.PENDING, 1, "failed")
    assert state.next_at == NOON + 30 * 60  # the failed retry, counted from the restart
    assert b.state("L2").status == LeadStatus.EXHAUSTED  # its last attempt
    assert b.next_leads(NOON + 30 * 60 - 1, 5).leads == ()


def test_restored_final_and_connected_leads_are_not_dialled() -> None:
    b = book()
    states = [
        LeadState(lead("L1"), LeadStatus.DONE, attempts=1, disposition="sale"),
        LeadState(lead("L2", "+12127360002"), LeadStatus.BLOCKED),
        LeadState(lead("L3", "+12127360003"), LeadStatus.CONNECTED, attempts=1),
        LeadState(lead("L4", "+12127360004"), LeadStatus.EXHAUSTED, attempts=3),
    ]
    assert b.restore([*states, LeadState(lead("L1"), LeadStatus.PENDING)], NOON) == ["L1"]
    assert b.next_leads(NOON + 10**6, 10).leads == ()
    b.record_disposition("L3", "do_not_call", NOON + 1)  # the connected call's disposition still comes
    assert b.state("L3").status == LeadStatus.DONE and b.dnc.blocked("+12127360003", "spring")
    assert b.leads_left() == 0


def test_a_lead_blocked_or_released_after_its_selection_has_no_attempt_counted() -> None:
    b = book()
    b.add_leads([lead("L1"), lead("L2", "+12127360002")], NOON)
    assert len(b.next_leads(NOON, 2).leads) == 2
    assert b.record_blocked("L1", NOON).status == LeadStatus.BLOCKED and b.state("L1").attempts == 0
    released = b.release("L2", NOON, NOON + 5)
    assert (released.status, released.attempts, released.next_at) == (LeadStatus.PENDING, 0, NOON + 5)
    assert b.next_leads(NOON + 4, 5).leads == ()
    assert [x.lead_id for x in b.next_leads(NOON + 5, 5).leads] == ["L2"]
    with pytest.raises(InvalidTransition):
        b.record_blocked("L1", NOON)


@pytest.mark.parametrize(("scope", "listed_for_other"), [("campaign", False), ("global", True)])
def test_a_dnc_disposition_goes_to_the_list_the_campaign_names(scope: str, listed_for_other: bool) -> None:
    b = book(dnc_scope=scope)
    b.add_leads([lead("L1")], NOON)
    b.next_leads(NOON, 1)
    b.record_connected("L1", NOON + 1)
    b.record_disposition("L1", "do_not_call", NOON + 2)
    assert b.dnc_list == (None if scope == "global" else "spring")
    assert b.dnc.blocked("+12127360001", "spring")
    assert b.dnc.blocked("+12127360001", "autumn") is listed_for_other


def test_a_lead_state_round_trips_through_its_record() -> None:
    state = LeadState(
        lead("L1", priority=4),
        LeadStatus.CONNECTED,
        attempts=2,
        cycle=1,
        next_at=NOON,
        last_outcome="human",
        disposition="no_decision",
        callback=True,
    )
    record = record_of("spring", state, NOON + 1, call_id="c-9")
    assert (record.status, record.call_id, record.updated_at) == ("connected", "c-9", NOON + 1)
    back = state_of(record)
    assert back == replace(state, history=[])
    assert record_of("spring", replace(state, status=LeadStatus.DONE), NOON, call_id="c-9").call_id == ""
    assert state_of(replace(record, status="from-a-newer-version")).status == LeadStatus.DONE  # never dialled


# ---------------------------------------------------------------- the book from the store


async def test_the_book_is_the_stored_one_and_the_csv_only_adds_the_leads_it_does_not_know(tmp_path: Path) -> None:
    store = MemoryStore()
    [campaign] = parse_live_campaigns(campaign_table(write_leads(tmp_path / "leads.csv", ["busy"] * 5)))
    phones = {f"L{n}": f"+1212736{n:04d}" for n in range(1, 6)}

    def stored(lead_id: str, **fields: Any) -> LeadRecord:
        details = lead_details(Lead(lead_id, phones[lead_id], ("UTC",)))
        return LeadRecord("spring", lead_id, phones[lead_id], details=details, **fields)

    await store.put_lead_states(
        [
            stored("L1", attempts=2, next_at=NOON + 600, last_outcome="busy"),
            stored("L2", status="done", attempts=1, disposition="sale"),
            stored("L3", status="dialing", attempts=1, next_at=NOON - 10),
            stored("L4", status="connected", attempts=1, call_id="c-4"),
        ]
    )
    opened = await open_book(campaign, store, NOON)
    b = opened.book
    assert (opened.restored, opened.added, opened.connected) == (4, 1, {"c-4": "L4"})
    assert (b.state("L1").attempts, b.state("L1").next_at) == (2, NOON + 600)
    assert b.state("L2").status == LeadStatus.DONE
    assert (b.state("L3").status, b.state("L3").last_outcome) == (LeadStatus.PENDING, "failed")
    assert b.state("L5").attempts == 0 and b.state("L5").lead.attributes["plan"] == "gold"
    assert [x.lead_id for x in b.next_leads(NOON, 10).leads] == ["L5"]  # the only one due
    rows = {r.lead_id: r for r in await store.lead_states("spring")}
    assert rows["L5"].status == "pending" and rows["L5"].details["attributes"]["plan"] == "gold"
    assert rows["L3"].status == "pending" and rows["L3"].last_outcome == "failed"  # the lost result, written
    assert rows["L1"].attempts == 2


# ---------------------------------------------------------------- the runner on the emulator


class Flaky(MemoryStore):
    """The dialer's ports in memory (held to the contract suite), with a switch that
    makes every dialer read and write fail as an unreachable database would."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("database unreachable")

    async def put_lead_states(self, records: Any) -> None:
        self._check()
        await super().put_lead_states(records)

    async def dnc_blocked(self, numbers: Any, campaign: str) -> set[str]:
        self._check()
        return await super().dnc_blocked(numbers, campaign)

    async def add_dnc(self, entries: Any) -> int:
        self._check()
        return await super().add_dnc(entries)


@asynccontextmanager
async def durable_rig(
    tmp_path: Path, fates: list[str], ports: Any = None, **extra: Any
) -> AsyncIterator[tuple[Rig, DialerRunner, Any]]:
    """A runner whose book comes from `ports` (default: the rig's SQLite store) and
    which writes its leads there and checks its do-not-call lists there."""
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/durable.sqlite3"))
    await store.migrate()
    try:
        async with live_rig(store, AGENTS, speed=10.0, routing=ROUTING) as rig:
            section = campaign_table(write_leads(tmp_path / "leads.csv", fates), **extra)
            [campaign] = parse_live_campaigns(section)
            durable = ports if ports is not None else store
            opened = await open_book(campaign, durable, rig.emulator.pbx.now())
            runner = DialerRunner(
                rig.center,
                campaign,
                opened.book,
                campaign_agents(campaign, AGENTS),
                variables_for=fate_variables,
                store=store,
                agent_skills={u.login: set(u.skills) for u in AGENTS},
                lead_states=durable,
                dnc_lists=durable,
                connected=opened.connected,
            )
            await runner.prepare()
            rig.client.subscribe("UserEvent", runner.on_ami_message)
            yield rig, runner, durable
    finally:
        await store.close()


def dials_seen(rig: Rig) -> list[str]:
    """The numbers the PBX is asked to call, as it starts each customer channel."""
    numbers: list[str] = []

    def on_channel(m: Message) -> None:
        if m.get("Context") == "customers" and m.get("Channel").endswith(";1"):
            numbers.append(m.get("Exten"))

    rig.client.subscribe("Newchannel", on_channel)
    return numbers


async def test_a_lead_is_written_as_dialing_before_the_pbx_is_asked_to_call_it(tmp_path: Path) -> None:
    ports = Flaky()
    async with durable_rig(tmp_path, ["busy"], ports=ports) as (rig, runner, _):
        rows_at_dial: list[LeadRecord] = []

        def on_channel(m: Message) -> None:  # the store's row as the PBX starts the call
            if m.get("Context") == "customers" and m.get("Channel").endswith(";1"):
                rows_at_dial.append(ports._leads[("spring", "L1")])

        rig.client.subscribe("Newchannel", on_channel)
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 1
        await rig.wait_for(lambda: runner.stats.results.get("busy") == 1)
        [row] = rows_at_dial
        assert (row.status, row.attempts) == ("dialing", 1)
        after = await ports.get_lead_state("spring", "L1")
        assert (after.status, after.attempts, after.last_outcome) == ("pending", 1, "busy")
        assert after.next_at == runner.book.state("L1").next_at


async def test_nothing_is_dialled_while_the_store_cannot_take_the_lead_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dialer.live

    monkeypatch.setattr(dialer.live, "STORE_RETRY_S", 0.2)
    ports = Flaky()
    async with durable_rig(tmp_path, ["busy"], ports=ports) as (rig, runner, _):
        seen = dials_seen(rig)
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        ports.down = True
        assert await in_loop(rig, runner.tick) == 0
        assert runner.book.state("L1").status == LeadStatus.PENDING and runner.book.state("L1").attempts == 0
        assert await in_loop(rig, runner.tick) == 0
        assert runner.stats.last_decision == "paused: store unavailable"
        assert runner.stats.dials == 0 and seen == []
        ports.down = False
        await rig.wait_for(lambda: not runner._store_down())
        assert await in_loop(rig, runner.tick) == 1
        assert (await ports.get_lead_state("spring", "L1")).attempts == 1


async def test_a_number_put_on_the_durable_list_is_not_dialled_at_its_next_try(tmp_path: Path) -> None:
    retry = {"busy": {"delay_minutes": 0.05}}  # 3 s of the emulator's clock
    async with durable_rig(tmp_path, ["busy", "busy"], retry=retry) as (rig, runner, store):
        seen = dials_seen(rig)
        await rig.command("olga", "available")
        await rig.command("otto", "available")
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 2
        await rig.wait_for(lambda: runner.stats.results.get("busy") == 2)
        # as `POST /api/v1/dnc` or `hotline dnc import` would, in another process
        await store.add_dnc([DncEntry("+12127360001", "", "api", rig.emulator.pbx.now(), "sup")])
        due = max(runner.book.state(i).next_at for i in ("L1", "L2"))
        await rig.wait_for(lambda: rig.emulator.pbx.now() >= due)
        assert await in_loop(rig, runner.tick) == 1
        assert runner.book.state("L1").status == LeadStatus.BLOCKED and runner.book.state("L1").attempts == 1
        row = await store.get_lead_state("spring", "L1")
        assert (row.status, row.attempts) == ("blocked", 1)
        await rig.wait_for(lambda: len(seen) == 3)
        assert sorted(seen) == ["12127360001", "12127360002", "12127360002"]


@pytest.mark.parametrize("scope", ["campaign", "global"])
async def test_a_do_not_call_said_to_the_agent_is_kept_in_the_store(tmp_path: Path, scope: str) -> None:
    async with durable_rig(tmp_path, ["human"], dnc_scope=scope) as (rig, runner, store):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        assert await in_loop(rig, runner.tick) == 1
        await rig.wait_for(lambda: runner.stats.connected == 1)
        [call_id] = list(runner._connected_leads)
        row = await store.get_lead_state("spring", "L1")
        assert (row.status, row.call_id) == ("connected", call_id)  # its disposition can come after a restart
        await rig.wait_for(lambda: any(isinstance(e, CallEnded) and e.call_id == call_id for e in rig.events))
        await rig.command("olga", "wrap_up_done", call_id=call_id, disposition="do_not_call")
        await rig.center.wait_idle()
        [entry] = await store.dnc_entries()
        assert entry.number == "+12127360001" and entry.campaign == ("" if scope == "global" else "spring")
        assert (entry.source, entry.added_by) == (f"disposition:{call_id}", "olga")
        row = await store.get_lead_state("spring", "L1")
        assert (row.status, row.disposition, row.call_id) == ("done", "do_not_call", "")


async def test_a_disposition_for_a_call_connected_before_a_restart_still_reaches_its_lead(tmp_path: Path) -> None:
    async with durable_rig(tmp_path, ["human"]) as (rig, _runner, store):
        await store.put_lead_states(
            [replace(await store.get_lead_state("spring", "L1"), status="connected", attempts=1, call_id="c-old")]
        )
        [campaign] = parse_live_campaigns(campaign_table(tmp_path / "leads.csv"))
        opened = await open_book(campaign, store, rig.emulator.pbx.now())
        restarted = DialerRunner(
            rig.center,
            campaign,
            opened.book,
            ["olga"],
            lead_states=store,
            dnc_lists=store,
            connected=opened.connected,
        )
        await in_loop(
            rig, lambda: restarted.on_event(WrapUpEnded(rig.emulator.pbx.now(), "c-old", "olga", "do_not_call"))
        )
        assert [e.number for e in await store.dnc_entries("spring")] == ["+12127360001"]
        assert (await store.get_lead_state("spring", "L1")).status == "done"
