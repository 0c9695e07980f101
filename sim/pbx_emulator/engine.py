"""The emulated PBX: channels, Local pairs, dial attempts, bridges, app_queue, and
the dialplan of `tests/fixtures/ami-traces/asterisk-config/extensions.conf`, emitting
AMI events with Asterisk 20's names, header order and causes.

Everything runs on one asyncio loop. State changes are synchronous (a hang-up, a
redirect, a bridge leave emit their events at once, in the order Asterisk does);
only dialplan programs (one task per channel) wait, on the scaled loop clock.

Endpoint behaviour is driven by channel variables, as in the recorded dialplan
(originate them with `__` so they follow the call):
  PATIENCE      caller-phone `wait`: seconds the caller stays on the line (120)
  DTMF_DELAY / DTMF_DIGITS   caller-phone `dtmf`: press digits after N s (3), then
                stay PATIENCE s (30; the recorded dialplan always stays 30 s)
  HOLD_SECS     inbound 1000: seconds on hold before timing out (60)
  QUEUE_MAXWAIT inbound 1100: seconds in Queue() (60)
  AGENT_TALK    agents 20XX: seconds the agent talks (8)
  CUST_TALK     customers: seconds the customer talks (12)
Emulator extensions for traffic generators (not in the recorded dialplan): any
customers number other than 5550001-5550004 behaves by
  CUST_BEHAVIOUR answer | busy | noanswer | congestion   (answer)
  CUST_RING     seconds ringing before answer/busy (2)
  CUST_AMD      HUMAN | MACHINE: what AMD() reports on the dialer leg (HUMAN)
  AGENT_RING    agents 20XX: seconds ringing before answer (1)
a `hold` context (any exten: MusicOnHold until redirected, HOLD_SECS, default
3600) and `hotline-play,s` (Playback(${HOTLINE_PLAYBACK}), Hangup()) for cti.pbx.
Redirects honour the priority of `inbound,1000,N` (5 = straight back to music).
Hotline's standing agent lines (`hotline-agent-line` / `hotline-agent-join`, see
dialplan.py) run ConfBridge(): a `Conference` is a base/softmix bridge kept by name
in `Pbx.conferences`, with ConfbridgeStart/Join/Leave/End around the bridge events in
standing-line-confbridge.ami's order (or each pair swapped, `confbridge_order`
"reversed": a real Asterisk's order varies between runs), and its silent CBAnn
announcer (counted in BridgeNumChannels, named in BRIDGEPEER, no events of its own).
Some Timestamps go back as Asterisk's do (ConfbridgeJoin, stamped before the BRIDGEPEER
sent ahead of it).
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from cti.ami_codec import encode
from sim.pbx_emulator.recorder import Recording

log = structlog.get_logger()

CHANVARS = ("CC_CALLID", "CC_SKILL", "CC_CAMPAIGN", "CC_AGENT")  # manager.conf channelvars of the traces
STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
ASTERISK_VERSION = "20.20.1"
CONFBRIDGE_ORDERS = ("recorded", "reversed")
ANSWER_DELAY = 0.5  # Answer() on a Local channel: the next app runs ~0.5 s later
UNKNOWN = "<unknown>"
# Where a relative MixMonitor file goes (Asterisk's /var/spool/asterisk/monitor)
MONITOR_DIR = Path(tempfile.gettempdir()) / "hotline-emulator-monitor"


class ChannelGone(Exception):
    """The channel running this dialplan program has hung up."""


class NoSuchChannel(LookupError):
    pass


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: int = 0
    priority: int = 1
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    col_num: str = UNKNOWN
    col_name: str = UNKNOWN
    vars: dict[str, str] = field(default_factory=dict)
    inherit: set[str] = field(default_factory=set)
    app: str = ""
    appdata: str = ""
    created_at: float = 0.0
    partner: Channel | None = None
    half: int = 0  # 1 or 2 for Local halves
    task: asyncio.Task[None] | None = None
    dead: bool = False
    moh: bool = False
    preset_cause: int = 0  # Busy()/Congestion() set the cause this half will report
    bridge: Bridge | None = None
    dial_as_dest: DialAttempt | None = None  # this channel is being dialled
    dialing: DialAttempt | None = None  # this channel is dialling someone
    bridge_waiter: asyncio.Future[str] | None = None  # Dial/Queue caller waits here
    queue_entry: QueueEntry | None = None
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    agi_hangup: asyncio.Event | None = None
    call: CallRecord | None = None
    amd: tuple[str, str, float] | None = None  # what AMD() hears from this customer leg
    chanvars: tuple[str, ...] = CHANVARS
    answered_at: float | None = None
    cdr: bool = True  # a dialled ;1 leg has no CDR of its own (it is the dialler's destination)
    agi_goto: tuple[str, str, int] | None = None  # SET CONTEXT/EXTENSION/PRIORITY during AGI
    cdr_legs: list[list[Any]] = field(default_factory=list)  # [dest, app, data, answered] per dial
    spying: Channel | None = None  # ChanSpy(): the channel this one spies on
    spy_mode: str = ""  # "listen" / "whisper" / "barge" (from ChanSpy's w / B options)
    spy_done: asyncio.Event | None = None  # set once ChanSpyStop was sent
    mixmonitor: Recording | None = None  # MixMonitor() on this channel (recorder.py)
    # A trunk channel to another emulated PBX (trunk.py): the far end follows its hang-up,
    # and the far end's answer / ringing reaches the Dial() on this side.
    on_hangup: Callable[[], None] | None = None
    trunk_answered: Callable[[], None] | None = None
    trunk_ringing: Callable[[], None] | None = None

    def block(self, prefix: str = "") -> list[tuple[str, str]]:
        p = prefix
        out = [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.cid_num),
            (f"{p}CallerIDName", self.cid_name),
            (f"{p}ConnectedLineNum", self.col_num),
            (f"{p}ConnectedLineName", self.col_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]
        out += [(f"{p}ChanVariable", f"{v}={self.vars.get(v, '')}") for v in self.chanvars]
        return out

    def var(self, name: str, default: str = "") -> str:
        value = self.vars.get(name, "")
        return value if value != "" else default

    def num_var(self, name: str, default: float) -> float:
        try:
            return float(self.vars.get(name, "") or default)
        except ValueError:
            return default


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    channels: list[Channel] = field(default_factory=list)
    keep_alone: bool = False  # an attended transfer holds the transferee's bridge
    before_leave: Callable[[Channel], None] | None = None
    after_leave: Callable[[Channel], bool] | None = None  # True: it dealt with the rest

    def kind(self) -> tuple[str, str, str, str]:
        """BridgeType, BridgeTechnology, BridgeCreator, BridgeName."""
        return "basic", "simple_bridge", UNKNOWN, UNKNOWN

    def count(self) -> int:
        """BridgeNumChannels: the channels in the bridge."""
        return len(self.channels)

    def block(self, prefix: str = "", count: int | None = None) -> list[tuple[str, str]]:
        """The bridge snapshot; `count` for a stale one (Asterisk sends some events
        with the snapshot taken before the change they report)."""
        p = prefix
        kind, tech, creator, name = self.kind()
        return [
            (f"{p}BridgeUniqueid", self.uniqueid),
            (f"{p}BridgeType", kind),
            (f"{p}BridgeTechnology", tech),
            (f"{p}BridgeCreator", creator),
            (f"{p}BridgeName", name),
            (f"{p}BridgeNumChannels", str(self.count() if count is None else count)),
            (f"{p}BridgeVideoSourceMode", "none"),
        ]


@dataclass(eq=False)
class Conference(Bridge):
    """A ConfBridge conference (app_confbridge): a base bridge mixed by softmix,
    named after the conference. It stays up with one participant (keep_alone), and,
    as a base bridge, does not relabel the Linkedids of the channels in it.
    `users`: joined and not yet left (ConfbridgeJoin/ConfbridgeLeave; a user can have
    left the conference and still be in the bridge, or the reverse, for a moment);
    `marked`: users joined with marked=yes; `end_marked`: users removed when the
    last marked user leaves (their ConfBridge() returns, the dialplan goes on).
    `announcer`: the `;2` half of the conference's CBAnn/<name>-<n> pair, an internal
    channel (no AMI events, not in CoreShowChannels or Status) counted in
    BridgeNumChannels and named in the users' BRIDGEPEER (standing-line-confbridge.ami)."""

    name: str = ""
    users: list[Channel] = field(default_factory=list)
    marked: list[Channel] = field(default_factory=list)
    end_marked: list[Channel] = field(default_factory=list)
    announcer: Channel | None = None
    ended: bool = False

    def kind(self) -> tuple[str, str, str, str]:
        return "base", "softmix", "ConfBridge", self.name

    def count(self) -> int:
        return len(self.channels) + (self.announcer is not None)


