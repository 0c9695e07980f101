"""Miscounts the loaded fault runs (tests/live/test_live_faults.py) found, replayed at the
seam where each arose: recorded Asterisk 20 events through the call model, then the
reports' KPI fold, as the soak reconciles them against the PBX's own ledger."""

from __future__ import annotations

import itertools

from ami_replay import TRACES

from cti.ami_codec import Message, parse_bytes
from cti.call_model import CallModel
from events import CallConnected, CallEnded, Event
from reports.kpi import batch_report

CALLER_1, CALLER_2, AGENT_1 = "1795343168.4", "1795343168.5", "1795343171.6"  # inbound-answered.ami


def _blocks(name: str) -> list[Message]:
    return [m for m in parse_bytes((TRACES / f"{name}.ami").read_bytes()) if isinstance(m, Message)]


def _row(uid: str, name: str, bridge: str) -> Message:
    return Message(
        [
            ("Event", "CoreShowChannel"),
            ("Channel", name),
            ("ChannelStateDesc", "Up"),
            ("Uniqueid", uid),
            ("Linkedid", CALLER_1),
            ("BridgeId", bridge),
            ("Application", "Dial" if bridge else "Wait"),
        ]
    )


def _agent_answered() -> int:
    """Where inbound-answered.ami's agent leg answers (its DialEnd ANSWER)."""
    return next(
        n
        for n, m in enumerate(_blocks("inbound-answered"))
        if m.get("Event") == "DialEnd" and m.get("DestChannel").startswith("Local/2001@agents")
    )


def _times_go_forward(events: list[Event]) -> bool:
    return all(b.at >= a.at for a, b in itertools.pairwise(e for e in events if getattr(e, "call_id", "")))


def test_a_call_connected_while_disconnected_and_ended_during_the_resync_counts_answered() -> None:
    """The AMI link drops while the caller waits; meanwhile an agent takes the call. The
    snapshot shows them bridged, and the hang-up the PBX sends while the snapshot is
    being read is applied after it. The resync's connect is stamped no later than that
    hang-up, so the log never ends a call before connecting it (the KPIs read the log
    in time order: they counted such a call abandoned, the PBX connected it)."""
    blocks = _blocks("inbound-answered")
    queued = next(n for n, m in enumerate(blocks) if m.get("Event") == "MusicOnHoldStart") + 1
    bridged = [n for n, m in enumerate(blocks) if m.get("Event") == "BridgeEnter"][1] + 1
    model = CallModel()
    log = [e for m in blocks[:queued] for e in model.feed(m, 0.0)]
    snapshot = [
        _row(CALLER_1, "Local/1000@inbound-00000002;1", ""),
        _row(CALLER_2, "Local/1000@inbound-00000002;2", "b1"),
        _row(AGENT_1, "Local/2001@agents-00000003;1", "b1"),
    ]
    held = blocks[bridged:]  # the end of the call, sent while the snapshot was read
    late = max(float(m.get("Timestamp")) for m in held if m.get("Timestamp")) + 5.0  # when the client got to it
    log += model.resync(snapshot, late, held=held)
    kinds = [type(e).__name__ for e in log]
    assert kinds == ["CallArrived", "CallQueued", "CallConnected", "CallEnded"]
    assert _times_go_forward(log), [(k, e.at) for k, e in zip(kinds, log, strict=True)]
    connected = next(e for e in log if isinstance(e, CallConnected))
    assert connected.at <= next(e.at for e in log if isinstance(e, CallEnded))
    kpi = batch_report(log, with_intervals=False).overall
    assert (kpi["offered"], kpi["answered"], kpi["abandoned"]) == (1, 1, 0)


def test_a_resync_with_nothing_held_is_stamped_when_it_was_read() -> None:
    model = CallModel()
    blocks = _blocks("inbound-answered")
    queued = next(n for n, m in enumerate(blocks) if m.get("Event") == "MusicOnHoldStart") + 1
    for m in blocks[:queued]:
        model.feed(m, 0.0)
    ended = model.resync([], 1795343200.0)
    assert [(type(e).__name__, e.at) for e in ended] == [
        ("CallAbandoned", 1795343200.0),
        ("CallEnded", 1795343200.0),
    ]


