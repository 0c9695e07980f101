"""Routing rules: the TOML schema, its validation (errors say file, line/column, key
path and reason) and the compiled, immutable `RuleSet` the router runs.

The same structure is a standalone file (`routing.toml`) or the `[routing]` table of
the main configuration (`hotline.toml`); see `config/examples/routing.toml` for every
feature. Shape::

    version = 7                      # optional; the router records it on decisions
    skills = ["billing", "sales"]    # optional catalogue: `skills.x` must name one
    default_queue = "general"        # optional: where calls for unknown queues go

    [defaults]                       # strategy, wrap_up_s, login_state, occupancy_window_s
    [rona]                           # max_misses, pause_reason, ring_timeout_s, skip_missed_agent,
                                     # accept_s = {chat = 30, email = 600} (written tasks' ring time)
    [pause_reasons.lunch]            # label, paid   (or: pause_reasons = ["break", "lunch"])
    [agents.a17]                     # wrap_up_s (per agent)
    [capacity.default]               # combos = [{voice = 1}, {chat = 3}, {voice = 1, email = 2}],
    [capacity.teams.digital]         # voice_first: contacts per channel at once (routing/capacity.py)
    [capacity.agents.a17]
    [queues.billing]                 # wrap_up_s, strategy, ageing, overflow, final
    [[queues.billing.filters]]       # name, when (call expression), targets = [...]
    [[queues.billing.targets]]       # the targets used when no filter matches:
                                     # expression, strategy, priority, timeout_s,
                                     # until_due (ends at a task's due time),
                                     # order_by_skill, require_call_skills, name
"""

from __future__ import annotations

import difflib
import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from routing.capacity import CapacityError, CapacityRules, parse_capacity_rules
from routing.expr import Compiled, ExprError, compile_expr
from routing.tomlpos import Locator, PathT, render_path

STRATEGIES = (
    "longest_idle",
    "least_occupied",
    "fewest_calls",
    "most_skilled",
    "round_robin",
    "random",
    "preferred_agent",
)
FINAL_ACTIONS = ("callback", "voicemail")
WRITTEN_CHANNELS = ("chat", "email", "callback")  # tasks with an accept step (rona.accept_s)
LOGIN_STATES = ("available", "paused")
DEFAULT_PAUSE_REASONS = ("break", "lunch", "training", "meeting", "rona")


# ------------------------------------------------------------------ problems


@dataclass(frozen=True, slots=True)
class Problem:
    filename: str
    path: str
    reason: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        """Compiler style: `routing.toml:12:5: queues.sales.targets[1].expression: reason`."""
        where = f"{self.filename}:{self.line}:{self.col}" if self.line else self.filename
        return f"{where}: {self.path}: {self.reason}"

    def config_line(self) -> str:
        """`hotline config check` style: `file: key.path: reason (line 12, col 5)`."""
        at = f" (line {self.line}, col {self.col})" if self.line else ""
        return f"{self.filename}: {self.path}: {self.reason}{at}"