@dataclass(eq=False)
class DialAttempt:
    """One outgoing leg being dialled (Dial(), Queue(), Originate, Atxfer)."""

    caller: Channel | None
    dest: Channel
    outcome: asyncio.Future[str]
    ringing: bool = False
    report_dial: bool = True  # DialState/DialEnd events (Atxfer's leg has no DialBegin)
    started_at: float = 0.0
    # What Dial() does the moment the leg answers (bridge it), in the same step as its
    # DialEnd: in Asterisk app_dial bridges at once (inbound-answered.ami: DialEnd,
    # BridgeCreate, BridgeEnter within 0.1 ms), so no caller's hang-up comes between.
    on_answer: Callable[[], None] | None = None


@dataclass(eq=False)
class QueueMember:
    interface: str
    name: str
    paused: bool = False
    reason: str = ""
    status: int = 1
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: int = 0


@dataclass(eq=False)
class QueueEntry:
    queue: Queue
    channel: Channel
    joined_at: float
    original_position: int


@dataclass(eq=False)
class Queue:
    name: str
    strategy: str = "linear"
    timeout: float = 5.0
    retry: float = 1.0
    members: list[QueueMember] = field(default_factory=list)
    entries: list[QueueEntry] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0


@dataclass
class CallRecord:
    """Ledger line for one call (one Linkedid)."""

    linkedid: str
    kind: str  # inbound | outbound | other
    dialed: str
    created_at: float
    answered_at: float | None = None
    connected_at: float | None = None  # reached an agent (bridged)
    ended_at: float | None = None
    abandoned: bool = False
    originate_reason: int | None = None
    channels: list[str] = field(default_factory=list)
    causes: dict[str, int] = field(default_factory=dict)
    amd: str = ""

    @property
    def open(self) -> bool:
        return self.ended_at is None


class Ledger:
    """What the emulator did, for reconciliation with Hotline's view."""

    def __init__(self) -> None:
        self.calls: dict[str, CallRecord] = {}
        self._live: dict[str, set[str]] = {}
        # (call's Linkedid, context) of every AMI Redirect: a call sent to an agent twice shows
        self.redirects: list[tuple[str, str]] = []

    def summary(self) -> dict[str, int]:
        calls = list(self.calls.values())
        return {
            "created": len(calls),
            "answered": sum(1 for c in calls if c.answered_at is not None),
            "connected": sum(1 for c in calls if c.connected_at is not None),
            "abandoned": sum(1 for c in calls if c.abandoned),
            "ended": sum(1 for c in calls if c.ended_at is not None),
            "open": sum(1 for c in calls if c.ended_at is None),
        }


