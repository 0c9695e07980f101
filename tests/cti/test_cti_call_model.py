"""Call model against every recorded Asterisk 20 trace (tests/fixtures/ami-traces/*.ami)."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from ami_replay import TRACES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.ami_codec import AmiParser, MalformedBlock, Message, parse_bytes
from cti.call_model import CallModel, ModelConfig, classify, parse_skills
from events import Event, kind_of


def brief(e: Event) -> tuple[Any, ...]:
    k = kind_of(e)
    if k == "CallArrived":
        return (k, e.direction, e.caller, e.dialed)
    if k == "CallQueued":
        return (k, e.queue, dict(e.skills))
    if k == "CallOffered":
        return (k, e.agent_id, e.reason)
    if k in ("CallConnected", "CallHeld", "CallResumed", "CallNotAnswered"):
        return (k, e.agent_id)
    if k == "CallTransferred":
        return (k, e.mode, e.from_agent, e.target, e.result)
    if k == "CallAbandoned":
        return (k, e.queue)
    if k == "CallEnded":
        return (k, e.cause, e.hung_up_by)
    if k == "OriginateResulted":
        return (k, e.originate_id, e.success, e.reason)
    return (k,)


def recorded_model(name: str, actions: bytes | None = None) -> CallModel:
    """A model that knows the recording's Originates as its own, each named by its
    ActionID (Hotline registers an Originate's ActionID before sending it; another AMI
    client's OriginateResponse is no OriginateResulted)."""
    model = CallModel()
    data = actions if actions is not None else (TRACES / f"{name}.actions").read_bytes()
    for action in parse_bytes(data, expect_banner=False):
        if isinstance(action, Message) and action.get("Action") == "Originate":
            model.register_originate(action.get("ActionID"), action.get("ActionID"))
    return model


def replay(name: str, chunk: int = 4096) -> tuple[list[Event], CallModel]:
    data = (TRACES / f"{name}.ami").read_bytes()
    model, parser, out = recorded_model(name), AmiParser(), []
    for i in range(0, len(data), chunk):
        for item in parser.feed(data[i : i + chunk]):
            out.extend(model.feed_item(item, 0.0))
    return out, model


B = {"billing": 1}
S = {"support": 1}

INBOUND_ANSWERED = lambda orig, hung_up_by: [  # noqa: E731
    ("CallArrived", "inbound", "5551234", "1000"),
    ("OriginateResulted", orig, True, 4),
    ("CallQueued", "", B),
    ("CallOffered", "2001", ""),
    ("CallConnected", "2001"),
    ("CallEnded", 16, hung_up_by),
]

SIP_INBOUND_ANSWERED = [
    ("CallArrived", "inbound", "5551234", "1000"),
    ("CallQueued", "", B),
    ("CallOffered", "agent1001", ""),
    ("CallConnected", "agent1001"),
]

EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "inbound-answered": INBOUND_ANSWERED("inbound-answered-02", "agent"),
    "inbound-answered-caller-hangup": INBOUND_ANSWERED("inbound-answered-caller-hangup-02", "caller"),
    "inbound-abandoned": [
        ("CallArrived", "inbound", "5552345", "1000"),
        ("OriginateResulted", "inbound-abandoned-02", True, 4),
        ("CallQueued", "", B),
        ("CallAbandoned", ""),
        ("CallEnded", 16, "caller"),
    ],
    "outbound-answered": [
        ("OriginateResulted", "outbound-answered-02", True, 4),
        ("CallArrived", "outbound", "8005550100", "5550001"),
        ("CallQueued", "", {}),
        ("CallOffered", "2001", ""),
        ("CallConnected", "2001"),
        ("CallEnded", 16, "caller"),
    ],
    "outbound-busy": [("OriginateResulted", "outbound-busy-02", False, 5)],
    "outbound-noanswer": [("OriginateResulted", "outbound-noanswer-02", False, 3)],
    "outbound-congestion": [("OriginateResulted", "outbound-congestion-02", False, 8)],
    "blind-transfer": [
        ("CallArrived", "inbound", "5551234", "1000"),
        ("OriginateResulted", "blind-transfer-02", True, 4),
        ("CallQueued", "", B),
        ("CallOffered", "2001", ""),
        ("CallConnected", "2001"),
        ("CallTransferred", "blind", "2001", "2002", "Success"),  # a Redirect out of the bridge
        ("CallOffered", "2002", "transfer"),
        ("CallConnected", "2002"),
        ("CallEnded", 16, "agent"),
    ],
    "blind-transfer-native": [
        ("CallArrived", "inbound", "5551234", "1000"),
        ("OriginateResulted", "blind-transfer-native-02", True, 4),
        ("CallQueued", "", B),
        ("CallOffered", "2001", ""),
        ("CallConnected", "2001"),
        ("CallTransferred", "blind", "2001", "2002", "Success"),  # the BlindTransfer event
        ("CallOffered", "2002", "transfer"),
        ("CallConnected", "2002"),
        ("CallEnded", 16, "agent"),
    ],
    "attended-transfer": [
        # OriginateResponse arrives before the caller's channel is answered here
        ("OriginateResulted", "attended-transfer-02", True, 4),
        ("CallArrived", "inbound", "5551234", "1000"),
        ("CallQueued", "", B),
        ("CallOffered", "2001", ""),
        ("CallConnected", "2001"),
        ("CallHeld", "2001"),
        ("CallOffered", "2002", "consult"),
        ("CallResumed", "2001"),
        ("CallTransferred", "attended", "2001", "2002", "Success"),
        ("CallConnected", "2002"),
        ("CallEnded", 16, "agent"),
    ],
    "app-queue": [
        ("CallArrived", "inbound", "5553456", "1100"),
        ("OriginateResulted", "app-queue-05", True, 4),
        ("CallQueued", "support", S),
        ("CallOffered", "2099", ""),
        ("CallNotAnswered", "2099"),
        ("CallOffered", "2001", ""),
        ("CallConnected", "2001"),
        ("CallEnded", 16, "agent"),
        ("CallArrived", "inbound", "5554567", "1100"),
        ("OriginateResulted", "app-queue-10", True, 4),
        ("CallQueued", "support", S),
        ("CallAbandoned", "support"),
        ("CallEnded", 16, "caller"),
    ],
    "fastagi-ivr": [
        ("CallArrived", "inbound", "5555678", "1500"),
        ("OriginateResulted", "fastagi-ivr-02", True, 4),
        ("CallEnded", 16, "caller"),
    ],
    "status-responses": [
        # the AMI Hangup of the held caller; the failed Originate (Response: Error)
        # still produces a Newchannel/Hangup later: no call events for it
        ("CallArrived", "inbound", "5551234", "1000"),
        ("OriginateResulted", "status-responses-08", True, 4),
        ("CallQueued", "", B),
        ("CallAbandoned", ""),
        ("CallEnded", 16, "caller"),
    ],
    "sip-inbound-answered": [*SIP_INBOUND_ANSWERED, ("CallEnded", 16, "agent")],
    "sip-inbound-abandoned": [
        ("CallArrived", "inbound", "5552345", "1000"),
        ("CallQueued", "", B),
        ("CallAbandoned", ""),
        ("CallEnded", 16, "caller"),
    ],
    "sip-outbound-answered": [
        ("OriginateResulted", "sip-outbound-answered-02", True, 4),
        ("CallArrived", "outbound", "8005550100", "5550001"),
        ("CallQueued", "", {}),
        ("CallOffered", "agent1001", ""),
        ("CallConnected", "agent1001"),
        ("CallEnded", 16, "caller"),
    ],
    "sip-outbound-busy": [("OriginateResulted", "sip-outbound-busy-02", False, 5)],
    "sip-outbound-noanswer": [("OriginateResulted", "sip-outbound-noanswer-02", False, 3)],
    "sip-outbound-congestion": [("OriginateResulted", "sip-outbound-congestion-02", False, 8)],
    "sip-blind-transfer": [
        *SIP_INBOUND_ANSWERED,
        ("CallTransferred", "blind", "agent1001", "agent1002", "Success"),
        ("CallOffered", "agent1002", "transfer"),
        ("CallConnected", "agent1002"),
        ("CallEnded", 16, "agent"),
    ],
    "sip-attended-transfer": [
        *SIP_INBOUND_ANSWERED,
        ("CallHeld", "agent1001"),
        ("CallOffered", "agent1002", "consult"),
        ("CallResumed", "agent1001"),
        # AttendedTransfer event; agent1002 then joins via Local channel optimisation
        ("CallTransferred", "attended", "agent1001", "agent1002", "Success"),
        ("CallConnected", "agent1002"),
        ("CallEnded", 16, "agent"),
    ],
    "sip-app-queue": [
        ("CallArrived", "inbound", "5553456", "1100"),
        ("CallQueued", "support", S),
        ("CallOffered", "2099", ""),
        ("CallNotAnswered", "2099"),
        ("CallOffered", "agent1001", ""),
        ("CallConnected", "agent1001"),
        ("CallEnded", 16, "agent"),
        ("CallArrived", "inbound", "5554567", "1100"),
        ("CallQueued", "support", S),
        ("CallAbandoned", "support"),
        ("CallEnded", 16, "caller"),
    ],
    "sip-peer-status": [],  # registrations only: no call
    # ---- December 2026 additions
    "attended-transfer-complete": [
        *INBOUND_ANSWERED("attended-transfer-complete-02", "")[:-1],  # Alice talks to Bob
        ("CallHeld", "2001"),  # Atxfer: Hold + music for Alice
        ("CallOffered", "2002", "consult"),  # Carol rings (she is in the consultation bridge already)
        ("CallResumed", "2001"),  # Bob's phone hung up: the music stops, the bridges merge
        ("CallTransferred", "attended", "2001", "2002", "Success"),  # once (then the AttendedTransfer event)
        ("CallConnected", "2002"),  # Carol in Alice's bridge: she has the call
        ("CallEnded", 16, "agent"),  # Carol hangs up
    ],
    "attended-transfer-noanswer": [
        *INBOUND_ANSWERED("attended-transfer-noanswer-02", "")[:-1],
        ("CallHeld", "2001"),
        ("CallOffered", "2099", "consult"),
        # atxfernoanswertimeout: Bob back in Alice's bridge (the same connection, no new
        # CallConnected), no transfer; 2099's legs hung up (cause 16, no DialEnd)
        ("CallResumed", "2001"),
        ("CallNotAnswered", "2099"),
        ("CallEnded", 16, "agent"),  # Bob hangs up
    ],
    **{
        # the supervisor's ChanSpy (listen, whisper, barge: the same events) is no agent
        # and no call: only the result of its Originate
        f"chanspy-{mode}": [
            *INBOUND_ANSWERED(f"chanspy-{mode}-02", "agent")[:-1],
            ("OriginateResulted", f"chanspy-{mode}-04", True, 4),
            ("CallEnded", 16, "agent"),
        ]
        for mode in ("listen", "whisper", "barge")
    },
    # MixMonitor / mute / PauseMonitor / StopMixMonitor: no hold, no call event
    "mixmonitor-recording": INBOUND_ANSWERED("mixmonitor-recording-02", "agent"),
    "queue-callback-hold": [
        ("CallArrived", "inbound", "5550001", "1000"),
        ("OriginateResulted", "queue-callback-hold-02", True, 4),
        ("CallQueued", "", B),
        # she took a call-back: hotline-play's Hangup() ends her call (the ;2 half goes
        # first), she did not give up: no CallAbandoned
        ("CallEnded", 16, "system"),
        # the call-back: Hotline dials her into agent-connect (a new Linkedid): outbound
        ("OriginateResulted", "queue-callback-hold-05", True, 4),
        ("CallArrived", "outbound", "5550001", "5550001"),
        ("CallOffered", "2001", ""),
        ("CallConnected", "2001"),
        ("CallEnded", 16, "agent"),
    ],
    "standing-line-confbridge": [
        ("OriginateResulted", "standing-line-confbridge-02", True, 4),  # Bob's line: no call
        ("OriginateResulted", "standing-line-confbridge-03", True, 4),
        ("CallArrived", "inbound", "5551234", "1000"),
        ("CallQueued", "", B),
        ("CallConnected", "2001"),  # joins the line's conference: no ringing
        ("CallEnded", 16, "caller"),
        ("CallArrived", "inbound", "5552345", "1000"),
        ("OriginateResulted", "standing-line-confbridge-05", True, 4),
        ("CallQueued", "", B),
        ("CallConnected", "2001"),
        ("CallEnded", 16, "agent"),  # the line hung up: the conference ends, the PBX hangs Brian up
    ],
    "status-null-vars": [
        ("CallArrived", "inbound", "5556789", "1000"),
        ("OriginateResulted", "status-null-vars-02", True, 4),
        ("CallQueued", "", B),
        ("CallAbandoned", ""),
        ("CallEnded", 16, "caller"),
    ],
}


