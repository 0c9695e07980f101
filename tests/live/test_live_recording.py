"""Issue 17 item 3 through the real loop: calls recorded with MixMonitor by the queue's
policy when the customer is bridged, paused and resumed from the desktop's commands,
one file per interaction (a real WAV the emulator writes), linked to the call, played
back only by the agent who took it, their team's supervisors and admins, each playback
audited. (On demand, the command contract's record / pause_recording /
resume_recording: tests/live/test_live_commands.py.)"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from config.schema import StoreConfig
from sim.rig import DEFAULT_ROUTING, live_rig
from store import open_store
from store.port import NotFound
from tests.live.harness import AGENTS
from tests.live.test_live_commands import Center, center, recording_of  # noqa: F401  (fixture)

ALL = {"recording": {"queues": {"billing": "all"}}}


@pytest.mark.parametrize("center", [ALL], indirect=True)
async def test_a_billing_call_is_recorded_paused_resumed_and_played_back_by_whom_may(center: Center) -> None:  # noqa: F811
    ada = await center.desk("agent01")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    await center.until(lambda: recording_of(center, call_id))
    rec = await center.store.get_recording(call_id)
    assert (rec.agent_id, rec.queue, rec.ended_at) == ("agent01", "billing", None)
    path = Path(rec.path)
    assert path.is_file() and path.name == f"{call_id}.wav" and "recordings" in path.parts
    caller = center.caller_channel(call_id)
    assert caller.mixmonitor is not None and caller.mixmonitor.path == path  # on the customer's channel

    await ada.ok("pause_recording", call_id=call_id)
    await center.until(lambda: caller.mixmonitor.muted_since is not None)
    assert "paused already" in await ada.refused("pause_recording", call_id=call_id)
    await ada.ok("resume_recording", call_id=call_id)
    await center.until(lambda: caller.mixmonitor.muted_since is None and caller.mixmonitor.silent)
    assert "already" in await ada.refused("record", call_id=call_id)  # one recording per interaction

    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: _ended(center, call_id))
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() > 0

    # played back: the agent who took it, the team's supervisor, an admin; not another agent
    heard = []
    for login, allowed in (("agent01", True), ("agent03", False), ("agent02", False), ("sup", True), ("admin", True)):
        desk = center.desks.get(login) or await center.desk(login)
        status, body, kind = await desk.get(f"/api/v1/interactions/{call_id}/recording")
        assert status == (200 if allowed else 403), (login, status)
        if allowed:
            assert body.startswith(b"RIFF") and body[8:12] == b"WAVE" and kind == "audio/wav"
            heard.append(login)
        page_status, _, _ = await desk.get(f"/recordings/{call_id}")
        assert page_status == (200 if allowed else 403), (login, page_status)
    entries = await center.store.audit_entries(action="recording.play")
    assert sorted(e.actor for e in entries) == sorted(heard) and {e.target for e in entries} == {call_id}
    status, _, _ = await ada.get("/api/v1/interactions/nope/recording")
    assert status == 404


async def _ended(center: Center, call_id: str) -> bool:  # noqa: F811
    rec = await recording_of(center, call_id)
    return rec is not None and rec.ended_at is not None


async def test_never_means_no_recording(center: Center) -> None:  # noqa: F811
    """(The default policy is never.)"""
    ada = await center.desk("agent01")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    assert "never recorded" in await ada.refused("record", call_id=call_id)
    assert await recording_of(center, call_id) is None and center.caller_channel(call_id).mixmonitor is None


@pytest.mark.parametrize("center", [ALL], indirect=True)
async def test_a_transferred_call_keeps_its_one_recording(center: Center) -> None:  # noqa: F811
    ada, cy = await center.desk("agent01"), await center.desk("agent03")
    await ada.ok("available")
    await center.caller()
    call_id = await center.connected("agent01")
    await center.until(lambda: recording_of(center, call_id))
    caller = center.caller_channel(call_id)
    first = caller.mixmonitor
    assert first is not None
    await cy.ok("available")
    await ada.ok("blind_transfer", call_id=call_id, target_kind="agent", target="agent03")
    assert await center.connected("agent03") == call_id
    assert center.caller_channel(call_id).mixmonitor is first  # the same MixMonitor, the same file
    rec = await center.store.get_recording(call_id)
    assert (rec.agent_id, rec.path) == ("agent01", str(first.path))
    await cy.ok("pause_recording", call_id=call_id)  # the new agent controls it
    await center.until(lambda: first.muted_since is not None)
    await cy.ok("hangup", call_id=call_id)
    await center.until(lambda: _ended(center, call_id))
    await center.until(lambda: _interaction_agent(center, call_id, "agent03"))
    for desk in (ada, cy):  # both agents who took the call may hear it
        status, body, _ = await desk.get(f"/api/v1/interactions/{call_id}/recording")
        assert status == 200 and body.startswith(b"RIFF"), (desk.agent_id, status)


async def _interaction_agent(center: Center, call_id: str, agent_id: str) -> bool:  # noqa: F811
    try:
        return (await center.store.get_interaction(call_id)).agent_id == agent_id
    except NotFound:
        return False


async def test_a_restarted_server_adopts_the_recording_and_starts_no_second_one(tmp_path: Path) -> None:
    """The live loop is killed mid-call: the next one finds the open recording row,
    adopts it (pause works) and sends no second MixMonitor when the call is transferred."""
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/live.sqlite3"))
    await store.migrate()
    recording = {"dir": str(tmp_path / "recordings"), "default": "all"}
    routing = {**DEFAULT_ROUTING, "defaults": {"wrap_up_s": 30}}
    try:
        async with live_rig(store, AGENTS, recording=recording, routing=routing) as h:
            await h.command("alice", "available")
            await h.caller("Dora", "5553333", patience_s=120, talk_s=120)
            await h.wait_for(lambda: any(s.agent == "alice" for s in h.center.calls.values()))
            call_id = next(c for c, s in h.center.calls.items() if s.agent == "alice")
            await h.wait_for(lambda: call_id in h.center.recorder.active)
            channel = h.center.recorder.active[call_id].channel
            first = h.emulator.pbx.channels[channel].mixmonitor
            assert first is not None

            await h.center.wait_idle()
            await h.wait_for(lambda: h.eventlog.backlog == 0)
            await h.kill_center()
            await h.start_center(AGENTS, routing)
            await h.wait_for(lambda: call_id in h.center.recorder.active)  # adopted from the row
            await h.command("alice", "pause_recording", call_id=call_id)
            await h.wait_for(lambda: first.muted_since is not None)
            await h.command("bob", "available")
            await h.command("alice", "blind_transfer", call_id=call_id, target_kind="agent", target="bob")
            await h.wait_for(lambda: h.center.calls.get(call_id) is not None and h.center.calls[call_id].agent == "bob")
            await h.center.wait_idle()
            assert h.emulator.pbx.channels[channel].mixmonitor is first  # no second MixMonitor
    finally:
        await store.close()
