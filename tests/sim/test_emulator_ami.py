"""The PBX emulator as an AMI server: protocol, actions, endpoint behaviour driven
by channel variables, the ledger, dropped connections and FastAGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.agi import AgiHangup, AgiServer, AgiSession
from cti.ami_codec import Message
from sim.pbx_emulator import PbxEmulator
from sim.pbx_emulator.client import RawAmiClient

SPEED = 20.0
USER, SECRET = "hotline", "s3cret"


@pytest.fixture
async def emu() -> AsyncIterator[PbxEmulator]:
    e = PbxEmulator(USER, SECRET, speed=SPEED)
    await e.start("127.0.0.1", 0)
    yield e
    await asyncio.wait_for(e.stop(), 5)


async def connect(emu: PbxEmulator, login: bool = True) -> RawAmiClient:
    c = RawAmiClient()
    await asyncio.wait_for(c.connect("127.0.0.1", emu.port), 5)
    if login:
        resp = await c.login(USER, SECRET)
        assert resp.response == "Success" and resp["Message"] == "Authentication accepted"
        await c.wait_for(lambda m: m.event == "FullyBooted")
    return c


def ev(name: str, **headers: str):  # type: ignore[no-untyped-def]
    def pred(m: Message) -> bool:
        return m.event == name and all(m.get(k) == v for k, v in headers.items())

    return pred


def originate(
    dest: str,
    context: str,
    exten: str,
    *variables: str,
    timeout_ms: int = 30000,
    callerid: str = '"Alice" <5551234>',
    sync: bool = False,
) -> list[tuple[str, str]]:
    headers = [
        ("Channel", dest),
        ("Context", context),
        ("Exten", exten),
        ("Priority", "1"),
        ("CallerID", callerid),
        ("Timeout", str(timeout_ms)),
    ]
    if not sync:
        headers.append(("Async", "true"))
    return headers + [("Variable", v) for v in variables]


async def test_protocol_errors_get_error_responses_and_the_session_survives(emu: PbxEmulator) -> None:
    c = await connect(emu, login=False)
    try:
        assert (await c.action("Ping")).get("Message") == "Permission denied"
        bad = await c.login(USER, "wrong")
        assert bad.response == "Error" and bad["Message"] == "Authentication failed"
        c.send_raw(b"this is not a header line\r\n\r\n")
        c.send_raw(b"Foo: bar\r\n\r\n")
        c.send_raw(b"X" * 20000 + b"\r\n\r\n")
        await c.wait_for(lambda m: m.get("Message") == "Missing action in request")
        assert (await c.login(USER, SECRET)).response == "Success"
        assert c.banner == "Asterisk Call Manager/9.0.0"
        assert (await c.action("NoSuchAction"))["Message"] == "Invalid/unknown command"
        bad_timeout = await c.action(
            "Originate", [*originate("Local/1000@inbound", "caller-phone", "wait")[:4], ("Timeout", "soon")]
        )
        assert bad_timeout.response == "Error" and "Timeout" in bad_timeout["Message"]
        assert (await c.action("Originate", [("Context", "x")]))["Message"] == "Channel not specified"
        assert (await c.action("Originate", [("Channel", "SIP/carrier/555"), ("Application", "Wait")]))[
            "Message"
        ] == "Originate failed"
        pong = await c.action("Ping")
        assert pong["Ping"] == "Pong" and float(pong["Timestamp"]) > 0
        bye = await c.action("Logoff")
        assert bye.response == "Goodbye" and bye["Message"] == "Thanks for all the fish."
        await asyncio.wait_for(c.closed.wait(), 5)
    finally:
        await c.close()


async def test_status_getvar_setvar_hangup_on_a_held_call(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        await c.action("Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=120"))
        held = await c.wait_for(ev("MusicOnHoldStart"))
        chan = held["Channel"]
        assert chan.endswith(";2") and held.variables()["CC_SKILL"] == "billing"
        _, listed = await c.collect_list("CoreShowChannels")
        assert [m["Channel"] for m in listed if m.event == "CoreShowChannel"] == [chan[:-1] + "1", chan]
        assert listed[-1]["ListItems"] == "2"
        _, status = await c.collect_list("Status", [("Channel", chan), ("Variables", "CC_SKILL,CC_CALLID,CC_CAMPAIGN")])
        assert status[0]["Application"] == "MusicOnHold"
        # an unset variable is `(null)` in Status, empty in Getvar (status-null-vars.ami)
        assert status[0].get_all("Variable") == [
            "CC_SKILL=billing",
            f"CC_CALLID={held['Uniqueid']}",
            "CC_CAMPAIGN=(null)",
        ]
        got = await c.action("Getvar", [("Channel", chan), ("Variable", "CC_SKILL")])
        assert (got["Variable"], got["Value"]) == ("CC_SKILL", "billing")
        unset = await c.action("Getvar", [("Channel", chan), ("Variable", "CC_CAMPAIGN")])
        assert (unset.response, unset["Value"]) == ("Success", "")
        assert (await c.action("Setvar", [("Channel", chan), ("Variable", "CC_PRIORITY"), ("Value", "gold")]))[
            "Message"
        ] == "Variable Set"
        got = await c.action("Getvar", [("Channel", chan), ("Variable", "CC_PRIORITY")])
        assert got["Value"] == "gold"
        assert (await c.action("Hangup", [("Channel", chan), ("Cause", "16")]))["Message"] == "Channel Hungup"
        await c.wait_for(ev("Hangup", Channel=chan[:-1] + "1", Cause="16"))
        gone = await c.action("Getvar", [("Channel", chan), ("Variable", "CC_SKILL")])
        assert (gone.response, gone["Message"]) == ("Error", "No such channel")
        red = await c.action(
            "Redirect", [("Channel", chan), ("Context", "agent-connect"), ("Exten", "2001"), ("Priority", "1")]
        )
        assert red.response == "Error"
        failed = await c.action(
            "Originate", [("Channel", "Local/9999@nowhere"), ("Application", "Wait"), ("Data", "1")]
        )
        assert (failed.response, failed["Message"]) == ("Error", "Originate failed")
        await c.wait_for(ev("Hangup", Cause="0"))
    finally:
        await c.close()


@pytest.mark.parametrize(
    ("behaviour", "timeout_ms", "reason", "cause", "dialstatus"),
    [
        ("busy", 20000, "5", "17", "BUSY"),
        ("congestion", 20000, "8", "34", "CONGESTION"),
        ("noanswer", 3000, "3", "19", None),
    ],
)
async def test_customer_behaviour_comes_from_channel_variables(
    emu: PbxEmulator, behaviour: str, timeout_ms: int, reason: str, cause: str, dialstatus: str | None
) -> None:
    c = await connect(emu)
    try:
        aid = await c.send(
            "Originate",
            originate(
                "Local/5557777@customers",
                "dialer-answered",
                "5557777",
                f"CUST_BEHAVIOUR={behaviour}",
                "CC_CAMPAIGN=test",
                timeout_ms=timeout_ms,
                callerid='"ACME" <8005550100>',
            ),
        )
        resp = await c.wait_for(lambda m: m.event == "OriginateResponse" and m.get("ActionID") == aid)
        assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", reason, "<unknown>")
        assert resp["Channel"] == "Local/5557777@customers"
        await c.wait_for(ev("Hangup", Cause=cause))
        if dialstatus:
            assert c.events("DialEnd")[-1]["DialStatus"] == dialstatus
        else:
            assert not c.events("DialEnd")
    finally:
        await c.close()
    [call] = emu.ledger.calls.values()
    assert call.kind == "outbound" and call.answered_at is None and call.originate_reason == int(reason)


@pytest.mark.parametrize("amd", ["HUMAN", "MACHINE"])
async def test_answered_dialer_leg_reports_amd_from_cust_amd(emu: PbxEmulator, amd: str) -> None:
    c = await connect(emu)
    try:
        await c.action(
            "Originate",
            originate(
                "Local/5558888@customers",
                "dialer-answered",
                "5558888",
                f"CUST_AMD={amd}",
                "CUST_RING=1",
                "CUST_TALK=2",
                callerid='"ACME" <8005550100>',
            ),
        )
        ok = await c.wait_for(ev("OriginateResponse"))
        assert (ok["Response"], ok["Reason"]) == ("Success", "4")
        user = await c.wait_for(ev("UserEvent", UserEvent="DialerAMD"))
        assert user["Status"] == amd and user["Number"] == "5558888"
        assert user["CallerIDName"] == "Customer 5558888"
        if amd == "MACHINE":
            await c.wait_for(ev("Hangup", Channel=ok["Channel"], Cause="16"))
            assert not c.events("MusicOnHoldStart")
        else:
            await c.wait_for(ev("MusicOnHoldStart", Channel=ok["Channel"]))
    finally:
        await c.close()
    [call] = emu.ledger.calls.values()
    assert call.amd == amd and call.answered_at is not None


async def test_hold_context_and_back_to_an_agent_then_ledger(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        await c.action(
            "Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=120", "__AGENT_TALK=2")
        )
        held = await c.wait_for(ev("MusicOnHoldStart"))
        chan = held["Channel"]
        await c.action(
            "Redirect", [("Channel", chan), ("Context", "agent-connect"), ("Exten", "2001"), ("Priority", "1")]
        )
        await c.wait_for(ev("BridgeEnter", Channel=chan))
        n = len(c.messages)
        await c.action("Redirect", [("Channel", chan), ("Context", "hold"), ("Exten", "s"), ("Priority", "1")])
        await c.wait_for(ev("BridgeLeave", Channel=chan), start=n)
        await c.wait_for(ev("MusicOnHoldStart", Channel=chan), start=n)
        await c.action(
            "Redirect", [("Channel", chan), ("Context", "agent-connect"), ("Exten", "2002"), ("Priority", "1")]
        )
        await c.wait_for(ev("MusicOnHoldStop", Channel=chan), start=n)
        await c.wait_for(ev("DialEnd", Channel=chan, DialStatus="ANSWER"), start=n)
        # agent 2002 talks AGENT_TALK=2 s, hangs up; the caller's dialplan ends the call
        await c.wait_for(ev("Hangup", Channel=chan[:-1] + "1", Cause="16"), timeout=5)
    finally:
        await c.close()
    summary = emu.ledger.summary()
    assert summary == {"created": 1, "answered": 1, "connected": 1, "abandoned": 0, "ended": 1, "open": 0}


async def test_caller_hanging_up_on_hold_is_an_abandon_in_the_ledger(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        await c.action("Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=2"))
        await c.wait_for(ev("Hangup", Cause="16"), timeout=5)
        await c.wait_for(lambda m: m.event == "Hangup" and m["Channel"].endswith(";1"), timeout=5)
    finally:
        await c.close()
    assert emu.ledger.summary()["abandoned"] == 1


async def test_bridge_action_connects_two_held_callers(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        for who in ('"A" <1>', '"B" <2>'):
            await c.action(
                "Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=60", callerid=who)
            )
        await c.wait_for(lambda m: len(c.events("MusicOnHoldStart")) == 2)
        a, b = (m["Channel"] for m in c.events("MusicOnHoldStart"))
        resp = await c.action("Bridge", [("Channel1", a), ("Channel2", b)])
        assert resp.response == "Success"
        await c.wait_for(ev("BridgeEnter", Channel=b))
        await c.action("Hangup", [("Channel", a)])
        await c.wait_for(ev("Hangup", Channel=b))
    finally:
        await c.close()


async def test_dropped_ami_connection_calls_go_on_and_resync_sees_them(emu: PbxEmulator) -> None:
    c = await connect(emu)
    await c.action(
        "Originate",
        originate(
            "Local/1000@inbound", "caller-phone", "wait", "PATIENCE=120", "__AGENT_TALK=3", "HOTLINE_ORIG_ID=abc-1"
        ),
    )
    held = await c.wait_for(ev("MusicOnHoldStart"))
    chan = held["Channel"]
    await c.action("Redirect", [("Channel", chan), ("Context", "agent-connect"), ("Exten", "2001"), ("Priority", "1")])
    await c.wait_for(ev("BridgeEnter", Channel=chan))
    await emu.drop_connections()
    await asyncio.wait_for(c.closed.wait(), 5)
    await c.close()
    c2 = await connect(emu)
    try:
        _, listed = await c2.collect_list("CoreShowChannels")
        names = {m["Channel"] for m in listed if m.event == "CoreShowChannel"}
        assert chan in names and len(names) == 4
        _, status = await c2.collect_list("Status", [("Channel", chan[:-1] + "1"), ("Variables", "HOTLINE_ORIG_ID")])
        assert status[0].get_all("Variable") == ["HOTLINE_ORIG_ID=abc-1"]
        await c2.wait_for(ev("Hangup", Channel=chan, Cause="16"), timeout=5)
    finally:
        await c2.close()
    assert emu.ledger.summary()["ended"] == 1


async def test_agi_caller_hanging_up_mid_ivr_reaches_the_server_as_agihangup() -> None:
    outcomes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    raised: list[BaseException] = []

    async def slow_ivr(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.get_data("vm-enter-num-to-call", 10000, 4)
        except AgiHangup as exc:
            raised.append(exc)
            raise

    agi = AgiServer({"ivr": slow_ivr}, on_session_end=lambda o, s: outcomes.put_nowait((o, s)))
    await agi.start("127.0.0.1", 0)
    emu = PbxEmulator(USER, SECRET, agi_url=f"agi://127.0.0.1:{agi.port}", speed=SPEED)
    await emu.start("127.0.0.1", 0)
    c = await connect(emu)
    try:
        await c.action("Originate", originate("Local/1500@inbound", "caller-phone", "wait", "PATIENCE=2"))
        assert await asyncio.wait_for(outcomes.get(), 5) == ("hangup", "ivr")
        assert raised and isinstance(raised[0], AgiHangup)
        assert c.events("AGIExecStart")[0]["Command"] == "ANSWER"
    finally:
        await c.close()
        await asyncio.wait_for(emu.stop(), 5)
        await asyncio.wait_for(agi.stop(), 5)


async def test_redirect_of_two_channels_at_once(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        for who in ('"A" <1>', '"B" <2>'):
            await c.action(
                "Originate",
                originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=60", "__AGENT_TALK=1", callerid=who),
            )
        await c.wait_for(lambda m: len(c.events("MusicOnHoldStart")) == 2)
        a, b = (m["Channel"] for m in c.events("MusicOnHoldStart"))
        resp = await c.action(
            "Redirect",
            [
                ("Channel", a),
                ("Context", "agent-connect"),
                ("Exten", "2001"),
                ("Priority", "1"),
                ("ExtraChannel", b),
                ("ExtraContext", "agent-connect"),
                ("ExtraExten", "2002"),
                ("ExtraPriority", "1"),
            ],
        )
        assert resp["Message"] == "Redirect successful"
        begin_a = await c.wait_for(ev("DialBegin", Channel=a))
        begin_b = await c.wait_for(ev("DialBegin", Channel=b))
        assert begin_a["DestChannel"].startswith("Local/2001@agents-")
        assert begin_b["DestChannel"].startswith("Local/2002@agents-")
        assert begin_a["Linkedid"] == begin_a["DestLinkedid"]
    finally:
        await c.close()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.binary(max_size=300)
        | st.sampled_from(
            [
                b"Action: Originate\r\nChannel: Local/1000@inbound\r\nTimeout: -5\r\n\r\n",
                b"Action: Redirect\r\nChannel: \r\n\r\n",
                b"Action: Status\r\nChannel: \xff\xfe\r\n\r\n",
                b"Action: QueuePause\r\n\r\n",
                b"Action: Atxfer\r\nChannel: nope\r\n\r\n",
                b"Action: Bridge\r\nChannel1: a\r\n\r\n",
                b"\r\n\r\n",
            ]
        ),
        max_size=6,
    )
)
def test_random_bytes_never_break_the_ami_server(chunks: list[bytes]) -> None:
    async def scenario() -> None:
        emu = PbxEmulator(USER, SECRET, speed=SPEED)
        await emu.start("127.0.0.1", 0)
        try:
            c = await connect(emu)
            for chunk in chunks:
                c.send_raw(chunk)
            c.send_raw(b"\r\n\r\n")
            pong = await c.action("Ping")  # the session still answers
            assert pong["Ping"] == "Pong"
            await c.close()
        finally:
            await asyncio.wait_for(emu.stop(), 5)

    asyncio.run(asyncio.wait_for(scenario(), 10))


async def test_redirect_back_to_hold_at_priority_5_and_play_context(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        await c.action(
            "Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=120", "__AGENT_TALK=30")
        )
        chan = (await c.wait_for(ev("MusicOnHoldStart")))["Channel"]
        await c.action(
            "Redirect", [("Channel", chan), ("Context", "agent-connect"), ("Exten", "2001"), ("Priority", "1")]
        )
        await c.wait_for(ev("BridgeEnter", Channel=chan))
        n = len(c.messages)
        await c.action("Setvar", [("Channel", chan), ("Variable", "HOLD_SECS"), ("Value", "3600")])
        await c.action("Redirect", [("Channel", chan), ("Context", "inbound"), ("Exten", "1000"), ("Priority", "5")])
        moh = await c.wait_for(ev("MusicOnHoldStart", Channel=chan), start=n)
        assert moh["Priority"] == "5"
        apps = [m["Application"] for m in c.messages[n:] if m.event == "Newexten" and m["Channel"] == chan]
        assert apps == ["MusicOnHold"]
        await c.wait_for(lambda m: m.event == "Hangup" and m["Channel"].startswith("Local/2001@agents-"), start=n)
        n = len(c.messages)
        await c.action("Setvar", [("Channel", chan), ("Variable", "HOTLINE_PLAYBACK"), ("Value", "hello-world")])
        await c.action("Redirect", [("Channel", chan), ("Context", "hotline-play"), ("Exten", "s"), ("Priority", "1")])
        play = await c.wait_for(ev("Newexten", Channel=chan, Application="Playback"), start=n)
        assert play["AppData"] == "hello-world"
        await c.wait_for(ev("Hangup", Channel=chan, Cause="16"), start=n)
    finally:
        await c.close()


async def test_login_event_mask_filters_by_class(emu: PbxEmulator) -> None:
    full = await connect(emu)
    calls_only = RawAmiClient()
    await asyncio.wait_for(calls_only.connect("127.0.0.1", emu.port), 5)
    try:
        resp = await calls_only.action("Login", [("Username", USER), ("Secret", SECRET), ("Events", "call")])
        assert resp.response == "Success"
        await full.wait_for(lambda m: len(full.events("SuccessfulAuth")) == 2)  # it sees the second login
        await calls_only.action("Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=1"))
        await calls_only.wait_for(ev("Hangup", Cause="16"))
        await full.wait_for(lambda m: len(full.events("Hangup")) == 2)
        assert calls_only.events("Newchannel") and not calls_only.events("Newexten")  # dialplan class filtered
        assert not calls_only.events("FullyBooted") and not calls_only.events("SuccessfulAuth")
        assert full.events("Newexten") and full.events("Cdr")
    finally:
        await full.close()
        await calls_only.close()


async def test_agi_set_context_moves_the_call_after_the_script() -> None:
    async def park(session: AgiSession) -> None:
        await session.answer()
        assert await session.get_full_variable("${CHANNEL(linkedid)}") != session.request.uniqueid
        await session.set_variable("CC_QUEUE", "sales")
        for cmd in ("SET CONTEXT hotline-queue", "SET EXTENSION s", "SET PRIORITY 1"):
            await session.command(cmd)

    outcomes: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    agi = AgiServer({"ivr": park}, on_session_end=lambda o, s: outcomes.put_nowait((o, s)))
    await agi.start("127.0.0.1", 0)
    emu = PbxEmulator(USER, SECRET, agi_url=f"agi://127.0.0.1:{agi.port}", speed=SPEED)
    await emu.start("127.0.0.1", 0)
    c = await connect(emu)
    try:
        await c.action("Originate", originate("Local/1500@inbound", "caller-phone", "wait", "PATIENCE=60"))
        assert await asyncio.wait_for(outcomes.get(), 5) == ("done", "ivr")
        moh = await c.wait_for(ev("MusicOnHoldStart", Context="hotline-queue"))
        assert moh.variables()["CC_CALLID"] == moh["Uniqueid"]
        got = await c.action("Getvar", [("Channel", moh["Channel"]), ("Variable", "CC_QUEUE")])
        assert got["Value"] == "sales"
    finally:
        await c.close()
        await asyncio.wait_for(emu.stop(), 5)
        await asyncio.wait_for(agi.stop(), 5)


async def test_queue_caller_hanging_up_while_a_member_rings(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        add = await c.action(
            "QueueAdd",
            [("Queue", "support"), ("Interface", "Local/2099@agents"), ("MemberName", "Dan"), ("Paused", "false")],
        )
        assert add["Message"] == "Added interface to queue"
        await c.action(
            "Originate",
            originate("Local/1100@inbound", "caller-phone", "wait", "PATIENCE=2", callerid='"Erin" <5553456>'),
        )
        called = await c.wait_for(ev("AgentCalled", Interface="Local/2099@agents"))
        caller = called["Channel"]
        await c.wait_for(ev("DialEnd", Channel=caller, DialStatus="CANCEL"))
        abandon = await c.wait_for(ev("QueueCallerAbandon", Channel=caller))
        assert (abandon["Position"], abandon["OriginalPosition"]) == ("1", "1")
        await c.wait_for(ev("QueueCallerLeave", Channel=caller))
        await c.wait_for(ev("Hangup", Channel=called["DestChannel"], Cause="0"))
        await c.wait_for(ev("QueueMemberStatus", Interface="Local/2099@agents", Status="1"))
        _, status = await c.collect_list("QueueStatus", [("Queue", "support")])
        member = next(m for m in status if m.event == "QueueMember")
        assert (member["Location"], member["Status"], member["Name"]) == ("Local/2099@agents", "1", "Dan")
        assert not [m for m in status if m.event == "QueueEntry"]
    finally:
        await c.close()
    assert emu.ledger.summary()["abandoned"] == 1


async def test_channelvars_are_configurable_like_manager_conf() -> None:
    emu = PbxEmulator(USER, SECRET, speed=SPEED, channelvars=("CC_CALLID", "CC_ORIGINATE_ID"))
    await emu.start("127.0.0.1", 0)
    c = await connect(emu)
    try:
        await c.action(
            "Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=1", "CC_ORIGINATE_ID=o-1")
        )
        first = await c.wait_for(ev("Newchannel"))
        assert first.get_all("ChanVariable") == ["CC_CALLID=", "CC_ORIGINATE_ID="]  # emitted even when empty
        resp = await c.wait_for(ev("OriginateResponse"))
        assert resp.variables()["CC_ORIGINATE_ID"] == "o-1"
    finally:
        await c.close()
        await asyncio.wait_for(emu.stop(), 5)


# ---------------------------------------------------------------- standing agent lines (ConfBridge)

CONF_EVENTS = (
    "BridgeCreate",
    "ConfbridgeStart",
    "BridgeEnter",
    "ConfbridgeJoin",
    "BridgeLeave",
    "ConfbridgeLeave",
    "ConfbridgeEnd",
    "BridgeDestroy",
)


def conf_trail(c: RawAmiClient, start: int = 0, also: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(event, channel) of the bridge/conference events (and `also`) since `start`."""
    return [(m.event, m.get("Channel")) for m in c.messages[start:] if m.event in CONF_EVENTS + also]


