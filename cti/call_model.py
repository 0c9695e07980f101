"""Call model: folds parsed AMI messages into channels and calls, emits domain events.

Pure and synchronous (no asyncio, no panoramisk, no clock): `feed(message, now)`
returns the domain events (`events/`) the message causes. The AMI adapter
(`cti/ami.py`) feeds it live; tests replay the recorded traces in
`tests/fixtures/ami-traces/` through it.

How Asterisk 20 events map onto calls (see the traces' README):

- A *call* is a Linkedid group: every channel created for the call (both Local
  halves `;1`/`;2`, agent legs, transfer targets) carries the Linkedid of the first
  channel. `call_id` is that Linkedid. Channels are keyed by Uniqueid, never by name
  (Local channels optimise themselves away and SIP channels get renamed).
- Each channel has a *role*, read from its name and the dialplan conventions in
  `ModelConfig`: an **agent** leg (`Local/2001@agents-...;1` -> agent "2001",
  `SIP/agent1001-...` -> agent "agent1001"), a **helper** (`Local/...@agent-connect`,
  the Local channel an attended transfer dials through) or the **customer** side
  (everything else: the inbound trunk leg, both halves of `Local/1000@inbound`, the
  answered dialer leg...). A **spy** (a supervisor's `ChanSpy`, both Local halves) is
  none of these: it is no agent and no call (it never enters a bridge either).
- Connection is decided by bridges: a customer channel and an agent leg in the same
  bridge (BridgeEnter) = connected. Ringing is DialBegin/DialState towards an agent
  leg; ring-no-answer is DialEnd NOANSWER/BUSY/CONGESTION/CHANUNAVAIL.
- Attended transfer (Atxfer): the agent's Hold, then the consulted agent rings
  (CallOffered reason "consult"). Completed: the target joins the caller's bridge
  (CallTransferred once, CallConnected to the target). Not answered (no
  AttendedTransfer event; the consulted leg is hung up with cause 16, often without a
  DialEnd): the agent is back with the caller (CallResumed, not a new connection) and
  the consulted agent gets CallNotAnswered.
- An agent's standing line is a ConfBridge (`hotline-agent-line`) that callers join:
  when the line leaves it, the caller still in it is hung up by the PBX: the call was
  ended by the agent's side.
- Waiting: MusicOnHoldStart on a customer channel (or app_queue's QueueCallerJoin)
  before any agent connected = queued; after an agent connected = held.
- Ordering surprises: OriginateResponse may come before the Newchannel of its
  channel (the call record is created from the OriginateResponse and the channel
  attaches later), after the channel is already gone, or for an originate that
  failed (`Uniqueid: <unknown>`: only OriginateResulted, no call events). Events for
  channels the model never saw are ignored, never raised on.
- A call ends (CallEnded, memory released) when the last channel of its customer
  side has hung up (agent legs still up are released at their own Hangup; a call
  that never arrived, e.g. a failed originate, is released with its last channel).
  The cause is the first hangup cause of the customer side; `hung_up_by` is "system"
  when our dialplan hung the customer up in one of `system_contexts` (`hotline-play`
  after a call-back offer or a final message: not an abandon). A call keeps its
  call_id even if Asterisk relabels its channels with an older Linkedid (bridging
  with an agent's standing line); channels of calls that never arrived follow it.
- A customer originated straight into agent-connect (a call-back, a preview call)
  is an outbound call that arrives with its OriginateResponse, as the dialer's do.
- Channel variables: `Status` reports an unset one as `NAME=(null)`, events and
  CoreShowChannel as `NAME=`: both mean unset ("") here. A resync reads a call's data
  from the channel that carries it (`_carrier`: the `;2` half of a Local caller, a SIP
  caller's own channel), whatever the order of the list, so a call first seen by a
  resync is queued with the skills, queue and attributes the live stream would give.
  `CC_ORIGINATE_ID` is Hotline's bookkeeping, no call attribute.
- Other AMI clients: every session sees every client's `OriginateResponse`; only an
  ActionID registered with `register_originate` gives an OriginateResulted.
- ConfBridge: its events and the bridge's come in either order (ConfbridgeLeave
  before or after BridgeLeave, even after the channel's Hangup); connection is decided
  by the bridge, the end of a standing line by whichever comes first. Its announcer
  (`CBAnn/...`) is an internal channel, never a party.
- `Timestamp`s are not monotonic (an event is stamped when Asterisk builds it, before
  events sent ahead of it): each domain event carries its own message's time.
- A call gone when a resync comes (it ended while the link was down) ends with
  cause 0; it was abandoned if it was waiting, but connected first if an agent's leg
  had answered it (DialEnd ANSWER: Dial bridges them next; the bridge was lost).
- Unknown events are ignored (one dict lookup). A handler error is logged and the
  message skipped: nothing here raises on bad input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from cti.ami_codec import Banner, MalformedBlock, Message, variable_value
from events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallHeld,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallResumed,
    CallTransferred,
    Event,
    OriginateResulted,
)

log = structlog.get_logger()

CUSTOMER, AGENT, HELPER, SPY = "customer", "agent", "helper", "spy"
SPY_APPLICATIONS = frozenset({"ChanSpy", "ExtenSpy"})
NOT_ANSWERED = frozenset({"NOANSWER", "BUSY", "CONGESTION", "CHANUNAVAIL"})
HOLD_APPLICATIONS = frozenset({"MusicOnHold", "Queue"})
UNKNOWN = "<unknown>"
MAX_PENDING_ORIGINATES = 10_000


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The dialplan conventions the model relies on (defaults: asterisk-config/)."""

    inbound_contexts: frozenset[str] = frozenset({"inbound"})
    outbound_contexts: frozenset[str] = frozenset({"dialer-answered"})
    agent_contexts: frozenset[str] = frozenset({"agents"})
    helper_contexts: frozenset[str] = frozenset({"agent-connect"})
    trunk_peers: frozenset[str] = frozenset({"carrier"})
    agent_techs: frozenset[str] = frozenset({"SIP", "PJSIP", "IAX2"})
    # where our dialplan itself hangs the customer up (hotline-play: Playback, Hangup())
    system_contexts: frozenset[str] = frozenset({"hotline-play"})
    skill_variable: str = "CC_SKILL"
    campaign_variable: str = "CC_CAMPAIGN"
    # Hotline's own bookkeeping on a channel (read back by Status), never call data
    internal_variables: frozenset[str] = frozenset({"CC_ORIGINATE_ID"})
    # channels Asterisk makes for itself inside a bridge: ConfBridge's announcer and
    # recorder (no AMI events of their own, but named in BRIDGEPEER; never a party)
    internal_techs: frozenset[str] = frozenset({"CBAnn", "CBRec", "Announcer", "Recorder"})