def test_every_trace_has_an_expectation() -> None:
    names = {p.stem for p in TRACES.glob("*.ami")}
    assert names == set(EXPECTED), names ^ set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trace_replay_emits_the_expected_domain_events(name: str) -> None:
    events, model = replay(name)
    assert [brief(e) for e in events] == EXPECTED[name]
    assert model.failures == 0 and model.malformed == 0
    # every call ended and was released
    assert (model.call_count, model.channel_count, model.bridge_count) == (0, 0, 0)


@pytest.mark.parametrize("name", ["inbound-answered", "attended-transfer", "sip-attended-transfer"])
def test_chunking_does_not_change_the_events(name: str) -> None:
    a, _ = replay(name, chunk=1)
    b, _ = replay(name, chunk=1 << 20)
    assert a == b


def test_call_ids_are_linkedids_and_times_are_asterisk_timestamps() -> None:
    events, _ = replay("inbound-answered")
    assert {e.call_id for e in events} == {"1795343168.4"}
    assert all(e.at > 1.7e9 for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_arrival_and_queue_details() -> None:
    events, _ = replay("outbound-answered")
    arrived = next(e for e in events if kind_of(e) == "CallArrived")
    assert arrived.channel == "Local/5550001@customers-00000007;1"
    queued = next(e for e in events if kind_of(e) == "CallQueued")
    assert queued.attributes["CC_CAMPAIGN"] == "spring-promo"
    events, _ = replay("sip-inbound-answered")
    arrived = events[0]
    assert (arrived.caller_name, arrived.channel) == ("Alice", "SIP/carrier-00000009")


def _blocks(name: str) -> list[Message]:
    return [m for m in parse_bytes((TRACES / f"{name}.ami").read_bytes()) if isinstance(m, Message)]


def test_originate_response_before_newchannel() -> None:
    """The README's ordering surprise: OriginateResponse ahead of its Newchannel."""
    blocks = _blocks("outbound-answered")
    i = next(n for n, m in enumerate(blocks) if m.get("Event") == "OriginateResponse")
    j = next(n for n, m in enumerate(blocks) if m.get("Event") == "Newchannel")
    moved = blocks[:j] + [blocks[i]] + [m for n, m in enumerate(blocks) if n >= j and n != i]
    model = recorded_model("outbound-answered")
    events = [e for m in moved for e in model.feed(m, 0.0)]
    assert [brief(e) for e in events] == EXPECTED["outbound-answered"]
    assert model.call_count == 0


def test_registered_originate_id_names_the_result() -> None:
    model = CallModel()
    model.register_originate("outbound-busy-02", "dialer-attempt-42")
    events = [e for m in _blocks("outbound-busy") for e in model.feed(m, 0.0)]
    assert [brief(e) for e in events] == [("OriginateResulted", "dialer-attempt-42", False, 5)]


def test_unknown_events_and_malformed_blocks_are_skipped() -> None:
    model = CallModel()
    assert model.feed(Message([("Event", "SomethingNew"), ("Uniqueid", "1.1")]), 0.0) == []
    assert model.feed(Message([]), 0.0) == []
    assert model.feed(Message([("Event", "Hangup"), ("Uniqueid", "never.seen")]), 0.0) == []
    assert model.feed(Message([("Event", "Newstate"), ("Timestamp", "garbage")]), 0.0) == []
    assert model.feed_item(MalformedBlock("bad", "xx"), 0.0) == []
    assert model.malformed == 1 and model.failures == 0


def test_memory_is_flat_over_the_load_trace() -> None:
    data = gzip.open(TRACES / "load" / "load-4cps.ami.gz").read()
    model, parser = recorded_model("load", gzip.open(TRACES / "load" / "load-4cps.actions.gz").read()), AmiParser()
    peak = 0
    counts: dict[str, int] = {}
    for i in range(0, len(data), 1 << 16):
        for item in parser.feed(data[i : i + (1 << 16)]):
            for e in model.feed_item(item, 0.0):
                counts[kind_of(e)] = counts.get(kind_of(e), 0) + 1
        peak = max(peak, model.channel_count)
    # README: 1,085 inbound + 73 answered outbound, 900 abandoned, 258 connected,
    # 1,218 originates
    assert counts["CallArrived"] == 1158 and counts["CallEnded"] == 1158
    assert counts["CallAbandoned"] == 900 and counts["CallConnected"] == 258
    assert counts["OriginateResulted"] == 1218
    assert 500 < peak < 700  # README: 572 in 15-s samples
    assert (model.call_count, model.channel_count, model.bridge_count) == (0, 0, 0)
    assert model.failures == 0


def test_classify_channel_names() -> None:
    c = ModelConfig()
    assert classify("Local/2001@agents-00000003;1", c) == ("agent", "2001")
    assert classify("Local/2001@agents-00000003;2", c) == ("agent", "2001")
    assert classify("SIP/agent1001-0000000a", c) == ("agent", "agent1001")
    assert classify("PJSIP/agent7-00000001", c) == ("agent", "agent7")
    assert classify("SIP/carrier-00000009", c) == ("customer", "")
    assert classify("Local/1000@inbound-00000002;2", c) == ("customer", "")
    assert classify("Local/1002@agent-connect-00000002;1", c) == ("helper", "")
    assert classify("garbage", c) == ("customer", "")
    assert parse_skills("billing:5, es") == {"billing": 5, "es": 1}


# ---------------------------------------------------------------- resync


def _snapshot(name: str, action_id: str) -> list[Message]:
    return [
        m for m in _blocks(name) if m.get("ActionID") == action_id and m.get("Event") in ("CoreShowChannel", "Status")
    ]


def test_resync_builds_a_waiting_call_from_core_show_channels() -> None:
    model = CallModel()
    events = model.resync(_snapshot("status-responses", "status-responses-09"), 100.0)
    assert [brief(e) for e in events] == [("CallArrived", "inbound", "5551234", "1000"), ("CallQueued", "", B)]
    view = model.call("1795343163.0")
    assert view is not None and view.queued and not view.connected
    # the same snapshot again changes nothing; an empty one ends the call
    assert model.resync(_snapshot("status-responses", "status-responses-09"), 101.0) == []
    ended = model.resync([], 102.0)
    # it was waiting when the link dropped and is gone now: counted as abandoned
    assert [brief(e) for e in ended] == [("CallAbandoned", ""), ("CallEnded", 0, "")]
    assert ended[-1].cause_text == "ended while disconnected"
    assert model.call_count == 0 and model.channel_count == 0


@pytest.mark.parametrize("reverse", [False, True], ids=["as-recorded", "reversed"])
def test_resync_reads_status_null_as_unset(reverse: bool) -> None:
    """Status reports an unset variable as `NAME=(null)` (status-null-vars.ami): the
    caller-phone half `;1` says CC_SKILL=(null), the `;2` half CC_SKILL=billing. The
    real skill is kept whichever half comes last; `(null)` is no attribute, and
    CC_CAMPAIGN=(null) does not make the call a dialer's. CC_ORIGINATE_ID (Hotline's
    own bookkeeping, not in the live stream's ChanVariables) is no attribute either."""
    status = _snapshot("status-null-vars", "status-null-vars-03")
    assert [m.get("Channel")[-1] for m in status] == ["1", "2"]
    if reverse:
        status.reverse()
    for snapshot in (status, _snapshot("status-null-vars", "status-null-vars-05") + status):
        model = CallModel()
        events = model.resync(snapshot, 100.0)
        assert [brief(e) for e in events] == [("CallArrived", "inbound", "5556789", "1000"), ("CallQueued", "", B)]
        assert events[-1].attributes == {"CC_SKILL": "billing", "CC_CALLID": "1796536606.1"}
        variables = model.channel_variables()
        assert variables["Local/1000@inbound-00000000;1"]["CC_SKILL"] == ""
        assert "(null)" not in {v for vs in variables.values() for v in vs.values()}


def test_a_spy_is_no_agent_and_no_call() -> None:
    """chanspy-*.ami: the supervisor's Local/2090@agents runs ChanSpy on Bob's leg.
    While it listens, the only call is Alice's with Bob; the spy's channels are not
    agent 2090; its OriginateResulted names no call."""
    blocks = _blocks("chanspy-listen")
    cut = next(n for n, m in enumerate(blocks) if m.get("Event") == "ChanSpyStart") + 1
    model = recorded_model("chanspy-listen")
    events = [e for m in blocks[:cut] for e in model.feed(m, 0.0)]
    spy_result = events[-1]
    assert brief(spy_result) == ("OriginateResulted", "chanspy-listen-04", True, 4) and spy_result.call_id == ""
    [call] = [c for c in model.calls() if c.arrived]
    assert (call.call_id, call.agent, call.connected) == ("1796536617.2", "2001", True)
    assert model.channel_at("agents", "2090") == ""  # the supervisor's phone is not an agent's
    # the same after a restart: a resync finds the ChanSpy by its application
    rows = [
        {"Channel": "Local/1000@inbound-00000001;2", "Uniqueid": "1796536617.3", "Context": "agent-connect"},
        {"Channel": "Local/2001@agents-00000002;1", "Uniqueid": "1796536618.4", "Context": "agents"},
        {"Channel": "Local/2090@agents-00000003;1", "Uniqueid": "1796536621.6", "Application": "ChanSpy"},
        {"Channel": "Local/2090@agents-00000003;2", "Uniqueid": "1796536621.7", "Context": "agents", "Exten": "2090"},
    ]
    for row in rows:
        row.setdefault("Linkedid", "1796536617.2" if "2090" not in row["Channel"] else "1796536621.6")
        row.update(ChannelStateDesc="Up", BridgeId="b1" if "2090" not in row["Channel"] else "")
    restarted = CallModel()
    assert [brief(e) for e in restarted.resync(_rows(*rows), 5.0)] == [
        ("CallArrived", "inbound", "", ""),
        ("CallConnected", "2001"),
    ]
    assert restarted.channel_at("agents", "2090") == ""


def test_consultation_not_answered_returns_the_call_to_the_agent() -> None:
    """attended-transfer-noanswer.ami: after atxfernoanswertimeout Bob is with Alice
    again (connected, not held, nobody else offered). A DialEnd CANCEL for the
    consulted leg (a consultation dialled through a Local helper) is the same miss,
    counted once."""
    blocks = _blocks("attended-transfer-noanswer")
    unhold = next(n for n, m in enumerate(blocks) if m.get("Event") == "Unhold") + 1
    model = recorded_model("attended-transfer-noanswer")
    for m in blocks[:unhold]:
        model.feed(m, 0.0)
    view = model.call("1796536737.38")
    assert view is not None and (view.connected, view.held, view.agent) == (True, False, "2001")
    hangup = next(n for n, m in enumerate(blocks) if m.get("Event") == "Hangup" and "2099" in m.get("Channel"))
    cancel = Message(
        [
            ("Event", "DialEnd"),
            ("DestChannel", blocks[hangup].get("Channel")[:-1] + "1"),
            ("DestUniqueid", "1796536742.42"),
            ("DialStatus", "CANCEL"),
        ]
    )
    model = recorded_model("attended-transfer-noanswer")
    events = [e for m in [*blocks[:hangup], cancel, *blocks[hangup:]] for e in model.feed(m, 0.0)]
    assert [brief(e) for e in events] == EXPECTED["attended-transfer-noanswer"]


@pytest.mark.parametrize(
    ("request_event", "hung_up_by", "abandoned"),
    [("SoftHangupRequest", "system", False), ("HangupRequest", "caller", True)],
)
def test_hung_up_in_hotline_play_by_the_dialplan_or_by_the_caller(
    request_event: str, hung_up_by: str, abandoned: bool
) -> None:
    """A waiting caller sent to hotline-play (a message before a call-back, a final
    step): its Hangup() is a SoftHangupRequest there (the system ends the call, no
    abandon); the caller's own BYE during the message is a HangupRequest (an abandon)."""
    model = CallModel()
    ev = lambda name, **kw: Message([("Event", name), *list(kw.items())])  # noqa: E731
    cust = {"Channel": "SIP/carrier-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    out = []
    for m in [
        ev("Newchannel", Context="inbound", ChannelStateDesc="Ring", Exten="1000", **cust),
        ev("Newstate", Context="inbound", ChannelStateDesc="Up", Exten="1000", CallerIDNum="555", **cust),
        ev("MusicOnHoldStart", Context="inbound", Exten="1000", **cust),
        ev("MusicOnHoldStop", Context="inbound", Exten="1000", **cust),
        ev(request_event, Context="hotline-play", Exten="s", Cause="16", **cust),
        ev("Hangup", Context="hotline-play", Exten="s", Cause="16", **cust),
    ]:
        out += model.feed(m, 1.0)
    assert [brief(e) for e in out] == [
        ("CallArrived", "inbound", "555", "1000"),
        ("CallQueued", "", {}),
        *([("CallAbandoned", "")] if abandoned else []),
        ("CallEnded", 16, hung_up_by),
    ]


def test_standing_line_leaving_its_conference_ends_the_call_by_the_agent() -> None:
    """standing-line-confbridge.ami: the line's AMI Hangup ends the conference and the
    PBX hangs Brian up. ConfBridge's event order varies: without the line's
    ConfbridgeLeave, its BridgeLeave says the same."""
    blocks = _blocks("standing-line-confbridge")
    line_leave = [
        n for n, m in enumerate(blocks) if m.get("Event") == "ConfbridgeLeave" and "2001@agents" in m.get("Channel")
    ]
    for dropped in ([], line_leave):
        model = recorded_model("standing-line-confbridge")
        events = [e for n, m in enumerate(blocks) if n not in dropped for e in model.feed(m, 0.0)]
        assert [brief(e) for e in events] == EXPECTED["standing-line-confbridge"]


def test_resync_mid_call_then_live_events_continue() -> None:
    """Live model up to the connection, a drop, a snapshot that shows the same
    bridge: no duplicate events; then the rest of the stream ends the call."""
    blocks = _blocks("inbound-answered")
    cut = [n for n, m in enumerate(blocks) if m.get("Event") == "BridgeEnter"][1] + 1
    live = CallModel()
    before = [e for m in blocks[:cut] for e in live.feed(m, 0.0)]
    assert brief(before[-1]) == ("CallConnected", "2001")
    snapshot = []
    for uid, name, bridge in [
        ("1795343168.4", "Local/1000@inbound-00000002;1", ""),
        ("1795343168.5", "Local/1000@inbound-00000002;2", "b1"),
        ("1795343171.6", "Local/2001@agents-00000003;1", "b1"),
        ("1795343171.7", "Local/2001@agents-00000003;2", ""),
    ]:
        snapshot.append(
            Message(
                [
                    ("Event", "CoreShowChannel"),
                    ("Channel", name),
                    ("ChannelStateDesc", "Up"),
                    ("Uniqueid", uid),
                    ("Linkedid", "1795343168.4"),
                    ("BridgeId", bridge),
                    ("Application", "Dial" if bridge else "Wait"),
                ]
            )
        )
    assert live.resync(snapshot, 1.0) == []
    after = [e for m in blocks[cut:] for e in live.feed(m, 0.0)]
    assert [brief(e) for e in after] == [("CallEnded", 16, "agent")]
    assert live.call_count == 0


def test_resync_catches_up_on_a_call_connected_while_disconnected() -> None:
    model = CallModel()
    blocks = _blocks("inbound-answered")
    cut = next(n for n, m in enumerate(blocks) if m.get("Event") == "MusicOnHoldStart") + 1
    for m in blocks[:cut]:
        model.feed(m, 0.0)
    snapshot = [
        Message(
            [
                ("Event", "CoreShowChannel"),
                ("Channel", "Local/1000@inbound-00000002;2"),
                ("Uniqueid", "1795343168.5"),
                ("Linkedid", "1795343168.4"),
                ("ChannelStateDesc", "Up"),
                ("BridgeId", "b9"),
            ]
        ),
        Message(
            [
                ("Event", "CoreShowChannel"),
                ("Channel", "Local/2001@agents-00000003;1"),
                ("Uniqueid", "1795343171.6"),
                ("Linkedid", "1795343168.4"),
                ("ChannelStateDesc", "Up"),
                ("BridgeId", "b9"),
            ]
        ),
    ]
    assert [brief(e) for e in model.resync(snapshot, 5.0)] == [("CallConnected", "2001")]


# ---------------------------------------------------------------- fuzz

_EVENT_NAMES = [
    "Newchannel",
    "Newstate",
    "Hangup",
    "HangupRequest",
    "DialBegin",
    "DialState",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "OriginateResponse",
    "QueueCallerJoin",
    "BlindTransfer",
    "AttendedTransfer",
    "Hold",
    "Unhold",
    "Rename",
    "NewCallerid",
    "VarSet",
    "Bogus",
]
_KEYS = [
    "Uniqueid",
    "Linkedid",
    "Channel",
    "DestUniqueid",
    "DestLinkedid",
    "DestChannel",
    "BridgeUniqueid",
    "ChannelStateDesc",
    "Context",
    "Exten",
    "Cause",
    "DialStatus",
    "Response",
    "Reason",
    "ActionID",
    "Timestamp",
    "TransfererUniqueid",
    "TransfereeUniqueid",
    "OrigTransfererUniqueid",
    "Result",
    "ChanVariable",
    "Queue",
    "Newname",
    "Extension",
]
_VALUES = st.sampled_from(
    [
        "1.1",
        "1.2",
        "1.3",
        "2.1",
        "",
        "<unknown>",
        "Up",
        "Ring",
        "Ringing",
        "16",
        "x",
        "ANSWER",
        "NOANSWER",
        "Success",
        "Failure",
        "4",
        "inbound",
        "agents",
        "dialer-answered",
        "Local/2001@agents-00000001;1",
        "Local/1000@inbound-00000001;2",
        "SIP/agent1001-00000001",
        "SIP/carrier-00000002",
        "b1",
        "CC_SKILL=billing",
        "nan",
        "1e309",
        "-1",
    ]
) | st.text(max_size=12)
_MESSAGES = st.builds(
    lambda name, pairs: Message([("Event", name), *pairs]),
    st.sampled_from(_EVENT_NAMES),
    st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES), max_size=10),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_MESSAGES, max_size=40))
