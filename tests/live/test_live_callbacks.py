"""Call-back promises kept by the live loop on the PBX emulator, across restarts: a
caller's virtual hold, a queue's final step `callback`, a call-back an agent scheduled
in wrap-up, and the retries of one the customer does not answer. Each promise is a row
(store.models.Callback) before it is acted on; each is dialled once per attempt."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cti.live_root import ModelCalls
from events import CallConnected, CallEnded, CallQueued, CallTransferred, OriginateResulted
from reports.kpi import KpiConfig, batch_report
from sim.rig import DEFAULT_ROUTING, Rig
from store.models import Callback, User
from tests.live.harness import live_center

ROOT = Path(__file__).parents[2]
SUE = User(login="sue", display_name="Sue", skills={"support": 5, "billing": 5}, phone_endpoint="Local/2005@agents")
TOM = User(login="tom", display_name="Tom", skills={"support": 5, "billing": 5}, phone_endpoint="Local/2006@agents")


def _ivr() -> dict[str, Any]:
    ivr = tomllib.loads((ROOT / "config/examples/ivr.toml").read_text())["ivr"]
    ivr.pop("hours")
    ivr["holidays"] = []
    return ivr


async def _stored(h: Rig) -> list[Any]:
    await h.wait_for(lambda: h.eventlog.backlog == 0)
    return [s.event for s in await h.store.events_between(0, 1e12)]


async def _row(h: Rig, row_id: str) -> Callback:
    [row] = [c for c in await h.store.callbacks_between(0, 1e13) if c.id == row_id]
    return row


async def _restart(h: Rig, routing: dict[str, Any] | None = None) -> None:
    await h.kill_center()
    await h.start_center([SUE], routing or DEFAULT_ROUTING)


async def _callback_dials(h: Rig) -> list[OriginateResulted]:
    """The call-backs' originates, as the log has them (one per dial)."""
    stored = await _stored(h)
    return [e for e in stored if isinstance(e, OriginateResulted) and e.channel.split("@")[-1].startswith("customers")]


async def _until_row(h: Rig, row_id: str, state: str, timeout: float = 20.0) -> Callback:
    import asyncio

    async def poll() -> Callback:
        while True:
            rows = [c for c in await h.store.callbacks_between(0, 1e13) if c.id == row_id and c.state == state]
            if rows:
                return rows[0]
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


async def _ended(h: Rig, call_id: str, timeout: float = 20.0) -> None:
    import asyncio

    async def poll() -> None:
        while not [e for e in await _stored(h) if isinstance(e, CallEnded) and e.call_id == call_id]:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def _ivr_call_back_request(h: Rig, number: str = "5556789") -> str:
    """A caller who presses 9 in the IVR: keeps their place, hangs up; the call's id."""
    await h.pbx.originate(
        "Local/1500@inbound",
        context="caller-phone",
        exten="dtmf",
        caller_id=f'"Cal" <{number}>',
        variables={"DTMF_DIGITS": "9", "DTMF_DELAY": "1", "PATIENCE": "60", "__AGENT_TALK": "2"},
    )
    await h.wait_for(lambda: any(isinstance(e, CallQueued) for e in h.events) or bool(_first_arrival(h)), timeout=10)
    call_id = _first_arrival(h)
    await h.wait_for(lambda: f"cb-{call_id}" in h.center.calls, timeout=10)
    return call_id


def _first_arrival(h: Rig) -> str:
    from events import CallArrived

    return next((e.call_id for e in h.events if isinstance(e, CallArrived)), "")


