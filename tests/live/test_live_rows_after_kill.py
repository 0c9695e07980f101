"""A server killed as its calls ended: the event log has their ends, their interaction
rows (written a moment later) are gone with the process. The restarted server writes
them again from the log, as the live loop had, so the customer's history lists the
calls and the agent's wrap-up of the last call finds it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from events import CallConnected, CallEnded
from sim.rig import DEFAULT_ROUTING
from store.models import Interaction
from tests.live.harness import AGENTS, live_center


def _comparable(row: Interaction) -> Interaction:
    return replace(row, disposition="", notes="")


async def test_rows_lost_with_a_killed_server_are_written_again_at_restart(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.command("bob", "available")
        await h.center.wait_idle()
        await h.caller("Alice", "5551234", talk_s=2)
        await h.wait_for(lambda: any(isinstance(e, CallConnected) for e in h.events))
        await h.caller("Carl", "5554444", patience_s=1)  # bob is busy: Carl gives up
        await h.wait_for(lambda: sum(isinstance(e, CallEnded) for e in h.events) == 2, timeout=20)
        await h.interactions_written()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        before = sorted(await h.store.interactions_between(0, 1e12), key=lambda r: r.id)
        assert sorted(r.outcome for r in before) == ["abandoned", "answered"]
        await h.kill_center()
        # what a kill between the calls' ends being logged and their rows' write leaves
        await h.store._db.execute("DELETE FROM interactions")
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        await h.interactions_written()
        after = sorted(await h.store.interactions_between(0, 1e12), key=lambda r: r.id)
        assert [_comparable(r) for r in after] == [_comparable(r) for r in before]
        answered = next(r for r in after if r.outcome == "answered")
        await h.store.set_disposition(answered.id, "resolved", "")  # bob's wrap-up finds the call
        await h.kill_center()
        await h.start_center(AGENTS, DEFAULT_ROUTING)  # rows there: left as they are
        await h.interactions_written()
        assert (await h.store.get_interaction(answered.id)).disposition == "resolved"
        assert len(await h.store.interactions_between(0, 1e12)) == 2


async def test_a_callers_call_back_request_is_in_the_row_written_again(tmp_path: Path) -> None:
    """IVR option 9: the caller is promised a call-back and hangs up. The promise is in
    its own row, not in the log: the row written again at restart still says
    callback_requested (not abandoned), and the promise is still kept."""
    from tests.live.test_live_inbound import SUE, _poll_interaction, callback_ivr, caller_asks_for_a_callback

    async with live_center(tmp_path, agents=[SUE], ivr=callback_ivr()) as h:
        call_id = await caller_asks_for_a_callback(h)
        assert (await _poll_interaction(h, call_id)).outcome == "callback_requested"
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        await h.kill_center()
        await h.store._db.execute("DELETE FROM interactions")
        await h.start_center([SUE], DEFAULT_ROUTING)
        await h.interactions_written()
        assert (await h.store.get_interaction(call_id)).outcome == "callback_requested"
        assert (await h.store.get_callback(f"cb-{call_id}")).state == "pending"


async def test_a_restart_goes_on_when_the_rows_cannot_be_checked(tmp_path: Path, monkeypatch: Any) -> None:
    """The check is a store query at start: failing, it is logged and the rest of the
    recovery (call-backs, the calls ended while down, kept commands) still runs."""
    async with live_center(tmp_path) as h:
        await h.command("bob", "available")
        await h.caller("Alice", "5551234", talk_s=1)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events), timeout=20)
        await h.interactions_written()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        await h.kill_center()

        async def store_away(ids: object) -> set[str]:
            raise ConnectionError("database away")

        monkeypatch.setattr(h.store, "interactions_missing", store_away)
        await h.start_center(AGENTS, DEFAULT_ROUTING)  # recovered: start_center waits for it
        await h.command("bob", "available")
        await h.caller("Carl", "5554444", talk_s=1)
        await h.wait_for(lambda: sum(isinstance(e, CallEnded) for e in h.events) == 2, timeout=20)


def test_a_row_written_again_says_what_the_log_says_of_the_call() -> None:
    """The fold the restart writes rows from: answered, abandoned, a final step."""
    from cti.live_calls import CallState
    from cti.live_interactions import outcome_of
    from cti.live_recovery import fold_call
    from events import CallAbandoned, CallArrived, CallQueued, CallTransferred

    def outcome(*events: object) -> str:
        state = CallState("c1")
        for event in events:
            fold_call(state, event)  # type: ignore[arg-type]
        state.queued = ("CallQueued", "") in state.logged
        return outcome_of(state)

    arrived = CallArrived(at=1.0, call_id="c1", caller="5551234", channel="Local/1000@inbound-1;2")
    queued = CallQueued(at=2.0, call_id="c1", queue="billing")
    assert outcome(arrived) == "ended"
    assert outcome(arrived, queued, CallAbandoned(at=9.0, call_id="c1", queue="billing")) == "abandoned"
    assert outcome(arrived, queued, CallConnected(at=5.0, call_id="c1", agent_id="bob")) == "answered"
    voicemail = CallTransferred(at=60.0, call_id="c1", mode="voicemail", target="vm-billing")
    assert outcome(arrived, queued, voicemail) == "voicemail"
    blind = CallTransferred(at=60.0, call_id="c1", mode="blind", from_agent="bob", target="alice")
    assert outcome(arrived, queued, CallConnected(at=5.0, call_id="c1", agent_id="bob"), blind) == "answered"
