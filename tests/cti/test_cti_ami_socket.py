"""The AMI adapter (panoramisk + codec + call model) and the PBX port over a real TCP
socket, against a server replaying the recorded Asterisk traces (tests/cti/ami_replay.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ami_replay import TRACES, Recording, ReplayServer
from test_cti_call_model import EXPECTED, brief

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx, ChannelNotFound, OriginateFailed, PbxUnavailable, Target
from events import Event, kind_of

T = 5.0  # bound for every await


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.stale: list[bool] = []
        self._changed = asyncio.Event()

    def __call__(self, events: list[Event]) -> None:
        self.events.extend(events)
        self._changed.set()

    async def wait_for(self, kind: str, count: int = 1) -> Event:
        async def _wait() -> Event:
            while True:
                found = [e for e in self.events if kind_of(e) == kind]
                if len(found) >= count:
                    return found[count - 1]
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(_wait(), T)


async def _until(predicate: Any) -> None:
    async def _wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(_wait(), T)


def _settings(port: int, **kw: Any) -> AmiSettings:
    base = {"ping_interval_s": 60.0, "reconnect_min_s": 0.02, "reconnect_max_s": 0.2, "action_timeout_s": 2.0}
    base.update(kw)
    return AmiSettings("127.0.0.1", port, "hotline", "hotline-secret", **base)  # type: ignore[arg-type]


async def _connect(server: ReplayServer, **kw: Any) -> tuple[AmiClient, AmiPbx, Sink]:
    sink = Sink()
    client = AmiClient(_settings(server.port, **kw), CallModel(), on_events=sink, on_stale=sink.stale.append)
    await client.start()
    await client.wait_ready(T)
    return client, AmiPbx(client), sink


async def test_inbound_call_flow_over_a_socket() -> None:
    server = ReplayServer(Recording.load("inbound-answered"))
    await server.start()
    client, pbx, sink = await _connect(server)
    try:
        assert not client.stale and client.banner.startswith("Asterisk Call Manager/")
        queued = await asyncio.wait_for(
            pbx.originate(
                "Local/1000@inbound",
                context="caller-phone",
                exten="wait",
                caller_id='"Alice" <5551234>',
                variables={"PATIENCE": "120"},
            ),
            T,
        )
        arrived = await sink.wait_for("CallArrived")
        await sink.wait_for("CallQueued")
        done = await asyncio.wait_for(pbx.redirect(arrived.channel, Target("agent-connect", "2001")), T)
        assert done.message == "Redirect successful"
        await sink.wait_for("CallEnded")
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()
    expected = [
        ("OriginateResulted", queued.originate_id, True, 4) if k[0] == "OriginateResulted" else k
        for k in EXPECTED["inbound-answered"]
    ]
    assert [brief(e) for e in sink.events] == expected
    sent = [m for m in server.received if m.get("Action") == "Originate"]
    assert len(sent) == 1
    assert f"CC_ORIGINATE_ID={queued.originate_id}" in sent[0].get_all("Variable")
    assert sent[0].get("Async") == "true" and sent[0].get("Timeout") == "30000"
    assert server.received[-1].get("Action") == "Logoff"
    assert client.model.call_count == 0


async def test_responses_lists_and_typed_errors() -> None:
    server = ReplayServer(Recording.load("status-responses"))
    await server.start()
    client, pbx, sink = await _connect(server)
    try:
        pong = await client.send({"Action": "Ping"})
        assert pong.get("Ping") == "Pong"
        await client.send({"Action": "CoreStatus"})
        settings = await client.send({"Action": "CoreSettings"})
        assert settings.get("AsteriskVersion") == "20.20.1"
        version = await client.send({"Action": "Command", "Command": "core show version"})
        assert version.get("Output").startswith("Asterisk 20.20.1")
        idle = await client.send_list({"Action": "CoreShowChannels"})
        assert idle.items == () and idle.complete is not None and idle.complete.get("ListItems") == "0"
        await client.send_list({"Action": "Status"})
        await pbx.originate("Local/1000@inbound", context="caller-phone", exten="wait")
        await sink.wait_for("CallQueued")
        channels = await client.send_list({"Action": "CoreShowChannels"})
        assert [m.get("Channel") for m in channels.items] == [
            "Local/1000@inbound-00000000;1",
            "Local/1000@inbound-00000000;2",
        ]
        status = await client.send_list({"Action": "Status"})
        assert len(status.items) == 2
        one = await client.send_list(
            {"Action": "Status", "Channel": "Local/1000@inbound-00000000;2", "Variables": "CC_SKILL,CC_CALLID"}
        )
        assert one.items[0].variables("Variable")["CC_SKILL"] == "billing"
        value = await pbx.getvar("Local/1000@inbound-00000000;2", "CC_SKILL")
        assert value.value == "billing"
        await pbx.setvar("Local/1000@inbound-00000000;2", "CC_PRIORITY", "gold")
        summary = await client.send_list({"Action": "QueueSummary"})
        assert summary.items[0].get("Queue") == "support"
        await client.send_list({"Action": "QueueStatus"})
        await pbx.hangup("Local/1000@inbound-00000000;2", cause=16)
        with pytest.raises(ChannelNotFound) as gone:
            await pbx.getvar("Local/1000@inbound-00000000;2", "CC_SKILL")
        assert gone.value.message == "No such channel"
        with pytest.raises(OriginateFailed) as failed:
            await pbx.originate("Local/9999@nowhere", application="Wait", data="1")
        assert failed.value.message == "Originate failed"
        await sink.wait_for("CallEnded")
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()
    assert client.model.call_count == 0 and client.model.channel_count == 0


async def test_reconnect_resyncs_and_never_repeats_an_originate() -> None:
    """Mid-call drop (replay server: the PBX emulator's reconnect test lives with the
    emulator when it is available): stale while down, state rebuilt from
    CoreShowChannels + Status, the Originate is not re-sent and can be found by id."""
    server = ReplayServer(Recording.load("inbound-answered"))
    await server.start()
    client, pbx, sink = await _connect(server)
    try:
        queued = await pbx.originate("Local/1000@inbound", context="caller-phone", exten="wait")
        arrived = await sink.wait_for("CallArrived")
        await sink.wait_for("CallQueued")
        before = len(sink.events)
        common = [
            ("Linkedid", "1795343168.4"),
            ("ChannelStateDesc", "Up"),
            ("CallerIDNum", "5551234"),
            ("CallerIDName", "Alice"),
            ("BridgeId", ""),
        ]
        server.snapshot = {
            "CoreShowChannels": [
                [
                    ("Channel", "Local/1000@inbound-00000002;1"),
                    ("Uniqueid", "1795343168.4"),
                    ("Context", "caller-phone"),
                    ("Exten", "wait"),
                    ("Application", "Wait"),
                    *common,
                ],
                [
                    ("Channel", "Local/1000@inbound-00000002;2"),
                    ("Uniqueid", "1795343168.5"),
                    ("Context", "inbound"),
                    ("Exten", "1000"),
                    ("Application", "MusicOnHold"),
                    ("ChanVariable", "CC_SKILL=billing"),
                    *common,
                ],
            ],
            "Status": [
                [
                    ("Channel", "Local/1000@inbound-00000002;1"),
                    ("Uniqueid", "1795343168.4"),
                    ("Variable", f"CC_ORIGINATE_ID={queued.originate_id}"),
                    *common,
                ],
                [
                    ("Channel", "Local/1000@inbound-00000002;2"),
                    ("Uniqueid", "1795343168.5"),
                    ("Variable", "CC_SKILL=billing"),
                    *common,
                ],
            ],
        }
        server.answer_pings = False
        in_flight = asyncio.ensure_future(client.send({"Action": "Ping"}))
        await _until(lambda: any(m.get("Action") == "Ping" for m in server.received))
        await server.drop_connections()
        with pytest.raises(PbxUnavailable):
            await asyncio.wait_for(pbx.originate("Local/1000@inbound", context="caller-phone", exten="wait"), T)
        with pytest.raises(Exception) as lost:
            await asyncio.wait_for(in_flight, T)
        assert "connection lost" in str(lost.value)
        assert client.stale or client.connections >= 2
        await client.wait_ready(T)
        assert not client.stale and client.connections == 2 and client.resyncs == 2
        # the call survived the drop as it was: no new domain events
        assert len(sink.events) == before
        view = client.model.call("1795343168.4")
        assert view is not None and view.queued and view.arrived
        assert await asyncio.wait_for(pbx.find_originate(queued.originate_id), T) == ["Local/1000@inbound-00000002;1"]
        assert await asyncio.wait_for(pbx.find_originate("someone-else"), T) == []
        assert (
            client.model.channel_variables()["Local/1000@inbound-00000002;1"]["CC_ORIGINATE_ID"] == queued.originate_id
        )
        # now the caller hangs up while we were away: the next resync ends the call
        server.snapshot = {"CoreShowChannels": [], "Status": []}
        await server.drop_connections()
        ended = await sink.wait_for("CallEnded")
        assert ended.call_id == arrived.call_id and ended.cause == 0
        await _until(lambda: not client.stale)
        assert sink.stale == [False, True, False, True, False]
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()
    assert sum(1 for m in server.received if m.get("Action") == "Originate") == 1


async def test_ping_timeout_reconnects() -> None:
    server = ReplayServer(answer_pings=False)
    await server.start()
    client, _pbx, _sink = await _connect(server, ping_interval_s=0.05, ping_timeout_s=0.05)
    try:
        await _until(lambda: client.connections >= 2 and not client.stale)
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()


async def test_garbage_on_the_wire_is_logged_and_skipped() -> None:
    server = ReplayServer()
    await server.start()
    client, _pbx, sink = await _connect(server)
    try:
        server.push_raw(b"complete nonsense\r\n\xff\xfe\r\n\r\n")
        server.push_raw(b"Event: Unknown\r\nX: " + b"y" * 10000 + b"\r\n\r\n")
        server.push_raw(b"Response: Error\r\nActionID: nobody-asked\r\nMessage: Permission denied\r\n\r\n")
        server.push(
            [
                ("Event", "Newchannel"),
                ("Channel", "SIP/carrier-00000001"),
                ("Uniqueid", "9.1"),
                ("Linkedid", "9.1"),
                ("ChannelStateDesc", "Ring"),
                ("Context", "inbound"),
                ("Exten", "1000"),
            ]
        )
        server.push(
            [
                ("Event", "Newstate"),
                ("Channel", "SIP/carrier-00000001"),
                ("Uniqueid", "9.1"),
                ("Linkedid", "9.1"),
                ("ChannelStateDesc", "Up"),
                ("Context", "inbound"),
                ("Exten", "1000"),
                ("CallerIDNum", "555"),
            ]
        )
        arrived = await sink.wait_for("CallArrived")
        assert arrived.caller == "555"
        assert client.malformed == 2 and client.connected
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()


async def test_connect_refused_backs_off_until_the_server_appears() -> None:
    server = ReplayServer()
    await server.start()
    port = server.port
    await server.stop()
    sink = Sink()
    client = AmiClient(_settings(port), CallModel(), on_events=sink)
    await client.start()
    try:
        await _until(lambda: client._attempt >= 3)
        assert client.stale and not client.connected
        with pytest.raises(PbxUnavailable):
            await AmiPbx(client).hangup("SIP/x-1")
    finally:
        await asyncio.wait_for(client.close(), T)


async def test_no_panoramisk_pattern_is_registered() -> None:
    """Events go to the client's own handler, not through panoramisk's dispatch (a
    regex match and a coroutine test per event): no pattern, no callback there."""
    server = ReplayServer()
    await server.start()
    client, _pbx, _sink = await _connect(server)
    try:
        manager = client._manager
        assert manager is not None
        assert manager.patterns == [] and not manager.callbacks
        assert manager.loop is asyncio.get_running_loop()
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()


# ---------------------------------------------------------------- every recorded flow

LISTS = {"QueueStatus", "QueueSummary", "CoreShowChannels", "Status", "SIPpeers", "DeviceStateList"}
FLOWS = sorted(p.stem for p in TRACES.glob("*.actions"))


async def _drive(pbx: AmiPbx, client: AmiClient, action: Any) -> str | None:
    """Perform one recorded action through the PBX port (or the raw client)."""
    name = action.get("Action")
    if name == "Originate":
        variables = dict(v.split("=", 1) for v in action.get_all("Variable"))
        caller = action.get("CallerID")
        if action.get("Application"):
            queued = await pbx.originate(
                action.get("Channel"),
                application=action.get("Application"),
                data=action.get("Data"),
                caller_id=caller,
                variables=variables,
            )
        else:
            queued = await pbx.originate(
                action.get("Channel"),
                context=action.get("Context"),
                exten=action.get("Exten"),
                priority=int(action.get("Priority") or 1),
                caller_id=caller,
                variables=variables,
                timeout_s=int(action.get("Timeout") or 30000) / 1000,
            )
        return queued.originate_id
    if name == "Redirect":
        extra = action.get("ExtraChannel") or None
        extra_target = (
            Target(action.get("ExtraContext"), action.get("ExtraExten"), int(action.get("ExtraPriority") or 1))
            if extra
            else None
        )
        await pbx.redirect(
            action.get("Channel"),
            Target(action.get("Context"), action.get("Exten"), int(action.get("Priority") or 1)),
            extra_channel=extra,
            extra_target=extra_target,
        )
    elif name == "BlindTransfer":
        await pbx.blind_transfer(action.get("Channel"), action.get("Context"), action.get("Exten"))
    elif name == "Atxfer":
        await pbx.attended_transfer(action.get("Channel"), action.get("Exten"), action.get("Context") or None)
    elif name == "Hangup":
        await pbx.hangup(action.get("Channel"), int(action.get("Cause") or 16))
    elif name == "Setvar":
        await pbx.setvar(action.get("Channel"), action.get("Variable"), action.get("Value"))
    elif name == "Getvar":
        await pbx.getvar(action.get("Channel"), action.get("Variable"))
    elif name in LISTS:
        await client.send_list([(k, v) for k, v in action.headers if k != "ActionID"])
    else:
        await client.send([(k, v) for k, v in action.headers if k != "ActionID"])
    return None


@pytest.mark.parametrize("flow", [f for f in FLOWS if f != "status-responses"])
async def test_recorded_flow_through_the_pbx_port(flow: str) -> None:
    """Each recorded flow, driven through AmiPbx over a socket: the actions we send
    carry the same headers as the ones recorded against Asterisk 20, and the domain
    events equal those of the offline trace replay."""
    recording = Recording.load(flow)
    server = ReplayServer(recording)
    await server.start()
    client, pbx, sink = await _connect(server)
    originate_ids: list[str] = []
    try:
        for action in recording.actions[1:]:
            if action.get("Action") == "Logoff":
                break
            oid = await asyncio.wait_for(_drive(pbx, client, action), T)
            if oid:
                originate_ids.append(oid)
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()
    # what we sent matches what was sent to the real Asterisk (plus our originate id)
    ours = [
        m
        for m in server.received
        if m.get("Action") not in ("Login", "CoreShowChannels", "Status", "Ping")
        or m.get("Action") in {a.get("Action") for a in recording.actions[1:]}
    ]
    recorded = list(recording.actions[1:])
    sent = [m for m in ours if m.get("Action") != "Login"]
    # our resync's CoreShowChannels/Status come first: align on the recorded actions
    sent = sent[len(sent) - len(recorded) :]
    for mine, theirs in zip(sent, recorded, strict=False):
        assert mine.get("Action") == theirs.get("Action")
        for key, value in theirs.headers:
            if key in ("ActionID", "Variable", "Secret", "Username"):
                continue
            assert mine.get(key) == value, (theirs.get("Action"), key, mine.get(key), value)
        assert set(theirs.get_all("Variable")) <= set(mine.get_all("Variable"))
    ids = iter(originate_ids)
    expected = [
        ("OriginateResulted", next(ids), k[2], k[3]) if k[0] == "OriginateResulted" else k for k in EXPECTED[flow]
    ]
    assert [brief(e) for e in sink.events] == expected


async def test_bad_requests_are_refused_before_sending() -> None:
    from cti.pbx import InvalidRequest

    server = ReplayServer()
    await server.start()
    client, pbx, _sink = await _connect(server)
    try:
        before = len(server.received)
        with pytest.raises(InvalidRequest):
            await pbx.originate("Local/1000@inbound")  # neither context+exten nor application
        with pytest.raises(InvalidRequest):
            await pbx.originate("Local/1000@inbound", context="c", exten="1", application="Wait")
        with pytest.raises(InvalidRequest):
            await pbx.hangup("SIP/a-1\r\nAction: Originate")  # header injection
        with pytest.raises(InvalidRequest):
            await pbx.setvar("SIP/a-1", "X", "two\nlines")
        with pytest.raises(InvalidRequest):
            await pbx.originate("Local/1@x", context="c", exten="1", timeout_s=0)
        assert len(server.received) == before
        with pytest.raises(Exception) as unexpected:
            await pbx.hangup("SIP/a-1")  # the replay server answers Response: Error
        assert "replay: expected nothing, got Hangup" in str(unexpected.value)
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()


async def test_action_timeout_is_typed_and_forgotten() -> None:
    from cti.ami import AmiTimeout

    server = ReplayServer(answer_pings=False)
    await server.start()
    client, _pbx, _sink = await _connect(server)
    try:
        with pytest.raises(AmiTimeout):
            await client.send({"Action": "Ping"}, timeout=0.05)
        assert client._pending == {}
        assert client.connected  # a slow answer is not a dead connection (the keepalive decides)
    finally:
        await asyncio.wait_for(client.close(), T)
        await server.stop()


async def test_ami_watch_cli_prints_domain_events() -> None:
    import json
    import signal
    import sys
    from pathlib import Path

    server = ReplayServer(Recording.load("sip-inbound-abandoned"))
    await server.start()
    hotline = Path(sys.executable).with_name("hotline")
    proc = await asyncio.create_subprocess_exec(
        str(hotline),
        "ami-watch",
        "--port",
        str(server.port),
        "--user",
        "hotline",
        "--secret",
        "hotline-secret",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        lines = []
        while len(lines) < 4:
            line = await asyncio.wait_for(proc.stdout.readline(), 10)  # type: ignore[union-attr]
            if not line:  # say why: its stderr and exit code
                err = await asyncio.wait_for(proc.stderr.read(), 10)  # type: ignore[union-attr]
                raise AssertionError(f"ami-watch ended early ({await proc.wait()}): {err.decode()[-2000:]}")
            lines.append(json.loads(line))
        assert [r["event"] for r in lines] == ["CallArrived", "CallQueued", "CallAbandoned", "CallEnded"]
        assert lines[0]["channel"] == "SIP/carrier-0000000b"
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)
        await server.stop()
    assert proc.returncode == 0
