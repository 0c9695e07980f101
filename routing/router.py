"""The ACD router: a pure, synchronous, deterministic core.

    router = Router(rules, seed=0)
    router.add_agent(AgentProfile("a1", skills={"billing": 7}))
    decisions = router.handle(AgentLoggedIn(at=0.0, agent_id="a1"), now=0.0)
    decisions = router.handle(CallQueued(at=1.0, call_id="c1", queue="billing"), now=1.0)
    # -> [Offer(call_id="c1", agent_id="a1", ...), AgentStateChanged(state="reserved")]
    router.next_deadline()   # when to send Tick(now) next (None: nothing pending)

Time is always passed in; randomness comes from `random.Random(seed)`. The same
event sequence with the same seed and rules gives the same decisions.

Lifecycle the caller feeds back: after an Offer, CallConnected (answered),
CallNotAnswered (RONA: the call goes back to the head of its queue, the agent gets a
miss and is paused after `rona.max_misses` in a row), CallRejected (the agent
declined: back to the head of the queue, never offered to that agent again, no
miss) or CallAbandoned; after the
call, CallEnded (the agent wraps up for the longest of the queue's and the agent's
wrap-up, blocking offers from every queue) and optionally WrapUpEnded (ends it early).
Agents: AgentLoggedIn / AgentLoggedOut, AgentStateChanged(available | paused with a
reason). The router itself drives reserved / on_call / wrap_up and returns those
changes as AgentStateChanged; receiving them back is harmless (ignored).

How it stays fast (the simulator pushes ~1M events through it):

* Available agents are indexed by skill and proficiency level, each bucket an
  insertion-ordered dict (so iteration order is longest-idle first). Finding an
  agent for a call looks only at the buckets of the required skill with the fewest
  available agents, at the required level and above. longest_idle and most_skilled
  stop at the first eligible agent of each bucket; fewest_calls, least_occupied and
  round_robin compare every eligible idle agent in those buckets (cheap when calls
  wait, since then few agents are idle); random draws with rejection sampling.
* Waiting calls are grouped by what decides who may take them: (queue, filter,
  target, required skills, call attributes the target expression reads, preferred
  agent, PBX restriction). Each group keeps one FIFO heap per base priority, and is registered under
  one skill every eligible agent must have. A freed agent looks only at the groups
  under its own skills, evaluates each group's expression once, and compares heads.
* Several PBXs (cti/live_pbxs.py): a call whose attribute `agent_pbx` names a PBX
  goes only to agents whose profile attribute `pbx` is that PBX (a PBX whose calls
  may not cross a trunk); a call without it may go to any agent.
* Timers (escalation, overflow, final step, wrap-up end) sit in one heap with lazy
  invalidation; `next_deadline()` is a peek.

Channels (issue 18): a call is a task of a channel ("voice" unless CallQueued's
attributes say `channel`, or `set_channel` did): chats, e-mails and web call-backs are
routed by the same rules. Waiting tasks are grouped per channel too. An agent with
per-channel capacity (routing/capacity.py: `AgentProfile.channels`, else the rules'
`[capacity]` for the agent, its team or everyone) stays in the available index while it
has room for some channel, and is offered only what fits; with `voice_first` a freed
agent takes a waiting call before any written task. Agents without it keep the old
single `capacity` over every channel, and the old fast paths.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Mapping  # isinstance on typing.Mapping is several times slower
from typing import Any, NamedTuple

import structlog

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallRejected,
    WrapUpEnded,
)
from routing.capacity import VOICE, Capacity, Combo, fits, has_room
from routing.model import AgentProfile, Decision, Escalated, FinalStep, Offer, Overflowed, Tick
from routing.rules import QueueRules, RuleSet, Target, fallback_queue, promised_agent_rules

log = structlog.get_logger()

_INF = float("inf")
WAITING, OFFERED, CONNECTED, DONE = 0, 1, 2, 3
_MAX_SPARE_GROUPS = 4096
_MIN_COMPACT = 4096
_PROMISED = -2  # a call's filter index while its preferred agent has it to themselves (promised_agent_rules)
_MAX_STEPS = range(10_000)  # _advance's guard against cycles (made once: it runs once per call)


class _Window:
    """Time spent in some condition, over a sliding window (for occupancy)."""

    __slots__ = ("open_at", "spans")

    def __init__(self) -> None:
        self.spans: deque[tuple[float, float]] = deque()
        self.open_at: float | None = None

    def close(self, t: float, window: float) -> None:
        if self.open_at is not None:
            if t > self.open_at:
                spans = self.spans
                spans.append((self.open_at, t))
                lo = t - window  # keep memory bounded even if never queried
                while spans[0][1] <= lo:
                    spans.popleft()
            self.open_at = None

    def within(self, lo: float, now: float) -> float:
        spans = self.spans
        while spans and spans[0][1] <= lo:
            spans.popleft()
        total = 0.0
        for s, e in spans:
            total += min(e, now) - max(s, lo)
        if self.open_at is not None and now > self.open_at:
            total += now - max(self.open_at, lo)
        return total


class _Agent:
    __slots__ = (
        "attrs",
        "busy",
        "calls_handled",
        "capacity",
        "chan",
        "combos",
        "connected",
        "id",
        "idle_since",
        "in_index",
        "languages",
        "logged_in",
        "login_at",
        "misses",
        "own_cap",
        "own_voice_first",
        "pause_idle",
        "pause_reason",
        "paused",
        "ringing",
        "rr",
        "skills",
        "slots",
        "state",
        "team",
        "voice_first",
        "wrap_up_s",
        "wrapping",
    )

    def __init__(self, profile: AgentProfile, chan: dict[str, str] | None = None) -> None:
        self.logged_in = False
        self.paused = False
        self.pause_reason = ""
        self.ringing: dict[str, None] = {}
        self.connected: dict[str, str] = {}
        self.wrapping: dict[str, float] = {}
        self.idle_since = 0.0
        self.calls_handled = 0
        self.misses = 0
        self.rr: dict[str, int] = {}
        self.state = "logged_out"
        self.login_at = 0.0
        self.busy = _Window()
        self.pause_idle = _Window()
        self.in_index = False
        # per skill: (available-by-skill dict, available-at-level dict), built when first
        # indexed; the router never replaces those dicts, so they stay valid until the
        # skills change (set_profile)
        self.slots: list[tuple[dict[str, _Agent], dict[str, _Agent]]] | None = None
        # the router's channel of each non-voice call (shared), and this agent's
        # per-channel capacity (None: `capacity` contacts of any channel)
        self.chan: dict[str, str] = chan if chan is not None else {}
        self.combos: tuple[Combo, ...] | None = None
        self.voice_first = False
        self.set_profile(profile)

    def set_profile(self, p: AgentProfile) -> None:
        self.id = p.agent_id
        skills: dict[str, int] = {}
        for name, level in dict(p.skills).items():
            try:
                lvl = int(level)
            except (TypeError, ValueError):
                log.warning("routing_bad_skill_level", agent_id=p.agent_id, skill=name, level=level)
                continue
            if lvl >= 1:
                skills[str(name)] = min(lvl, 10)
        self.skills = skills
        self.slots = None
        self.languages = frozenset(p.languages)
        self.team = p.team
        self.capacity = max(1, int(p.capacity))
        self.attrs = dict(p.attributes)
        self.wrap_up_s = p.wrap_up_s
        self.own_cap = Capacity(tuple(dict(c) for c in p.channels), bool(p.voice_first)) if p.channels else None
        self.own_voice_first = p.voice_first

    @property
    def used(self) -> int:
        return len(self.ringing) + len(self.connected) + len(self.wrapping)

    def load(self) -> dict[str, int]:
        """What the agent holds now, per channel (ringing, connected, wrapping up)."""
        chan = self.chan
        counts: dict[str, int] = {}
        for held in (self.ringing, self.connected, self.wrapping):
            for cid in held:
                name = chan.get(cid, VOICE)
                counts[name] = counts.get(name, 0) + 1
        return counts

    def has_room(self) -> bool:
        combos = self.combos
        if combos is None:
            return len(self.ringing) + len(self.connected) + len(self.wrapping) < self.capacity
        return has_room(combos, self.load())

    def fits(self, channel: str) -> bool:
        """May the agent (with room) be offered one more contact of `channel`?"""
        combos = self.combos
        if combos is None:
            return True
        return fits(combos, self.load(), channel)

    def voice_held(self, held: dict[str, Any]) -> bool:
        """Does `held` (ringing, connected or wrapping) hold a call, not a written task?"""
        chan = self.chan
        if not chan:
            return bool(held)
        for cid in held:
            if cid not in chan:
                return True
        return False

    def display_state(self) -> str:
        """The shown (and logged) state is the agent's voice state: a written task held
        (chat, e-mail...) makes them neither reserved nor on a call, so the voice
        reports (occupancy, agent states, handle times) count calls only; the written
        channels have their own report (reports/channels.py) and `load()`."""
        if not self.logged_in:
            return "logged_out"
        if self.voice_held(self.ringing):
            return "reserved"
        if self.voice_held(self.connected):
            return "on_call"
        if self.voice_held(self.wrapping):
            return "wrap_up"
        if self.paused:
            return "paused"
        return "available"


class _Call:
    __slots__ = (
        "agent",
        "attrs",
        "channel",
        "customer_id",
        "due",
        "entry",
        "excluded",
        "exhausted",
        "filter_idx",
        "first_at",
        "group",
        "id",
        "language",
        "next_due",
        "order_at",
        "part",
        "preferred",
        "priority",
        "promised_s",
        "qr",
        "queue",
        "queue_at",
        "seq",
        "skills",
        "skills_t",
        "state",
        "target_at",
        "target_idx",
        "tier",
        "token",
        "version",
    )

    # set when the call enters the router (_on_call_queued, _adopt), not in __init__
    queue: str
    qr: QueueRules
    skills: dict[str, int]
    skills_t: tuple[tuple[str, int], ...]  # skills sorted: part of the group key
    priority: int
    attrs: dict[str, Any]
    customer_id: str
    tier: str
    language: str
    preferred: str
    promised_s: float  # how long the preferred agent has it to themselves (0: the rules say)
    first_at: float
    # its place in line: first_at, or for a task with a due time (an e-mail), when it
    # is due (attribute `due_at`): the earliest due is offered first; its wait (and so
    # its targets over time) still counts from first_at
    order_at: float
    queue_at: float
    target_at: float
    # when it is due (attribute `due_at`; _INF: never): a target with `until_due` ends then
    due: float

    def __init__(self, call_id: str, seq: int) -> None:
        self.id = call_id
        self.seq = seq
        self.state = WAITING
        self.agent: str | None = None
        self.group: _Group | None = None
        self.entry: _Place | None = None  # its place in its group's line, while it waits
        self.token = 0
        self.excluded: dict[str, bool] | None = None  # agent -> declined (else missed)
        self.exhausted = False
        self.next_due = _INF
        self.due = _INF
        self.filter_idx = -1
        self.target_idx = 0
        self.version = 0
        self.promised_s = 0.0
        self.part: str | None = None  # only agents of this PBX (attribute `agent_pbx`): see _eligible
        self.channel = VOICE


class _Place(NamedTuple):
    """A waiting call's place in its group's line (one heap per base priority), ordered
    by (order_at, seq, n): n is unique, so calls are never compared. Removal is lazy: a
    place is live while it is its call's `entry` (_unplace clears that), and lapsed
    ones are dropped when they reach the top."""

    order_at: float
    seq: int
    n: int
    call: _Call


class _CallTimer(NamedTuple):
    """A call's next timeout (escalation, overflow, final step) in the timer heap,
    ordered by (due, seq): seq is unique, so nothing else is compared. Lapsed unless
    the call still waits with this token (_schedule changes it)."""

    due: float
    seq: int
    call: _Call
    token: int


class _WrapTimer(NamedTuple):
    """The end of an agent's wrap-up of a call (same heap and order as _CallTimer).
    Lapsed unless that agent, still the router's, wraps the call up until `due`."""

    due: float
    seq: int
    agent: _Agent
    call_id: str