async def open_line(c: RawAmiClient, agent: str = "2001") -> Message:
    """Hotline's Originate of an agent's standing line; returns the agent's ConfbridgeJoin."""
    await c.action(
        "Originate",
        originate(
            f"Local/{agent}@agents",
            "hotline-agent-line",
            agent,
            "AGENT_TALK=86400",
            callerid=f'"Line {agent}" <{agent}>',
        ),
    )
    return await c.wait_for(ev("ConfbridgeJoin", Conference=f"hotline-agent-{agent}", Context="hotline-agent-line"))


async def held_caller(c: RawAmiClient, who: str = '"Alice" <5551234>') -> Message:
    n = len(c.messages)
    await c.action("Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=120", callerid=who))
    return await c.wait_for(lambda m: m.event == "MusicOnHoldStart", start=n)


async def join(c: RawAmiClient, chan: str, agent: str = "2001") -> Message:
    red = await c.action(
        "Redirect", [("Channel", chan), ("Context", "hotline-agent-join"), ("Exten", agent), ("Priority", "1")]
    )
    assert red["Message"] == "Redirect successful"
    return await c.wait_for(ev("ConfbridgeJoin", Channel=chan))


def assert_conference_block(m: Message, bridge: str, count: str) -> None:
    assert (
        m["BridgeUniqueid"],
        m["BridgeType"],
        m["BridgeTechnology"],
        m["BridgeCreator"],
        m["BridgeName"],
        m["BridgeNumChannels"],
        m["BridgeVideoSourceMode"],
    ) == (bridge, "base", "softmix", "ConfBridge", "hotline-agent-2001", count, "none")


