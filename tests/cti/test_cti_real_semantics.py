"""Issue 14 item 1: the call model on what real Asterisk does that is easy to get wrong:
`(null)` for an unset variable, the Local half that carries a call's data, a call first
seen by a resync queued as the live stream would queue it, other AMI clients'
OriginateResponse, ConfBridge's two event orders and its announcer channel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_cti_ami_socket import Sink, T, _until
from test_cti_call_model import EXPECTED, _blocks, brief, recorded_model

from cti.ami import AmiClient, AmiSettings
from cti.ami_codec import AmiParser, Message, encode, messages
from cti.call_model import CallModel
from cti.pbx import AmiPbx, VariableValue
from events import CallQueued, Event, OriginateResulted, kind_of
from sim.pbx_emulator import PbxEmulator
from sim.pbx_emulator.replay import run_flow


def _rows(*rows: dict[str, str]) -> list[Message]:
    out = []
    for row in rows:
        headers = [("Event", "Status")]
        for k, v in row.items():
            if k == "vars":
                headers += [("Variable", pair) for pair in v.split(";")]
            else:
                headers.append((k, v))
        out.append(Message(headers))
    return out


# ---------------------------------------------------------------- other AMI clients


def test_another_client_s_originate_response_is_no_originate_result() -> None:
    """Every AMI session sees every client's OriginateResponse: one whose ActionID Hotline
    did not register is not Hotline's (no OriginateResulted), though its call is still
    followed like any other."""
    for name in ("outbound-busy", "outbound-noanswer"):
        events = [e for m in _blocks(name) for e in CallModel().feed(m, 0.0)]
        assert not [e for e in events if isinstance(e, OriginateResulted)], name
    model = CallModel()
    events = [e for m in _blocks("outbound-answered") for e in model.feed(m, 0.0)]
    assert [brief(e) for e in events] == [b for b in EXPECTED["outbound-answered"] if b[0] != "OriginateResulted"]
    ours = recorded_model("outbound-answered")
    assert [brief(e) for m in _blocks("outbound-answered") for e in ours.feed(m, 0.0)] == EXPECTED["outbound-answered"]


async def test_hotline_logs_only_its_own_originates_on_a_shared_pbx() -> None:
    emu = PbxEmulator("hotline", "hotline-secret", speed=20.0)
    await emu.start("127.0.0.1", 0)
    settings = AmiSettings("127.0.0.1", emu.port, "hotline", "hotline-secret", ping_interval_s=60.0)
    sink = Sink()
    hotline = AmiClient(settings, CallModel(), on_events=sink)
    other = AmiClient(settings, CallModel())
    try:
        for client in (hotline, other):
            await client.start()
            await client.wait_ready(T)
        caller = {"context": "caller-phone", "exten": "wait", "variables": {"PATIENCE": "30"}}
        theirs = await AmiPbx(other).originate("Local/1000@inbound", caller_id='"Theirs" <5550100>', **caller)
        mine = await AmiPbx(hotline).originate("Local/1000@inbound", caller_id='"Mine" <5550200>', **caller)
        await sink.wait_for("CallQueued", 2)
        await _until(lambda: any(isinstance(e, OriginateResulted) for e in sink.events))
        await asyncio.sleep(0.2)  # (their OriginateResponse came too, about the same time)
        results = [e for e in sink.events if isinstance(e, OriginateResulted)]
        assert [r.originate_id for r in results] == [mine.originate_id] != [theirs.originate_id]
        assert sorted(e.caller for e in sink.events if kind_of(e) == "CallArrived") == ["5550100", "5550200"]
    finally:
        for client in (hotline, other):
            await asyncio.wait_for(client.close(), T)
        await asyncio.wait_for(emu.stop(), T)


# ---------------------------------------------------------------- (null) and the Local half that carries the data


@pytest.mark.parametrize("order", ["phone-first", "dialplan-first"])
def test_resync_reads_the_call_s_data_from_the_half_that_carries_it(order: str) -> None:
    """An originate's variables are on both Local halves; the dialplan then sets the ;2
    half's (`CC_SKILL=billing` over the originate's `sales`). The resync takes the call's
    skills and attributes from ;2 whichever half the list gives first; `(null)` is unset;
    Hotline's own CC_ORIGINATE_ID is no attribute."""
    common = {"ChannelStateDesc": "Up", "Linkedid": "1.0", "CallerIDNum": "5551234", "BridgeID": ""}
    phone = {
        **common,
        "Channel": "Local/1000@inbound-00000000;1",
        "Uniqueid": "1.0",
        "Context": "caller-phone",
        "Exten": "wait",
        "Application": "Wait",
        "vars": "CC_SKILL=sales;CC_CALLID=(null);CC_CAMPAIGN=(null);CC_AGENT=vip;CC_ORIGINATE_ID=o-1",
    }
    dialplan = {
        **common,
        "Channel": "Local/1000@inbound-00000000;2",
        "Uniqueid": "1.1",
        "Context": "inbound",
        "Exten": "1000",
        "Application": "MusicOnHold",
        "vars": "CC_SKILL=billing;CC_CALLID=1.1;CC_CAMPAIGN=(null);CC_AGENT=(null);CC_ORIGINATE_ID=o-1",
    }
    rows = [phone, dialplan] if order == "phone-first" else [dialplan, phone]
    events = CallModel().resync(_rows(*rows), 10.0)
    queued = next(e for e in events if isinstance(e, CallQueued))
    assert (queued.skills, queued.attributes) == ({"billing": 1}, {"CC_SKILL": "billing", "CC_CALLID": "1.1"})
    # a SIP caller carries its own
    sip = {
        **common,
        "Channel": "SIP/carrier-00000001",
        "Uniqueid": "2.0",
        "Linkedid": "2.0",
        "Context": "inbound",
        "Exten": "1000",
        "Application": "MusicOnHold",
        "vars": "CC_SKILL=support:7;CC_CALLID=2.0;CC_CAMPAIGN=(null);CC_AGENT=(null);CC_ORIGINATE_ID=(null)",
    }
    queued = next(e for e in CallModel().resync(_rows(sip), 10.0) if isinstance(e, CallQueued))
    assert (queued.skills, queued.attributes) == ({"support": 7}, {"CC_SKILL": "support:7", "CC_CALLID": "2.0"})