def classify(name: str, config: ModelConfig) -> tuple[str, str]:
    """(role, agent_id) of a channel name.

    `Local/2001@agents-00000003;1` -> ("agent", "2001"); `SIP/agent1001-0000000a` ->
    ("agent", "agent1001"); `SIP/carrier-00000009` -> ("customer", "");
    `Local/1002@agent-connect-00000002;1` -> ("helper", ""); ConfBridge's announcer
    `CBAnn/hotline-agent-2001-0000000d;2` -> ("helper", "").
    """
    tech, _, rest = name.partition("/")
    if not rest:
        return CUSTOMER, ""
    if tech in config.internal_techs:
        return HELPER, ""
    if tech == "Local":
        exten, _, where = rest.partition("@")
        context = where.rsplit(";", 1)[0].rsplit("-", 1)[0] if where else ""
        if context in config.agent_contexts:
            return AGENT, exten
        if context in config.helper_contexts:
            return HELPER, ""
        return CUSTOMER, ""
    if tech in config.agent_techs:
        # SIP/<peer>-<8 hex> for a channel; SIP/<peer>[/<number>] for a dial string
        peer = rest.split("/", 1)[0]
        base, dash, _suffix = peer.rpartition("-")
        if dash and base:
            peer = base
        if peer in config.trunk_peers:
            return CUSTOMER, ""
        return AGENT, peer
    return CUSTOMER, ""


def parse_skills(value: str) -> dict[str, int]:
    """`billing` -> {"billing": 1}; `billing:5,es:3` -> {"billing": 5, "es": 3}."""
    skills: dict[str, int] = {}
    for part in value.split(","):
        name, _, level = part.strip().partition(":")
        if not name:
            continue
        try:
            skills[name] = int(level) if level else 1
        except ValueError:
            skills[name] = 1
    return skills


def _age_s(text: str) -> float | None:
    """A channel's age as Asterisk reports it: CoreShowChannel `Duration` (HH:MM:SS),
    Status `Seconds`. None when absent or unreadable."""
    try:
        if ":" in text:
            h, m, sec = text.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        return float(text) if text else None
    except ValueError:
        return None


class _Channel:
    __slots__ = (
        "agent_id",
        "appdata",
        "application",
        "bridge",
        "call",
        "caller_name",
        "caller_num",
        "context",
        "created_at",
        "exten",
        "name",
        "role",
        "state",
        "uid",
        "variables",
    )

    def __init__(self, uid: str, name: str, role: str, agent_id: str, call: _Call, created_at: float = 0.0) -> None:
        self.uid = uid
        self.created_at = created_at  # first seen (a resync: now minus its reported age)
        self.name = name
        self.role = role
        self.agent_id = agent_id
        self.state = ""
        self.context = ""
        self.exten = ""
        self.caller_num = ""
        self.caller_name = ""
        self.bridge = ""
        self.call = call
        self.variables: dict[str, str] = {}
        self.application = ""
        self.appdata = ""  # the application's arguments (Status Data, CoreShowChannel ApplicationData)


class _Call:
    __slots__ = (
        "abandoned",
        "agent",
        "answered",
        "arrived",
        "attributes",
        "call_id",
        "channels",
        "connected",
        "consult_agent",
        "direction",
        "end_cause",
        "end_cause_text",
        "hangup_party",
        "held",
        "offered",
        "queue",
        "queued",
        "skills",
        "transfer_announced",
    )

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.channels: set[str] = set()
        self.arrived = False
        self.direction = ""
        self.queued = False
        self.queue = ""
        self.held = False
        self.agent = ""  # the agent connected now, or last connected
        self.connected = False
        self.offered: dict[str, str] = {}  # ringing agent leg uniqueid -> agent id
        self.consult_agent = ""
        self.transfer_announced = False
        self.hangup_party = ""
        self.end_cause: int | None = None
        self.end_cause_text = ""
        self.abandoned = False
        self.answered: tuple[str, float] | None = None  # (agent, when) answered, not yet bridged
        self.attributes: dict[str, str] = {}
        self.skills: dict[str, int] = {}


@dataclass(frozen=True, slots=True)
class CallView:
    """Read-only picture of a live call (for resync checks, wallboards, tests)."""

    call_id: str
    direction: str
    arrived: bool
    queued: bool
    held: bool
    connected: bool
    agent: str
    queue: str
    channels: tuple[str, ...]
    attributes: dict[str, str] = field(default_factory=dict)


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _stamp(text: str | None, default: float) -> float:
    """A message's `Timestamp` (Asterisk's clock), or `default` when absent or unreadable."""
    if not text:
        return default
    try:
        at = float(text)
    except ValueError:
        return default
    return at if math.isfinite(at) else default


def _names_any(msg: Message, uids: set[str]) -> bool:
    """Is this event about one of these channels (as itself or a Dial's destination)?"""
    return msg.get("Uniqueid") in uids or msg.get("DestUniqueid") in uids