async def test_a_virtual_hold_call_back_waiting_at_a_restart_is_dialled_once_after_it(tmp_path: Path) -> None:
    async with live_center(tmp_path, agents=[SUE], ivr=_ivr()) as h:
        call_id = await _ivr_call_back_request(h)
        cb = f"cb-{call_id}"
        row = await _row(h, cb)
        assert (row.kind, row.state, row.number, row.attempts) == ("virtual_hold", "pending", "5556789", 0)
        await h.wait_for(lambda: h.eventlog.backlog == 0)

        await _restart(h)  # nobody was free: the promise waits in the store, not only in memory
        assert h.center.router.call_info(cb) is not None  # back in its place
        await h.command("sue", "available")
        await _until_row(h, cb, "done")
        await _ended(h, cb)
        stored = await _stored(h)
        assert not [e for e in stored if isinstance(e, CallEnded) and e.call_id == cb and "down" in e.cause_text]
        assert len([e for e in stored if isinstance(e, CallConnected) and e.call_id == cb]) == 1
        assert len(await _callback_dials(h)) == 1
        assert len([e for e in stored if isinstance(e, CallQueued) and e.call_id == cb]) == 1  # not logged twice
        row = await _row(h, cb)
        assert (row.state, row.outcome, row.attempts) == ("done", "connected", 1)
        await h.interactions_written()
        interaction = await h.store.get_interaction(cb)
        assert (interaction.outcome, interaction.agent_id) == ("answered", "sue")


async def test_a_queues_final_step_call_back_hangs_up_and_calls_the_caller_back(tmp_path: Path) -> None:
    routing = {
        "defaults": {"wrap_up_s": 1},
        "queues": {
            "billing": {
                "targets": [{"name": "billing", "expression": "skills.billing >= 1"}],
                "final": {"action": "callback", "after_s": 3},
            }
        },
    }
    played: list[Any] = []
    async with live_center(tmp_path, agents=[SUE], routing=routing) as h:  # Sue is not available yet
        h.client.subscribe("Newexten", lambda m: played.append(m) if m.get("Application") == "Playback" else None)
        await h.caller("Vera", "5550001", patience_s=120)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events), timeout=20)
        call_id = next(e.call_id for e in h.events if isinstance(e, CallQueued))
        ended = next(e for e in h.events if isinstance(e, CallEnded) and e.call_id == call_id)
        assert ended.hung_up_by == "system"  # told, then hung up by us: not an abandon
        assert any(m.get("AppData") == "auth-thankyou" for m in played)
        row = await _row(h, f"cb-{call_id}")
        assert (row.kind, row.state, row.number, row.queue) == ("final_step", "pending", "5550001", "billing")

        await h.command("sue", "available")
        cb = f"cb-{call_id}"
        await _until_row(h, cb, "done")
        await _ended(h, cb)
        stored = await _stored(h)
        assert len([e for e in stored if isinstance(e, CallConnected) and e.call_id == cb]) == 1
        assert [(e.mode, e.call_id) for e in stored if isinstance(e, CallTransferred)] == [("callback", call_id)]
        report = batch_report(stored, KpiConfig()).overall
        assert report["abandoned"] == 0


async def test_a_call_back_scheduled_in_wrap_up_is_dialled_when_due_and_not_before(tmp_path: Path) -> None:
    async with live_center(tmp_path, agents=[SUE], pbx_extra={"callback_poll_s": 0.1}) as h:
        await h.command("sue", "available")
        now = h.emulator.pbx.now()
        # as the desktop's wrap-up writes it (agents/desktop.py): the agent's own promise
        promise = Callback(
            id="w42", due_at=now + 20, call_id="earlier-call", agent_id="sue", number="5557777", created_at=now
        )
        await h.store.put_callback(promise)
        await h.wait_for(lambda: h.emulator.pbx.now() >= now + 10, timeout=10)
        assert "cb-w42" not in h.center.calls  # not due yet
        row = await _until_row(h, "w42", "done", timeout=20)
        assert row.attempts == 1
        [connected] = [e for e in await _stored(h) if isinstance(e, CallConnected) and e.call_id == "cb-w42"]
        assert connected.at >= now + 20 and connected.agent_id == "sue"
        await _restart(h)  # kept: never dialled again
        await h.command("sue", "available")
        await h.wait_for(lambda: h.emulator.pbx.now() >= now + 60, timeout=15)
        assert len(await _callback_dials(h)) == 1


