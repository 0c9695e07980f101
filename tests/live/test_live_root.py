"""The live rig runs what `hotline serve` runs (one composition root, cti/live_root.py):
the customer lookup, the configured campaigns, the bus inputs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config.schema import StoreConfig
from cti import live_root
from events import CallQueued, Event, WrapUpEnded
from sim.rig import live_rig
from store import open_store
from store.models import User
from store.topics import CONFIG_CHANGES, EVENTS, ConfigChanged
from tests.cancel_swallow import SwallowsOneCancel, deaf_task
from tests.dialer.test_dialer_live import campaign_table, write_leads
from tests.live.harness import AGENTS, live_center
from tests.web.web_helpers import CUSTOMER


async def test_a_known_caller_is_queued_with_their_customer_record(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.store.put_customer(CUSTOMER)
        await h.caller("Grace", "4155550142", talk_s=1)  # CUSTOMER's number, as the PBX gives it
        await h.wait_for(lambda: any(isinstance(e, CallQueued) for e in h.events))
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        [queued] = [s.event for s in await h.store.events_between(0, 1e12) if isinstance(s.event, CallQueued)]
        assert queued.customer_id == CUSTOMER.id


async def test_callers_arriving_together_are_looked_up_at_once_not_one_after_another(tmp_path: Path) -> None:
    """The live loop's one consumer queues calls in turn; each caller's lookup starts as
    their arrival comes in, so a slow CRM delays each call by one lookup, not by the
    lookups of every call queued before it."""
    async with live_center(tmp_path) as h:
        await h.store.put_customer(CUSTOMER)
        interactions = h.center.interactions
        lookup = interactions.customer_lookup
        assert lookup is not None
        in_flight, most = [0], [0]

        async def slow(caller: str) -> str:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            try:
                await asyncio.sleep(0.25)
                return await lookup(caller)
            finally:
                in_flight[0] -= 1

        interactions.customer_lookup = slow
        await asyncio.gather(*(h.caller(f"Grace {n}", "4155550142", talk_s=1) for n in range(4)))
        await h.wait_for(lambda: sum(isinstance(e, CallQueued) for e in h.events) == 4)
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        queued = [s.event for s in await h.store.events_between(0, 1e12) if isinstance(s.event, CallQueued)]
        assert [q.customer_id for q in queued] == [CUSTOMER.id] * 4
        assert most[0] >= 2  # (one at a time when each was looked up as its call queued)
        assert not interactions._ahead  # each lookup started ahead was used


async def test_the_consumer_ends_at_a_cancel_its_customer_lookup_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's asyncio.wait_for, with which the customer lookup is bounded, returns
    the lookup's answer when the cancel comes with it: the consumer then went on
    routing after its cancel, and the server's stop waited for it forever."""
    async with live_center(tmp_path) as h:
        customer_of = SwallowsOneCancel(answer="")  # (the lookup's answer came with the cancel)
        monkeypatch.setattr(h.center.interactions, "customer_of", customer_of)
        [consumer] = [task for task in h.live.tasks if task.get_name() == "live-center"]
        await h.caller("Grace", "4155550142", talk_s=1)
        await asyncio.wait_for(customer_of.started.wait(), 10)
        consumer.cancel()
        done, _ = await asyncio.wait({consumer}, timeout=2)
        assert consumer in done and consumer.cancelled() and customer_of.swallowed


async def test_the_stop_returns_though_a_task_does_not_end_at_its_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task whose cancel a library swallowed is left to end in the background: the
    server stops all the same (it waited for it forever)."""
    monkeypatch.setattr(live_root, "STOP_WAIT_S", 0.2)
    release = asyncio.Event()
    stuck = deaf_task(release)
    try:
        async with asyncio.timeout(30):
            async with live_center(tmp_path) as h:
                h.live.tasks.append(stuck)
        assert not stuck.done()  # (stopped without it)
    finally:
        release.set()
        await stuck


async def test_the_configured_campaigns_are_dialled(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/root.sqlite3"))
    await store.migrate()
    agents = [
        *AGENTS,
        User(login="olga", display_name="Olga", skills={"outbound": 5}, phone_endpoint="Local/2004@agents"),
    ]
    try:
        campaigns = campaign_table(write_leads(tmp_path / "leads.csv", ["busy"]), skill="outbound")
        async with live_rig(store, agents, campaigns=campaigns) as rig:
            [runner] = rig.live.dialers
            assert runner.agents == ("olga",)
            await rig.wait_for(lambda: runner.running)
    finally:
        await store.close()


async def test_admin_changes_and_wrap_ups_from_the_bus_reach_the_loop(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        carol = User(login="carol", display_name="Carol", skills={"billing": 9}, phone_endpoint="Local/2003@agents")
        await h.store.put_user(carol)

        async def announced() -> None:  # (again until heard: the bus inputs may not have subscribed yet)
            while h.center.router.agent_state("carol") is None:
                await CONFIG_CHANGES.publish(h.bus, ConfigChanged("users", author="admin", login="carol"))
                await asyncio.sleep(0.05)

        await asyncio.wait_for(announced(), 5)
        assert h.center.router.agent_state("carol") == "logged_out"
        heard: list[Event] = []

        async def listener(event: Event) -> None:
            heard.append(event)

        h.center.listeners.append(listener)
        done = WrapUpEnded(at=h.emulator.pbx.now(), call_id="c1", agent_id="carol", disposition="sale")
        await EVENTS.publish(h.bus, done)  # as the web publishes the wrap-up it logged itself
        await h.wait_for(lambda: done in heard)
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        assert not [s for s in await h.store.events_between(0, 1e12) if isinstance(s.event, WrapUpEnded)]