class _Group:
    """Waiting calls that any given agent may take all or none of."""

    __slots__ = (
        "agent_only",
        "anchor",
        "channel",
        "count",
        "fn",
        "key",
        "part",
        "qr",
        "reqs",
        "subs",
        "target",
        "texts",
    )

    def __init__(
        self,
        key: tuple[Any, ...],
        qr: QueueRules,
        target: Target,
        reqs: tuple[tuple[str, int], ...],
        agent_only: str | None,
        part: str | None = None,
        channel: str = VOICE,
    ) -> None:
        self.key = key
        self.part = part  # its calls go only to agents whose attribute `pbx` is this
        self.channel = channel
        self.qr = qr
        self.target = target
        self.reqs = reqs
        self.agent_only = agent_only
        self.subs: dict[int, list[_Place]] = {}  # base priority -> heap of places
        self.count = 0
        self.anchor: tuple[str, Any] = ("global", None)
        self.texts: tuple[int, str, str] | None = None  # (rules version, head, tail) of Offer reasons: see _offer
        expr = target.expression
        # The expression's own check, or None when the required-skill levels say it all.
        self.fn: Callable[[Any, Any], bool] | None = None if expr.constant_true or expr.fully_anchored else expr.fn

    @staticmethod
    def head(heap: list[_Place]) -> _Call | None:
        """The call at the head of the line (lapsed places on top are dropped)."""
        while heap:
            place = heap[0]
            if place.call.entry is place:
                return place.call
            heapq.heappop(heap)
        return None

    def rep(self) -> _Call | None:
        for heap in self.subs.values():
            call = self.head(heap)
            if call is not None:
                return call
        return None


