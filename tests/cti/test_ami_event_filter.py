"""The AMI session asks Asterisk for the events it reads only (one `Filter` at login,
cti/ami.py): checked on the bytes a real Asterisk 20.20.1 sent, and over a socket to
the PBX emulator, whose filters follow manager.c: the same calls come out, the unread
events never arrive, a refused filter changes nothing, and a name subscribed later is
added to the session's filter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from test_cti_ami_socket import Sink, _until

from cti.ami import AmiClient, AmiSettings, event_filter_pattern
from cti.ami_codec import Message, parse_bytes
from cti.call_model import CallModel
from cti.pbx import AmiPbx, Target
from events import kind_of
from sim.pbx_emulator import PbxEmulator, server
from sim.pbx_emulator.event_filters import posix_to_python
from tests.cti.ami_replay import TRACES

T = 5.0


def test_the_pattern_lets_through_exactly_the_read_events_of_the_recorded_traffic() -> None:
    client = AmiClient(AmiSettings("127.0.0.1", 1, "u", "s"), CallModel())
    wanted = client.wanted_events()
    regex = posix_to_python(event_filter_pattern(wanted))
    seen: set[str] = set()
    for trace in sorted(TRACES.glob("*.ami")):
        for m in parse_bytes(trace.read_bytes()):
            if isinstance(m, Message) and m.headers and m.headers[0][0] == "Event" and "Privilege" in m:
                text = "".join(f"{k}: {v}\r\n" for k, v in m.headers) + "\r\n"  # as Asterisk queues it
                name = m.headers[0][1]
                seen.add(name)
                assert (regex.search(text) is not None) == (name in wanted), name
    assert {"Newchannel", "Hangup", "BridgeEnter", "VarSet", "Newexten", "Cdr"} <= seen
    assert "Newstate" in wanted and "NewstateX" not in wanted  # a name is matched whole
    assert regex.search("Event: NewstateX\r\n") is None


@pytest.fixture
async def emu() -> AsyncIterator[PbxEmulator]:
    e = PbxEmulator("hotline", "hotline-secret", speed=20.0)
    await e.start("127.0.0.1", 0)
    yield e
    await asyncio.wait_for(e.stop(), T)


async def started(emu: PbxEmulator, event_filter: bool, **settings_kw: float) -> tuple[AmiClient, Sink]:
    sink = Sink()
    settings = AmiSettings(
        "127.0.0.1",
        emu.port,
        "hotline",
        "hotline-secret",
        ping_interval_s=60.0,
        event_filter=event_filter,
        **settings_kw,  # type: ignore[arg-type]
    )
    client = AmiClient(settings, CallModel(), on_events=sink)
    await client.start()
    await client.wait_ready(T)
    return client, sink


async def one_answered_call(client: AmiClient, sink: Sink) -> str:
    pbx = AmiPbx(client)
    await pbx.originate(
        "Local/1000@inbound",
        context="caller-phone",
        exten="wait",
        caller_id='"Alice" <5551234>',
        variables={"PATIENCE": "120", "__AGENT_TALK": "1"},
    )
    arrived = await sink.wait_for("CallArrived")
    await sink.wait_for("CallQueued")
    await pbx.redirect(arrived.channel, Target("agent-connect", "2001"))
    await sink.wait_for("CallEnded")
    return arrived.call_id


async def test_the_same_calls_come_out_and_the_unread_events_never_arrive(emu: PbxEmulator) -> None:
    filtered, seen_filtered = await started(emu, True)
    everything, seen_all = await started(emu, False)
    try:
        call_id = await one_answered_call(filtered, seen_filtered)
        await seen_all.wait_for("CallEnded")
        # (the Originate's result is the sending session's only)
        assert [(kind_of(e), e.call_id) for e in seen_filtered.events if kind_of(e) != "OriginateResulted"] == [
            (kind_of(e), e.call_id) for e in seen_all.events
        ]
        assert {e.call_id for e in seen_filtered.events} == {call_id}
        # a login's SuccessfulAuth may come before the filter is in place; nothing after
        assert filtered.events_skipped <= 2
        assert everything.events_skipped > 20  # VarSet, Newexten, Cdr, LocalBridge...
        assert filtered.events_received == everything.events_received  # what is read, parsed alike
        assert (filtered.event_filter_state, everything.event_filter_state) == ("on", "off")  # (/healthz)
    finally:
        await filtered.close()
        await everything.close()


async def test_a_refused_filter_leaves_every_event_coming(emu: PbxEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    async def denied(s: server.AmiSession, m: Message) -> None:
        s.error(m, "Permission denied")  # manager.c, for a user without `system` write

    monkeypatch.setitem(server.ACTIONS, "filter", denied)
    client, sink = await started(emu, True)
    try:
        await one_answered_call(client, sink)
        assert client.events_skipped > 20  # dropped here, unparsed, as without a filter
        assert client.event_filter_state == "refused"  # (/healthz)
    finally:
        await client.close()


async def test_a_filter_not_answered_drops_the_session_and_the_next_one_asks_again(
    emu: PbxEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether Asterisk took an unanswered filter is unknown, and one cannot be taken
    back: a session going on as if unfiltered would lose a name subscribed later."""
    answered = server.ACTIONS["filter"]
    asked: list[int] = []

    async def slow_once(s: server.AmiSession, m: Message) -> None:
        asked.append(1)
        if len(asked) > 1:
            await answered(s, m)  # (the first one never answered)

    monkeypatch.setitem(server.ACTIONS, "filter", slow_once)
    client, sink = await started(emu, True, action_timeout_s=0.3, reconnect_min_s=0.02, reconnect_max_s=0.1)
    try:
        assert (client.connections, len(asked), client.event_filter_state) == (2, 2, "on")
        await one_answered_call(client, sink)
    finally:
        await client.close()


async def test_a_name_subscribed_after_login_is_added_to_the_filter(emu: PbxEmulator) -> None:
    client, sink = await started(emu, True)
    heard: list[Message] = []
    try:
        client.subscribe("Newexten", heard.append)
        await _until(lambda: any(len(session.filters) == 2 for session in emu.sessions))  # the include added
        await one_answered_call(client, sink)
        assert any(m.get("Application") == "MusicOnHold" for m in heard)
        assert not any(m.event == "VarSet" for m in heard)
    finally:
        await client.close()


async def test_a_reconnected_session_asks_again(emu: PbxEmulator) -> None:
    client, sink = await started(emu, True)
    try:
        connections = client.connections
        await emu.drop_connections()
        await _until(lambda: client.connections > connections and not client.stale)
        skipped = client.events_skipped
        await one_answered_call(client, sink)
        assert client.events_skipped - skipped <= 1  # (a login's SuccessfulAuth, at most)
    finally:
        await client.close()