async def test_a_call_back_an_agent_promised_is_theirs_first_then_the_queues(tmp_path: Path) -> None:
    """The default routing has no preferred_agent target: Sue's promise waits for Sue
    alone ([pbx] callback_agent_s) while Tom is free, then goes to the queue."""
    extra = {"callback_poll_s": 0.1, "callback_agent_s": 30}
    async with live_center(tmp_path, agents=[SUE, TOM], pbx_extra=extra) as h:
        await h.command("sue", "available")
        await h.command("sue", "pause", reason="break")  # logged in, not free
        await h.command("tom", "available")
        now = h.emulator.pbx.now()
        await h.store.put_callback(Callback(id="p1", due_at=now, agent_id="sue", number="5557001", created_at=now))
        await h.wait_for(lambda: "cb-p1" in h.center.calls, timeout=10)
        await h.wait_for(lambda: h.emulator.pbx.now() >= now + 15, timeout=10)
        assert h.center.router.call_info("cb-p1")["state"] == "waiting"  # Tom is free, yet it waits for Sue
        await h.command("sue", "available")
        await _until_row(h, "p1", "done")
        [connected] = [e for e in await _stored(h) if isinstance(e, CallConnected) and e.call_id == "cb-p1"]
        assert connected.agent_id == "sue"

        await _ended(h, "cb-p1")
        await h.wait_for(lambda: h.center.router.agent_state("sue") == "available", timeout=10)
        await h.command("sue", "pause", reason="break")  # she stays away now
        now = h.emulator.pbx.now()
        await h.store.put_callback(Callback(id="p2", due_at=now, agent_id="sue", number="5557002", created_at=now))
        await _until_row(h, "p2", "done", timeout=20)
        [connected] = [e for e in await _stored(h) if isinstance(e, CallConnected) and e.call_id == "cb-p2"]
        queued = next(e for e in await _stored(h) if isinstance(e, CallQueued) and e.call_id == "cb-p2")
        assert connected.agent_id == "tom" and connected.at >= queued.at + 30


async def test_a_call_back_not_answered_is_retried_by_the_rule_then_closed_failed(tmp_path: Path) -> None:
    extra = {"callback_attempts": 2, "callback_retry_s": 20, "callback_poll_s": 0.1}
    async with live_center(tmp_path, agents=[SUE], ivr=_ivr(), pbx_extra=extra) as h:
        h.center.dials.callback_variables = {"CUST_BEHAVIOUR": "noanswer"}  # the customer's phone rings out
        h.center.dials.callback_ring_s = 3
        call_id = await _ivr_call_back_request(h)
        cb = f"cb-{call_id}"
        await h.command("sue", "available")
        await _ended(h, cb)
        row = await _row(h, cb)
        assert (row.state, row.attempts, row.outcome) == ("pending", 1, "call-back not answered")
        assert row.due_at >= h.emulator.pbx.now() + 10  # the next try waits for the rule
        retry = f"{cb}-2"
        await _ended(h, retry, timeout=30)
        row = await _until_row(h, cb, "failed", timeout=5)
        assert row.attempts == 2
        assert len(await _callback_dials(h)) == 2
        stored = await _stored(h)
        report = batch_report(stored, KpiConfig()).overall
        assert report["abandoned"] == 0 and report["answered"] == 0