def test_fuzz_model_never_raises(messages: list[Message]) -> None:
    model = CallModel()
    for m in messages:
        model.feed(m, 0.0)
    model.resync(messages[:5], 1.0)
    assert model.failures == 0  # no handler hit an internal error either


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_blocks("attended-transfer")), max_size=60), st.integers(0, 2**32))
def test_fuzz_model_with_shuffled_real_events(messages: list[Message], seed: int) -> None:
    model = CallModel()
    for m in messages:
        model.feed(m, 0.0)
    assert model.failures == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 200), max_size=10))
def test_fuzz_parser_and_model_on_garbage(data: bytes, cuts: list[int]) -> None:
    parser, model = AmiParser(), CallModel()
    pos = 0
    for c in [*cuts, len(data)]:
        for item in parser.feed(data[pos : pos + c]):
            model.feed_item(item, 0.0)
        pos += c
    assert model.failures == 0


def test_linkedid_change_moves_the_channel_and_ends_the_absorbed_call() -> None:
    """Asterisk gives bridged channels the oldest Linkedid (e.g. Bridge of a waiting
    caller with an agent's standing channel that was its own call)."""
    model = CallModel()
    ev = lambda name, **kw: Message([("Event", name)] + [(k, v) for k, v in kw.items()])  # noqa: E731
    out = []
    for m in [
        ev(
            "Newchannel",
            Channel="SIP/carrier-00000001",
            Uniqueid="1.1",
            Linkedid="1.1",
            Context="inbound",
            ChannelStateDesc="Ring",
            Exten="1000",
        ),
        ev(
            "Newstate",
            Channel="SIP/carrier-00000001",
            Uniqueid="1.1",
            Linkedid="1.1",
            Context="inbound",
            ChannelStateDesc="Up",
            Exten="1000",
            CallerIDNum="555",
        ),
        ev(
            "Newchannel",
            Channel="SIP/agent7-00000002",
            Uniqueid="2.1",
            Linkedid="2.1",
            Context="from-agents",
            ChannelStateDesc="Up",
            Exten="s",
        ),
        ev("BridgeEnter", Channel="SIP/carrier-00000001", Uniqueid="1.1", Linkedid="1.1", BridgeUniqueid="b"),
        ev("BridgeEnter", Channel="SIP/agent7-00000002", Uniqueid="2.1", Linkedid="1.1", BridgeUniqueid="b"),
        ev("Hangup", Channel="SIP/agent7-00000002", Uniqueid="2.1", Linkedid="1.1", Cause="16"),
        ev("Hangup", Channel="SIP/carrier-00000001", Uniqueid="1.1", Linkedid="1.1", Cause="16"),
    ]:
        out += model.feed(m, 5.0)
    assert [brief(e) for e in out] == [
        ("CallArrived", "inbound", "555", "1000"),
        ("CallConnected", "agent7"),
        ("CallEnded", 16, "agent"),
    ]
    assert model.call_count == 0 and model.channel_count == 0