class Pbx:
    """The PBX model. `sink` receives every encoded event (the AMI server fans out)."""

    def __init__(
        self,
        speed: float = 1.0,
        agi_url: str | None = None,
        epoch: float | None = None,
        channelvars: tuple[str, ...] = CHANVARS,
        confbridge_order: str = "recorded",
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if confbridge_order not in CONFBRIDGE_ORDERS:
            raise ValueError(f"confbridge_order must be one of {CONFBRIDGE_ORDERS}, not {confbridge_order!r}")
        self.channelvars = tuple(channelvars)
        # ConfBridge's events and the bridge's come from different threads in Asterisk:
        # their order varies between runs. "recorded" is standing-line-confbridge.ami's;
        # "reversed" swaps each ConfbridgeJoin/Leave with its BridgeEnter/Leave (Hotline
        # must rely on neither).
        self.confbridge_order = confbridge_order
        self.last_stamp = 0.0  # the Timestamp of the last event sent
        self.speed = speed
        self.agi_url = agi_url
        self.loop = asyncio.get_running_loop()
        self._t0 = self.loop.time()
        self._epoch0 = time.time() if epoch is None else epoch
        self.started_at = self.now()
        self._uid = itertools.count()
        self._local = itertools.count()
        self.channels: dict[str, Channel] = {}
        # ChanSpy sessions ever started: with none, no channel has a spy to stop (every
        # hang-up and bridge leave scanned every channel for one: at 7,000 channels up,
        # ~40 % of the emulator's time at 60 calls/s)
        self._spies_started = 0
        self.queues: dict[str, Queue] = {"support": Queue("support")}
        self.conferences: dict[str, Conference] = {}  # ConfBridge conferences by name
        self.ledger = Ledger()
        self.sinks: list[Callable[[bytes], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.agi_command_id = itertools.count(568787673)
        self.trunks: dict[str, Any] = {}  # trunk endpoint name -> trunk.Peer (another emulated PBX)

    # ------------------------------------------------------------ clock & events

    def now(self) -> float:
        """Emulated epoch seconds (scaled by `speed`)."""
        return self._epoch0 + (self.loop.time() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def emit(
        self, event: str, headers: list[tuple[str, str]], privilege: str = "call,all", stamp: float | None = None
    ) -> None:
        """Send an event to every session. `stamp`: its Timestamp when Asterisk takes it
        before the events sent ahead of it (then Timestamps go back: real traces do)."""
        at = self.now() if stamp is None else stamp
        self.last_stamp = at
        data = encode([("Event", event), ("Privilege", privilege), ("Timestamp", f"{at:.6f}"), *headers])
        self.broadcast(data)

    def broadcast(self, data: bytes) -> None:
        for sink in list(self.sinks):
            sink(data)

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        task = self.loop.create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator_task_failed", task=task.get_name(), error=repr(task.exception()))

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------ channels

    def new_uniqueid(self) -> str:
        return f"{int(self.now())}.{next(self._uid)}"

    def find(self, name: str) -> Channel:
        ch = self.channels.get(name)
        if ch is None or ch.dead:
            raise NoSuchChannel(name)
        return ch

    def new_local_pair(self, dest: str, linkedid: str | None) -> tuple[Channel, Channel]:
        exten, _, context = dest.partition("@")
        inst = f"{next(self._local):08x}"
        base = f"Local/{exten}@{context}-{inst}"
        u1 = self.new_uniqueid()
        u2 = self.new_uniqueid()
        link = linkedid or u1
        now = self.now()
        one = Channel(f"{base};1", u1, link, context, exten, state=0, half=1, created_at=now, chanvars=self.channelvars)
        two = Channel(f"{base};2", u2, link, context, exten, state=4, half=2, created_at=now, chanvars=self.channelvars)
        one.partner, two.partner = two, one
        for ch in (one, two):
            self.channels[ch.name] = ch
            self._ledger_channel(ch, dest)
            self.emit("Newchannel", ch.block())
        return one, two

    def set_callerid(self, ch: Channel, num: str, name: str) -> None:
        ch.cid_num, ch.cid_name = num or UNKNOWN, name or UNKNOWN
        self.emit("NewCallerid", [*ch.block(), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def set_connected(self, ch: Channel, num: str, name: str) -> None:
        ch.col_num, ch.col_name = num or UNKNOWN, name or UNKNOWN
        self.emit("NewConnectedLine", ch.block())

    def set_var(self, ch: Channel, name: str, value: str, event: bool = True) -> None:
        bare = name.lstrip("_")
        if name.startswith("_"):
            ch.inherit.add(bare)
        ch.vars[bare] = value
        if event:
            self.emit("VarSet", [*ch.block(), ("Variable", name), ("Value", value)], "dialplan,all")

    def inherit_vars(self, src: Channel, dst: Channel) -> None:
        for name in src.inherit:
            dst.vars[name] = src.vars.get(name, "")
            dst.inherit.add(name)

    def newstate(self, ch: Channel, state: int) -> None:
        if ch.state == state or ch.dead:
            return
        ch.state = state
        if state == 6 and ch.answered_at is None:
            ch.answered_at = self.now()
        self.emit("Newstate", ch.block())

    def local_bridge(self, one: Channel, two: Channel) -> None:
        self.emit(
            "LocalBridge",
            one.block("LocalOne")
            + two.block("LocalTwo")
            + [("Context", two.context), ("Exten", two.exten), ("LocalOptimization", "Yes")],
        )

    def newexten(self, ch: Channel, priority: int, app: str, data: str = "", exten: str | None = None) -> None:
        ch.priority, ch.app, ch.appdata = priority, app, data
        self.emit(
            "Newexten",
            [
                *ch.block(),
                ("Extension", exten if exten is not None else ch.exten),
                ("Application", app),
                ("AppData", data),
            ],
            "dialplan,all",
        )

    # ------------------------------------------------------------ ledger

    def _ledger_channel(self, ch: Channel, dest: str) -> None:
        rec = self.ledger.calls.get(ch.linkedid)
        if rec is None:
            kind = "inbound" if dest.endswith("@inbound") else "outbound" if dest.endswith("@customers") else "other"
            rec = CallRecord(ch.linkedid, kind, dest.partition("@")[0], self.now())
            self.ledger.calls[ch.linkedid] = rec
        rec.channels.append(ch.name)
        ch.call = rec
        self.ledger._live.setdefault(ch.linkedid, set()).add(ch.name)

    def _ledger_hangup(self, ch: Channel, cause: int) -> None:
        rec = ch.call
        if rec is None:
            return
        rec.causes[ch.name] = cause
        live = self.ledger._live.get(ch.linkedid, set())
        live.discard(ch.name)
        if not live:
            rec.ended_at = self.now()
            self.ledger._live.pop(ch.linkedid, None)

    # ------------------------------------------------------------ signalling from a Local ;2

    def indicate_ringing(self, two: Channel) -> None:
        one = two.partner
        if one is None or one.dead or one.state == 6:
            return
        self.newstate(one, 5)
        attempt = one.dial_as_dest
        if attempt is not None and not attempt.ringing:
            attempt.ringing = True
            self.emit("DialState", [*self._dial_blocks(attempt), ("DialStatus", "RINGING")])

    def answer(self, ch: Channel) -> None:
        if ch.dead:
            return
        self.newstate(ch, 6)
        if ch.call is not None and ch.call.answered_at is None and ch.call.kind != "other":
            ch.call.answered_at = self.now()
        one = ch.partner if ch.half == 2 else None
        if one is not None and not one.dead:
            self.newstate(one, 6)
            attempt = one.dial_as_dest
            if attempt is not None and not attempt.outcome.done():
                if attempt.report_dial:
                    self.emit("DialEnd", [*self._dial_blocks(attempt), ("DialStatus", "ANSWER")])
                attempt.outcome.set_result("ANSWER")
                if attempt.on_answer is not None:
                    attempt.on_answer()

    def indicate_busy(self, two: Channel, status: str, cause: int) -> None:
        two.preset_cause = cause
        self.newstate(two, 7)
        one = two.partner
        if one is not None and one.dial_as_dest is not None and not one.dial_as_dest.outcome.done():
            attempt = one.dial_as_dest
            self.emit("DialEnd", [*self._dial_blocks(attempt), ("DialStatus", status)])
            attempt.outcome.set_result(status)

    def _dial_blocks(self, attempt: DialAttempt) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        if attempt.caller is not None:
            headers += attempt.caller.block()
        return headers + attempt.dest.block("Dest")

    # ------------------------------------------------------------ hang-up

    def hangup(self, ch: Channel, cause: int) -> None:
        """Hang a channel up now, with everything that follows from it."""
        if ch.dead:
            return
        ch.dead = True
        if ch.task is not None and ch.task is not asyncio.current_task():
            ch.task.cancel()
        rec = ch.call
        waiting_in_conference = isinstance(ch.bridge, Conference) and not ch.bridge.marked
        if (
            rec is not None
            and rec.kind == "inbound"
            and rec.connected_at is None
            and rec.ended_at is None
            and (ch.moh or ch.queue_entry is not None or waiting_in_conference)
        ):
            rec.abandoned = True  # the caller left while waiting (the hold timeout is not an abandon)
        if ch.moh:
            self.moh_stop(ch)
        if ch.dialing is not None:
            self._cancel_dial(ch.dialing, "CANCEL", 0)
        if ch.queue_entry is not None:
            self._queue_abandon(ch.queue_entry)
        conference, stale = None, None
        if isinstance(ch.bridge, Conference):
            conference = ch.bridge
            stale = self._conference_hangup(conference, ch)
        elif ch.bridge is not None:
            self.bridge_leave(ch)
        if ch.agi_hangup is not None:
            ch.agi_hangup.set()
        self.stop_spies(ch)
        self.stop_recording(ch, event=False)  # a hang-up sends no MixMonitorStop
        final = ch.preset_cause or cause
        if ch.cdr:
            self._cdr(ch, final)
        self.emit("Hangup", [*ch.block(), ("Cause", str(final)), ("Cause-txt", CAUSE_TXT.get(final, "Unknown"))])
        if conference is not None and stale is not None:
            self._conference_gone(conference, ch, stale)  # ConfbridgeLeave after the Hangup, as recorded
        self.channels.pop(ch.name, None)
        self._ledger_hangup(ch, final)
        if ch.on_hangup is not None:
            ch.on_hangup()
        attempt = ch.dial_as_dest
        if attempt is not None and not attempt.outcome.done():
            attempt.outcome.set_result("HANGUP")
        partner = ch.partner
        if partner is not None and not partner.dead and partner.spying is not None:
            # chanspy-*.ami: the supervisor phone (;2) hangs up, but ChanSpy on ;1 goes on
            # until the spied leg leaves its bridge (the Hangup of ;1 comes then)
            self.emit("HangupRequest", [*partner.block(), ("Cause", str(cause))])
        elif partner is not None and not partner.dead:
            self.emit("HangupRequest", [*partner.block(), ("Cause", str(cause))])
            if partner.task is not None and not partner.task.done():
                self.emit("SoftHangupRequest", [*partner.block(), ("Cause", "16")])
            self.hangup(partner, cause)

    def _cdr(self, ch: Channel, cause: int) -> None:
        def fmt(t: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else ""

        end = self.now()
        other = ch.partner.preset_cause if ch.partner is not None else 0
        if ch.answered_at is not None:
            disposition = "ANSWERED"
        elif 17 in (cause, other):
            disposition = "BUSY"
        elif cause == 19:
            disposition = "NO ANSWER"
        else:
            disposition = "FAILED"
        # one CDR per dialled leg (Dial/Queue), else one for the channel
        legs = ch.cdr_legs or [["", ch.app, ch.appdata, None]]
        for dest, app, data, answered in legs:
            disp = disposition if answered is None else ("ANSWERED" if answered else "NO ANSWER")
            self._cdr_one(ch, dest, app, data, disp, end, fmt)

    def _cdr_one(
        self,
        ch: Channel,
        dest: str,
        app: str,
        data: str,
        disposition: str,
        end: float,
        fmt: Callable[[float | None], str],
    ) -> None:
        self.emit(
            "Cdr",
            [
                ("AccountCode", ""),
                ("Source", "" if ch.cid_num == UNKNOWN else ch.cid_num),
                ("Destination", ch.exten),
                ("DestinationContext", ch.context),
                ("CallerID", f'"{ch.cid_name}" <{ch.cid_num}>' if ch.cid_num != UNKNOWN else ""),
                ("Channel", ch.name),
                ("DestinationChannel", dest),
                ("LastApplication", app),
                ("LastData", data),
                ("StartTime", fmt(ch.created_at)),
                ("AnswerTime", fmt(ch.answered_at)),
                ("EndTime", fmt(end)),
                ("Duration", str(int(end - ch.created_at))),
                ("BillableSeconds", str(int(end - ch.answered_at)) if ch.answered_at else "0"),
                ("Disposition", disposition),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", ch.uniqueid),
                ("UserField", ""),
            ],
            "cdr,all",
        )

    def soft_hangup(self, ch: Channel, cause: int) -> None:
        """AMI Hangup / a phone hanging up: SoftHangupRequest, then the hang-up. A
        conference user leaves the conference and its bridge first (as recorded)."""
        if isinstance(ch.bridge, Conference) and not ch.dead:
            self.conference_leave(ch, "request")
        self.emit("SoftHangupRequest", [*ch.block(), ("Cause", str(cause))])
        self.hangup(ch, cause)

    def _cancel_dial(self, attempt: DialAttempt, status: str, cause: int) -> None:
        if attempt.caller is not None:
            attempt.caller.dialing = None
        if not attempt.outcome.done():
            if attempt.report_dial:
                self.emit("DialEnd", [*self._dial_blocks(attempt), ("DialStatus", status)])
            attempt.outcome.set_result(status)
        attempt.dest.dial_as_dest = None
        self.hangup(attempt.dest, cause)

    # ------------------------------------------------------------ ChanSpy

    def spyers_of(self, spyee: Channel) -> list[Channel]:
        if not self._spies_started:
            return []
        return [c for c in self.channels.values() if c.spying is spyee]

    def spy_start(self, spyer: Channel, spyee: Channel, options: str) -> None:
        """ChanSpy found its channel: ChanSpyStart (the options are not reported)."""
        spyer.spying, spyer.spy_done = spyee, asyncio.Event()
        self._spies_started += 1
        spyer.spy_mode = "barge" if "B" in options else "whisper" if "w" in options else "listen"
        self.emit("ChanSpyStart", spyer.block("Spyer") + spyee.block("Spyee"))

    def stop_spies(self, ch: Channel) -> None:
        """ChanSpyStop for every spy on `ch` (it leaves or hangs up) and, when `ch` is
        itself a spyer hanging up, for its own spying."""
        for spyer in [*self.spyers_of(ch), *([ch] if ch.spying is not None else [])]:
            spyee, done = spyer.spying, spyer.spy_done
            if spyee is None or done is None or done.is_set():
                continue
            self.emit("ChanSpyStop", spyer.block("Spyer") + spyee.block("Spyee"))
            done.set()

    # ------------------------------------------------------------ MixMonitor

    def start_recording(self, ch: Channel, path: str) -> None:
        """AMI MixMonitor: VarSet MIXMONITOR_FILENAME, MixMonitorStart, the file begun."""
        self.set_var(ch, "MIXMONITOR_FILENAME", path)
        ch.mixmonitor = Recording(MONITOR_DIR / path, self.now())  # (an absolute path stays as it is)
        ch.mixmonitor.start()
        self.emit("MixMonitorStart", ch.block())

    def mute_recording(self, ch: Channel, direction: str, on: bool) -> None:
        if ch.mixmonitor is not None:
            ch.mixmonitor.mute(on, self.now())
        self.emit("MixMonitorMute", [*ch.block(), ("Direction", direction), ("State", "1" if on else "0")])

    def stop_recording(self, ch: Channel, event: bool = True) -> bool:
        """The file finished; MixMonitorStop unless the channel is hanging up."""
        rec, ch.mixmonitor = ch.mixmonitor, None
        if rec is None:
            return False
        rec.finish(self.now())
        if event:
            self.emit("MixMonitorStop", ch.block())
        return True

    # ------------------------------------------------------------ music on hold

    def moh_start(self, ch: Channel) -> None:
        if not ch.moh:
            ch.moh = True
            self.emit("MusicOnHoldStart", [*ch.block(), ("Class", "default")])

    def moh_stop(self, ch: Channel) -> None:
        if ch.moh:
            ch.moh = False
            self.emit("MusicOnHoldStop", ch.block())

    # ------------------------------------------------------------ bridges

    def bridge_create(self) -> Bridge:
        bridge = Bridge(str(uuid.uuid4()))
        self.emit("BridgeCreate", bridge.block())
        return bridge

    def bridge_enter(self, bridge: Bridge, ch: Channel, swap: Channel | None = None) -> None:
        bridge.channels.append(ch)
        ch.bridge = bridge
        self.emit("BridgeEnter", bridge.block() + ch.block() + ([("SwapUniqueid", swap.uniqueid)] if swap else []))
        if isinstance(bridge, Conference):
            return  # connected only with the marked user there (conference_join)
        if ch.call is not None and len(bridge.channels) >= 2 and ch.call.connected_at is None:
            ch.call.connected_at = self.now()

    def bridge_leave(self, ch: Channel) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        if isinstance(bridge, Conference):
            self.conference_leave(ch, "redirect")
            return
        if bridge.before_leave is not None:
            hook, bridge.before_leave = bridge.before_leave, None
            hook(ch)
        bridge.channels.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", bridge.block() + ch.block())
        self.stop_spies(ch)  # chanspy-*.ami: ChanSpyStop right after the spied leg's BridgeLeave
        if bridge.after_leave is not None and bridge.after_leave(ch):
            return  # the hook dealt with the bridge (and destroyed it if empty)
        if len(bridge.channels) == 1 and not bridge.keep_alone:
            other = bridge.channels[0]
            waiter = other.bridge_waiter
            if waiter is not None and not waiter.done():
                # a Dial()/Queue() caller: the application returns, dialplan goes on
                other.bridge_waiter = None
                self.bridge_leave(other)
                waiter.set_result("PEER_LEFT")
            elif not other.dead:
                self.hangup(other, 16)
        if not bridge.channels:
            self.emit("BridgeDestroy", bridge.block())

    def connect(self, caller: Channel, dest: Channel) -> Bridge:
        bridge = self.bridge_create()
        self.bridge_enter(bridge, dest)
        self.bridge_enter(bridge, caller)
        return bridge

    # ------------------------------------------------------------ app_confbridge

    def conference_join(self, ch: Channel, name: str, marked: bool = False, end_marked: bool = False) -> Conference:
        """ConfBridge(name) joins `ch`: BridgeCreate, the announcer (CBAnn, silent) and
        ConfbridgeStart for a new conference, then BridgeEnter, the users' BRIDGEPEER and
        ConfbridgeJoin, stamped before the last BRIDGEPEER (as recorded: its Timestamp
        goes back). A user waiting for the marked user (wait_marked) is in the bridge at
        once (it hears music; no MusicOnHold events)."""
        conf = self.conferences.get(name)
        if conf is None:
            conf = Conference(str(uuid.uuid4()), keep_alone=True, name=name)
            self.conferences[name] = conf
            self.emit("BridgeCreate", conf.block())
            conf.announcer = self._announcer(name)
            self.emit("ConfbridgeStart", [("Conference", name), *conf.block()])
        conf.users.append(ch)
        if marked:
            conf.marked.append(ch)
        if end_marked:
            conf.end_marked.append(ch)

        def joined(stamp: float | None = None, count: int | None = None) -> None:
            self.emit(
                "ConfbridgeJoin",
                [("Conference", name), *conf.block(count=count), *ch.block(), ("Admin", "No"), ("Muted", "No")],
                stamp=stamp,
            )

        if self.confbridge_order == "reversed":
            joined(count=conf.count() + 1)
            self.bridge_enter(conf, ch)
            self._bridge_peers(conf, last=ch)
        else:
            self.bridge_enter(conf, ch)
            joined(stamp=self._bridge_peers(conf, last=ch))
        if conf.marked:
            now = self.now()
            for other in conf.channels:
                # a caller is connected once it shares the conference with the (marked) agent
                if other not in conf.marked and other.call is not None and other.call.connected_at is None:
                    other.call.connected_at = now
        return conf

    def _announcer(self, name: str) -> Channel:
        """The conference's CBAnn/<name>-<n> pair (an internal channel: it takes a
        channel number and two Uniqueids, and sends no event); returns the `;2` half,
        which is in the bridge."""
        base = f"CBAnn/{name}-{next(self._local):08x}"
        u1, u2 = self.new_uniqueid(), self.new_uniqueid()
        now = self.now()
        one, two = (
            Channel(f"{base};{half}", uid, u1, "", "", state=6, half=half, created_at=now, cdr=False)
            for half, uid in ((1, u1), (2, u2))
        )
        one.partner, two.partner = two, one
        return two

    def _bridge_peers(self, conf: Conference, last: Channel | None = None, cleared: Channel | None = None) -> float:
        """BRIDGEPEER of the users in the bridge (the announcer first, then the others),
        `last`'s after the rest; `cleared` (leaving) gets an empty one. Returns the time
        taken just before the last one (ConfbridgeJoin's Timestamp)."""
        stamp = self.now()
        if cleared is not None:
            self._var_event(cleared, "BRIDGEPEER", "")
            return stamp
        members = [c for c in conf.channels if c is not last] + ([last] if last in conf.channels else [])
        for member in members:
            peers = [conf.announcer.name] if conf.announcer is not None else []
            peers += [c.name for c in conf.channels if c is not member]
            if member is last:
                stamp = self.now()
                self._var_event(member, "BRIDGEPEER", ",".join(peers), stamp=max(self.now(), stamp + 1e-6))
            else:
                self._var_event(member, "BRIDGEPEER", ",".join(peers))
        return stamp

    def _var_event(self, ch: Channel, name: str, value: str, stamp: float | None = None) -> None:
        ch.vars[name] = value
        self.emit("VarSet", [*ch.block(), ("Variable", name), ("Value", value)], "dialplan,all", stamp=stamp)

    def conference_leave(self, ch: Channel, why: str) -> None:
        """`ch`, still up, leaves its conference: `why` "request" (an AMI Hangup of it:
        ConfbridgeLeave first, then BridgeLeave, as recorded) or "redirect" (BridgeLeave
        first). The last marked user leaving removes the end_marked users."""
        conf = ch.bridge
        if not isinstance(conf, Conference):
            return
        conference_first = (why == "request") == (self.confbridge_order == "recorded")
        self._bridge_peers(conf, cleared=ch)
        was_marked = False
        if conference_first:
            was_marked = self._confbridge_leave(conf, ch)
            self._conference_bridge_leave(conf, ch)
        else:
            self._conference_bridge_leave(conf, ch)
            was_marked = self._confbridge_leave(conf, ch)
        if why == "request":
            self.set_var(ch, "CONFBRIDGE_RESULT", "HANGUP")
        self._user_left(conf, was_marked)

    def _conference_hangup(self, conf: Conference, ch: Channel) -> int | None:
        """A user hung up in the conference (before its Hangup event): as recorded, it
        leaves the bridge now and the conference after its Hangup (`_conference_gone`,
        given the returned stale BridgeNumChannels); "reversed": all of it now (None)."""
        if self.confbridge_order == "reversed":
            was_marked = self._confbridge_leave(conf, ch)
            self._bridge_peers(conf, cleared=ch)
            self._conference_bridge_leave(conf, ch)
            self.set_var(ch, "CONFBRIDGE_RESULT", "HANGUP")
            self._user_left(conf, was_marked)
            return None
        stale = conf.count()
        self._bridge_peers(conf, cleared=ch)
        self._conference_bridge_leave(conf, ch)
        self.set_var(ch, "CONFBRIDGE_RESULT", "HANGUP")
        return stale

    def _conference_gone(self, conf: Conference, ch: Channel, stale: int) -> None:
        """After a hung-up user's Hangup: its ConfbridgeLeave (with the bridge snapshot
        from before it left the bridge)."""
        self._user_left(conf, self._confbridge_leave(conf, ch, count=stale))

    def _confbridge_leave(self, conf: Conference, ch: Channel, count: int | None = None) -> bool:
        """ConfbridgeLeave; True if `ch` was a marked user."""
        if ch not in conf.users:
            return False
        conf.users.remove(ch)
        self.emit(
            "ConfbridgeLeave", [("Conference", conf.name), *conf.block(count=count), *ch.block(), ("Admin", "No")]
        )
        was_marked = ch in conf.marked
        for group in (conf.marked, conf.end_marked):
            if ch in group:
                group.remove(ch)
        return was_marked

    def _conference_bridge_leave(self, conf: Conference, ch: Channel) -> None:
        if ch not in conf.channels:
            return
        conf.channels.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", conf.block() + ch.block())
        self._bridge_peers(conf)
        if conf.ended and not conf.channels:
            self.loop.call_soon(self._conference_destroy, conf, [])

    def _user_left(self, conf: Conference, was_marked: bool) -> None:
        """The last marked user gone: the end_marked users are removed (their
        ConfBridge() returns ENDMARKED after the bridge is destroyed); the last user out
        ends the conference (ConfbridgeEnd; BridgeDestroy once the bridge is empty,
        after what is being done now, as recorded)."""
        kicked: list[tuple[Channel, asyncio.Future[str] | None]] = []
        if was_marked and not conf.marked:
            for user in [u for u in conf.users if u in conf.end_marked and u.bridge is conf]:
                waiter, user.bridge_waiter = user.bridge_waiter, None
                kicked.append((user, waiter))
                self.set_var(user, "CONFBRIDGE_RESULT", "ENDMARKED")
                if self.confbridge_order == "recorded":
                    self._confbridge_leave(conf, user)
                else:
                    self._bridge_peers(conf, cleared=user)
                    self._conference_bridge_leave(conf, user)
                    self._confbridge_leave(conf, user)
        if not conf.users and not conf.ended:
            conf.ended = True
            self.emit("ConfbridgeEnd", [("Conference", conf.name), *conf.block(count=len(conf.channels))])
            if self.conferences.get(conf.name) is conf:
                del self.conferences[conf.name]
        for user, _ in kicked:
            if user.bridge is conf:
                self._bridge_peers(conf, cleared=user)
                self._conference_bridge_leave(conf, user)
        if conf.ended and not conf.channels:
            self.loop.call_soon(self._conference_destroy, conf, kicked)
        else:
            for _, waiter in kicked:
                if waiter is not None and not waiter.done():
                    waiter.set_result("ENDMARKED")

    def _conference_destroy(self, conf: Conference, kicked: list[tuple[Channel, asyncio.Future[str] | None]]) -> None:
        """The empty bridge goes (its announcer silently), then the removed users'
        dialplan goes on."""
        if conf.announcer is not None and not conf.channels:
            conf.announcer = None
            self.emit("BridgeDestroy", conf.block())
        for _, waiter in kicked:
            if waiter is not None and not waiter.done():
                waiter.set_result("ENDMARKED")

    # ------------------------------------------------------------ dialplan programs

    def start_program(self, ch: Channel, context: str, exten: str, priority: int = 1) -> None:
        ch.context, ch.exten, ch.priority = context, exten, priority
        ch.task = self.spawn(self._run_program(ch, context, exten, priority), name=f"dialplan:{ch.name}")

    async def _run_program(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        from sim.pbx_emulator import dialplan

        program = dialplan.lookup(context, exten)
        try:
            if program is None:
                log.info("emulator_no_such_extension", channel=ch.name, context=context, exten=exten)
                self.hangup(ch, 0)
                return
            await program(self, ch, priority)
        except ChannelGone:
            return
        except asyncio.CancelledError:
            return

    def run_app(self, ch: Channel, app: str, data: str) -> None:
        """Originate with Application=: the channel runs one application."""
        from sim.pbx_emulator import dialplan

        ch.task = self.spawn(dialplan.run_application(self, ch, app, data), name=f"app:{ch.name}")

    def redirect(self, ch: Channel, context: str, exten: str, priority: int = 1) -> None:
        """Interrupt what the channel does and send it to context,exten,priority."""
        if ch.task is not None and ch.task is not asyncio.current_task():
            ch.task.cancel()
        self.moh_stop(ch)
        if ch.dialing is not None:
            self._cancel_dial(ch.dialing, "CANCEL", 0)
        if ch.queue_entry is not None:
            self._queue_leave(ch.queue_entry)
        ch.bridge_waiter = None
        if ch.bridge is not None:
            self.bridge_leave(ch)
        self.start_program(ch, context, exten, priority)

    # ------------------------------------------------------------ dialling

    async def dial_local(
        self,
        caller: Channel,
        dest: str,
        timeout: float,
        before_dial: Callable[[Channel], None] | None = None,
    ) -> tuple[str, Channel]:
        """Dial(Local/dest) from `caller`; returns (DIALSTATUS, the ;1 leg)."""
        one, two = self.new_local_pair(dest, caller.linkedid)
        for ch in (one, two):
            self.inherit_vars(caller, ch)
        self.set_callerid(one, caller.cid_num, caller.cid_name)
        self.set_connected(one, caller.cid_num, caller.cid_name)
        self.set_callerid(two, caller.cid_num, caller.cid_name)
        self.set_connected(two, caller.cid_num, caller.cid_name)
        self.local_bridge(one, two)
        attempt = DialAttempt(caller, one, self.loop.create_future(), started_at=self.now())
        one.dial_as_dest = attempt
        one.cdr = False
        leg = [one.name, caller.app, caller.appdata, False]
        caller.cdr_legs.append(leg)
        caller.dialing = attempt
        if before_dial is not None:
            before_dial(one)
        self.emit("DialBegin", caller.block() + one.block("Dest") + [("DialString", dest)])
        self.start_program(two, two.context, two.exten, 1)
        status = await self.wait_outcome(attempt, timeout)
        leg[3] = status == "ANSWER"
        if status == "TIMEOUT":
            status = "NOANSWER"
            self._cancel_dial(attempt, "NOANSWER", 0)
        elif status != "ANSWER":
            if not one.dead:
                one.dial_as_dest = None
                self.hangup(one, 0)
        caller.dialing = None
        one.dial_as_dest = None
        return status, one

    async def wait_outcome(self, attempt: DialAttempt, timeout: float) -> str:
        try:
            return await asyncio.wait_for(asyncio.shield(attempt.outcome), timeout / self.speed)
        except TimeoutError:
            return "TIMEOUT"

    # ------------------------------------------------------------ originate

    async def originate(
        self,
        channel: str,
        action_id: str,
        context: str = "",
        exten: str = "",
        priority: int = 1,
        application: str = "",
        data: str = "",
        callerid: tuple[str, str] = ("", ""),
        timeout: float = 30.0,
        variables: list[tuple[str, str]] | None = None,
        on_result: Callable[[bool], None] | None = None,
        send_event: bool = True,
    ) -> bool:
        """Originate a Local channel. Returns True when answered."""
        tech, _, dest = channel.partition("/")
        if tech.lower() != "local" or "@" not in dest:
            raise ValueError(f"only Local/<exten>@<context> channels exist here, not {channel!r}")
        dest = dest.split("/")[0]
        from sim.pbx_emulator import dialplan

        if not dialplan.exists(dest.partition("@")[2], dest.partition("@")[0]):
            # the Local channel cannot run: both halves appear and go at once
            one, two = self.new_local_pair(dest, None)
            one.app, one.appdata = "AppDial2", "(Outgoing Line)"
            self.hangup(two, 0)
            if send_event:
                self.emit(
                    "OriginateResponse",
                    [
                        ("ActionID", action_id),
                        ("Response", "Failure"),
                        ("Channel", channel),
                        ("Context", context),
                        ("Exten", exten),
                        ("Reason", "0"),
                        ("Uniqueid", UNKNOWN),
                        ("CallerIDNum", callerid[0] or UNKNOWN),
                        ("CallerIDName", callerid[1] or UNKNOWN),
                    ],
                )
            if on_result:
                on_result(False)
            return False
        one, two = self.new_local_pair(dest, None)
        self.newexten(one, 1, "AppDial2", "(Outgoing Line)", exten=one.exten)
        for k, v in variables or []:
            self.set_var(one, k, v)
        num, name = callerid
        if num or name:
            self.set_callerid(one, num, name)
            self.set_connected(one, num, name)
        for k, v in variables or []:
            self.set_var(two, k, v)
        if num or name:
            self.set_callerid(two, num, name)
            self.set_connected(two, num, name)
        self.local_bridge(one, two)
        attempt = DialAttempt(None, one, self.loop.create_future(), started_at=self.now())
        one.dial_as_dest = attempt
        self.emit("DialBegin", [*one.block("Dest"), ("DialString", dest)])
        self.start_program(two, two.context, two.exten, 1)
        status = await self.wait_outcome(attempt, timeout)
        one.dial_as_dest = None
        reason = {"ANSWER": 4, "BUSY": 5, "CONGESTION": 8, "TIMEOUT": 3, "NOANSWER": 3}.get(status, 1)
        if one.call is not None:
            one.call.originate_reason = reason
        if status == "ANSWER" and not one.dead:
            if application:
                self.run_app(one, application, data)
            else:
                self.start_program(one, context, exten, priority)
            if send_event:
                self.emit(
                    "OriginateResponse",
                    [
                        ("ActionID", action_id),
                        ("Response", "Success"),
                        ("Channel", one.name),
                        ("Context", context),
                        ("Exten", exten),
                        ("Reason", "4"),
                        ("Uniqueid", one.uniqueid),
                        ("CallerIDNum", one.cid_num),
                        ("CallerIDName", one.cid_name),
                    ]
                    + [(f"ChanVariable({one.name})", f"{v}={one.vars.get(v, '')}") for v in one.chanvars],
                )
            if on_result:
                on_result(True)
            return True
        if status == "TIMEOUT" and not one.dead:
            self.emit("HangupRequest", [*two.block(), ("Cause", "19")])
        failure = [
            ("ActionID", action_id),
            ("Response", "Failure"),
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Reason", str(reason)),
            ("Uniqueid", UNKNOWN),
            ("CallerIDNum", num or UNKNOWN),
            ("CallerIDName", name or UNKNOWN),
        ]
        if send_event:
            self.emit("OriginateResponse", failure)
        if status == "TIMEOUT":
            self.hangup(two, 19)
            self.hangup(one, 19)
        elif not one.dead:
            self.hangup(one, 0)
        if on_result:
            on_result(False)
        return False

    # ------------------------------------------------------------ app_queue

    def member_headers(self, q: Queue, m: QueueMember, name_key: str = "MemberName") -> list[tuple[str, str]]:
        return [
            ("Queue", q.name),
            (name_key, m.name),
            ("Interface", m.interface),
            ("StateInterface", m.interface),
            ("Membership", "dynamic"),
            ("Penalty", "0"),
            ("CallsTaken", str(m.calls_taken)),
            ("LastCall", str(m.last_call)),
            ("LastPause", str(m.last_pause)),
            ("LoginTime", str(m.login_time)),
            ("InCall", str(m.in_call)),
            ("Status", str(m.status)),
            ("Paused", "1" if m.paused else "0"),
            ("PausedReason", m.reason),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ]

    def member_status(self, q: Queue, m: QueueMember, status: int) -> None:
        if m.status != status:
            m.status = status
            self.emit("QueueMemberStatus", self.member_headers(q, m), "agent,all")

    def _queue_abandon(self, entry: QueueEntry) -> None:
        q = entry.queue
        pos = q.entries.index(entry) + 1 if entry in q.entries else 1
        q.abandoned += 1
        if entry.channel.call is not None:
            entry.channel.call.abandoned = True
        self.emit(
            "QueueCallerAbandon",
            [
                *entry.channel.block(),
                ("Queue", q.name),
                ("Position", str(pos)),
                ("OriginalPosition", str(entry.original_position)),
                ("HoldTime", str(int(self.now() - entry.joined_at))),
            ],
            "agent,all",
        )
        self._queue_leave(entry)

    def _queue_leave(self, entry: QueueEntry) -> None:
        q = entry.queue
        if entry not in q.entries:
            return
        pos = q.entries.index(entry) + 1
        q.entries.remove(entry)
        entry.channel.queue_entry = None
        self.emit(
            "QueueCallerLeave",
            [*entry.channel.block(), ("Queue", q.name), ("Position", str(pos)), ("Count", str(len(q.entries)))],
            "agent,all",
        )