async def test_call_backs_due_before_during_and_after_a_kill_are_each_dialled_once_on_postgresql(
    fresh_pg_url: str,
) -> None:
    """Promises on PostgreSQL, the Hotline side killed (no flush, no goodbye) while one
    falls due: each is dialled once — the one due while it was down as soon as it is
    back, none twice."""
    from config.schema import StoreConfig
    from sim.rig import live_rig
    from store import open_store

    store = await open_store(StoreConfig(url=fresh_pg_url))
    await store.migrate()
    try:
        async with live_rig(store, [SUE], speed=10.0, pbx_extra={"callback_poll_s": 0.1}) as h:
            await h.command("sue", "available")
            now = h.emulator.pbx.now()
            for name, due in (("before", 5), ("during", 40), ("after", 90)):
                await h.store.put_callback(
                    Callback(id=name, due_at=now + due, agent_id="sue", number=f"555{due:04d}", created_at=now)
                )
            await _until_row(h, "before", "done", timeout=20)
            await h.wait_for(lambda: h.emulator.pbx.now() >= now + 25, timeout=10)
            await h.kill_center()
            await h.wait_for(lambda: h.emulator.pbx.now() >= now + 50, timeout=10)  # "during" fell due
            await h.start_center([SUE], DEFAULT_ROUTING)
            await h.command("sue", "available")
            during = await _until_row(h, "during", "done", timeout=20)
            after = await _until_row(h, "after", "done", timeout=30)
            before = await _row(h, "before")
            assert (before.attempts, during.attempts, after.attempts) == (1, 1, 1)
            assert await h.store.open_callbacks() == []
            dialled = [e.channel.split("@")[0] for e in await _callback_dials(h)]
            assert sorted(dialled) == ["Local/5550005", "Local/5550040", "Local/5550090"]
    finally:
        await store.close()


async def test_a_cancelled_call_back_due_or_retrying_is_never_dialled_again_after_a_restart(tmp_path: Path) -> None:
    """Cancelled as the API does it (store first, web/callbacks.py): one queued and
    waiting for an agent leaves the queue; one waiting for its retry is not retried,
    before or after a restart of the live loop."""
    extra = {"callback_attempts": 3, "callback_retry_s": 20, "callback_poll_s": 0.1}
    async with live_center(tmp_path, agents=[SUE], pbx_extra=extra) as h:
        h.center.dials.callback_variables = {"CUST_BEHAVIOUR": "noanswer"}
        h.center.dials.callback_ring_s = 3
        now = h.emulator.pbx.now()
        await h.store.put_callback(Callback(id="due", due_at=now, number="5558001", created_at=now))
        await h.wait_for(lambda: h.center.router.call_info("cb-due") is not None, timeout=10)  # nobody free
        assert (await h.store.cancel_callback("due", by="sup")).state == "cancelled"
        await _ended(h, "cb-due")
        assert h.center.router.call_info("cb-due") is None

        await h.store.put_callback(Callback(id="retry", due_at=now, number="5558002", created_at=now))
        await h.command("sue", "available")
        await _ended(h, "cb-retry")
        row = await _row(h, "retry")
        assert (row.state, row.attempts) == ("pending", 1)  # not answered: waits for its retry
        assert (await h.store.cancel_callback("retry", by="sue")).state == "cancelled"
        await _restart(h)
        h.center.dials.callback_variables = {"CUST_BEHAVIOUR": "noanswer"}
        await h.command("sue", "available")
        await h.wait_for(lambda: h.emulator.pbx.now() >= row.due_at + 15, timeout=15)
        assert [e.channel.split("@")[0] for e in await _callback_dials(h)] == ["Local/5558002"]  # the first only
        assert {c.id: c.state for c in await h.store.callbacks_between(0, 1e13)} == {
            "due": "cancelled",
            "retry": "cancelled",
        }


async def test_a_call_back_cancelled_after_it_was_queued_is_not_dialled_when_an_agent_frees(tmp_path: Path) -> None:
    """The poll has not seen the cancel yet (it runs once an hour here): the attempt
    written before the dial is refused by the store, so the customer is not dialled
    and the agent is free again."""
    async with live_center(tmp_path, agents=[SUE], pbx_extra={"callback_poll_s": 3600}) as h:
        now = h.emulator.pbx.now()
        await h.store.put_callback(Callback(id="late", due_at=now, number="5558003", created_at=now))
        await _restart(h)  # (read back at start: queued, nobody free)
        assert h.center.router.call_info("cb-late") is not None
        await h.store.cancel_callback("late", by="sup")
        await h.command("sue", "available")
        await _ended(h, "cb-late")
        await h.wait_for(lambda: h.center.router.agent_state("sue") == "available", timeout=10)
        assert await _callback_dials(h) == []
        row = await _row(h, "late")
        assert (row.state, row.attempts, row.outcome) == ("cancelled", 0, "cancelled by sup")