def test_blind_transfer_into_a_queue_waits_instead_of_holding() -> None:
    """After a transfer to app_queue the queue's music means waiting, not hold."""
    model = CallModel()
    ev = lambda name, **kw: Message([("Event", name), *list(kw.items())])  # noqa: E731
    cust = {"Channel": "SIP/carrier-00000001", "Uniqueid": "1.1", "Linkedid": "1.1"}
    agent = {"Channel": "SIP/agent1-00000002", "Uniqueid": "1.2", "Linkedid": "1.1"}
    out = []
    for m in [
        ev("Newchannel", Context="inbound", ChannelStateDesc="Ring", Exten="1000", **cust),
        ev("Newstate", Context="inbound", ChannelStateDesc="Up", Exten="1000", CallerIDNum="555", **cust),
        ev("Newchannel", Context="from-agents", ChannelStateDesc="Down", Exten="s", **agent),
        ev("DialBegin", DestChannel=agent["Channel"], DestUniqueid="1.2", DestLinkedid="1.1", **cust),
        ev("BridgeEnter", BridgeUniqueid="b", **agent),
        ev("BridgeEnter", BridgeUniqueid="b", **cust),
        ev("BlindTransfer", Result="Success", TransfererUniqueid="1.2", TransfereeUniqueid="1.1", Extension="1100"),
        ev("BridgeLeave", BridgeUniqueid="b", **cust),
        ev("Hangup", Cause="16", **agent),
        ev("QueueCallerJoin", Queue="support", Position="1", **cust),
        ev("MusicOnHoldStart", **cust),
        ev("Hangup", Cause="16", **cust),
    ]:
        out += model.feed(m, 1.0)
    assert [brief(e) for e in out] == [
        ("CallArrived", "inbound", "555", "1000"),
        ("CallOffered", "agent1", ""),
        ("CallConnected", "agent1"),
        ("CallTransferred", "blind", "agent1", "1100", "Success"),
        ("CallQueued", "support", {}),
        ("CallEnded", 16, "caller"),
    ]