def _caller(value: str) -> str:
    return "" if value == UNKNOWN else value


def _local_exten(name: str) -> str:
    """`Local/5550001@customers-00000017;1` -> "5550001"; "" for other channels."""
    tech, _, rest = name.partition("/")
    return rest.partition("@")[0] if tech == "Local" and "@" in rest else ""


class CallModel:
    """Feed AMI messages in stream order; get domain events back."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config or ModelConfig()
        self._channels: dict[str, _Channel] = {}
        self._calls: dict[str, _Call] = {}
        self._bridges: dict[str, set[str]] = {}
        self._originates: dict[str, str] = {}  # ActionID -> originate id
        self.malformed = 0
        self.failures = 0
        self._now = 0.0
        self._merged: list[Event] = []  # CallEnded of calls absorbed by a Linkedid change
        self._handlers: dict[str, Callable[[dict[str, str], Message, float, list[Event]], None]] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "NewCallerid": self._on_newcallerid,
            "Rename": self._on_rename,
            "OriginateResponse": self._on_originate_response,
            "MusicOnHoldStart": self._on_moh_start,
            "MusicOnHoldStop": self._on_moh_stop,
            "Hold": self._on_hold,
            "Unhold": self._on_unhold,
            "QueueCallerJoin": self._on_queue_join,
            "DialBegin": self._on_dial,
            "DialState": self._on_dial,
            "DialEnd": self._on_dial_end,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "ConfbridgeLeave": self._on_confbridge_leave,
            "ChanSpyStart": self._on_chanspy_start,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "SoftHangupRequest": self._on_hangup_request,
            "HangupRequest": self._on_hangup_request,
            "Hangup": self._on_hangup,
        }

    # ------------------------------------------------------------ public API

    def handles(self, event_name: str) -> bool:
        """Does an AMI event of this name mean anything to the model?"""
        return event_name in self._handlers

    def event_names(self) -> frozenset[str]:
        """The AMI events the model reads (the AMI session asks for these only)."""
        return frozenset(self._handlers)

    def feed(self, message: Message, now: float) -> list[Event]:
        """Events caused by one AMI message. `now` is used when the message has no
        `Timestamp` header (manager.conf timestampevents=no)."""
        headers = message.headers
        if not headers:
            return []
        name = headers[0][1] if headers[0][0] == "Event" else message.get("Event")
        handler = self._handlers.get(name)
        if handler is None:
            return []
        h = dict(headers)
        at = _stamp(h.get("Timestamp"), now)
        out: list[Event] = []
        self._now = at
        try:
            handler(h, message, at, out)
        except Exception:  # one bad message must not stop the stream
            self.failures += 1
            log.exception("ami_event_skipped", ami_event=name, uniqueid=h.get("Uniqueid", ""))
        if self._merged:
            out.extend(self._merged)
            self._merged.clear()
        return out

    def feed_item(self, item: Message | MalformedBlock | Banner, now: float) -> list[Event]:
        """Like `feed`, for the parser's output (malformed blocks are logged and skipped)."""
        if isinstance(item, Message):
            return self.feed(item, now)
        if isinstance(item, MalformedBlock):
            self.malformed += 1
            log.warning("ami_block_malformed", reason=item.reason, raw=item.raw[:200])
        return []

    def register_originate(self, action_id: str, originate_id: str) -> None:
        """Tell the model which originate id an Originate's ActionID stands for, so the
        OriginateResponse (which carries only the ActionID) names it. An unregistered
        ActionID is another AMI client's originate: no OriginateResulted for it."""
        if len(self._originates) >= MAX_PENDING_ORIGINATES:
            self._originates.pop(next(iter(self._originates)))
        self._originates[action_id] = originate_id

    @property
    def call_count(self) -> int:
        return len(self._calls)

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    @property
    def bridge_count(self) -> int:
        return len(self._bridges)

    def calls(self) -> list[CallView]:
        return [self._view(c) for c in self._calls.values()]

    def call(self, call_id: str) -> CallView | None:
        c = self._calls.get(call_id)
        return self._view(c) if c else None

    def channel_at(self, context: str, exten: str, role: str = AGENT) -> str:
        """The name of a live channel of `role` running in context/exten ("" if none):
        e.g. an agent's standing line, found again after a restart (Status reports
        where each channel is in the dialplan)."""
        for ch in self._channels.values():
            if ch.role == role and ch.context == context and ch.exten == exten:
                return ch.name
        return ""

    def ringing_since(self, call_id: str, context: str) -> float | None:
        """When the agent leg now ringing for the call began, if the call's customer
        channel is in `context` (e.g. agent-connect's Dial; not app_queue's own ringing),
        else None. After a restart this says how much of the dialplan's Dial timeout is
        left (Status / CoreShowChannel report each channel's age)."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        chans = [self._channels[u] for u in call.channels if u in self._channels]
        if not any(ch.role == CUSTOMER and ch.context == context for ch in chans):
            return None
        ringing = [ch.created_at for ch in self._ringing_legs(call)]
        return min(ringing) if ringing else None

    def channel_variables(self) -> dict[str, dict[str, str]]:
        """Channel name -> known variables (from ChanVariable / Status Variable)."""
        return {ch.name: dict(ch.variables) for ch in self._channels.values()}

    def resync(self, snapshot: Iterable[Message], now: float, held: Sequence[Message] = ()) -> list[Event]:
        """Rebuild live state from `CoreShowChannel` / `Status` events taken after a
        reconnect. Calls that vanished meanwhile end (cause 0, "ended while
        disconnected"); calls found in a new state emit the events that bring
        consumers up to date (arrived, queued, held, offered, connected).

        `held`: the events the PBX sent while the snapshot was being taken, applied
        after it (their own events follow). The snapshot's list items carry no
        Timestamp, and what it reports happened before those events were sent: the
        resync's events are stamped no later than any of them (else a call's
        log would go back in time, e.g. connected by the resync after the Hangup that
        followed, and a report reading the log in time order would count an abandon).

        A held event about a channel that hung up meanwhile and that the snapshot does
        not list (it was gone when the snapshot was taken, or came and went after it)
        is applied first, to the state before the resync, with the channels it names
        that the model never saw. So a call that an agent took after the reconnect and
        that ended before the snapshot is connected, then ended, as the PBX says, not
        "abandoned while disconnected"."""
        snapshot = list(snapshot)
        listed = {uid for msg in snapshot if (uid := msg.get("Uniqueid"))}
        gone = {uid for msg in held if msg.get("Event") == "Hangup" and (uid := msg.get("Uniqueid"))} - listed
        earlier = [msg for msg in held if _names_any(msg, gone)]
        later = [msg for msg in held if not _names_any(msg, gone)]
        out: list[Event] = []
        for msg in earlier:
            self._adopt(msg)
            out.extend(self.feed(msg, now))
        now = min([now, *(_stamp(msg.get("Timestamp"), now) for msg in later)])
        out += self._resync(snapshot, now)
        for msg in later:
            out.extend(self.feed(msg, now))
        return out

    def _adopt(self, msg: Message) -> None:
        """Know the channel an event names (its Channel, Uniqueid, Linkedid block) even
        if its Newchannel was lost while the link was down."""
        uid, name = msg.get("Uniqueid"), msg.get("Channel")
        if uid and name and uid not in self._channels and msg.get("Event") != "Hangup":
            self._now = _stamp(msg.get("Timestamp"), self._now)
            self._update(self._channel(uid, name, msg.get("Linkedid") or uid), dict(msg.headers))

    def _resync(self, snapshot: Iterable[Message], now: float) -> list[Event]:
        out: list[Event] = []
        self._now = now
        rows: dict[str, dict[str, Any]] = {}
        for msg in snapshot:
            uid = msg.get("Uniqueid")
            if not uid:
                continue
            row = rows.setdefault(uid, {"vars": {}})
            for k, v in msg.headers:
                if k in ("ChanVariable", "Variable") or (k.startswith("ChanVariable(")):
                    name, _, value = v.partition("=")
                    row["vars"][name] = variable_value(value)  # Status: NAME=(null) when unset
                elif k not in row:
                    row[k] = v
        # channels that are gone
        for uid in [u for u in self._channels if u not in rows]:
            ch = self._channels.pop(uid)
            self._leave_bridge(ch)
            ch.call.channels.discard(uid)
        self._bridges.clear()
        touched: dict[str, _Call] = {}
        for uid, row in rows.items():
            linkedid = row.get("Linkedid") or uid
            ch = self._channel(uid, row.get("Channel", ""), linkedid)
            ch.state = row.get("ChannelStateDesc", ch.state)
            ch.context = row.get("Context", ch.context)
            ch.exten = row.get("Exten") or row.get("Extension") or ch.exten
            ch.caller_num = _caller(row.get("CallerIDNum", ch.caller_num))
            ch.caller_name = _caller(row.get("CallerIDName", ch.caller_name))
            ch.application = row.get("Application", "")
            ch.appdata = row.get("Data") or row.get("ApplicationData") or ""
            ch.variables.update(row["vars"])
            ch.bridge = row.get("BridgeId") or row.get("BridgeID") or ""
            age = _age_s(row.get("Duration") or row.get("Seconds") or "")
            if age is not None:
                ch.created_at = now - age
            if ch.bridge:
                self._bridges.setdefault(ch.bridge, set()).add(uid)
            touched[ch.call.call_id] = ch.call
        for uid in rows:
            ch = self._channels[uid]
            if ch.application in SPY_APPLICATIONS:
                self._mark_spy(ch)
        for call_id in list(self._calls):
            call = self._calls[call_id]
            if not call.channels or (call.arrived and not self._has_customer(call)):
                del self._calls[call_id]
                if call.arrived:
                    if call.answered is not None and not call.agent:
                        # An agent's leg had answered (DialEnd ANSWER) when the link
                        # dropped; the bridge Dial makes next was lost with the link:
                        # the caller was connected, then the call ended.
                        agent_id, answered_at = call.answered
                        call.agent = agent_id
                        out.append(CallConnected(answered_at, call_id, agent_id=agent_id, queue=call.queue))
                    elif call.queued and not call.connected and not call.abandoned:
                        # It was waiting when the link dropped and is gone now: the
                        # caller gave up (no agent ever took it).
                        out.append(CallAbandoned(now, call_id, queue=call.queue))
                    out.append(CallEnded(now, call_id, cause=0, cause_text="ended while disconnected"))
        # calls with an agent (connected, then ringing) first: whoever routes the waiting
        # ones then knows who is busy
        for call in sorted(touched.values(), key=self._resync_rank):
            if call.call_id in self._calls:
                self._resync_call(call, now, out)
        out.extend(self._merged)
        self._merged.clear()
        return out

    # ------------------------------------------------------------ internals

    def _view(self, c: _Call) -> CallView:
        return CallView(
            call_id=c.call_id,
            direction=c.direction,
            arrived=c.arrived,
            queued=c.queued,
            held=c.held,
            connected=c.connected,
            agent=c.agent,
            queue=c.queue,
            channels=tuple(sorted(self._channels[u].name for u in c.channels if u in self._channels)),
            attributes=dict(c.attributes),
        )

    def _channel(self, uid: str, name: str, linkedid: str) -> _Channel:
        """Find or create the channel; follows a Linkedid change (bridging)."""
        ch = self._channels.get(uid)
        if ch is not None:
            if linkedid and ch.call.call_id != linkedid and not ch.call.arrived:
                # Asterisk gives bridged channels the oldest Linkedid: a channel of a
                # call that has not arrived (an agent's standing line, a helper) joins
                # the other call. A call that arrived keeps its identity (call_id) even
                # if Asterisk relabels its channels.
                old = ch.call
                old.channels.discard(uid)
                ch.call = self._get_call(linkedid)
                ch.call.channels.add(uid)
                if not old.channels:
                    self._calls.pop(old.call_id, None)
                    if old.arrived:
                        self._merged.append(
                            CallEnded(self._now, old.call_id, cause=0, cause_text=f"merged into call {linkedid}")
                        )
            if name and name != ch.name:
                ch.name = name
                ch.role, ch.agent_id = classify(name, self.config)
            return ch
        call = self._get_call(linkedid or uid)
        role, agent_id = classify(name, self.config)
        ch = _Channel(uid, name, role, agent_id, call, self._now)
        self._channels[uid] = ch
        call.channels.add(uid)
        return ch

    def _get_call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = _Call(call_id)
        return call

    def _known(self, h: dict[str, str]) -> _Channel | None:
        uid = h.get("Uniqueid")
        if not uid:
            return None
        ch = self._channels.get(uid)
        if ch is not None:
            linkedid = h.get("Linkedid")
            if linkedid and linkedid != ch.call.call_id:
                ch = self._channel(uid, "", linkedid)
        return ch

    def _update(self, ch: _Channel, h: dict[str, str]) -> None:
        state = h.get("ChannelStateDesc")
        if state:
            ch.state = state
        context = h.get("Context")
        if context is not None:
            ch.context = context
        exten = h.get("Exten")
        if exten:
            ch.exten = exten
        num = h.get("CallerIDNum")
        if num is not None:
            ch.caller_num = _caller(num)
            ch.caller_name = _caller(h.get("CallerIDName", ""))

    def _note_variables(self, ch: _Channel, msg: Message) -> None:
        for name, value in msg.variables().items():
            ch.variables[name] = value
            if value and name not in self.config.internal_variables:
                ch.call.attributes[name] = value
        skill = ch.variables.get(self.config.skill_variable)
        if skill:
            ch.call.skills = parse_skills(skill)

    def _arrive(
        self, call: _Call, ch: _Channel, at: float, out: list[Event], direction: str = "", dialed: str = ""
    ) -> None:
        if call.arrived:
            return
        if not direction:
            direction = call.direction or self._direction_of(ch)
        call.arrived = True
        call.direction = direction
        out.append(
            CallArrived(
                at,
                call.call_id,
                direction=direction,
                caller=ch.caller_num,
                caller_name=ch.caller_name,
                dialed=dialed or ch.exten,
                channel=ch.name,
            )
        )

    def _direction_of(self, ch: _Channel) -> str:
        if ch.context in self.config.outbound_contexts:
            return "outbound"
        if ch.variables.get(self.config.campaign_variable) or ch.call.attributes.get(self.config.campaign_variable):
            return "outbound"
        return "inbound"

    def _customer_bridged_with(self, call: _Call) -> str:
        """Agent id sharing a bridge with a customer channel of this call, or ""."""
        for uid in call.channels:
            ch = self._channels.get(uid)
            if ch is None or ch.role != CUSTOMER or not ch.bridge:
                continue
            for other_uid in self._bridges.get(ch.bridge, ()):
                other = self._channels.get(other_uid)
                if other is not None and other.role == AGENT:
                    return other.agent_id
        return ""

    # ---- channel lifecycle

    def _on_newchannel(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        uid = h.get("Uniqueid")
        if not uid:
            return
        ch = self._channel(uid, h.get("Channel", ""), h.get("Linkedid") or uid)
        self._update(ch, h)
        if ch.role == CUSTOMER and ch.context in self.config.inbound_contexts and not ch.call.direction:
            ch.call.direction = "inbound"

    def _on_newstate(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None:
            return
        self._update(ch, h)
        if (
            ch.role == CUSTOMER
            and ch.state == "Up"
            and not ch.call.arrived
            and ch.context in self.config.inbound_contexts
        ):
            self._arrive(ch.call, ch, at, out, "inbound")

    def _on_newcallerid(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._channels.get(h.get("Uniqueid", ""))
        if ch is not None:
            ch.caller_num = _caller(h.get("CallerIDNum", ""))
            ch.caller_name = _caller(h.get("CallerIDName", ""))

    def _on_rename(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._channels.get(h.get("Uniqueid", ""))
        new = h.get("Newname", "")
        if ch is not None and new:
            ch.name = new
            ch.role, ch.agent_id = classify(new, self.config)

    def _on_originate_response(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        # Every AMI session sees every client's OriginateResponse: only ours (an ActionID
        # registered with its originate id) is an OriginateResulted. Another client's
        # call is still followed (a dialer or call-back leg of theirs is a real call).
        originate_id = self._originates.pop(h.get("ActionID", ""), None)
        success = h.get("Response") == "Success"
        uid = h.get("Uniqueid", "")
        if uid == UNKNOWN:
            uid = ""
        ch = self._channels.get(uid) if uid else None
        spy = h.get("Application", "") in SPY_APPLICATIONS
        if spy and ch is not None:
            self._mark_spy(ch)
        call_id = "" if spy else ch.call.call_id if ch is not None else uid
        if originate_id is not None:
            out.append(
                OriginateResulted(
                    at, originate_id, success, _int(h.get("Reason", "0")), call_id=call_id, channel=h.get("Channel", "")
                )
            )
        context = h.get("Context", "")
        dialer = context in self.config.outbound_contexts
        # a customer dialled straight into agent-connect (a call-back, a preview call)
        to_agent = context in self.config.helper_contexts
        if not success or not uid or not (dialer or to_agent):
            return
        if ch is None:
            # OriginateResponse before the Newchannel: the originated channel is the
            # first of its call, so its Uniqueid is the call's Linkedid.
            ch = self._channel(uid, h.get("Channel", ""), uid)
        # the number dialled: the dialer's Exten; agent-connect's Exten is the agent's,
        # the customer's number is in the Local channel's name
        dialed = h.get("Exten", "") if dialer else _local_exten(ch.name)
        self._update(ch, h)
        self._note_variables(ch, msg)
        if ch.role == CUSTOMER:
            self._arrive(ch.call, ch, at, out, "outbound", dialed=dialed)

    # ---- waiting, hold

    def _on_moh_start(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None or ch.role != CUSTOMER:
            return
        self._update(ch, h)
        self._note_variables(ch, msg)
        call = ch.call
        self._arrive(call, ch, at, out)
        call.hangup_party = ""  # waiting again: whoever left it (_agent_left_conference) did not end it
        call.answered = None
        if call.queued:
            return  # music while waiting in a queue (app_queue plays it after QueueCallerJoin)
        if call.agent:
            if not call.held:
                call.held = True
                out.append(CallHeld(at, call.call_id, agent_id=call.agent))
        else:
            self._queue(call, at, out)

    def _queue(self, call: _Call, at: float, out: list[Event]) -> None:
        call.queued = True
        out.append(
            CallQueued(at, call.call_id, queue=call.queue, skills=dict(call.skills), attributes=dict(call.attributes))
        )

    def _on_moh_stop(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None or ch.role != CUSTOMER:
            return
        call = ch.call
        if call.held:
            call.held = False
            out.append(CallResumed(at, call.call_id, agent_id=call.agent))

    def _on_hold(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None:
            return
        call = ch.call
        if call.connected and call.agent and not call.held:
            call.held = True
            out.append(CallHeld(at, call.call_id, agent_id=call.agent))

    def _on_unhold(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None:
            return
        call = ch.call
        if call.held:
            call.held = False
            out.append(CallResumed(at, call.call_id, agent_id=call.agent))

    def _on_queue_join(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None:
            return
        self._update(ch, h)
        self._note_variables(ch, msg)
        call = ch.call
        self._arrive(call, ch, at, out)
        call.queue = h.get("Queue", "")
        if not call.queued and not call.connected:
            self._queue(call, at, out)

    # ---- ringing an agent

    def _on_dial(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        dest_uid = h.get("DestUniqueid", "")
        if not dest_uid:
            return
        dest = self._channels.get(dest_uid)
        if dest is None:
            linkedid = h.get("DestLinkedid", "")
            name = h.get("DestChannel", "")
            if not linkedid or not name:
                return
            dest = self._channel(dest_uid, name, linkedid)
        if dest.role != AGENT:
            return
        call = dest.call
        if dest_uid in call.offered:
            return
        caller = self._channels.get(h.get("Uniqueid", ""))
        if caller is not None and caller.role == CUSTOMER:
            self._arrive(call, caller, at, out)
        if not call.arrived:
            return  # an agent leg rung for no known call (e.g. a standing agent line)
        agent_id = dest.agent_id
        reason = ""
        if call.agent and call.agent != agent_id:
            if call.connected or call.held:
                reason = "consult"
                call.consult_agent = agent_id
            elif not call.transfer_announced:
                out.append(CallTransferred(at, call.call_id, "blind", from_agent=call.agent, target=agent_id))
                call.transfer_announced = True
                reason = "transfer"
            else:
                reason = "transfer"
        call.offered[dest_uid] = agent_id
        out.append(CallOffered(at, call.call_id, agent_id, queue=call.queue, reason=reason))

    def _on_dial_end(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        dest = self._channels.get(h.get("DestUniqueid", ""))
        if dest is None:
            return
        call = dest.call
        agent_id = call.offered.get(dest.uid)
        if agent_id is None:
            return
        status = h.get("DialStatus", "")
        consult = call.consult_agent == agent_id
        if status == "ANSWER":
            if not consult and not call.connected:
                call.answered = (agent_id, at)  # app_dial bridges them next
            if consult:
                # talking in the consultation; the transfer (or not) comes later
                del call.offered[dest.uid]
            return  # connected when the bridge forms
        del call.offered[dest.uid]
        if consult:
            call.consult_agent = ""
        if status in NOT_ANSWERED or consult:  # a consultation cancelled before the answer
            out.append(CallNotAnswered(at, call.call_id, agent_id, queue=call.queue))

    # ---- bridges: connected, transfers

    def _on_bridge_enter(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        bridge_id = h.get("BridgeUniqueid", "")
        if ch is None or not bridge_id:
            return
        self._leave_bridge(ch)
        ch.bridge = bridge_id
        members = self._bridges.setdefault(bridge_id, set())
        members.add(ch.uid)
        if ch.role == HELPER:
            return
        customer: _Channel | None = ch if ch.role == CUSTOMER else None
        agent: _Channel | None = ch if ch.role == AGENT else None
        for uid in members:
            other = self._channels.get(uid)
            if other is None:
                continue
            if customer is None and other.role == CUSTOMER:
                customer = other
            elif agent is None and other.role == AGENT:
                agent = other
        if customer is None or agent is None:
            return
        self._connect(customer.call, customer, agent.agent_id, at, out)

    def _connect(self, call: _Call, customer: _Channel, agent_id: str, at: float, out: list[Event]) -> None:
        if call.connected and call.agent == agent_id:
            return
        if call.held and call.agent == agent_id:
            # the agent back with the caller still on hold: an attended transfer's
            # consultation ended (not answered, cancelled). The hold ends; it is the
            # same connection, not a new one.
            call.held = False
            call.connected = True
            call.hangup_party = ""
            out.append(CallResumed(at, call.call_id, agent_id=agent_id))
            return
        self._arrive(call, customer, at, out)
        if call.held:
            call.held = False
            out.append(CallResumed(at, call.call_id, agent_id=call.agent))
        if call.agent and call.agent != agent_id and not call.transfer_announced:
            kind = "attended" if call.consult_agent else "blind"
            out.append(CallTransferred(at, call.call_id, kind, from_agent=call.agent, target=agent_id))
        call.transfer_announced = False
        call.consult_agent = ""
        call.answered = None
        call.agent = agent_id
        call.connected = True
        call.queued = False
        call.hangup_party = ""
        for uid, offered in list(call.offered.items()):
            if offered == agent_id:
                del call.offered[uid]
        out.append(CallConnected(at, call.call_id, agent_id=agent_id, queue=call.queue))

    def _leave_bridge(self, ch: _Channel) -> None:
        if not ch.bridge:
            return
        members = self._bridges.get(ch.bridge)
        if members is not None:
            members.discard(ch.uid)
            if not members:
                del self._bridges[ch.bridge]
        ch.bridge = ""
        call = ch.call
        if call.connected and ch.role != HELPER and not self._customer_bridged_with(call):
            call.connected = False

    def _on_bridge_leave(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._known(h)
        if ch is None:
            return
        if ch.role == AGENT and h.get("BridgeCreator") == "ConfBridge":
            self._agent_left_conference(ch, h.get("BridgeUniqueid", ""))
        self._leave_bridge(ch)

    def _on_confbridge_leave(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        # ConfBridge's order of ConfbridgeLeave and BridgeLeave varies: either comes first
        ch = self._known(h)
        if ch is not None and ch.role == AGENT:
            self._agent_left_conference(ch, h.get("BridgeUniqueid", ""))

    def _agent_left_conference(self, agent: _Channel, bridge_id: str) -> None:
        """An agent's standing line left its conference (it hung up): the PBX hangs up
        the caller still in it next (the line is the conference's marked user), so the
        call was ended by the agent's side, whatever the caller's channel says after."""
        for uid in self._bridges.get(bridge_id, ()):
            other = self._channels.get(uid)
            if other is None or other.role != CUSTOMER:
                continue
            call = other.call
            if call.arrived and call.connected and call.agent == agent.agent_id and not call.hangup_party:
                call.hangup_party = "agent"

    def _on_bridge_destroy(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        members = self._bridges.pop(h.get("BridgeUniqueid", ""), None)
        for uid in members or ():
            ch = self._channels.get(uid)
            if ch is not None:
                ch.bridge = ""

    # ---- supervision

    def _on_chanspy_start(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        spyer = self._channels.get(h.get("SpyerUniqueid", ""))
        if spyer is not None:
            self._mark_spy(spyer)

    def _mark_spy(self, ch: _Channel) -> None:
        """A supervisor's ChanSpy channel (and its Local sibling, the supervisor's phone)
        is no agent: it is never offered, connected or counted as one. ChanSpy never
        bridges, and the spyer's `;1` ends only with the spied leg (see the traces)."""
        names = {ch.name}
        if ch.name.startswith("Local/") and ch.name[-2:] in (";1", ";2"):
            names.add(ch.name[:-1] + ("2" if ch.name.endswith("1") else "1"))
        for uid in {ch.uid, *ch.call.channels}:
            other = self._channels.get(uid)
            if other is not None and other.name in names:
                other.role, other.agent_id = SPY, ""
                other.call.offered.pop(other.uid, None)

    def _on_blind_transfer(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        transferer = self._channels.get(h.get("TransfererUniqueid", ""))
        transferee = self._channels.get(h.get("TransfereeUniqueid", ""))
        ch = transferer or transferee
        if ch is None:
            return
        call = ch.call
        from_agent = transferer.agent_id if transferer is not None and transferer.role == AGENT else call.agent
        result = h.get("Result", "")
        out.append(
            CallTransferred(
                at, call.call_id, "blind", from_agent=from_agent, target=h.get("Extension", ""), result=result
            )
        )
        if result == "Success":
            call.transfer_announced = True

    def _on_attended_transfer(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = None
        for key in ("TransfereeUniqueid", "OrigTransfererUniqueid", "SecondTransfererUniqueid"):
            ch = self._channels.get(h.get(key, ""))
            if ch is not None:
                break
        if ch is None:
            return
        call = ch.call
        result = h.get("Result", "")
        orig = self._channels.get(h.get("OrigTransfererUniqueid", ""))
        from_agent = orig.agent_id if orig is not None and orig.role == AGENT else call.agent
        target_ch = self._channels.get(h.get("TransferTargetUniqueid", ""))
        target = call.consult_agent or (target_ch.agent_id if target_ch is not None else "")
        if result != "Success":
            out.append(
                CallTransferred(at, call.call_id, "attended", from_agent=from_agent, target=target, result=result)
            )
        elif call.consult_agent:
            # not connected to the target yet (it joins through a Local helper)
            out.append(
                CallTransferred(at, call.call_id, "attended", from_agent=from_agent, target=target, result=result)
            )
            call.transfer_announced = True
            call.consult_agent = ""

    # ---- hangups

    def _on_hangup_request(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        ch = self._channels.get(h.get("Uniqueid", ""))
        if ch is None:
            return
        call = ch.call
        if call.hangup_party or not call.arrived:
            return
        if ch.role == CUSTOMER:
            # our dialplan's Hangup() (a SoftHangupRequest where we sent the caller to
            # be hung up, e.g. hotline-play after a call-back offer), or the caller
            system = (
                h.get("Event") == "SoftHangupRequest" and h.get("Context", ch.context) in self.config.system_contexts
            )
            call.hangup_party = "system" if system else "caller"
        elif ch.role == AGENT and call.connected and ch.agent_id == call.agent:
            call.hangup_party = "agent"

    def _on_hangup(self, h: dict[str, str], msg: Message, at: float, out: list[Event]) -> None:
        uid = h.get("Uniqueid", "")
        ch = self._channels.pop(uid, None)
        if ch is None:
            return
        call = ch.call
        if call.answered is not None and ch.role == AGENT and ch.agent_id == call.answered[0]:
            call.answered = None  # the answered leg is gone before any bridge
        cause = _int(h.get("Cause", "0"))
        if not call.hangup_party and call.arrived:
            if ch.role == CUSTOMER:
                call.hangup_party = "caller"
            elif ch.role == AGENT and call.connected and ch.agent_id == call.agent:
                call.hangup_party = "agent"
        self._leave_bridge(ch)
        call.channels.discard(uid)
        offered = call.offered.pop(uid, None)
        if (
            offered is not None
            and offered == call.consult_agent
            and call.arrived
            and self._calls.get(call.call_id) is call
            and self._has_customer(call)
        ):
            # the consulted agent's leg hung up still ringing: Asterisk ends an
            # unanswered Atxfer so (cause 16, often no DialEnd and no AttendedTransfer)
            call.consult_agent = ""
            out.append(CallNotAnswered(at, call.call_id, offered, queue=call.queue))
        if ch.role == CUSTOMER and call.arrived and call.end_cause is None:
            call.end_cause = cause
            call.end_cause_text = h.get("Cause-txt", "")
            if (
                not call.agent
                and not call.abandoned
                and call.hangup_party != "system"
                and (call.queued or call.offered)
            ):
                call.abandoned = True
                out.append(CallAbandoned(at, call.call_id, queue=call.queue))
        if self._calls.get(call.call_id) is not call:
            return  # a leg outliving its call (already ended)
        if call.arrived:
            if ch.role == CUSTOMER and not self._has_customer(call):
                # the customer side is gone: the call is over; agent legs or helpers
                # still up are released at their own Hangup
                del self._calls[call.call_id]
                end_cause = call.end_cause if call.end_cause is not None else cause
                text = call.end_cause_text if call.end_cause is not None else h.get("Cause-txt", "")
                out.append(CallEnded(at, call.call_id, cause=end_cause, cause_text=text, hung_up_by=call.hangup_party))
        elif not call.channels:
            del self._calls[call.call_id]

    def _has_customer(self, call: _Call) -> bool:
        for uid in call.channels:
            other = self._channels.get(uid)
            if other is not None and other.role == CUSTOMER:
                return True
        return False

    # ---- resync

    def _ringing_legs(self, call: _Call) -> list[_Channel]:
        """The call's agent legs now ringing (e.g. agent-connect's Dial)."""
        return [
            ch
            for ch in (self._channels.get(u) for u in call.channels)
            if ch is not None and ch.role == AGENT and ch.state == "Ringing"
        ]

    def _agent_ringing(self, call: _Call) -> bool:
        return bool(self._ringing_legs(call))

    def _carrier(self, customers: list[_Channel]) -> _Channel:
        """Of a call's customer channels, the one that runs our dialplan and carries the
        call's variables: the one on hold, queued or bridged; else the one in one of our
        entry contexts; else a Local pair's `;2` half; else the first by Uniqueid."""
        ordered = sorted(customers, key=lambda c: c.uid)
        entry = self.config.inbound_contexts | self.config.outbound_contexts | self.config.helper_contexts
        for test in (
            lambda c: c.application in HOLD_APPLICATIONS or bool(c.bridge),
            lambda c: c.context in entry,
            lambda c: c.name.startswith("Local/") and c.name.endswith(";2"),
        ):
            found = next((c for c in ordered if test(c)), None)
            if found is not None:
                return found
        return ordered[0]

    def _resync_rank(self, call: _Call) -> int:
        if self._customer_bridged_with(call):
            return 0
        return 1 if self._agent_ringing(call) else 2

    def _resync_call(self, call: _Call, now: float, out: list[Event]) -> None:
        customers = [
            self._channels[u] for u in call.channels if u in self._channels and self._channels[u].role == CUSTOMER
        ]
        if not customers:
            return
        main = self._carrier(customers)
        # the call's data as the live stream gives it: the variables of the channel that
        # runs our dialplan (the `;2` half of a Local caller, whose `;1` is the caller's
        # phone and says `(null)`; a SIP caller's own channel), whatever the list's order
        for name, value in main.variables.items():
            if value and name not in self.config.internal_variables:
                call.attributes[name] = value
        skill = main.variables.get(self.config.skill_variable)
        if skill:
            call.skills = parse_skills(skill)
        agent_id = self._customer_bridged_with(call)
        waiting = [c for c in customers if c.application in HOLD_APPLICATIONS]
        up_in_entry = any(
            c.state == "Up"
            and (c.context in self.config.inbound_contexts or c.context in self.config.outbound_contexts)
            for c in customers
        )
        if not call.arrived and (agent_id or waiting or up_in_entry or call.direction or self._agent_ringing(call)):
            self._arrive(call, main, now, out)
        if not call.arrived:
            return
        if agent_id:
            self._connect(call, main, agent_id, now, out)
            return
        call.connected = False
        if waiting:
            if waiting[0].application == "Queue":
                # Queue(support,t,...): the queue is its first argument (as QueueCallerJoin says)
                call.queue = waiting[0].appdata.split(",", 1)[0].strip() or call.queue
            if call.agent:
                if not call.held:
                    call.held = True
                    out.append(CallHeld(now, call.call_id, agent_id=call.agent))
            elif not call.queued:
                self._queue(call, now, out)
        for uid in call.channels:
            leg = self._channels.get(uid)
            if leg is not None and leg.role == AGENT and leg.state == "Ringing" and uid not in call.offered:
                call.offered[uid] = leg.agent_id
                out.append(CallOffered(now, call.call_id, leg.agent_id, queue=call.queue))
