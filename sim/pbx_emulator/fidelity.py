"""Compare two AMI streams by what matters: per channel, the significant events.

Channel names differ between runs only by their instance counters
(`Local/1000@inbound-00000006;2`, `SIP/carrier-0000000c`), so names are made
canonical by numbering the instances in order of first appearance
(`Local/1000@inbound-#0;2`). Each event goes into the sequence of every channel it
names, tagged with the role (`Channel`, `DestChannel`, `TransfereeChannel`, ...).
Queue member events (no channel) go into per-queue-member sequences. A ConfBridge
conference's events (the bridge's and ConfBridge's own, and its users' BRIDGEPEER,
which names the silent CBAnn announcer) go, in order and with BridgeNumChannels, into
one `conference:<name>` sequence: its event order is checked across channels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cti.ami_codec import Message, messages

_INSTANCE_RE = re.compile(r"^(?P<tech>[A-Za-z]+/[^;]*?)-(?P<inst>[0-9a-f]{8})(?P<half>;[12])?$")

# event name -> the headers that, with the event name, make the significant tuple
SIGNIFICANT: dict[str, tuple[str, ...]] = {
    "Newchannel": (),
    "Newstate": ("ChannelStateDesc",),
    "DialBegin": (),
    "DialEnd": ("DialStatus",),
    "BridgeEnter": (),
    "BridgeLeave": (),
    "MusicOnHoldStart": (),
    "MusicOnHoldStop": (),
    "Hangup": ("Cause",),
    "OriginateResponse": ("Response", "Reason"),
    "BlindTransfer": ("Result",),
    "AttendedTransfer": ("Result",),
    # app_queue
    "QueueCallerJoin": ("Queue", "Position"),
    "QueueCallerLeave": ("Queue",),
    "QueueCallerAbandon": ("Queue", "Position", "OriginalPosition"),
    "AgentCalled": ("Queue", "Interface"),
    "AgentRingNoAnswer": ("Queue", "Interface"),
    "AgentConnect": ("Queue", "Interface"),
    "AgentComplete": ("Queue", "Interface", "Reason"),
    # app_mixmonitor
    "MixMonitorStart": (),
    "MixMonitorMute": ("Direction", "State"),
    "MixMonitorStop": (),
    # app_chanspy (the options are not reported: the three modes look alike)
    "ChanSpyStart": (),
    "ChanSpyStop": (),
    # app_confbridge
    "ConfbridgeJoin": ("Conference",),
    "ConfbridgeLeave": ("Conference",),
}
CONFERENCE_EVENTS = frozenset(
    {"BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy"}
    | {"ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd"}
)
QUEUE_MEMBER_EVENTS: dict[str, tuple[str, ...]] = {
    "QueueMemberAdded": ("Paused",),
    "QueueMemberPause": ("Paused", "PausedReason"),
    "QueueMemberRemoved": (),
}
CHANNEL_ROLES = (
    "Channel",
    "DestChannel",
    "TransfererChannel",
    "TransfereeChannel",
    "OrigTransfererChannel",
    "SecondTransfererChannel",
    "TransferTargetChannel",
    "SpyerChannel",
    "SpyeeChannel",
)


class ChannelNamer:
    """Maps real channel names to canonical ones by order of first appearance."""

    def __init__(self) -> None:
        self._instances: dict[str, int] = {}

    def __call__(self, name: str) -> str:
        m = _INSTANCE_RE.match(name)
        if not m:
            return name  # a requested string (`Local/5550003@customers`) or unknown
        inst = m.group("inst")
        n = self._instances.setdefault(m.group("tech") + "-" + inst, len(self._instances))
        return f"{m.group('tech')}-#{n}{m.group('half') or ''}"


def significant_events(stream: Iterable[Message] | bytes) -> dict[str, list[tuple[str, ...]]]:
    """Per canonical channel (or `queue:<name>:<interface>`), the significant events."""
    msgs = messages(stream) if isinstance(stream, (bytes, bytearray)) else stream
    namer = ChannelNamer()
    conferences = _Conferences(namer)
    out: dict[str, list[tuple[str, ...]]] = {}
    for msg in msgs:
        ev = msg.event
        if not ev:
            continue
        # name every channel in order of appearance, significant or not, so the
        # numbering follows the stream and not our selection of events
        for key, value in msg.headers:
            if key.endswith("Channel") and value:
                namer(value)
        conference = conferences.entry(msg)
        if conference is not None:
            out.setdefault(f"conference:{conference[0]}", []).append(conference[1])
        if ev in SIGNIFICANT:
            fields = tuple(f"{h}={msg.get(h)}" for h in SIGNIFICANT[ev])
            for role in CHANNEL_ROLES:
                chan = msg.get(role)
                if chan:
                    key = namer(chan)
                    if ev == "OriginateResponse":
                        # Asterisk sends it from another thread: its place relative to
                        # the channel's own events varies run to run (see README)
                        key += " (originate)"
                    out.setdefault(key, []).append((ev, role, *fields))
        elif ev in QUEUE_MEMBER_EVENTS:
            key = f"queue:{msg.get('Queue')}:{msg.get('Interface')}"
            fields = tuple(f"{h}={msg.get(h)}" for h in QUEUE_MEMBER_EVENTS[ev])
            out.setdefault(key, []).append((ev, *fields))
    return out


class _Conferences:
    """Follows which conference each channel is in (from the bridge events) to file
    a conference's events, and its users' BRIDGEPEER, under the conference."""

    def __init__(self, namer: ChannelNamer) -> None:
        self.namer = namer
        self.where: dict[str, str] = {}  # canonical channel -> conference name

    def entry(self, msg: Message) -> tuple[str, tuple[str, ...]] | None:
        ev = msg.event
        if ev in CONFERENCE_EVENTS and msg.get("BridgeCreator") == "ConfBridge":
            name = msg.get("BridgeName")
            chan = self.namer(msg.get("Channel")) if msg.get("Channel") else ""
            if ev == "BridgeEnter":
                self.where[chan] = name
            return name, (ev, chan, f"count={msg.get('BridgeNumChannels')}")
        if ev == "VarSet" and msg.get("Variable") == "BRIDGEPEER":
            chan = self.namer(msg.get("Channel"))
            conference = self.where.get(chan)
            if conference is None:
                return None
            peers = ",".join(self.namer(p) for p in msg.get("Value").split(",") if p)
            if not peers:
                del self.where[chan]  # cleared as it leaves
            return conference, ("BRIDGEPEER", chan, peers)
        return None


def diff(expected: dict[str, list[tuple[str, ...]]], actual: dict[str, list[tuple[str, ...]]]) -> list[str]:
    """Human-readable differences (empty when the streams agree)."""
    problems: list[str] = []
    for chan in sorted(set(expected) | set(actual)):
        e, a = expected.get(chan, []), actual.get(chan, [])
        if e == a:
            continue
        for i in range(max(len(e), len(a))):
            ei = e[i] if i < len(e) else None
            ai = a[i] if i < len(a) else None
            if ei != ai:
                problems.append(f"{chan}[{i}]: expected {ei}, got {ai}")
                break
        problems.append(f"{chan}: expected {e}\n{' ' * len(chan)}  got      {a}")
    return problems