def test_standing_agent_line_keeps_the_call_identity() -> None:
    """An agent's standing channel (older Linkedid) bridged with a new caller: Asterisk
    relabels the caller with the agent's Linkedid; the call keeps its id and ends when
    the caller hangs up, while the agent's line stays up."""
    model = CallModel()
    ev = lambda name, **kw: Message([("Event", name), *list(kw.items())])  # noqa: E731
    agent = {"Channel": "SIP/agent5-00000001", "Uniqueid": "1.1"}
    cust = {"Channel": "SIP/carrier-00000002", "Uniqueid": "2.1"}
    out = []
    for m in [
        ev("Newchannel", Linkedid="1.1", Context="from-agents", ChannelStateDesc="Up", Exten="s", **agent),
        ev("Newchannel", Linkedid="2.1", Context="inbound", ChannelStateDesc="Ring", Exten="1000", **cust),
        ev("Newstate", Linkedid="2.1", Context="inbound", ChannelStateDesc="Up", Exten="1000", CallerIDNum="9", **cust),
        ev("MusicOnHoldStart", Linkedid="2.1", Context="inbound", **cust),
        ev("MusicOnHoldStop", Linkedid="2.1", Context="inbound", **cust),
        ev("BridgeEnter", Linkedid="1.1", BridgeUniqueid="b", **agent),
        ev("BridgeEnter", Linkedid="1.1", BridgeUniqueid="b", **cust),
        ev("BridgeLeave", Linkedid="1.1", BridgeUniqueid="b", **cust),
        ev("Hangup", Linkedid="1.1", Cause="16", **cust),
    ]:
        out += model.feed(m, 1.0)
    assert [brief(e) for e in out] == [
        ("CallArrived", "inbound", "9", "1000"),
        ("CallQueued", "", {}),
        ("CallConnected", "agent5"),
        ("CallEnded", 16, "caller"),
    ]
    assert {e.call_id for e in out} == {"2.1"}
    assert model.channel_count == 1  # the agent's line is still up
    assert model.feed(ev("Hangup", Linkedid="1.1", Cause="16", **agent), 2.0) == []
    assert (model.call_count, model.channel_count) == (0, 0)