def _hashable(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _call_value(call: _Call, path: tuple[str, ...]) -> Any:
    name = path[0]
    if name == "skills":
        return call.skills.get(path[1], 0) if len(path) > 1 else tuple(sorted(call.skills.items()))
    if name == "attributes":
        return _hashable(call.attrs.get(path[1]))
    if name == "preferred_agent":
        return call.preferred
    return getattr(call, name)


def _seconds(raw: Any) -> float:
    """A positive number of seconds from a call attribute (anything else: 0)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return 0.0
    return value if 0 < value < _INF else 0.0


def _due(raw: Any, default: float) -> float:
    """A due time (seconds since the epoch) from a call attribute (anything else: `default`)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _secs(x: float) -> str:
    return f"{x:.0f}"


class Router:
    """See the module docstring. Public methods: add_agent, remove_agent, handle,
    next_deadline (and deadline_epoch), swap_rules, snapshot, agent_state, call_info,
    rules, rules_version."""

    def __init__(self, rules: RuleSet, seed: int = 0, now: float = 0.0) -> None:
        self._rules = rules
        self._set_lookups(rules)
        self._version = rules.version if rules.version is not None else 1
        self._rng = random.Random(seed)
        self._seed = seed
        self._now = now
        self._seq = 0
        self._agents: dict[str, _Agent] = {}
        self._calls: dict[str, _Call] = {}
        # call id -> its channel, for the calls that are not voice (shared with the agents)
        self._chan: dict[str, str] = {}
        self._combo_agents = 0  # agents with per-channel capacity: matching checks what fits
        # A connected call being handed to another agent (the PBX rings them: a blind
        # transfer): call id -> that agent, reserved for it until it answers or not.
        self._transfer_rings: dict[str, str] = {}
        self._avail: dict[str, _Agent] = {}
        self._avail_skill: dict[str, dict[str, _Agent]] = {}
        self._avail_level: dict[str, list[dict[str, _Agent]]] = {}
        # skill -> the levels agents have had in the index, highest first: the buckets
        # of _avail_level worth looking at (the others are always empty)
        self._levels_used: dict[str, list[int]] = {}
        self._skill_count: dict[str, int] = {}
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._groups_by_skill: dict[str, dict[tuple[Any, ...], _Group]] = {}
        self._groups_by_agent: dict[str, dict[tuple[Any, ...], _Group]] = {}
        self._groups_global: dict[tuple[Any, ...], _Group] = {}
        # groups with no call waiting, kept for reuse (same rules): see _group_for
        self._spare_groups: dict[tuple[Any, ...], _Group] = {}
        # (queue, filter, target, call skills) -> its spare group, for targets whose group
        # follows from those alone: see _group_for (cleared with _spare_groups)
        self._group_memo: dict[tuple[Any, ...], _Group] = {}
        self._timers: list[_CallTimer | _WrapTimer] = []
        # Changes whenever next_deadline() may have moved earlier (a timer was added
        # before what it last returned; a timer due no earlier cannot move it, and most
        # are: the simulator's day-long wrap-up cap). While it is unchanged,
        # next_deadline() is no earlier than when last asked (timers only expire), so a
        # caller whose Tick is still pending at or before that time can skip asking (the
        # simulator asks after every event otherwise). A plain attribute, not a
        # property: the simulator reads it after every event. Read-only for callers.
        self.deadline_epoch = 0
        self._asked = _INF  # what next_deadline() last returned (inf: None, or never asked)
        self._compact_at = _MIN_COMPACT  # heap size at which lapsed timers are dropped
        self._fallbacks: dict[str, QueueRules] = {}
        self._promised: dict[tuple[str, float], QueueRules] = {}  # (queue, seconds) -> promised_agent_rules
        self._handlers: dict[type, Callable[[Any, float, list[Decision]], None]] = {
            Tick: self._on_tick,
            CallQueued: self._on_call_queued,
            CallConnected: self._on_connected,
            CallOffered: self._on_offered,
            CallNotAnswered: self._on_not_answered,
            CallRejected: self._on_rejected,
            CallAbandoned: self._on_abandoned,
            CallEnded: self._on_ended,
            WrapUpEnded: self._on_wrap_ended,
            AgentLoggedIn: self._on_logged_in,
            AgentLoggedOut: self._on_logged_out,
            AgentStateChanged: self._on_state_changed,
        }

    # ================================================================ public API

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def rules_version(self) -> int:
        return self._version

    def add_agent(self, profile: AgentProfile, now: float | None = None) -> list[Decision]:
        """Register an agent (logged out until AgentLoggedIn), or update the profile
        of a known one (skills, languages...; state is kept). Returns decisions: an
        updated available agent may now take a waiting call."""
        if not isinstance(profile, AgentProfile) or not profile.agent_id:
            raise ValueError(f"add_agent needs an AgentProfile with an agent_id, got {profile!r}")
        now = self._advance_clock(now)
        out: list[Decision] = []
        self._process_due(now, out)
        agent = self._agents.get(profile.agent_id)
        if agent is None:
            agent = _Agent(profile, self._chan)
            self._agents[agent.id] = agent
            self._set_capacity(agent)
            for skill in agent.skills:
                self._skill_count[skill] = self._skill_count.get(skill, 0) + 1
            return out
        was_indexed = agent.in_index
        if was_indexed:
            self._index_remove(agent)
        for skill in agent.skills:
            self._skill_count[skill] -= 1
        agent.set_profile(profile)
        self._set_capacity(agent)
        for skill in agent.skills:
            self._skill_count[skill] = self._skill_count.get(skill, 0) + 1
        if was_indexed:
            agent.idle_since = now
            self._index_add(agent)
        self._sync(agent, now, out)  # (the shown state does not depend on the profile)
        self._fill_agent(agent, now, out)
        return out

    def _set_capacity(self, agent: _Agent) -> None:
        """The agent's per-channel capacity: its profile's, else the rules' for the agent,
        its team or everyone (routing/capacity.py); None: the single `capacity`."""
        if agent.combos is not None:
            self._combo_agents -= 1
        found = agent.own_cap if agent.own_cap is not None else self._rules.capacity.resolve(agent.id, agent.team)
        agent.combos = found.combos if found is not None else None
        agent.voice_first = found is not None and found.voice_first
        if found is not None and agent.own_voice_first is not None:
            agent.voice_first = agent.own_voice_first
        if agent.combos is not None:
            self._combo_agents += 1

    def set_channel(self, call_id: str, channel: str) -> None:
        """Say which channel a call is (before the router sees it: an adopted task after a
        restart); "voice" is the default. Forgotten when the call leaves its agent."""
        if channel == VOICE:
            self._chan.pop(call_id, None)
        else:
            self._chan[call_id] = channel

    def agent_load(self, agent_id: str) -> dict[str, int]:
        """What the agent holds now per channel (ringing, connected, wrapping up)."""
        agent = self._agents.get(agent_id)
        return agent.load() if agent is not None else {}

    def voice_fits(self, agent_id: str) -> bool:
        """May a call join what the agent holds now (its chats, e-mails...), by its
        capacity? The blended dialer's test of an "available" agent (its shown state is
        its voice state: a written task leaves it available)."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return False
        if agent.combos is None:
            return agent.used < agent.capacity
        return agent.fits(VOICE)

    def voice_waiting(self) -> dict[str, int]:
        """Calls (not written tasks) waiting, per queue."""
        out: dict[str, int] = {}
        for call in self._calls.values():
            if call.state == WAITING and call.channel == VOICE:
                out[call.queue] = out.get(call.queue, 0) + 1
        return out

    def remove_agent(self, agent_id: str, now: float | None = None) -> list[Decision]:
        """Log the agent out and forget it. A call ringing at the agent goes back to
        the head of its queue (no RONA miss)."""
        now = self._advance_clock(now)
        out: list[Decision] = []
        self._process_due(now, out)
        agent = self._agents.get(agent_id)
        if agent is None:
            return out
        self._logout(agent, now, out)
        for skill in agent.skills:
            self._skill_count[skill] -= 1
        del self._agents[agent_id]
        return out

    def handle(self, event: object, now: float | None = None) -> list[Decision]:
        """Apply one domain event (or Tick) at time `now` (default: the event's `at`).
        Timers due by `now` fire first. Unknown event kinds are ignored."""
        if now is None:
            now = getattr(event, "at", None)
        if type(now) is float and self._now <= now < _INF:  # _advance_clock's fast path, inlined
            self._now = now
        else:
            now = self._advance_clock(now)
        out: list[Decision] = []
        timers = self._timers
        if timers and timers[0].due <= now:
            self._process_due(now, out)
        handler = self._handlers.get(type(event))
        if handler is not None:
            cid = getattr(event, "call_id", "")
            aid = getattr(event, "agent_id", "")
            if type(cid) is not str or type(aid) is not str:
                log.warning(
                    "routing_bad_event",
                    kind=type(event).__name__,
                    call_id=repr(cid),
                    agent_id=repr(aid),
                    problem="call_id and agent_id must be strings",
                )
                return out
            handler(event, now, out)
        return out

    def next_deadline(self) -> float | None:
        """Earliest time a Tick could change something, or None."""
        timers = self._timers
        while timers:
            entry = timers[0]
            if self._timer_live(entry):
                self._asked = entry.due
                return entry.due
            heapq.heappop(timers)
        self._asked = _INF
        return None

    def swap_rules(self, new_rules: RuleSet, now: float | None = None) -> list[Decision]:
        """Atomically replace the rules (already validated by `load_rules`).

        The version becomes new_rules.version if higher than the current one, else
        current + 1. Every waiting call is re-evaluated as if the new rules had been
        in force since it entered its queue (filter, target reached by its wait,
        overflow / final step if already due); calls ringing or connected keep going
        and use the new rules when they come back. Returns the resulting decisions
        (Escalated for calls whose target changed, offers, overflows, final steps)."""
        now = self._advance_clock(now)
        out: list[Decision] = []
        self._process_due(now, out)
        waiting = sorted((c for c in self._calls.values() if c.state == WAITING), key=lambda c: (c.first_at, c.seq))
        before = {c.id: (c.queue, c.filter_idx, c.target_idx) for c in waiting}
        for call in waiting:
            self._unplace(call)
        self._rules = new_rules
        self._set_lookups(new_rules)
        if new_rules.version is not None and new_rules.version > self._version:
            self._version = new_rules.version
        else:
            self._version += 1
        self._fallbacks.clear()
        self._promised.clear()
        self._spare_groups.clear()  # they hold the old rules' queue and target objects
        self._group_memo.clear()
        for agent in self._agents.values():  # the capacity per channel may have changed
            before_cap = agent.combos, agent.voice_first
            self._set_capacity(agent)
            if (agent.combos, agent.voice_first) != before_cap:
                self._sync(agent, now, out)
        log.info("routing_rules_swapped", version=self._version, digest=new_rules.digest, waiting=len(waiting))
        if not new_rules.rona.skip_missed_agent:  # forget misses, keep refusals
            for call in self._calls.values():
                if call.excluded:
                    call.excluded = {aid: True for aid, declined in call.excluded.items() if declined} or None
        live: list[_Call] = []
        for call in waiting:
            if self._reevaluate(call, now, out, before[call.id]):
                continue
            self._place(call)
            live.append(call)
        # Offer in queue order: highest effective priority first, then oldest.
        live.sort(key=lambda c: (-self._effective(c, now), c.order_at, c.seq))
        for call in live:
            if call.state == WAITING:
                self._match_call(call, now, out)
            if call.state == WAITING:
                self._schedule(call)
        return out

    def _set_lookups(self, rules: RuleSet) -> None:
        """Plain dicts of what the per-call paths look up in the rules (whose mappings
        are read-only proxies, slower to read): queues by name, each queue's wrap-up
        (its own, else the default), the agents' own rules."""
        self._queues: dict[str, QueueRules] = dict(rules.queues)
        self._queue_wrap: dict[str, float] = {
            name: qr.wrap_up_s if qr.wrap_up_s is not None else rules.wrap_up_s for name, qr in rules.queues.items()
        }
        self._agent_rules = dict(rules.agents)

    def _effective(self, call: _Call, now: float) -> int:
        t = call.qr.targets_for(call.filter_idx)[call.target_idx]
        base = t.priority if t.priority is not None else call.priority
        ageing = call.qr.ageing
        if ageing is not None:
            steps = int((now - call.first_at) // ageing.every_s) * ageing.step
            if steps > 0:
                return max(base, min(ageing.max, base + steps))
        return base

    def _reevaluate(self, call: _Call, now: float, out: list[Decision], before: tuple[str, int, int]) -> bool:
        """Place the call as if the current rules had been in force since it entered
        its queue. Returns True if it left the router (overflow chain / final step)."""
        self._enter_queue(call, call.queue, call.queue_at)
        if self._advance(call, now, out, emit=False):
            return True
        if (call.queue, call.filter_idx, call.target_idx) != before:
            t = call.qr.targets_for(call.filter_idx)[call.target_idx]
            text = f"rules v{self._version}: re-evaluated; queue {call.queue} target {call.target_idx + 1} '{t.label}'"
            out.append(self._escalated(call, text, now))
        return False

    def _escalated(self, call: _Call, text: str, now: float) -> Escalated:
        """The call is at a new target (its current one), for the reason `text`."""
        return Escalated(
            call.id,
            call.target_idx,
            text,
            queue=call.queue,
            filter_index=call.filter_idx,
            rules_version=self._version,
            at=now,
        )

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Wallboard view: per queue waiting / ringing / longest wait (seconds since
        the call first queued); agents by state, per team, and paused agents by reason.
        O(agents + calls): for wallboards, not for every event."""
        now = self._now if now is None else now
        queues: dict[str, dict[str, Any]] = {
            name: {"waiting": 0, "ringing": 0, "longest_wait_s": 0.0} for name in self._rules.queues
        }
        for call in self._calls.values():
            q = queues.setdefault(call.queue, {"waiting": 0, "ringing": 0, "longest_wait_s": 0.0})
            if call.state == WAITING:
                q["waiting"] += 1
                q["longest_wait_s"] = max(q["longest_wait_s"], now - call.first_at)
            elif call.state == OFFERED:
                q["ringing"] += 1
        names = ("available", "reserved", "on_call", "wrap_up", "paused", "logged_out")
        states = dict.fromkeys(names, 0)
        teams: dict[str, dict[str, int]] = {}
        reasons: dict[str, int] = {}
        for agent in self._agents.values():
            st = agent.display_state()
            states[st] += 1
            team = teams.get(agent.team)
            if team is None:
                team = teams[agent.team] = dict.fromkeys(names, 0)
            team[st] += 1
            if agent.logged_in and agent.paused:
                reasons[agent.pause_reason] = reasons.get(agent.pause_reason, 0) + 1
        return {
            "at": now,
            "rules_version": self._version,
            "queues": queues,
            "waiting": sum(q["waiting"] for q in queues.values()),
            "agents": states,
            "teams": teams,
            "paused_by_reason": reasons,
        }

    def agent_state(self, agent_id: str) -> str | None:
        """logged_out | available | reserved | on_call | wrap_up | paused (None: unknown)."""
        agent = self._agents.get(agent_id)
        return None if agent is None else agent.display_state()

    def wrapping_up(self, agent_id: str) -> tuple[str, ...]:
        """The calls the agent is wrapping up now (none when not in wrap-up)."""
        agent = self._agents.get(agent_id)
        return () if agent is None else tuple(agent.wrapping)

    def wrap_up_of(self, agent_id: str) -> tuple[str, float] | None:
        """The call the agent is wrapping up and when that wrap-up ends (of several, the
        one that ends last); None when the agent is not wrapping up."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        found: tuple[str, float] | None = None
        for call_id, due in agent.wrapping.items():
            if found is None or due >= found[1]:
                found = (call_id, due)
        return found

    def agent_info(self, agent_id: str, now: float | None = None) -> dict[str, Any] | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        now = self._now if now is None else now
        return {
            "agent_id": agent.id,
            "state": agent.display_state(),
            "paused": agent.paused,
            "pause_reason": agent.pause_reason,
            "calls_handled": agent.calls_handled,
            "misses": agent.misses,
            "idle_s": now - agent.idle_since if agent.in_index else 0.0,
            "occupancy": self._occupancy(agent, now),
            "wrap_up_until": max(agent.wrapping.values(), default=None),
        }

    def call_info(self, call_id: str) -> dict[str, Any] | None:
        """Where a call is: state (waiting | offered | connected), queue, filter and
        target index, agent (when offered or connected)."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        return {
            "call_id": call.id,
            "state": ("waiting", "offered", "connected", "done")[call.state],
            "queue": call.queue,
            "filter_index": call.filter_idx,
            "target_index": call.target_idx,
            "agent_id": call.agent,
            "priority": call.priority,
            "first_at": call.first_at,
        }

    def waiting_call_ids(self) -> list[str]:
        return [c.id for c in self._calls.values() if c.state == WAITING]

    # ================================================================ clock and timers

    def _advance_clock(self, now: float | None) -> float:
        # Fast path (every event): a finite float not before the clock. NaN fails the
        # comparison and takes the checked path below.
        if type(now) is float and self._now <= now < _INF:
            self._now = now
            return now
        if now is None:
            return self._now
        if not isinstance(now, (int, float)) or not math.isfinite(now):
            log.warning("routing_bad_time", now=repr(now), last=self._now)
            return self._now
        if now < self._now:
            log.warning("routing_clock_went_back", now=now, last=self._now)
            return self._now
        self._now = now
        return now

    def _process_due(self, now: float, out: list[Decision]) -> None:
        timers = self._timers
        while timers and timers[0].due <= now:
            entry = heapq.heappop(timers)
            if isinstance(entry, _CallTimer):
                call = entry.call
                if call.token != entry.token or call.state != WAITING:
                    continue
                self._on_call_due(call, now, out)
            else:
                agent = entry.agent
                if agent.wrapping.get(entry.call_id) != entry.due or self._agents.get(agent.id) is not agent:
                    continue
                del agent.wrapping[entry.call_id]
                self._sync(agent, now, out)
                self._fill_agent(agent, now, out)

    def _schedule(self, call: _Call) -> None:
        call.token += 1
        if call.next_due < _INF:
            self._seq += 1
            self._push_timer(_CallTimer(call.next_due, self._seq, call, call.token))

    def _push_timer(self, entry: _CallTimer | _WrapTimer) -> None:
        timers = self._timers
        heapq.heappush(timers, entry)
        if entry.due < self._asked:  # (a later timer cannot move next_deadline() earlier)
            self.deadline_epoch += 1
        if len(timers) > self._compact_at:
            self._compact_timers()

    def _timer_live(self, entry: _CallTimer | _WrapTimer) -> bool:
        """Can this heap entry still fire? (_process_due makes the same test, inlined.)"""
        if isinstance(entry, _CallTimer):
            call = entry.call
            return call.token == entry.token and call.state == WAITING
        agent = entry.agent
        return agent.wrapping.get(entry.call_id) == entry.due and self._agents.get(agent.id) is agent

    def _compact_timers(self) -> None:
        """Drop lapsed entries from the timer heap (in place). Lapsed ones otherwise
        stay until due: with the simulator's day-long wrap-up cap, one per call, a heap
        of ~100,000 entries by the end of a day. A lapsed entry never becomes live again
        (tokens only grow; a removed agent is never re-added as the same object), and
        the live ones keep their (due, seq) keys, so they fire in the same order."""
        timers = self._timers
        live = [e for e in timers if self._timer_live(e)]
        heapq.heapify(live)
        timers[:] = live  # in place: _process_due may be iterating over this list
        self._compact_at = max(_MIN_COMPACT, 2 * len(live))

    def _on_call_due(self, call: _Call, now: float, out: list[Decision]) -> None:
        before = (call.queue, call.filter_idx, call.target_idx)
        if self._advance(call, now, out, emit=True):
            return
        if (call.queue, call.filter_idx, call.target_idx) != before:
            self._unplace(call)
            self._place(call)
            self._match_call(call, now, out)
        if call.state == WAITING:
            self._schedule(call)

    # ================================================================ queue positions

    def _queue_rules(self, name: str) -> QueueRules:
        qr = self._rules.queues.get(name)
        if qr is not None:
            return qr
        dq = self._rules.default_queue
        if dq is not None and dq in self._rules.queues:
            return self._rules.queues[dq]
        qr = self._fallbacks.get(name)
        if qr is None:
            log.warning("routing_unknown_queue", queue=name, fallback="any agent with the call's skills")
            qr = fallback_queue(name, self._rules.strategy)
            self._fallbacks[name] = qr
        return qr

    def _enter_queue(self, call: _Call, name: str, at: float, promised: bool = True) -> None:
        """Put the call in queue `name` at its first target (from `at`). A call whose
        preferred agent was promised it for `promised_s` (a call-back: CallQueued's
        `preferred_agent_s`) waits for that agent alone first, unless the queue's own
        first target is for the preferred agent already (then the rules say how long)."""
        qr = self._queues.get(name)  # _queue_rules' first step, inlined (once per call)
        if qr is None:
            qr = self._queue_rules(name)
        if promised and call.promised_s > 0 and self._promise_holds(call, qr):
            call.qr = self._promised_rules(qr, call.promised_s)
            call.version = self._version
            call.queue = qr.name
            call.queue_at = call.target_at = at
            call.exhausted = False
            call.filter_idx, call.target_idx = _PROMISED, 0
            return
        call.qr = qr
        call.version = self._version
        call.queue = qr.name
        call.queue_at = at
        call.exhausted = False
        call.filter_idx = -1
        filters = qr.filters
        if not filters and qr.targets[0].strategy != "preferred_agent":
            call.target_idx = 0  # _enter_target(call, 0, at), cut short: the usual case
            call.target_at = at
            return
        for f in filters:
            if f.when.fn(None, call):
                call.filter_idx = f.index
                break
        self._enter_target(call, 0, at)

    def _promise_holds(self, call: _Call, qr: QueueRules) -> bool:
        """The preferred agent is logged in and the rules do not begin with them already."""
        agent = self._agents.get(call.preferred)
        if agent is None or not agent.logged_in:
            return False
        index = -1
        for f in qr.filters:
            if f.when.fn(None, call):
                index = f.index
                break
        return qr.targets_for(index)[0].strategy != "preferred_agent"

    def _promised_rules(self, qr: QueueRules, timeout_s: float) -> QueueRules:
        key = (qr.name, timeout_s)
        found = self._promised.get(key)
        if found is None:
            found = self._promised[key] = promised_agent_rules(qr, timeout_s)
        return found

    def _promise_lapsed(self, call: _Call, at: float, now: float, out: list[Decision], emit: bool) -> None:
        """The preferred agent did not take the call in time (or missed it): it waits in
        its queue from `at` (its overflow and final step count from when it was queued)."""
        waited = at - call.target_at
        queued_at = call.queue_at
        self._enter_queue(call, call.queue, at, promised=False)
        call.queue_at = queued_at
        if emit:
            t = call.qr.targets_for(call.filter_idx)[call.target_idx]
            text = (
                f"queue {call.queue}; promised agent {call.preferred} did not take it in {_secs(waited)} s; "
                f"now target {t.index + 1} '{t.label}'; rules v{self._version}"
            )
            out.append(self._escalated(call, text, now))

    def _enter_target(self, call: _Call, index: int, at: float) -> None:
        targets = call.qr.targets_for(call.filter_idx)
        # A preferred-agent target is skipped when the call has no preferred agent,
        # or that agent is unknown or logged out (TaskRouter's skip_if).
        while targets[index].strategy == "preferred_agent" and index + 1 < len(targets):
            pref = self._agents.get(call.preferred) if call.preferred else None
            if pref is not None and pref.logged_in:
                break
            index += 1
        call.target_idx = index
        call.target_at = at

    def _advance(self, call: _Call, now: float, out: list[Decision], emit: bool) -> bool:
        """Apply every timeout due by `now` (in time order, each at its exact due
        time). Sets call.next_due. Returns True if the call left the router."""
        version = self._version
        for _ in _MAX_STEPS:
            qr = call.qr
            targets = qr.targets_for(call.filter_idx)
            t = targets[call.target_idx]
            t_due = call.target_at + t.timeout_s if t.timeout_s is not None and not call.exhausted else _INF
            if t.until_due and call.due < t_due and not call.exhausted:  # (a written task's due time)
                t_due = call.target_at if call.due < call.target_at else call.due
            ov, fin = qr.overflow, qr.final
            o_due = call.queue_at + ov.after_s if ov is not None and ov.after_s is not None else _INF
            f_due = call.queue_at + fin.after_s if fin is not None and fin.after_s is not None else _INF
            due = t_due  # min(t_due, o_due, f_due), inlined (once per call at least)
            if o_due < due:
                due = o_due
            if f_due < due:
                due = f_due
            if due > now:
                call.next_due = due
                return False
            if f_due == due:
                self._final(call, qr, f_due, now, out, f"{_secs(f_due - call.queue_at)} s in queue {qr.name}")
                return True
            if o_due == due:
                self._overflow(call, qr, o_due, now, out, f"{_secs(o_due - call.queue_at)} s in queue {qr.name}")
                continue
            if call.filter_idx == _PROMISED:
                self._promise_lapsed(call, t_due, now, out, emit)
                continue
            if call.target_idx + 1 < len(targets):
                old = t
                self._enter_target(call, call.target_idx + 1, t_due)
                if emit:
                    new = targets[call.target_idx]
                    by_due = old.until_due and call.due <= t_due
                    why = "ran to the task's due time" if by_due else f"timed out after {_secs(old.timeout_s or 0)} s"
                    out.append(
                        Escalated(
                            call.id,
                            call.target_idx,
                            f"queue {qr.name}; target {old.index + 1} '{old.label}' "
                            f"{why}; now target {new.index + 1} '{new.label}'; rules v{version}",
                            queue=qr.name,
                            filter_index=call.filter_idx,
                            rules_version=version,
                            at=now,
                        )
                    )
                continue
            if ov is not None:
                self._overflow(call, qr, t_due, now, out, "last target timed out")
                continue
            if fin is not None:
                self._final(call, qr, t_due, now, out, "last target timed out")
                return True
            call.exhausted = True
        raise RuntimeError(f"routing: call {call.id} keeps moving between queues")  # cycles are rejected by validation

    def _overflow(self, call: _Call, qr: QueueRules, at: float, now: float, out: list[Decision], why: str) -> None:
        ov = qr.overflow
        assert ov is not None  # (called only for a queue with an overflow rule)
        to = ov.to
        call.promised_s = 0.0  # the promise was the first queue's: not waited for again
        out.append(
            Overflowed(
                call.id,
                qr.name,
                to,
                f"overflow after {why}; rules v{self._version}",
                rules_version=self._version,
                at=now,
            )
        )
        self._enter_queue(call, to, at)

    def _final(self, call: _Call, qr: QueueRules, at: float, now: float, out: list[Decision], why: str) -> None:
        fin = qr.final
        assert fin is not None
        out.append(
            FinalStep(
                call.id,
                fin.action,
                queue=qr.name,
                destination=fin.destination,
                reason=f"final step {fin.action} after {why}; rules v{self._version}",
                rules_version=self._version,
                at=now,
            )
        )
        self._unplace(call)
        call.state = DONE
        self._calls.pop(call.id, None)

    # ================================================================ waiting groups

    def _place(self, call: _Call, group: _Group | None = None) -> None:
        """Put the waiting call in line in its group (`group`: from _group_for)."""
        if group is None:
            group = self._group_for(call)
        if group.count == 0:
            self._register(group)
        t = group.target
        base = t.priority if t.priority is not None else call.priority
        heap = group.subs.get(base)
        if heap is None:
            heap = group.subs[base] = []
        self._seq += 1  # (first_at, seq) repeats when a call comes back: keep entries distinct
        place = _Place(call.order_at, call.seq, self._seq, call)
        heapq.heappush(heap, place)
        call.entry = place
        call.group = group
        group.count += 1

    def _group_for(self, call: _Call) -> _Group:
        """The call's group under its current target: the registered one (calls waiting
        in it), else a spare one kept from before, else a new one (not registered until
        a call is placed in it: most calls are offered at once and never wait)."""
        qr = call.qr
        # The usual case: a target whose expression reads nothing of the call and that
        # is not for a preferred agent; its group follows from the call's queue, filter,
        # target and skills alone, remembered here (one look-up instead of building
        # the key, once or more per call).
        memo_key = (qr.name, call.filter_idx, call.target_idx, call.skills_t, call.part, call.channel)
        group = self._group_memo.get(memo_key)
        if group is not None:
            return group
        t = qr.targets_for(call.filter_idx)[call.target_idx]
        expr = t.expression
        anchors = expr.anchors
        if anchors:
            reqs: dict[str, int] = dict(call.skills) if t.require_call_skills else {}
            for skill, level in anchors.items():
                if level > reqs.get(skill, 0):
                    reqs[skill] = level
            reqs_t = tuple(sorted(reqs.items()))
        else:  # just the call's skills, no copy needed
            reqs_t = call.skills_t if t.require_call_skills else ()
        paths = expr.call_paths
        cvals = tuple([_call_value(call, p) for p in paths]) if paths else ()
        agent_only = call.preferred if t.strategy == "preferred_agent" else None
        key = (qr.name, call.filter_idx, call.target_idx, reqs_t, cvals, agent_only, call.part, call.channel)
        spare = self._spare_groups
        group = spare.get(key)  # (a spare group with this key is the registered one, if any)
        if group is None:
            group = self._groups.get(key)
            if group is not None:
                return group  # (waiting calls, though no longer kept as spare: not remembered)
            if len(spare) >= _MAX_SPARE_GROUPS:
                spare.clear()  # bounded: keys include call attribute values
                self._group_memo.clear()
            group = spare[key] = _Group(key, qr, t, reqs_t, agent_only, call.part, call.channel)
        if not paths and agent_only is None:
            memo = self._group_memo
            if len(memo) >= _MAX_SPARE_GROUPS:
                memo.clear()
            memo[memo_key] = group
        return group

    def _unplace(self, call: _Call) -> None:
        group = call.group
        if group is None:
            return
        call.entry = None  # its place lapses (dropped when it reaches the top of its heap)
        call.group = None
        group.count -= 1
        if group.count == 0:
            self._unregister(group)

    def _register(self, group: _Group) -> None:
        key = group.key
        self._groups[key] = group
        if group.agent_only is not None:
            group.anchor = ("agent", group.agent_only)
            self._groups_by_agent.setdefault(group.agent_only, {})[key] = group
        elif group.reqs:
            # Anchor on the rarest required skill: fewest freed agents will look here.
            skill, level = min(group.reqs, key=lambda sl: (self._skill_count.get(sl[0], 0), sl[0]))
            group.anchor = ("skill", (skill, level))
            self._groups_by_skill.setdefault(skill, {})[key] = group
        else:
            self._groups_global[key] = group

    def _unregister(self, group: _Group) -> None:
        key = group.key
        self._groups.pop(key, None)
        group.subs = {}  # only stale entries are left: start clean if it is reused
        kind, value = group.anchor
        if kind == "agent":
            d = self._groups_by_agent.get(value)
        elif kind == "skill":
            d = self._groups_by_skill.get(value[0])
        else:
            d = self._groups_global
        if d is not None:
            d.pop(key, None)

    # ================================================================ available agents

    def _index_add(self, agent: _Agent) -> None:
        agent.in_index = True
        aid = agent.id
        self._avail[aid] = agent
        slots = agent.slots
        if slots is None:
            slots = agent.slots = self._slots_for(agent)
        for by_skill, at_level in slots:
            by_skill[aid] = agent
            at_level[aid] = agent

    def _slots_for(self, agent: _Agent) -> list[tuple[dict[str, _Agent], dict[str, _Agent]]]:
        """The index dicts the agent goes into, one pair per skill (created if new):
        found once per profile instead of on every add and remove (several per call)."""
        slots = []
        for skill, level in agent.skills.items():
            d = self._avail_skill.get(skill)
            if d is None:
                d = self._avail_skill[skill] = {}
            levels = self._avail_level.get(skill)
            if levels is None:
                levels = self._avail_level[skill] = [{} for _ in range(11)]
            used = self._levels_used.setdefault(skill, [])
            if level not in used:
                used.append(level)
                used.sort(reverse=True)
            slots.append((d, levels[level]))
        return slots

    def _index_remove(self, agent: _Agent) -> None:
        agent.in_index = False
        aid = agent.id
        del self._avail[aid]
        slots = agent.slots
        assert slots is not None  # set by _index_add
        for by_skill, at_level in slots:
            del by_skill[aid]
            del at_level[aid]

    def _sync(self, agent: _Agent, now: float, out: list[Decision] | None) -> None:
        """Bring indexes and occupancy windows in line with the agent's state and
        publish its shown state if it changed (into `out`, unless None). Inlined
        throughout: this follows almost every change of an agent's state (~3 times per
        simulated call)."""
        ringing, connected, wrapping = agent.ringing, agent.connected, agent.wrapping
        used = len(ringing) + len(connected) + len(wrapping)
        logged_in = agent.logged_in
        paused = agent.paused
        if logged_in and not paused and (used < agent.capacity if agent.combos is None else agent.has_room()):
            if not agent.in_index:
                agent.idle_since = now
                self._index_add(agent)
        elif agent.in_index:
            self._index_remove(agent)
        busy = agent.busy
        if used:
            if busy.open_at is None:
                busy.open_at = now
        elif busy.open_at is not None:  # busy.close(now, window), inlined (once per call)
            opened = busy.open_at
            if now > opened:
                spans = busy.spans
                spans.append((opened, now))
                lo = now - self._rules.occupancy_window_s
                while spans[0][1] <= lo:
                    spans.popleft()
            busy.open_at = None
        pause_idle = agent.pause_idle
        if logged_in and paused and not used:
            if pause_idle.open_at is None:
                pause_idle.open_at = now
        elif pause_idle.open_at is not None:
            pause_idle.close(now, self._rules.occupancy_window_s)
        # agent.display_state(), inlined (its written tasks checked only when there are any)
        if not logged_in:
            state = "logged_out"
        elif used and self._chan:
            state = agent.display_state()
        elif ringing:
            state = "reserved"
        elif connected:
            state = "on_call"
        elif wrapping:
            state = "wrap_up"
        elif paused:
            state = "paused"
        else:
            state = "available"
        if state != agent.state:
            agent.state = state
            if out is not None:
                out.append(AgentStateChanged(now, agent.id, state, agent.pause_reason if state == "paused" else ""))

    def _occupancy(self, agent: _Agent, now: float) -> float:
        lo = max(now - self._rules.occupancy_window_s, agent.login_at)
        span = now - lo
        if span <= 0:
            return 0.0
        ready = span - agent.pause_idle.within(lo, now)
        if ready <= 0:
            return 0.0
        return min(1.0, agent.busy.within(lo, now) / ready)

    # ================================================================ matching

    @staticmethod
    def _eligible(agent: _Agent, call: _Call, group: _Group) -> bool:
        if call.excluded is not None and agent.id in call.excluded:
            return False
        if agent.combos is not None and not agent.fits(call.channel):
            return False
        skills = agent.skills
        for skill, level in group.reqs:
            if skills.get(skill, 0) < level:
                return False
        if group.agent_only is not None and agent.id != group.agent_only:
            return False
        if group.part is not None and agent.attrs.get("pbx") != group.part:
            return False
        fn = group.fn
        return fn is None or fn(agent, call)

    def _match_call(self, call: _Call, now: float, out: list[Decision], group: _Group | None = None) -> None:
        """A call just became waiting (or its target widened): offer it to the best
        eligible available agent under its target's strategy, if any. `group`: the
        call's group when the call is not placed in it (yet)."""
        if group is None:
            group = call.group
            assert group is not None
        if not self._avail:
            return
        t = group.target
        eligible = self._eligible
        if group.agent_only is not None:
            a = self._avail.get(group.agent_only)
            if a is not None and eligible(a, call, group):
                self._offer(call, a, now, out, "preferred agent", group)
            return
        # Candidates: the available agents of one required skill at the required
        # level or above (the skill with the fewest available agents), as buckets per
        # level, each in idle order (longest idle first). No requirement: everyone.
        buckets: list[dict[str, _Agent]]
        if group.reqs:
            best_n = -1
            src_skill, src_min = "", 0
            for req_skill, level in group.reqs:
                d = self._avail_skill.get(req_skill)
                if not d:
                    return
                if best_n < 0 or len(d) < best_n:
                    best_n, src_skill, src_min = len(d), req_skill, level
            levels = self._avail_level[src_skill]
            buckets = []
            for lv in self._levels_used[src_skill]:  # (a loop: a comprehension is a call of its own)
                if lv < src_min:
                    break
                bucket = levels[lv]
                if bucket:
                    buckets.append(bucket)
            if not buckets:
                return
        else:
            buckets = [self._avail]
        strategy = t.strategy
        if strategy == "longest_idle":
            # The usual case needs no _eligible: with at most one required skill (the
            # buckets'), no expression left to check and no agent excluded, every
            # agent in the buckets is eligible.
            check = not (
                call.excluded is None
                and group.fn is None
                and len(group.reqs) <= 1
                and group.part is None
                and not self._combo_agents
            )
            best: _Agent | None = None
            for d in buckets:  # the first eligible agent of each bucket; the longest idle wins
                for a in d.values():
                    if not check or eligible(a, call, group):
                        if best is None or a.idle_since < best.idle_since:
                            best = a
                        break
            if best is not None:  # (round(): see _offer)
                self._offer(call, best, now, out, f"longest idle {round(now - best.idle_since)} s", group)
            return
        if strategy == "most_skilled":
            skill = self._order_skill(t, call)
            reqs = dict(group.reqs)
            if skill is not None and skill in reqs:
                by_level = self._avail_level.get(skill)
                if by_level is None:
                    return
                for level in range(10, reqs[skill] - 1, -1):
                    for a in by_level[level].values():
                        if eligible(a, call, group):
                            self._offer(
                                call,
                                a,
                                now,
                                out,
                                f"most skilled: {skill} {level}, idle {_secs(now - a.idle_since)} s",
                                group,
                            )
                            return
                return
            best, best_key = None, None
            for d in buckets:
                for a in d.values():
                    if eligible(a, call, group):
                        k = (-(a.skills.get(skill, 0) if skill else 0), a.idle_since)
                        if best_key is None or k < best_key:
                            best, best_key = a, k
            if best is not None:
                level = best.skills.get(skill, 0) if skill else 0
                self._offer(
                    call, best, now, out, f"most skilled: {skill} {level}, idle {_secs(now - best.idle_since)} s", group
                )
            return
        pool = [a for d in buckets for a in d.values()]
        if strategy == "random":
            # Uniform over the eligible agents: draw from the candidates and accept the
            # first eligible draw (rejection sampling); after a few misses, list them.
            rng = self._rng
            for _ in range(8):
                a = pool[rng.randrange(len(pool))]
                if eligible(a, call, group):
                    self._offer(call, a, now, out, f"random (seed {self._seed})", group)
                    return
            cands = [a for a in pool if eligible(a, call, group)]
            if cands:
                a = cands[rng.randrange(len(cands))]
                self._offer(call, a, now, out, f"random among {len(cands)} eligible (seed {self._seed})", group)
            return
        cands = [a for a in pool if eligible(a, call, group)]
        if not cands:
            return
        if strategy == "fewest_calls":
            a = min(cands, key=lambda x: (x.calls_handled, x.idle_since))
            self._offer(call, a, now, out, f"fewest calls: {a.calls_handled}", group)
        elif strategy == "least_occupied":
            a = min(cands, key=lambda x: (self._occupancy(x, now), x.idle_since))
            self._offer(call, a, now, out, f"least occupied: {self._occupancy(a, now):.0%}", group)
        elif strategy == "round_robin":
            q = call.queue
            a = min(cands, key=lambda x: (x.rr.get(q, -1), x.idle_since))
            self._offer(call, a, now, out, "round robin: longest since last offer in this queue", group)
        else:  # pragma: no cover - preferred_agent always has agent_only set
            raise AssertionError(strategy)

    @staticmethod
    def _order_skill(t: Target, call: _Call) -> str | None:
        if t.order_by_skill:
            return t.order_by_skill
        if t.expression.first_skill:
            return t.expression.first_skill
        if call.skills:
            return max(call.skills.items(), key=lambda sl: (sl[1], sl[0]))[0]
        return None

    def _fill_agent(self, agent: _Agent, now: float, out: list[Decision]) -> None:
        """The agent has a free slot: offer it the best waiting call it may take."""
        if not self._groups:  # no call waiting (_best_call_for's first test, inlined: once per call)
            return
        while agent.in_index:
            best = self._best_call_for(agent, now)
            if best is None:
                return
            call, eff = best
            self._offer(call, agent, now, out, f"next in line for a free agent (priority {eff})", call.group)

    def _best_call_for(self, agent: _Agent, now: float) -> tuple[_Call, int] | None:
        if not self._groups:  # no call waiting (every group below is in _groups): nothing to build
            return None
        aid = agent.id
        skills = agent.skills
        # The groups this agent may take calls from (a list, not a closure per group:
        # this runs whenever an agent frees up, often with nothing to take)
        cands: list[_Group] = []
        by_skill = self._groups_by_skill
        if by_skill:
            for skill, level in skills.items():
                groups = by_skill.get(skill)
                if groups:
                    for group in groups.values():
                        if level >= group.anchor[1][1]:
                            cands.append(group)
        groups = self._groups_by_agent.get(aid)
        if groups:
            cands.extend(groups.values())
        if self._groups_global:
            cands.extend(self._groups_global.values())
        best: _Call | None = None
        best_key: tuple[int, int, float, int] | None = None
        combos, voice_first = agent.combos, agent.voice_first
        for group in cands:
            if group.agent_only is not None and group.agent_only != aid:
                continue
            if group.part is not None and agent.attrs.get("pbx") != group.part:
                continue
            if combos is not None and not agent.fits(group.channel):
                continue
            first = 1 if voice_first and group.channel == VOICE else 0
            missing = False
            for skill, level in group.reqs:
                if skills.get(skill, 0) < level:
                    missing = True
                    break
            if missing:
                continue
            fn = group.fn
            if fn is not None:
                rep = group.rep()
                if rep is None or not fn(agent, rep):
                    continue
            ageing = group.qr.ageing
            for base, heap in group.subs.items():
                if not heap:
                    continue
                place = heap[0]
                # group.head(heap), inlined for its usual case: a live head
                call: _Call | None = place.call if place.call.entry is place else group.head(heap)
                if call is not None and call.excluded is not None and aid in call.excluded:
                    call = self._first_not_excluding(heap, aid)
                if call is None:
                    continue
                eff = base
                if ageing is not None:
                    steps = int((now - call.first_at) // ageing.every_s) * ageing.step
                    if steps > 0:
                        eff = max(base, min(ageing.max, base + steps))
                key = (first, eff, -call.order_at, -call.seq)
                if best_key is None or key > best_key:
                    best, best_key = call, key
        if best is None:
            return None
        assert best_key is not None
        return best, best_key[1]

    @staticmethod
    def _first_not_excluding(heap: list[_Place], aid: str) -> _Call | None:
        for place in sorted(p for p in heap if p.call.entry is p):
            call = place.call
            if call.excluded is None or aid not in call.excluded:
                return call
        return None

    def _offer(
        self, call: _Call, agent: _Agent, now: float, out: list[Decision], how: str, group: _Group | None = None
    ) -> None:
        """`group`: the call's group (placed in it or not), whose reason texts it keeps.
        A group is always that of the call's current target (calls are placed again
        when their target changes), so its target is the call's."""
        t = group.target if group is not None else call.qr.targets_for(call.filter_idx)[call.target_idx]
        if call.group is not None:
            self._unplace(call)
        call.state = OFFERED
        call.agent = agent.id
        agent.ringing[call.id] = None
        self._seq += 1
        agent.rr[call.queue] = self._seq
        was_free = agent.in_index  # (always, from the callers: offers go to available agents)
        if was_free:
            self._index_remove(agent)  # (re-added below, at the back, if capacity is left)
        wait = now - call.first_at
        queue, filter_idx, version = call.queue, call.filter_idx, self._version
        # The reason's fixed parts (queue, filter, target, rules version) are built once
        # per group, not once per offer (hot path).
        texts = group.texts if group is not None else None
        if texts is None or texts[0] != version:
            # t.label, inlined
            if filter_idx < 0:
                head = f"queue {queue}; target {t.index + 1} '{t.name or t.expression.text}' after "
            else:
                head = (
                    f"queue {queue}; filter '{call.qr.filters[filter_idx].name}'; target {t.index + 1} "
                    f"'{t.name or t.expression.text}' after "
                )
            texts = (version, head, f"; rules v{version}")
            if group is not None:
                group.texts = texts
        # round(wait): the digits of _secs(wait) (':.0f', half to even) for seconds never
        # negative, at half the cost (once per call)
        reason = f"{texts[1]}{round(wait)} s; {how}{texts[2]}"
        # positional: a frozen dataclass builds noticeably faster without keywords (hot path)
        out.append(Offer(call.id, agent.id, queue, reason, version, t.index, filter_idx, t.strategy, wait, now))
        if not was_free:
            self._sync(agent, now, out)  # (the refresh touches no value the Offer reads)
            return
        # _sync, cut short (once per call): the agent was available (logged in, not
        # paused, a slot free) and now rings
        if (
            len(agent.ringing) + len(agent.connected) + len(agent.wrapping) < agent.capacity
            if agent.combos is None
            else agent.has_room()
        ):
            agent.idle_since = now  # capacity left: back of the idle order
            self._index_add(agent)
        busy = agent.busy
        if busy.open_at is None:
            busy.open_at = now
        if agent.pause_idle.open_at is not None:
            agent.pause_idle.close(now, self._rules.occupancy_window_s)
        shown = "reserved" if call.channel == VOICE else agent.display_state()
        if agent.state != shown:
            agent.state = shown
            out.append(AgentStateChanged(now, agent.id, shown, agent.pause_reason if shown == "paused" else ""))

    def _requeue(self, call: _Call, now: float, out: list[Decision]) -> None:
        """A call comes back (RONA, agent gone): it keeps its arrival time, so it is
        ahead of every call that arrived after it - the head of its queue."""
        call.state = WAITING
        call.agent = None
        if call.filter_idx == _PROMISED and call.excluded and call.preferred in call.excluded:
            self._promise_lapsed(call, now, now, out, emit=True)  # the promised agent missed or declined it
        if call.version != self._version:  # the rules changed while it rang
            if self._reevaluate(call, now, out, (call.queue, call.filter_idx, call.target_idx)):
                return
        elif self._advance(call, now, out, emit=True):
            return
        self._put_in_line(call, now, out)

    def _put_in_line(self, call: _Call, now: float, out: list[Decision]) -> None:
        """Given to a free eligible agent at once if there is one (without entering its
        group's line: nothing to undo), else placed in line and timed for its next
        escalation."""
        # _group_for's first step (its memo), inlined: once per call
        group = self._group_memo.get((call.qr.name, call.filter_idx, call.target_idx, call.skills_t))
        if group is None:
            group = self._group_for(call)
        if self._avail:  # offered at once: it never enters the line (no heap entry to undo)
            self._match_call(call, now, out, group)
            if call.state != WAITING:
                return
        self._place(call, group)
        self._schedule(call)

    # ================================================================ event handlers
    # Events are typed Any here on purpose: their fields are checked where they are
    # read, whatever the dataclass declares (an event from the wire may hold
    # anything), and the mypyc build (routing/native.py) would otherwise trust the
    # declared types and raise TypeError on a bad field instead of ignoring it.

    def _on_tick(self, event: Any, now: float, out: list[Decision]) -> None:  # event: Tick
        pass  # due timers were processed by handle()

    def _on_call_queued(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallQueued
        cid = e.call_id
        if not isinstance(cid, str) or not cid:
            log.warning("routing_bad_event", kind="CallQueued", problem="empty call_id")
            return
        call = self._calls.get(cid)
        if call is not None:  # re-queued (transfer to a queue): end what it was doing
            self._detach(call, now, out)
            call.excluded = None
            call.state = WAITING
            call.agent = None
        else:  # (a new _Call starts waiting, with no agent and no exclusions)
            self._seq += 1
            call = _Call(cid, self._seq)
            call.first_at = now
            self._calls[cid] = call
        skills: dict[str, int] = {}
        raw_skills = e.skills
        if type(raw_skills) is not dict and not isinstance(raw_skills, Mapping):
            raw_skills = {}
        for name, level in raw_skills.items():
            if type(name) is str and type(level) is int and 1 <= level <= 10:
                skills[name] = level  # already normal (the usual case): no conversions
                continue
            try:
                skills[str(name)] = min(10, max(1, int(level)))
            except (TypeError, ValueError):
                log.warning("routing_bad_event", kind="CallQueued", call_id=cid, problem=f"skill level {level!r}")
        call.skills = skills
        # sorted once here, not at every _group_for
        call.skills_t = tuple(skills.items()) if len(skills) < 2 else tuple(sorted(skills.items()))
        priority = e.priority
        if type(priority) is int and 0 <= priority <= 9:
            call.priority = priority
        else:
            try:
                call.priority = min(9, max(0, int(priority)))
            except (TypeError, ValueError):
                log.warning("routing_bad_event", kind="CallQueued", call_id=cid, problem=f"priority {priority!r}")
                call.priority = 0
        raw_attrs = e.attributes
        attrs = dict(raw_attrs) if type(raw_attrs) is dict or isinstance(raw_attrs, Mapping) else {}
        call.attrs = attrs
        customer_id = e.customer_id
        call.customer_id = customer_id if type(customer_id) is str else str(customer_id or "")
        chan = self._chan
        if attrs and "channel" in attrs:
            channel = str(attrs["channel"] or VOICE)
            call.channel = channel
            if channel != VOICE:
                chan[cid] = channel
            else:
                chan.pop(cid, None)
        elif chan:
            call.channel = chan.get(cid, VOICE)
        if attrs:
            due = attrs.get("due_at")
            call.order_at = call.first_at if due is None else _due(due, call.first_at)
            call.due = _INF if due is None else _due(due, _INF)
            call.tier = str(attrs.get("tier", "") or "")
            call.language = str(attrs.get("language", "") or "")
            call.preferred = str(attrs.get("preferred_agent", "") or "")
            call.promised_s = _seconds(attrs.get("preferred_agent_s")) if call.preferred else 0.0
            part = attrs.get("agent_pbx")
            call.part = str(part) if part else None
        else:  # the usual case in the simulator
            call.order_at = call.first_at
            call.due = _INF
            call.tier = call.language = call.preferred = ""
            call.promised_s = 0.0
            call.part = None
        queue = e.queue
        self._enter_queue(call, queue if type(queue) is str else str(queue or ""), now)
        if self._advance(call, now, out, emit=True):
            return
        self._put_in_line(call, now, out)

    def _detach(self, call: _Call, now: float, out: list[Decision]) -> None:
        """Take a known call out of whatever it was doing (for a re-queue)."""
        if call.state == WAITING:
            self._unplace(call)
        elif call.state in (OFFERED, CONNECTED) and call.agent is not None:
            agent = self._agents.get(call.agent)
            if agent is not None:
                if call.state == OFFERED:
                    agent.ringing.pop(call.id, None)
                    self._sync(agent, now, out)
                    self._fill_agent(agent, now, out)
                else:
                    self._end_interaction(agent, call, now, out)
        call.agent = None

    def _call_at_agent(self, call_id: str, agent_id: str, kind: str, state: int) -> tuple[_Call, _Agent] | None:
        call = self._calls.get(call_id)
        if call is None or call.state != state:
            log.warning(
                "routing_unexpected_event",
                kind=kind,
                call_id=call_id,
                agent_id=agent_id,
                call_state=None if call is None else call.state,
            )
            return None
        aid = agent_id or call.agent
        if aid != call.agent:
            log.warning(
                "routing_unexpected_event", kind=kind, call_id=call_id, agent_id=agent_id, offered_to=call.agent
            )
            return None
        agent = self._agents.get(aid) if aid is not None else None
        if agent is None:
            return None
        return call, agent

    def _on_connected(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallConnected
        # _call_at_agent's checks, inlined for the usual case (once per call); anything
        # else goes through it (and its warnings)
        call = self._calls.get(e.call_id)
        agent = None
        if (
            call is not None
            and call.state == OFFERED
            and call.agent is not None
            and (e.agent_id or call.agent) == call.agent
        ):
            agent = self._agents.get(call.agent)
        if call is None or agent is None:
            if call is not None and call.state == CONNECTED and e.agent_id and e.agent_id != call.agent:
                if self._transfer(call, e.agent_id, now, out):
                    return
            if (call is None or call.state == WAITING) and self._adopt_connected(e, call, now, out):
                return
            found = self._call_at_agent(e.call_id, e.agent_id, "CallConnected", OFFERED)
            if found is None:
                return
            call, agent = found
        agent.ringing.pop(call.id, None)
        agent.connected[call.id] = call.queue
        agent.misses = 0
        agent.calls_handled += 1
        call.state = CONNECTED
        if not agent.logged_in:  # (cannot be: logging out takes its ringing calls back)
            self._sync(agent, now, out)
            return
        # ringing -> connected leaves the agent's slots in use, and so its indexes and
        # windows, as they were: only the shown state may change (_sync, cut short)
        state = agent.display_state() if self._chan else "reserved" if agent.ringing else "on_call"
        if state != agent.state:
            agent.state = state
            out.append(AgentStateChanged(now, agent.id, state, agent.pause_reason if state == "paused" else ""))

    def _adopt(self, e: Any, call: _Call | None, now: float) -> tuple[_Call, _Agent] | None:
        """The PBX reports a call the router did not offer (unknown, or waiting) with a
        logged-in agent -- ringing it or connected: after a restart the resync reports
        the calls already there; a PBX queue rings its members itself. The PBX is
        right: the call is taken out of the line and put with that agent, so the agent
        is not offered another call meanwhile. None: not such a case."""
        if call is not None and call.state != WAITING:
            return None
        agent = self._agents.get(e.agent_id) if e.agent_id else None
        if agent is None or not agent.logged_in:
            return None
        if call is None:
            self._seq += 1
            call = _Call(e.call_id, self._seq)
            call.first_at = call.order_at = now
            call.skills, call.skills_t, call.priority, call.attrs = {}, (), 0, {}
            call.customer_id = call.tier = call.language = call.preferred = ""
            call.channel = self._chan.get(call.id, VOICE)
            self._calls[call.id] = call
            queue = e.queue
            self._enter_queue(call, queue if type(queue) is str else str(queue or ""), now)
        else:
            self._unplace(call)
        call.agent = agent.id
        log.info("routing_adopted_call", call_id=call.id, agent_id=agent.id, kind=type(e).__name__)
        return call, agent

    def _adopt_connected(self, e: Any, call: _Call | None, now: float, out: list[Decision]) -> bool:
        adopted = self._adopt(e, call, now)
        if adopted is None:
            return False
        call, agent = adopted
        call.state = CONNECTED
        agent.connected[call.id] = call.queue
        agent.calls_handled += 1
        self._sync(agent, now, out)
        return True

    def _on_offered(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallOffered
        """Only the PBX's own offers reach here (the router's are its own Offer
        decisions, which callers do not feed back): the agent is ringing for it."""
        call = self._calls.get(e.call_id)
        if call is not None and call.state == CONNECTED and e.agent_id and e.agent_id != call.agent:
            target = self._agents.get(e.agent_id)
            if target is not None and target.logged_in:  # a transfer rings them: not free meanwhile
                target.ringing[call.id] = None
                self._transfer_rings[call.id] = target.id
                self._sync(target, now, out)
            return
        adopted = self._adopt(e, call, now)
        if adopted is not None:
            call, agent = adopted
            call.state = OFFERED
            agent.ringing[call.id] = None
            self._sync(agent, now, out)

    def _release_transfer_ring(self, call_id: str, now: float, out: list[Decision]) -> _Agent | None:
        """The agent a transfer rang for `call_id` is no longer ringing for it."""
        agent_id = self._transfer_rings.pop(call_id, None)
        agent = self._agents.get(agent_id) if agent_id else None
        if agent is None or agent.ringing.pop(call_id, 0) == 0:
            return None
        self._sync(agent, now, out)
        return agent

    def _transfer(self, call: _Call, agent_id: str, now: float, out: list[Decision]) -> bool:
        """A connected call now talks to another agent (a blind or attended transfer
        completed on the PBX): the call moves to them. The agent who handed it away
        is free again without wrap-up: wrap-up follows the end of the call, for the
        agent who had it then."""
        new = self._agents.get(agent_id)
        if new is None or not new.logged_in:
            return False
        self._transfer_rings.pop(call.id, None)
        old = self._agents.get(call.agent) if call.agent is not None else None
        new.ringing.pop(call.id, None)
        new.connected[call.id] = call.queue
        new.misses = 0
        new.calls_handled += 1
        call.agent = new.id
        self._sync(new, now, out)
        if old is not None and old is not new:
            old.connected.pop(call.id, None)
            self._sync(old, now, out)
            if old.in_index:
                self._fill_agent(old, now, out)
        log.info("routing_call_transferred", call_id=call.id, agent_id=new.id, from_agent=old.id if old else "")
        return True

    def _on_not_answered(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallNotAnswered
        if self._transfer_rings.get(e.call_id) == e.agent_id and e.agent_id:  # a transfer not answered
            agent = self._release_transfer_ring(e.call_id, now, out)
            if agent is not None and agent.in_index:
                self._fill_agent(agent, now, out)
            return
        found = self._call_at_agent(e.call_id, e.agent_id, "CallNotAnswered", OFFERED)
        if found is None:
            return
        call, agent = found
        agent.ringing.pop(call.id, None)
        agent.misses += 1
        rona = self._rules.rona
        if rona.max_misses and agent.misses >= rona.max_misses and not agent.paused:
            agent.paused = True
            agent.pause_reason = rona.pause_reason
            log.info("routing_agent_paused_rona", agent_id=agent.id, misses=agent.misses)
        if rona.skip_missed_agent:
            if call.excluded is None:
                call.excluded = {}
            call.excluded.setdefault(agent.id, False)  # False: missed (True: declined)
        self._sync(agent, now, out)
        self._requeue(call, now, out)
        self._fill_agent(agent, now, out)

    def _on_rejected(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallRejected
        found = self._call_at_agent(e.call_id, e.agent_id, "CallRejected", OFFERED)
        if found is None:
            return
        call, agent = found
        agent.ringing.pop(call.id, None)
        if call.excluded is None:
            call.excluded = {}
        call.excluded[agent.id] = True  # declined: kept whatever the rules say
        self._sync(agent, now, out)
        self._requeue(call, now, out)
        self._fill_agent(agent, now, out)

    def _on_abandoned(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallAbandoned
        call = self._calls.pop(e.call_id, None)
        if call is None:
            return
        if self._transfer_rings:
            released = self._release_transfer_ring(call.id, now, out)
            if released is not None and released.in_index:
                self._fill_agent(released, now, out)
        self._drop(call, now, out)

    def _drop(self, call: _Call, now: float, out: list[Decision]) -> None:
        if call.state == WAITING:
            self._unplace(call)
        elif call.agent is not None:
            agent = self._agents.get(call.agent)
            if agent is not None:
                if call.state == OFFERED:
                    agent.ringing.pop(call.id, None)
                    self._sync(agent, now, out)
                    self._fill_agent(agent, now, out)
                elif call.state == CONNECTED:
                    self._end_interaction(agent, call, now, out)
        call.state = DONE
        if self._chan:
            self._forget_channel(call)

    def _forget_channel(self, call: _Call) -> None:
        """The call left the router: its channel is kept while its agent wraps it up."""
        agent = self._agents.get(call.agent) if call.agent is not None else None
        if agent is None or call.id not in agent.wrapping:
            self._chan.pop(call.id, None)

    def _on_ended(self, e: Any, now: float, out: list[Decision]) -> None:  # e: CallEnded
        call = self._calls.pop(e.call_id, None)
        if call is None:
            return
        if self._transfer_rings:
            released = self._release_transfer_ring(call.id, now, out)
            if released is not None and released.in_index:
                self._fill_agent(released, now, out)
        if call.state == CONNECTED and call.agent is not None:  # _drop's usual case, inlined
            agent = self._agents.get(call.agent)
            if agent is not None:
                self._end_interaction(agent, call, now, out)
            call.state = DONE
            if self._chan:
                self._forget_channel(call)
            return
        self._drop(call, now, out)

    def _wrap_up_for(self, agent: _Agent, queue: str) -> float:
        wrap = self._queue_wrap.get(queue)
        if wrap is None:  # not a queue of these rules
            wrap = self._rules.wrap_up_s
        ar = self._agent_rules.get(agent.id) if self._agent_rules else None
        own = ar.wrap_up_s if ar is not None and ar.wrap_up_s is not None else agent.wrap_up_s
        if own is not None and own > wrap:
            wrap = own
        return wrap

    def _end_interaction(self, agent: _Agent, call: _Call, now: float, out: list[Decision]) -> None:
        queue = agent.connected.pop(call.id, None)
        was_connected = queue is not None
        if queue is None:
            queue = call.queue
        wrap = self._wrap_up_for(agent, queue) if agent.logged_in else 0.0
        if wrap > 0:
            due = now + wrap
            wrapping = agent.wrapping
            new_wrap = call.id not in wrapping
            wrapping[call.id] = due
            self._seq += 1
            self._push_timer(_WrapTimer(due, self._seq, agent, call.id))
            if was_connected and new_wrap:
                # connected -> wrapping up: the slots in use, and so the indexes and
                # windows, are as they were; only the shown state may change (_sync,
                # cut short: once per call)
                if self._chan:
                    state = agent.display_state()
                else:
                    state = "reserved" if agent.ringing else "on_call" if agent.connected else "wrap_up"
                if state != agent.state:
                    agent.state = state
                    out.append(AgentStateChanged(now, agent.id, state, agent.pause_reason if state == "paused" else ""))
                if agent.in_index:
                    self._fill_agent(agent, now, out)
                return
        self._sync(agent, now, out)
        if agent.in_index:  # (else wrapping up: _fill_agent would do nothing)
            self._fill_agent(agent, now, out)

    def _on_wrap_ended(self, e: Any, now: float, out: list[Decision]) -> None:  # e: WrapUpEnded
        agent = self._agents.get(e.agent_id)
        if agent is None:
            return
        if e.call_id:
            if agent.wrapping.pop(e.call_id, None) is None:
                return
            if self._chan and e.call_id not in self._calls:
                self._chan.pop(e.call_id, None)
        else:
            if self._chan:
                for cid in agent.wrapping:
                    if cid not in self._calls:
                        self._chan.pop(cid, None)
            agent.wrapping.clear()
        self._sync(agent, now, None)
        if self._groups:  # (_fill_agent's first test: no call waiting, nothing to offer; once per call)
            self._fill_agent(agent, now, out)

    def _known_agent(self, agent_id: str, kind: str) -> _Agent | None:
        agent = self._agents.get(agent_id)
        if agent is None:
            log.warning("routing_unknown_agent", kind=kind, agent_id=agent_id, hint="add_agent first")
        return agent

    def _on_logged_in(self, e: Any, now: float, out: list[Decision]) -> None:  # e: AgentLoggedIn
        agent = self._known_agent(e.agent_id, "AgentLoggedIn")
        if agent is None or agent.logged_in:
            return
        self._login(agent, now)
        if self._rules.login_state == "paused":
            agent.paused = True
            agent.pause_reason = "login"
        self._sync(agent, now, out)
        self._fill_agent(agent, now, out)

    def _login(self, agent: _Agent, now: float) -> None:
        agent.logged_in = True
        agent.login_at = now
        agent.paused = False
        agent.pause_reason = ""
        agent.misses = 0
        agent.busy = _Window()
        agent.pause_idle = _Window()

    def _on_logged_out(self, e: Any, now: float, out: list[Decision]) -> None:  # e: AgentLoggedOut
        agent = self._known_agent(e.agent_id, "AgentLoggedOut")
        if agent is not None:
            self._logout(agent, now, out)

    def _logout(self, agent: _Agent, now: float, out: list[Decision]) -> None:
        if not agent.logged_in:
            return
        agent.logged_in = False
        agent.paused = False
        agent.pause_reason = ""
        agent.wrapping.clear()
        ringing = [self._calls[cid] for cid in agent.ringing if cid in self._calls]
        agent.ringing.clear()
        self._sync(agent, now, None)
        for call in ringing:
            self._requeue(call, now, out)

    def _on_state_changed(self, e: Any, now: float, out: list[Decision]) -> None:  # e: AgentStateChanged
        state = e.state
        if state in ("reserved", "on_call", "wrap_up"):
            return  # the router drives these; an echo of its own decisions
        agent = self._known_agent(e.agent_id, "AgentStateChanged")
        if agent is None:
            return
        if state == "available":
            if not agent.logged_in:
                self._login(agent, now)
            agent.paused = False
            agent.pause_reason = ""
            agent.misses = 0
            agent.wrapping.clear()  # ready again: ends any wrap-up early
            self._sync(agent, now, None)
            self._fill_agent(agent, now, out)
        elif state == "paused":
            if not agent.logged_in:
                log.warning(
                    "routing_unexpected_event",
                    kind="AgentStateChanged",
                    agent_id=agent.id,
                    problem="paused while logged out",
                )
                return
            reason = str(e.reason or "")
            if reason and reason not in self._rules.pause_reasons:
                log.warning(
                    "routing_unknown_pause_reason",
                    agent_id=agent.id,
                    reason=reason,
                    known=list(self._rules.pause_reasons),
                )
            agent.paused = True
            agent.pause_reason = reason
            self._sync(agent, now, None)
        elif state == "logged_out":
            self._logout(agent, now, out)
        else:
            log.warning(
                "routing_unexpected_event",
                kind="AgentStateChanged",
                agent_id=agent.id,
                problem=f"unknown state {state!r}",
            )