class RuleError(ValueError):
    """Invalid routing rules; `problems` lists every problem found (not just the first)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# ------------------------------------------------------------------ compiled rules


@dataclass(frozen=True, slots=True)
class Target:
    """One step of a queue's (or filter's) ordered targets.

    index: 0-based position; `expression` selects agents; `strategy` orders them;
    `priority` (0-9) replaces the call's own priority while at this target;
    `timeout_s` moves the call to the next target (None: stay).
    `until_due`: the target ends when the call is due (attribute `due_at`: a written
    task's answer-by time, e.g. an e-mail's), or at `timeout_s` if earlier; a call
    without a due time stays (as without timeout_s). So the next target's priority
    puts overdue e-mails ahead, as targets over time escalate a waiting call.
    `require_call_skills`: the call's own required skills apply too (default).
    """

    index: int
    expression: Compiled
    strategy: str
    priority: int | None = None
    timeout_s: float | None = None
    order_by_skill: str | None = None
    require_call_skills: bool = True
    name: str = ""
    until_due: bool = False

    @property
    def label(self) -> str:
        return self.name or self.expression.text


@dataclass(frozen=True, slots=True)
class Filter:
    index: int
    name: str
    when: Compiled
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class Ageing:
    """Effective priority = min(max, priority + step * floor(wait / every_s))."""

    every_s: float
    step: int = 1
    max: int = 9


@dataclass(frozen=True, slots=True)
class Overflow:
    """Move to queue `to` after `after_s` in this queue, or (no after_s) once the
    last target has timed out."""

    to: str
    after_s: float | None = None


@dataclass(frozen=True, slots=True)
class FinalRule:
    """Leave the queue for the IVR's callback or voicemail: after `after_s` in this
    queue, or (no after_s) once the targets are exhausted and there is no overflow."""

    action: str
    after_s: float | None = None
    destination: str = ""


@dataclass(frozen=True, slots=True)
class QueueRules:
    name: str
    targets: tuple[Target, ...]
    filters: tuple[Filter, ...] = ()
    wrap_up_s: float | None = None
    ageing: Ageing | None = None
    overflow: Overflow | None = None
    final: FinalRule | None = None

    def targets_for(self, filter_index: int) -> tuple[Target, ...]:
        return self.targets if filter_index < 0 else self.filters[filter_index].targets


@dataclass(frozen=True, slots=True)
class RonaRules:
    """Ring-no-answer: after `max_misses` consecutive misses (0: never) the agent is
    paused with `pause_reason`. `ring_timeout_s` is for the caller (how long to ring);
    `skip_missed_agent`: a call is not offered again to an agent who missed it."""

    max_misses: int = 3
    pause_reason: str = "rona"
    ring_timeout_s: float = 20.0
    skip_missed_agent: bool = True
    # a written task's ring time, per channel: how long an offered chat or e-mail waits
    # for the agent's accept before it goes to the next agent (a miss, as a call's RONA);
    # a channel not named, or 0: taken at once, no accept step
    accept_s: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def accept_for(self, channel: str) -> float:
        return float(self.accept_s.get(channel, 0.0))


@dataclass(frozen=True, slots=True)
class PauseReason:
    name: str
    label: str = ""
    paid: bool = True


@dataclass(frozen=True, slots=True)
class AgentRules:
    wrap_up_s: float | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Validated, compiled, immutable routing rules. Build with `load_rules`."""

    queues: Mapping[str, QueueRules]
    version: int | None = None
    skills: frozenset[str] | None = None
    default_queue: str | None = None
    strategy: str = "longest_idle"
    wrap_up_s: float = 0.0
    login_state: str = "available"
    occupancy_window_s: float = 3600.0
    rona: RonaRules = field(default_factory=RonaRules)
    pause_reasons: Mapping[str, PauseReason] = field(
        default_factory=lambda: MappingProxyType({n: PauseReason(n) for n in DEFAULT_PAUSE_REASONS})
    )
    agents: Mapping[str, AgentRules] = field(default_factory=dict)
    capacity: CapacityRules = field(default_factory=CapacityRules)
    filename: str = "routing.toml"
    digest: str = ""


def fallback_queue(name: str, strategy: str = "longest_idle") -> QueueRules:
    """Rules for a queue the rule set does not name (and no default_queue): any
    available agent with the call's required skills."""
    return QueueRules(name=name, targets=(Target(0, compile_expr("true"), strategy),))


# The preferred agent's own first step for a call that names how long to wait for them
# (a call-back promised by that agent: cti/live_callbacks.py). Its index is -1: the
# reasons call it "target 0", ahead of the queue's own targets.
PROMISED_TARGET = "promised agent"


def promised_agent_rules(qr: QueueRules, timeout_s: float) -> QueueRules:
    """The queue's rules with one target only: the call's preferred agent, for
    `timeout_s` (then the router puts the call in `qr` itself). Any preferred agent
    may take it: their own promise needs none of the call's skills."""
    pin = Target(-1, compile_expr("true"), "preferred_agent", None, timeout_s, None, False, PROMISED_TARGET)
    return QueueRules(name=qr.name, targets=(pin,), wrap_up_s=qr.wrap_up_s, ageing=qr.ageing)


# ------------------------------------------------------------------ validation