def test_caller_joining_an_agents_standing_line_conference_is_connected() -> None:
    """ConfBridge is a base bridge: Asterisk keeps each channel's Linkedid. A caller
    redirected into the agent's line conference is connected to the agent; leaving it
    (hold) is not the end of the call; the line outlives each call and is no call."""
    model = CallModel()
    ev = lambda name, **kw: Message([("Event", name), *list(kw.items())])  # noqa: E731
    conf = {
        "BridgeUniqueid": "cb1",
        "BridgeType": "base",
        "BridgeTechnology": "softmix",
        "BridgeCreator": "ConfBridge",
        "BridgeName": "hotline-agent-2001",
    }
    line = {"Channel": "Local/2001@agents-00000001;1", "Uniqueid": "1.1", "Linkedid": "1.1"}
    phone = {"Channel": "Local/2001@agents-00000001;2", "Uniqueid": "1.2", "Linkedid": "1.1"}
    cust = {"Channel": "Local/1000@inbound-00000002;2", "Uniqueid": "2.2", "Linkedid": "2.1"}
    out = []
    for m in [
        ev("Newchannel", Context="hotline-agent-line", ChannelStateDesc="Down", Exten="2001", **line),
        ev("Newchannel", Context="agents", ChannelStateDesc="Ring", Exten="2001", **phone),
        ev(
            "OriginateResponse",
            Response="Success",
            Context="hotline-agent-line",
            Exten="2001",
            Reason="4",
            ActionID="line-1",
            **line,
        ),
        ev("BridgeCreate", **conf),
        ev("BridgeEnter", **conf, Context="hotline-agent-line", Exten="2001", **line),
        ev("ConfbridgeJoin", Conference="hotline-agent-2001", **conf, **line, Admin="No", Muted="No"),
        ev("Newchannel", Context="inbound", ChannelStateDesc="Ring", Exten="1000", **cust),
        ev("Newstate", Context="inbound", ChannelStateDesc="Up", Exten="1000", CallerIDNum="555", **cust),
        ev("MusicOnHoldStart", Context="inbound", **cust),
        ev("MusicOnHoldStop", Context="inbound", **cust),
        ev("BridgeEnter", **conf, Context="hotline-agent-join", Exten="2001", **cust),
        ev("ConfbridgeJoin", Conference="hotline-agent-2001", **conf, **cust, Admin="No", Muted="No"),
        ev("BridgeLeave", **conf, **cust),  # redirected to hold
        ev("MusicOnHoldStart", Context="inbound", **cust),
        ev("MusicOnHoldStop", Context="inbound", **cust),
        ev("BridgeEnter", **conf, Context="hotline-agent-join", Exten="2001", **cust),  # resumed
        ev("BridgeLeave", **conf, **cust),
        ev("ConfbridgeLeave", Conference="hotline-agent-2001", **conf, **cust, Admin="No"),
        ev("Hangup", Cause="16", **cust),
    ]:
        out += model.feed(m, 1.0)
    assert [brief(e) for e in out if kind_of(e) != "OriginateResulted"] == [
        ("CallArrived", "inbound", "555", "1000"),
        ("CallQueued", "", {}),
        ("CallConnected", "2001"),
        ("CallHeld", "2001"),
        ("CallResumed", "2001"),
        ("CallConnected", "2001"),  # as after agent-connect
        ("CallEnded", 16, "caller"),
    ]
    assert {e.call_id for e in out if kind_of(e) != "OriginateResulted"} == {"2.1"}
    assert model.channel_at("hotline-agent-line", "2001") == line["Channel"]  # the line is still up
    assert model.call_count == 1 and model.call("1.1") is not None and not model.call("1.1").arrived