async def _null_answering_ami(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An AMI server whose Getvar says `(null)` (as Status does for an unset variable)."""
    writer.write(b"Asterisk Call Manager/9.0.0\r\n")
    parser = AmiParser(expect_banner=False)
    while data := await reader.read(65536):
        for action in parser.feed(data):
            if not isinstance(action, Message):
                continue
            name, aid = action.get("Action").lower(), [("ActionID", action.get("ActionID"))]
            if name in ("coreshowchannels", "status"):
                writer.write(encode([("Response", "Success"), *aid, ("EventList", "start")]))
                writer.write(
                    encode([("Event", name + "Complete"), *aid, ("EventList", "Complete"), ("ListItems", "0")])
                )
            elif name == "getvar":
                writer.write(
                    encode([("Response", "Success"), *aid, ("Variable", action.get("Variable")), ("Value", "(null)")])
                )
            else:
                writer.write(encode([("Response", "Success"), *aid]))
            if name == "login":
                writer.write(
                    encode([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")])
                )
    writer.close()


async def test_getvar_of_an_unset_variable_is_empty() -> None:
    """Getvar answers an unset variable with an empty Value (status-null-vars.ami), and a
    `(null)` would mean the same."""
    emu = PbxEmulator("hotline", "hotline-secret", speed=20.0)
    await emu.start("127.0.0.1", 0)
    client = AmiClient(AmiSettings("127.0.0.1", emu.port, "hotline", "hotline-secret"), CallModel(), Sink())
    try:
        await client.start()
        await client.wait_ready(T)
        pbx = AmiPbx(client)
        await pbx.originate("Local/1000@inbound", context="caller-phone", exten="wait", variables={"PATIENCE": "30"})
        await _until(lambda: any(name.endswith(";2") for name in client.model.channel_variables()))
        channel = next(name for name in client.model.channel_variables() if name.endswith(";2"))
        assert await asyncio.wait_for(pbx.getvar(channel, "CC_CAMPAIGN"), T) == VariableValue(
            channel, "CC_CAMPAIGN", ""
        )
    finally:
        await asyncio.wait_for(client.close(), T)
        await asyncio.wait_for(emu.stop(), T)
    server = await asyncio.start_server(_null_answering_ami, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient(AmiSettings("127.0.0.1", port, "hotline", "x", boot_timeout_s=1.0), CallModel(), Sink())
    try:
        await client.start()
        await client.wait_ready(T)
        value = await asyncio.wait_for(AmiPbx(client).getvar("Local/1000@inbound-00000000;2", "CC_SKILL"), T)
        assert value.value == ""
    finally:
        await asyncio.wait_for(client.close(), T)
        server.close()


# ---------------------------------------------------------------- a call first seen by a resync


def _queued_by_call(events: list[Event]) -> dict[str, tuple[Any, ...]]:
    return {
        e.call_id: (e.queue, dict(e.skills), e.priority, dict(e.attributes))
        for e in events
        if isinstance(e, CallQueued)
    }


async def test_a_call_first_seen_by_a_resync_is_queued_as_the_live_stream_queues_it() -> None:
    """Callers waiting on hold (inbound 1000) and in app_queue (1100), originated by
    Hotline (CC_ORIGINATE_ID on both halves): a process that connects now (a restart)
    reports each with the queue, skills, priority and attributes the one that watched
    them arrive reported."""
    emu = PbxEmulator("hotline", "hotline-secret", speed=20.0)
    await emu.start("127.0.0.1", 0)
    settings = AmiSettings("127.0.0.1", emu.port, "hotline", "hotline-secret", ping_interval_s=60.0)
    live_sink, late_sink = Sink(), Sink()
    live = AmiClient(settings, CallModel(), on_events=live_sink)
    late = AmiClient(settings, CallModel(), on_events=late_sink)
    try:
        await live.start()
        await live.wait_ready(T)
        pbx = AmiPbx(live)
        for exten in ("1000", "1100"):
            await pbx.originate(
                f"Local/{exten}@inbound",
                context="caller-phone",
                exten="wait",
                caller_id=f'"Caller {exten}" <555{exten}>',
                variables={"PATIENCE": "60", "QUEUE_MAXWAIT": "60"},
            )
        await live_sink.wait_for("CallQueued", 2)
        await late.start()
        await late.wait_ready(T)
        seen_live, seen_late = _queued_by_call(live_sink.events), _queued_by_call(late_sink.events)
        assert len(seen_live) == 2 and seen_late == seen_live
        assert sorted(q[0] for q in seen_late.values()) == ["", "support"]
        assert all("CC_ORIGINATE_ID" not in q[3] for q in seen_late.values())
    finally:
        for client in (live, late):
            await asyncio.wait_for(client.close(), T)
        await asyncio.wait_for(emu.stop(), T)


# ---------------------------------------------------------------- ConfBridge


@pytest.mark.parametrize("order", ["recorded", "reversed"])
async def test_standing_line_events_in_either_confbridge_order(order: str) -> None:
    """ConfBridge's events and the bridge's come in either order between runs: the
    standing-line flow replayed on the emulator in each gives the recorded domain events
    (Alice connected to the line and gone, Brian ended by the agent's side)."""
    data = await asyncio.wait_for(run_flow("standing-line-confbridge", speed=25.0, confbridge_order=order), 30)
    model = recorded_model("standing-line-confbridge")
    got = [brief(e) for m in messages(data) for e in model.feed(m, 0.0)]
    expected = EXPECTED["standing-line-confbridge"]

    def calls(briefs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [b for b in briefs if b[0] != "OriginateResulted"]  # (it races CallArrived)

    assert calls(got) == calls(expected) and sorted(got) == sorted(expected)
    assert model.call_count == 0 and model.bridge_count == 0


def test_the_conference_announcer_is_no_party() -> None:
    """A CBAnn channel in an agent's conference (a non-quiet profile's announcer, or a
    resync that lists it) is neither a caller nor an agent: no call arrives."""
    common = {"ChannelStateDesc": "Up", "BridgeID": "conf-1", "Application": "ConfBridge"}
    rows = [
        {**common, "Channel": "Local/2001@agents-0000000c;1", "Uniqueid": "5.0", "Linkedid": "5.0"},
        {**common, "Channel": "CBAnn/hotline-agent-2001-0000000d;2", "Uniqueid": "5.3", "Linkedid": "5.2"},
        {**common, "Channel": "CBAnn/hotline-agent-2001-0000000d;1", "Uniqueid": "5.2", "Linkedid": "5.2"},
    ]
    for row in rows:
        row.update(Context="hotline-agent-line", Exten="2001")
    model = CallModel()
    assert model.resync(_rows(*rows), 10.0) == []
    assert not [c for c in model.calls() if c.arrived]
    # the same live: the announcer's channel entering the line's bridge
    live = CallModel()
    out = []
    for row in rows[:2]:
        base = [(k, v) for k, v in row.items() if k not in ("BridgeID", "Application")]
        out += live.feed(Message([("Event", "Newchannel"), *base]), 1.0)
        out += live.feed(
            Message([("Event", "BridgeEnter"), ("BridgeUniqueid", "conf-1"), ("BridgeCreator", "ConfBridge"), *base]),
            1.0,
        )
    assert out == [] and not [c for c in live.calls() if c.arrived]