def test_a_call_taken_and_ended_while_the_snapshot_was_read_is_connected_not_abandoned() -> None:
    """The link drops while the caller waits; it is back, and while the snapshot is
    read an agent takes the call and the call ends: the snapshot no longer has it. The
    events the PBX sent meanwhile (held until the snapshot is in) say it was connected:
    the log says so too, and no abandon (the resync called it abandoned while
    disconnected; the PBX's ledger had it connected)."""
    blocks = _blocks("inbound-answered")
    queued = next(n for n, m in enumerate(blocks) if m.get("Event") == "MusicOnHoldStart") + 1
    model = CallModel()
    log = [e for m in blocks[:queued] for e in model.feed(m, 0.0)]
    held = blocks[queued:]  # the redirect to the agent, the talk, the hang-ups
    log += model.resync([], float(held[-1].get("Timestamp") or 0) + 5.0, held=held)
    assert [type(e).__name__ for e in log] == [
        "CallArrived",
        "CallQueued",
        "CallOffered",
        "CallConnected",
        "CallEnded",
    ]
    assert next(e for e in log if isinstance(e, CallConnected)).agent_id == "2001"
    assert _times_go_forward(log)
    assert model.call_count == 0 and model.channel_count == 0
    kpi = batch_report(log, with_intervals=False).overall
    assert (kpi["answered"], kpi["abandoned"]) == (1, 0)


def test_held_events_of_channels_still_up_follow_the_snapshot() -> None:
    """Events about a channel the snapshot lists may be later than it: applied after
    it, as before (here: the hang-up that ends the call found connected)."""
    blocks = _blocks("inbound-answered")
    queued = next(n for n, m in enumerate(blocks) if m.get("Event") == "MusicOnHoldStart") + 1
    bridged = [n for n, m in enumerate(blocks) if m.get("Event") == "BridgeEnter"][1] + 1
    model = CallModel()
    for m in blocks[:queued]:
        model.feed(m, 0.0)
    snapshot = [
        _row(CALLER_1, "Local/1000@inbound-00000002;1", ""),
        _row(CALLER_2, "Local/1000@inbound-00000002;2", "b1"),
        _row(AGENT_1, "Local/2001@agents-00000003;1", "b1"),
    ]
    events = model.resync(snapshot, 1795343200.0, held=blocks[bridged:])
    assert [type(e).__name__ for e in events] == ["CallConnected", "CallEnded"]
    assert model.call_count == 0


def test_a_call_that_arrives_while_the_snapshot_is_read_is_followed() -> None:
    """A channel the snapshot does not list because it is newer than the snapshot (no
    hang-up held) is not taken for gone: its events follow the snapshot, as before."""
    blocks = _blocks("inbound-answered")
    queued = next(n for n, m in enumerate(blocks) if m.get("Event") == "MusicOnHoldStart") + 1
    model = CallModel()
    events = model.resync([], float(blocks[queued - 1].get("Timestamp")) + 1.0, held=blocks[:queued])
    assert [type(e).__name__ for e in events] == ["CallArrived", "CallQueued"]
    assert model.call_count == 1


def test_a_call_answered_by_the_agent_as_the_link_dropped_is_connected_not_abandoned() -> None:
    """The agent's leg answers (DialEnd ANSWER) and the link drops before the bridge
    Dial makes next; the call ends while the link is down. Asterisk's Dial bridges an
    answered leg: the resync logs the call connected (when the agent answered), then
    ended, not abandoned (the PBX's ledger had it connected)."""
    blocks, answered = _blocks("inbound-answered"), _agent_answered()
    model = CallModel()
    log = [e for m in blocks[: answered + 1] for e in model.feed(m, 0.0)]
    assert not any(isinstance(e, CallConnected) for e in log)
    log += model.resync([], float(blocks[answered].get("Timestamp")) + 3.0)
    assert [type(e).__name__ for e in log] == [
        "CallArrived",
        "CallQueued",
        "CallOffered",
        "CallConnected",
        "CallEnded",
    ]
    connected = next(e for e in log if isinstance(e, CallConnected))
    assert (connected.agent_id, connected.at) == ("2001", float(blocks[answered].get("Timestamp")))
    kpi = batch_report(log, with_intervals=False).overall
    assert (kpi["answered"], kpi["abandoned"]) == (1, 0)


def test_a_call_whose_answered_leg_hung_up_before_the_bridge_is_not_connected_by_a_resync() -> None:
    """An answered leg that hangs up before any bridge connects nobody: a call that
    then vanishes while the link is down was waiting, and is abandoned as before."""
    blocks, answered = _blocks("inbound-answered"), _agent_answered()
    model = CallModel()
    log = [e for m in blocks[: answered + 1] for e in model.feed(m, 0.0)]
    agent_gone = Message(
        [
            ("Event", "Hangup"),
            ("Timestamp", str(float(blocks[answered].get("Timestamp")) + 0.1)),
            ("Channel", "Local/2001@agents-00000003;1"),
            ("Uniqueid", AGENT_1),
            ("Linkedid", CALLER_1),
            ("Cause", "16"),
        ]
    )
    log += model.feed(agent_gone, 0.0)
    log += model.resync([], float(blocks[answered].get("Timestamp")) + 3.0)
    assert [type(e).__name__ for e in log][-2:] == ["CallAbandoned", "CallEnded"]
    assert not any(isinstance(e, CallConnected) for e in log)