def _rows(*rows: dict[str, str]) -> list[Message]:
    text = "".join(
        "".join(f"{k}: {v}\r\n" for k, v in {"Event": "CoreShowChannel", **r}.items()) + "\r\n" for r in rows
    )
    return [m for m in parse_bytes(text.encode(), expect_banner=False) if isinstance(m, Message)]


def test_resync_knows_how_long_an_agent_leg_has_been_ringing() -> None:
    """After a restart the center re-times a ring from when the agent's leg began:
    CoreShowChannel's Duration (HH:MM:SS) and Status's Seconds give each channel's age."""
    model = CallModel()
    snapshot = _rows(
        {
            "Channel": "Local/1000@inbound-00000001;2",
            "Uniqueid": "10.1",
            "Linkedid": "10.0",
            "Context": "agent-connect",
            "Exten": "2001",
            "ChannelStateDesc": "Up",
            "Application": "Dial",
            "Duration": "00:00:31",
        },
        {
            "Channel": "Local/2001@agents-00000002;1",
            "Uniqueid": "10.2",
            "Linkedid": "10.0",
            "Context": "agents",
            "Exten": "2001",
            "ChannelStateDesc": "Ringing",
            "Application": "AppDial",
            "Duration": "00:00:07",
        },
    )
    events = model.resync(snapshot, 100.0)
    assert ("CallOffered", "2001") in [(kind_of(e), getattr(e, "agent_id", "")) for e in events]
    assert model.ringing_since("10.0", "agent-connect") == 93.0
    assert model.ringing_since("10.0", "some-queue") is None  # not our Dial: the PBX times its own ringing
    assert model.ringing_since("nope", "agent-connect") is None
    status = _rows(
        {
            "Event": "Status",
            "Channel": "Local/2001@agents-00000002;1",
            "Uniqueid": "10.2",
            "Linkedid": "10.0",
            "ChannelStateDesc": "Ringing",
            "Seconds": "9",
        },
        {
            "Event": "Status",
            "Channel": "Local/1000@inbound-00000001;2",
            "Uniqueid": "10.1",
            "Linkedid": "10.0",
            "Context": "agent-connect",
            "ChannelStateDesc": "Up",
            "Seconds": "bad",
        },
    )
    model.resync(status, 110.0)
    assert (
        model.ringing_since("10.0", "agent-connect") == 101.0
    )  # Status Seconds; the customer's unreadable age is ignored