async def test_a_call_back_caught_mid_dial_by_a_restart_is_followed_until_it_ends(tmp_path: Path) -> None:
    """The customer's phone still rings when the live loop is killed: after the restart
    the PBX call is the call-back's again (its events speak of cb-…): the customer
    answers, talks to Sue and hangs up, and the promise is kept by that, once."""
    async with live_center(tmp_path, agents=[SUE], pbx_extra={"callback_poll_s": 0.1}) as h:
        h.center.dials.callback_variables = {"CUST_RING": "60", "CUST_TALK": "5"}  # 6 s ringing at speed 10
        h.center.dials.callback_ring_s = 120  # (the originate's own timeout)
        await h.command("sue", "available")
        now = h.emulator.pbx.now()
        await h.store.put_callback(Callback(id="ring", due_at=now, number="5558101", created_at=now))
        await _until_row(h, "ring", "dialing")
        await h.wait_for(lambda: ModelCalls(h.live.model).customer_leg_up("5558101"), timeout=10)
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        await _restart(h)  # the customer's phone still rings
        row = await _row(h, "ring")
        assert (row.state, row.attempts) == ("dialing", 1)  # not closed as kept before anyone answered
        await _until_row(h, "ring", "done", timeout=20)
        await _ended(h, "cb-ring", timeout=20)
        stored = await _stored(h)
        mine = [e for e in stored if getattr(e, "call_id", "") == "cb-ring"]
        assert [type(e).__name__ for e in mine].count("CallConnected") == 1
        [ended] = [e for e in mine if isinstance(e, CallEnded)]
        assert "down" not in ended.cause_text
        assert {e.call_id for e in stored if isinstance(e, CallEnded)} == {"cb-ring"}  # no second call in the log
        assert h.emulator.ledger.summary()["created"] == 1  # dialled once (its result went with the killed loop)
        await h.interactions_written()
        interaction = await h.store.get_interaction("cb-ring")
        assert (interaction.outcome, interaction.agent_id) == ("answered", "sue")


async def test_a_call_back_write_the_store_holds_up_does_not_hold_up_the_live_loop(fresh_pg_url: str) -> None:
    """PostgreSQL holds the attempt's write (another session locks the callbacks table):
    the live loop goes on routing meanwhile, the customer is dialled only once the
    attempt is written, and once."""
    import time

    import asyncpg

    from config.schema import StoreConfig
    from sim.rig import live_rig
    from store import open_store

    store = await open_store(StoreConfig(url=fresh_pg_url))
    await store.migrate()
    try:
        async with live_rig(store, [SUE, TOM], speed=10.0, pbx_extra={"callback_poll_s": 0.1}) as h:
            for agent in ("sue", "tom"):
                await h.command(agent, "available")
                await h.command(agent, "pause", reason="break")
            now = h.emulator.pbx.now()
            await h.store.put_callback(Callback(id="slow", due_at=now, number="5558201", created_at=now))
            await h.wait_for(lambda: h.center.router.call_info("cb-slow") is not None, timeout=10)
            locker = await asyncpg.connect(fresh_pg_url)
            try:
                lock = locker.transaction()
                await lock.start()
                await locker.execute("LOCK TABLE callbacks IN EXCLUSIVE MODE")  # (reads still go)
                await h.command("sue", "available")  # offered: its attempt's write waits for the lock
                await h.wait_for(lambda: h.center.router.call_info("cb-slow")["state"] == "offered", timeout=10)
                started = time.monotonic()
                await h.command("tom", "available")
                await h.wait_for(lambda: h.center.router.agent_state("tom") == "available", timeout=10)
                held_up = time.monotonic() - started
                assert held_up < 1.0, held_up
                assert (await _row(h, "slow")).state == "pending"  # the attempt is not written yet...
                assert h.emulator.ledger.summary()["created"] == 0  # ...so the customer is not dialled
                await lock.rollback()
            finally:
                await locker.close()
            row = await _until_row(h, "slow", "done", timeout=20)
            assert row.attempts == 1
            assert h.emulator.ledger.summary()["created"] == 1
    finally:
        await store.close()