async def test_agent_line_conference_callers_come_and_go(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        agent_join = await open_line(c)
        agent = agent_join["Channel"]
        assert agent.startswith("Local/2001@agents-") and agent.endswith(";1")
        bridge = agent_join["BridgeUniqueid"]
        assert_conference_block(agent_join, bridge, "2")  # the line and the conference's announcer
        assert (agent_join["Admin"], agent_join["Muted"]) == ("No", "No")
        assert conf_trail(c) == [
            ("BridgeCreate", ""),
            ("ConfbridgeStart", ""),
            ("BridgeEnter", agent),
            ("ConfbridgeJoin", agent),
        ]
        assert next(iter(c.events("ConfbridgeStart")))["Conference"] == "hotline-agent-2001"
        # the Originate's variables reached the ;2 half (the simulated phone stays answered)
        await c.wait_for(ev("Newexten", Channel=agent[:-1] + "2", Application="Wait", AppData="86400"))
        apps = [(m["Priority"], m["Application"], m["AppData"]) for m in c.events("Newexten") if m["Channel"] == agent]
        assert apps[-2:] == [("1", "Answer", ""), ("2", "ConfBridge", "hotline-agent-2001,hotline_line,hotline_agent")]

        held = await held_caller(c)
        caller = held["Channel"]
        n = len(c.messages)
        caller_join = await join(c, caller)
        assert conf_trail(c, n) == [("BridgeEnter", caller), ("ConfbridgeJoin", caller)]
        assert_conference_block(caller_join, bridge, "3")
        enter = next(m for m in c.messages[n:] if m.event == "BridgeEnter")
        assert_conference_block(enter, bridge, "3")
        # a base bridge: nobody's Linkedid is relabelled
        assert caller_join["Linkedid"] == held["Linkedid"] != agent_join["Linkedid"]
        assert not [m for m in c.messages[n:] if m.event == "MusicOnHoldStart"]

        # the caller hangs up: it leaves, the agent stays in the conference
        n = len(c.messages)
        await c.action("Hangup", [("Channel", caller[:-1] + "1")])
        left = await c.wait_for(ev("ConfbridgeLeave", Channel=caller), start=n)
        assert_conference_block(left, bridge, "3")  # the snapshot from before it left (recorded)
        assert left["Admin"] == "No"
        # as recorded: out of the bridge, hung up, then out of the conference
        assert conf_trail(c, n, also=("Hangup",)) == [
            ("Hangup", caller[:-1] + "1"),
            ("BridgeLeave", caller),
            ("Hangup", caller),
            ("ConfbridgeLeave", caller),
        ]
        _, listed = await c.collect_list("CoreShowChannels")
        assert {m["Channel"]: m["BridgeId"] for m in listed if m.event == "CoreShowChannel"}[agent] == bridge

        # a second caller joins the same conference
        second = (await held_caller(c, '"Brian" <5552345>'))["Channel"]
        assert_conference_block(await join(c, second), bridge, "3")
        assert not c.events("ConfbridgeEnd") and not c.events("BridgeDestroy")
    finally:
        await c.close()
    calls = {rec.dialed: rec for rec in emu.ledger.calls.values() if rec.kind == "inbound"}
    assert len(emu.ledger.calls) == 3 and all(rec.connected_at is not None for rec in calls.values())
    assert not any(rec.abandoned for rec in emu.ledger.calls.values())


async def test_agent_hanging_up_the_line_removes_the_callers_and_ends_the_conference(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        # a caller redirected before the line is up waits for the (marked) agent, in the bridge already
        caller = (await held_caller(c))["Channel"]
        waiting = await join(c, caller)
        assert conf_trail(c) == [
            ("BridgeCreate", ""),
            ("ConfbridgeStart", ""),
            ("BridgeEnter", caller),
            ("ConfbridgeJoin", caller),
        ]
        [rec] = emu.ledger.calls.values()
        assert rec.connected_at is None  # alone in the conference: not connected yet
        agent_join = await open_line(c)
        agent = agent_join["Channel"]
        bridge = waiting["BridgeUniqueid"]
        assert_conference_block(agent_join, bridge, "3")
        assert rec.connected_at is not None
        # an originated customer (call-back / dialer leg) joins the same conference
        await c.action(
            "Originate",
            originate(
                "Local/5550001@customers", "hotline-agent-join", "2001", "CUST_TALK=600", callerid='"ACME" <8005550100>'
            ),
        )
        customer = (
            await c.wait_for(ev("ConfbridgeJoin", Context="hotline-agent-join", Exten="2001", BridgeNumChannels="4"))
        )["Channel"]
        assert customer.startswith("Local/5550001@customers-") and customer.endswith(";1")

        n = len(c.messages)
        assert (await c.action("Hangup", [("Channel", agent)]))["Message"] == "Channel Hungup"
        await c.wait_for(ev("BridgeDestroy", BridgeUniqueid=bridge), start=n)
        # as recorded (standing-line-confbridge.ami): the line leaves the conference, then
        # its bridge; the callers are removed from the conference, it ends, they leave the
        # bridge; the line hangs up; the bridge goes
        trail = conf_trail(c, n, also=("Hangup",))
        assert trail[: trail.index(("BridgeDestroy", "")) + 1] == [
            ("ConfbridgeLeave", agent),
            ("BridgeLeave", agent),
            ("ConfbridgeLeave", caller),
            ("ConfbridgeLeave", customer),
            ("ConfbridgeEnd", ""),
            ("BridgeLeave", caller),
            ("BridgeLeave", customer),
            ("Hangup", agent),
            ("Hangup", agent[:-1] + "2"),
            ("BridgeDestroy", ""),
        ]
        end = c.events("ConfbridgeEnd")[-1]
        assert end["Conference"] == "hotline-agent-2001"
        assert_conference_block(end, bridge, "2")
        assert c.events("BridgeDestroy")[-1]["BridgeNumChannels"] == "0"
        # the removed callers' dialplan goes on: CONFBRIDGE_RESULT, then Hangup() at priority 2
        for chan in (caller, customer):
            hang = await c.wait_for(ev("Newexten", Channel=chan, Application="Hangup"), start=n)
            assert (hang["Context"], hang["Priority"]) == ("hotline-agent-join", "2")
            await c.wait_for(ev("Hangup", Channel=chan, Cause="16"), start=n)
            assert c.messages[n:] and any(
                m.event == "VarSet"
                and m["Channel"] == chan
                and m["Variable"] == "CONFBRIDGE_RESULT"
                and m["Value"] == "ENDMARKED"
                for m in c.messages[n:]
            )
        await c.wait_for(ev("Hangup", Channel=agent[:-1] + "2"), start=n)
        assert emu.pbx.conferences == {}
    finally:
        await c.close()


async def test_caller_redirected_out_of_the_conference_leaves_the_agent_in_it(emu: PbxEmulator) -> None:
    c = await connect(emu)
    try:
        agent_join = await open_line(c)
        agent, bridge = agent_join["Channel"], agent_join["BridgeUniqueid"]
        caller = (await held_caller(c))["Channel"]
        await join(c, caller)
        for context, exten, prio in (("hold", "s", "1"), ("inbound", "1000", "5")):
            n = len(c.messages)
            await c.action(
                "Redirect", [("Channel", caller), ("Context", context), ("Exten", exten), ("Priority", prio)]
            )
            await c.wait_for(ev("MusicOnHoldStart", Channel=caller), start=n)
            assert conf_trail(c, n) == [("BridgeLeave", caller), ("ConfbridgeLeave", caller)]
            assert_conference_block(c.events("ConfbridgeLeave")[-1], bridge, "2")
            # back to the agent: the same conference, still up
            n = len(c.messages)
            assert_conference_block(await join(c, caller), bridge, "3")
            assert conf_trail(c, n) == [("BridgeEnter", caller), ("ConfbridgeJoin", caller)]
        assert not c.events("ConfbridgeEnd")
        assert [m["Channel"] for m in c.events("ConfbridgeJoin")].count(agent) == 1
    finally:
        await c.close()