class _Validator:
    def __init__(self, source: str, filename: str, prefix: PathT) -> None:
        self.filename = filename
        self.prefix = prefix
        self.locator = Locator(source)
        self.problems: list[Problem] = []

    def err(self, path: PathT, reason: str, *, at_key: bool = False, expr_offset: int | None = None) -> None:
        full = self.prefix + tuple(path)
        line = col = None
        found = self.locator.find(full)
        if found is not None:
            fpath, spot = found
            if fpath == full and at_key:
                line, col = spot.key_line, spot.key_col
            elif fpath == full and expr_offset is not None and spot.raw_string:
                line, col = self._expr_pos(spot, expr_offset)
            elif fpath == full:
                line, col = spot.value_line, spot.value_col
            else:
                line, col = spot.key_line, spot.key_col
        self.problems.append(Problem(self.filename, render_path(full), reason, line, col))

    def _expr_pos(self, spot: Any, offset: int) -> tuple[int, int]:
        raw: str = spot.raw_string
        q = 3 if raw.startswith(('"""', "'''")) else 1
        inner = raw[q:-q] if len(raw) >= 2 * q else raw
        if raw.startswith('"') and "\\" in inner:  # escapes: columns would drift
            return spot.value_line, spot.value_col
        skip = 0
        if q == 3 and inner.startswith("\n"):
            skip = 1
        elif q == 3 and inner.startswith("\r\n"):
            skip = 2
        return self.locator.line_col(spot.value_offset + q + skip + offset)

    # -- typed getters: each returns the value or None (after reporting a problem)

    def table(self, value: Any, path: PathT, allowed: tuple[str, ...] | None) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.err(path, f"must be a table, got {_tname(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    close = difflib.get_close_matches(key, allowed, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(allowed)})"
                    self.err((*path, key), f"unknown key {key!r}{hint}", at_key=True)
        return value

    def number(
        self,
        data: dict[str, Any],
        key: str,
        path: PathT,
        *,
        minimum: float | None = None,
        exclusive: bool = False,
        integer: bool = False,
        maximum: float | None = None,
    ) -> Any:
        if key not in data:
            return None
        value = data[key]
        p = (*path, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            self.err(p, f"must be {'an integer' if integer else 'a number'}, got {_tname(value)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.err(p, "must be a finite number")
            return None
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            self.err(p, f"must be {'>' if exclusive else '>='} {_fmt(minimum)}, got {_fmt(value)}")
            return None
        if maximum is not None and value > maximum:
            self.err(p, f"must be <= {_fmt(maximum)}, got {_fmt(value)}")
            return None
        return value

    def string(self, data: dict[str, Any], key: str, path: PathT, choices: tuple[str, ...] | None = None) -> str | None:
        if key not in data:
            return None
        value = data[key]
        p = (*path, key)
        if not isinstance(value, str):
            self.err(p, f"must be a string, got {_tname(value)}")
            return None
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.err(p, f"unknown value {value!r} ({hint}expected one of: {', '.join(choices)})")
            return None
        return value

    def boolean(self, data: dict[str, Any], key: str, path: PathT) -> bool | None:
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, bool):
            self.err((*path, key), f"must be true or false, got {_tname(value)}")
            return None
        return value

    def expression(
        self,
        data: dict[str, Any],
        key: str,
        path: PathT,
        context: str,
        skills: frozenset[str] | None,
        default: str | None,
    ) -> Compiled | None:
        if key not in data:
            if default is None:
                self.err(path, f"missing key {key!r}")
                return None
            return compile_expr(default, context)
        text = data[key]
        if not isinstance(text, str):
            self.err((*path, key), f"must be an expression string, got {_tname(text)}")
            return None
        try:
            return compile_expr(text, context, skills)
        except ExprError as exc:
            self.err((*path, key), exc.message, expr_offset=exc.offset)
            return None


def _tname(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {_fmt(value)}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_TOP_KEYS = ("version", "skills", "default_queue", "defaults", "rona", "pause_reasons", "agents", "capacity", "queues")
_DEFAULTS_KEYS = ("strategy", "wrap_up_s", "login_state", "occupancy_window_s")
_RONA_KEYS = ("max_misses", "pause_reason", "ring_timeout_s", "skip_missed_agent", "accept_s")
_QUEUE_KEYS = ("wrap_up_s", "strategy", "ageing", "overflow", "final", "filters", "targets")
_TARGET_KEYS = (
    "name",
    "expression",
    "strategy",
    "priority",
    "timeout_s",
    "until_due",
    "order_by_skill",
    "require_call_skills",
)
_FILTER_KEYS = ("name", "when", "targets")


def _build(data: Any, v: _Validator, digest: str) -> RuleSet | None:
    top = v.table(data, (), _TOP_KEYS)
    if top is None:
        return None
    version = v.number(top, "version", (), minimum=1, integer=True)

    skills: frozenset[str] | None = None
    if "skills" in top:
        raw = top["skills"]
        if not isinstance(raw, list) or not all(isinstance(s, str) and s for s in raw):
            v.err(("skills",), "must be an array of skill names")
        else:
            skills = frozenset(raw)

    defaults = v.table(top.get("defaults", {}), ("defaults",), _DEFAULTS_KEYS) or {}
    strategy = v.string(defaults, "strategy", ("defaults",), STRATEGIES) or "longest_idle"
    if strategy == "preferred_agent":
        v.err(("defaults", "strategy"), "preferred_agent needs a timeout: set it on a target, not as the default")
        strategy = "longest_idle"
    wrap_default = v.number(defaults, "wrap_up_s", ("defaults",), minimum=0) or 0.0
    login_state = v.string(defaults, "login_state", ("defaults",), LOGIN_STATES) or "available"
    window = v.number(defaults, "occupancy_window_s", ("defaults",), minimum=0, exclusive=True) or 3600.0

    # pause reasons
    pause_reasons: dict[str, PauseReason] = {}
    raw_reasons = top.get("pause_reasons", None)
    if raw_reasons is None:
        pause_reasons = {n: PauseReason(n) for n in DEFAULT_PAUSE_REASONS}
    elif isinstance(raw_reasons, list):
        for i, name in enumerate(raw_reasons):
            if not isinstance(name, str) or not name:
                v.err(("pause_reasons", i), "must be a pause reason name")
            else:
                pause_reasons[name] = PauseReason(name)
    elif isinstance(raw_reasons, dict):
        for name, spec in raw_reasons.items():
            p = ("pause_reasons", name)
            spec_t = v.table(spec, p, ("label", "paid"))
            if spec_t is None:
                continue
            label = v.string(spec_t, "label", p) or ""
            paid = v.boolean(spec_t, "paid", p)
            pause_reasons[name] = PauseReason(name, label, True if paid is None else paid)
    else:
        v.err(("pause_reasons",), "must be an array of names or a table of reasons")

    rona_t = v.table(top.get("rona", {}), ("rona",), _RONA_KEYS) or {}
    max_misses = v.number(rona_t, "max_misses", ("rona",), minimum=0, integer=True)
    rona_reason = v.string(rona_t, "pause_reason", ("rona",))
    ring = v.number(rona_t, "ring_timeout_s", ("rona",), minimum=0, exclusive=True)
    skip_missed = v.boolean(rona_t, "skip_missed_agent", ("rona",))
    accept: dict[str, float] = {}
    accept_t = v.table(rona_t["accept_s"], ("rona", "accept_s"), WRITTEN_CHANNELS) if "accept_s" in rona_t else None
    for channel in accept_t or {}:
        secs = v.number(accept_t or {}, channel, ("rona", "accept_s"), minimum=0, maximum=86400)
        if secs is not None:
            accept[channel] = float(secs)
    rona = RonaRules(
        accept_s=MappingProxyType(accept),
        max_misses=3 if max_misses is None else max_misses,
        pause_reason=rona_reason or "rona",
        ring_timeout_s=20.0 if ring is None else float(ring),
        skip_missed_agent=True if skip_missed is None else skip_missed,
    )
    if rona.max_misses and rona.pause_reason not in pause_reasons:
        if rona_reason:
            v.err(
                ("rona", "pause_reason"),
                f"pause reason {rona.pause_reason!r} is not in pause_reasons ({', '.join(pause_reasons) or 'none'})",
            )
        else:
            v.err(
                ("pause_reasons",),
                f"must include {rona.pause_reason!r} (the default rona.pause_reason), "
                "or set rona.pause_reason to one of them",
            )

    agents: dict[str, AgentRules] = {}
    agents_t = v.table(top.get("agents", {}), ("agents",), None) or {}
    for agent_id, spec in agents_t.items():
        p = ("agents", agent_id)
        spec_t = v.table(spec, p, ("wrap_up_s",))
        if spec_t is None:
            continue
        wrap = v.number(spec_t, "wrap_up_s", p, minimum=0)
        agents[agent_id] = AgentRules(wrap_up_s=None if wrap is None else float(wrap))

    capacity = CapacityRules()
    try:
        capacity = parse_capacity_rules(top.get("capacity", {}))
    except CapacityError as exc:
        v.err(exc.path, exc.reason)

    queues: dict[str, QueueRules] = {}
    queues_t = v.table(top.get("queues", {}), ("queues",), None) or {}
    overflow_edges: dict[str, str] = {}
    for qname, spec in queues_t.items():
        qp: PathT = ("queues", qname)
        q = v.table(spec, qp, _QUEUE_KEYS)
        if q is None:
            continue
        q_strategy = v.string(q, "strategy", qp, STRATEGIES) or strategy
        if q_strategy == "preferred_agent" and "strategy" in q:
            v.err((*qp, "strategy"), "preferred_agent needs a timeout: set it on a target, not as the queue strategy")
            q_strategy = strategy
        wrap = v.number(q, "wrap_up_s", qp, minimum=0)

        ageing = None
        if "ageing" in q:
            ap = (*qp, "ageing")
            a = v.table(q["ageing"], ap, ("every_s", "step", "max"))
            if a is not None:
                every = v.number(a, "every_s", ap, minimum=0, exclusive=True)
                step = v.number(a, "step", ap, minimum=1, integer=True)
                amax = v.number(a, "max", ap, minimum=0, maximum=9, integer=True)
                if "every_s" not in a:
                    v.err(ap, "missing key 'every_s'")
                elif every is not None:
                    ageing = Ageing(float(every), step or 1, 9 if amax is None else amax)

        overflow = None
        if "overflow" in q:
            op = (*qp, "overflow")
            o = v.table(q["overflow"], op, ("to", "after_s"))
            if o is not None:
                to = v.string(o, "to", op)
                after = v.number(o, "after_s", op, minimum=0, exclusive=True)
                if "to" not in o:
                    v.err(op, "missing key 'to'")
                elif to is not None:
                    if to == qname:
                        v.err((*op, "to"), "a queue cannot overflow to itself")
                    elif to not in queues_t:
                        v.err((*op, "to"), f"unknown queue {to!r}{_hint(to, queues_t)}")
                    else:
                        overflow = Overflow(to, None if after is None else float(after))
                        overflow_edges[qname] = to

        final = None
        if "final" in q:
            fp = (*qp, "final")
            f = v.table(q["final"], fp, ("action", "after_s", "destination"))
            if f is not None:
                action = v.string(f, "action", fp, FINAL_ACTIONS)
                after = v.number(f, "after_s", fp, minimum=0, exclusive=True)
                dest = v.string(f, "destination", fp) or ""
                if "action" not in f:
                    v.err(fp, f"missing key 'action' (one of: {', '.join(FINAL_ACTIONS)})")
                elif action is not None:
                    final = FinalRule(action, None if after is None else float(after), dest)

        targets = _targets(q.get("targets"), (*qp, "targets"), v, q_strategy, skills, required="targets" in q)
        filters: list[Filter] = []
        if "filters" in q:
            fl = q["filters"]
            if not isinstance(fl, list):
                v.err((*qp, "filters"), "must be an array of tables ([[queues.NAME.filters]])")
            else:
                for fi, fspec in enumerate(fl):
                    fp = (*qp, "filters", fi)
                    ft = v.table(fspec, fp, _FILTER_KEYS)
                    if ft is None:
                        continue
                    name = v.string(ft, "name", fp) or f"filter {fi + 1}"
                    when = v.expression(ft, "when", fp, "call", skills, None)
                    if "targets" not in ft:
                        v.err(fp, "missing key 'targets'")
                    ftargets = _targets(ft.get("targets"), (*fp, "targets"), v, q_strategy, skills, required=True)
                    if when is not None and ftargets:
                        filters.append(Filter(fi, name, when, ftargets))
        if not targets and "targets" not in q:
            targets = (Target(0, compile_expr("true"), q_strategy),)
        if targets:
            queues[qname] = QueueRules(
                name=qname,
                targets=targets,
                filters=tuple(filters),
                wrap_up_s=None if wrap is None else float(wrap),
                ageing=ageing,
                overflow=overflow,
                final=final,
            )

    # overflow cycles would bounce a call between queues forever
    reported: set[str] = set()
    for start in overflow_edges:
        seen = [start]
        cur = start
        while cur in overflow_edges:
            cur = overflow_edges[cur]
            if cur == start:
                if not reported.intersection(seen):
                    v.err(("queues", start, "overflow", "to"), "overflow cycle: " + " -> ".join([*seen, start]))
                    reported.update(seen)
                break
            if cur in seen:
                break
            seen.append(cur)

    default_queue = v.string(top, "default_queue", ())
    if default_queue is not None and default_queue not in queues_t:
        v.err(("default_queue",), f"unknown queue {default_queue!r}{_hint(default_queue, queues_t)}")
        default_queue = None

    if v.problems:
        return None
    return RuleSet(
        queues=MappingProxyType(queues),
        version=version,
        skills=skills,
        default_queue=default_queue,
        strategy=strategy,
        wrap_up_s=float(wrap_default),
        login_state=login_state,
        occupancy_window_s=float(window),
        rona=rona,
        pause_reasons=MappingProxyType(pause_reasons),
        agents=MappingProxyType(agents),
        capacity=capacity,
        filename=v.filename,
        digest=digest,
    )


def _hint(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _targets(
    raw: Any, path: PathT, v: _Validator, strategy: str, skills: frozenset[str] | None, required: bool
) -> tuple[Target, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or (required and not raw):
        v.err(path, "must be a non-empty array of targets ([[...targets]] or targets = [{...}])")
        return ()
    out: list[Target] = []
    ok = True
    for i, spec in enumerate(raw):
        p = (*path, i)
        t = v.table(spec, p, _TARGET_KEYS)
        if t is None:
            ok = False
            continue
        expr = v.expression(t, "expression", p, "agent", skills, "true")
        strat = v.string(t, "strategy", p, STRATEGIES) or strategy
        prio = v.number(t, "priority", p, minimum=0, maximum=9, integer=True)
        timeout = v.number(t, "timeout_s", p, minimum=0, exclusive=True)
        order = v.string(t, "order_by_skill", p)
        if order is not None and skills is not None and order not in skills:
            v.err((*p, "order_by_skill"), f"unknown skill {order!r}{_hint(order, skills)}")
        if order is not None and strat != "most_skilled":
            v.err((*p, "order_by_skill"), "only used by strategy 'most_skilled'")
        req = v.boolean(t, "require_call_skills", p)
        until_due = bool(v.boolean(t, "until_due", p))
        name = v.string(t, "name", p) or ""
        if strat == "preferred_agent" and timeout is None:
            v.err(p, "strategy 'preferred_agent' needs timeout_s (how long to wait for the preferred agent)")
        if timeout is None and not until_due and i < len(raw) - 1:
            v.err(p, f"no timeout_s, so the {len(raw) - 1 - i} target(s) after it can never be reached")
        if expr is None:
            ok = False
            continue
        out.append(
            Target(
                index=i,
                expression=expr,
                strategy=strat,
                priority=prio,
                timeout_s=None if timeout is None else float(timeout),
                order_by_skill=order,
                require_call_skills=True if req is None else req,
                name=name,
                until_due=until_due,
            )
        )
    return tuple(out) if ok else ()


# ------------------------------------------------------------------ entry points


def _find_routing(data: dict[str, Any]) -> tuple[Any, PathT]:
    if "routing" in data and "queues" not in data:
        return data["routing"], ("routing",)
    return data, ()


def load_rules(toml_text: str, filename: str = "routing.toml") -> RuleSet:
    """Parse, validate and compile rules from a standalone rules file, or from a main
    configuration whose `[routing]` table holds the same structure.

    Raises RuleError listing every problem as `file:line:col: key.path: reason`.
    """
    try:
        data = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError([Problem(filename, "(toml)", str(exc))]) from None
    section, prefix = _find_routing(data)
    return rules_from_data(section, toml_text, filename, prefix)


def rules_from_data(data: Any, source_text: str = "", filename: str = "routing.toml", prefix: PathT = ()) -> RuleSet:
    """Validate and compile already-parsed data; `source_text` (optional) gives
    line/column positions, `prefix` the key path of `data` inside that source."""
    v = _Validator(source_text, filename, prefix)
    digest = hashlib.sha256(source_text.encode()).hexdigest()[:12] if source_text else ""
    rules = _build(data, v, digest)
    if rules is None:
        raise RuleError(v.problems)
    return rules


def validate_config_section(data: dict[str, Any], source_text: str, filename: str) -> list[str]:
    """For `hotline config check`: problems in the main file's `[routing]` table, as
    lines like `hotline.toml: routing.queues.sales.targets[1].expression: unknown
    attribute 'skils' (line 12, col 5)`. Empty list: the section is valid."""
    try:
        rules_from_data(data, source_text, filename, ("routing",))
    except RuleError as exc:
        return [p.config_line() for p in exc.problems]
    return []
