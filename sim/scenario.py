"""Simulation scenarios: a TOML file, validated once (errors name file, key path and
reason). See config/examples/scenario-*.toml for every key. Shape::

    [simulation]
    name = "two skills"
    seed = 7
    hours = 8                 # simulated time after `start_s`
    start_s = 25200           # clock origin (07:00); the day profile starts here
    warmup_s = 0              # KPIs count calls offered from start_s + warmup_s
    rules = "routing.toml"    # routing rules, relative to this file (default: any skill match)
    ring_s = { dist = "constant", value_s = 0 }
    rona_probability = 0.0    # chance an offered agent does not pick up
    rona_timeout_s = 20       # how long it rings before RONA (default: the rules' ring_timeout_s)
    drain = true              # after the last arrival, let the calls in progress finish

    [kpi]                     # sl_threshold_s, short_abandon_s, interval_s (900/1800/3600)

    [calls]                   # defaults for every queue: patience, handle, wrap_up
    patience = { dist = "exponential", mean_s = 180 }
    handle = { dist = "lognormal", mean_s = 240, sigma = 0.6 }
    wrap_up = { dist = "constant", value_s = 10 }   # omit (or 0): the rules' wrap_up_s

    [[queue]]
    name = "billing"
    skills = { billing = 1 }  # required skills (minimum level) put on CallQueued
    priority = 0
    calls_per_hour = [60, 120, 180]   # per profile interval (or one number)
    profile_interval_s = 3600
    patience = ...  handle = ...  wrap_up = ...   (override [calls])
    attributes = { language = "en" }

    [[agents]]
    prefix = "bill"   count = 12   team = "red"
    skills = { billing = 7 }   languages = ["en"]
    shifts = [[0, 28800]]     # seconds after start_s; default: the whole run

    [replay]                  # instead of Poisson arrivals (queues still give defaults)
    queue_log = "x.queue_log" | events = "day.jsonl" | anonymous_bank = "february-1999.tsv"
    dates = ["990201"]        # anonymous_bank only
    queue_skills = true       # calls without recorded skills (and no [[queue]] skills)
                              # require the skill named like their queue: { <queue> = 1 }
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.kpi import INTERVALS, KpiConfig
from sim.dists import NONE, Dist, ScenarioError, constant, exponential, parse_dist

_SIM_KEYS = {"name", "seed", "hours", "start_s", "warmup_s", "rules", "ring_s",
             "rona_probability", "rona_timeout_s", "drain"}  # fmt: skip
_QUEUE_KEYS = {"name", "skills", "priority", "calls_per_hour", "profile_interval_s",
               "patience", "handle", "wrap_up", "attributes"}  # fmt: skip
_AGENT_KEYS = {"prefix", "count", "team", "skills", "languages", "shifts", "capacity"}
_TOP_KEYS = {"simulation", "kpi", "calls", "queue", "agents", "replay"}
_KPI_KEYS = {"sl_threshold_s", "short_abandon_s", "interval_s", "abandon_rate_excludes_short"}
_CALL_KEYS = {"patience", "handle", "wrap_up"}
_REPLAY_KEYS = {"queue_log", "events", "anonymous_bank", "dates", "queue_skills"}


@dataclass(frozen=True)
class QueueSpec:
    name: str
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    calls_per_hour: tuple[float, ...] = ()
    profile_interval_s: float = 3600.0
    patience: Dist = NONE
    handle: Dist = field(default_factory=lambda: exponential(300.0))
    wrap_up: Dist | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentGroup:
    prefix: str
    count: int
    skills: Mapping[str, int]
    team: str = ""
    languages: tuple[str, ...] = ()
    shifts: tuple[tuple[float, float], ...] = ()  # relative to start; () = whole run
    capacity: int = 1

    def agent_ids(self) -> list[str]:
        width = len(str(self.count))
        return [f"{self.prefix}{i:0{width}d}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class ReplaySpec:
    kind: str  # queue_log | events | anonymous_bank
    path: Path
    dates: tuple[str, ...] = ()
    queue_skills: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    duration_s: float
    queues: tuple[QueueSpec, ...]
    agents: tuple[AgentGroup, ...]
    start_s: float = 0.0
    warmup_s: float = 0.0
    rules_text: str = ""
    rules_filename: str = "routing.toml"
    ring: Dist = field(default_factory=lambda: constant(0.0))
    rona_probability: float = 0.0
    rona_timeout_s: float | None = None
    drain: bool = True
    kpi: KpiConfig = field(default_factory=KpiConfig)
    call_defaults: QueueSpec = field(default_factory=lambda: QueueSpec(name="*"))
    replay: ReplaySpec | None = None
    source: Mapping[str, Any] = field(default_factory=dict)  # the TOML as parsed, echoed in reports

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def queue(self, name: str) -> QueueSpec:
        for q in self.queues:
            if q.name == name:
                return q
        return QueueSpec(
            name=name,
            patience=self.call_defaults.patience,
            handle=self.call_defaults.handle,
            wrap_up=self.call_defaults.wrap_up,
        )

    def teams(self) -> dict[str, str]:
        return {aid: g.team for g in self.agents if g.team for aid in g.agent_ids()}


# ---------------------------------------------------------------- parsing helpers


class _P:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def err(self, path: str, reason: str) -> ScenarioError:
        return ScenarioError(f"{self.filename}: {path}: {reason}")

    def table(self, v: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.err(path, "must be a table")
        extra = set(v) - allowed
        if extra:
            raise self.err(
                f"{path}.{sorted(extra)[0]}" if path else sorted(extra)[0],
                f"unknown key (expected one of: {', '.join(sorted(allowed))})",
            )
        return v

    def num(
        self,
        t: Mapping[str, Any],
        key: str,
        path: str,
        default: float | None,
        *,
        minimum: float = 0.0,
        exclusive: bool = False,
        maximum: float | None = None,
    ) -> float | None:
        if key not in t:
            return default
        v = t[key]
        p = f"{path}.{key}" if path else key
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.err(p, f"must be a number, got {v!r}")
        if v < minimum or (exclusive and v == minimum):
            raise self.err(p, f"must be {'>' if exclusive else '>='} {minimum}, got {v!r}")
        if maximum is not None and v > maximum:
            raise self.err(p, f"must be <= {maximum}, got {v!r}")
        return float(v)

    def skills(self, v: Any, path: str) -> dict[str, int]:
        if not isinstance(v, dict):
            raise self.err(path, "must be a table of skill = level")
        for k, lvl in v.items():
            if isinstance(lvl, bool) or not isinstance(lvl, int) or lvl < 0:
                raise self.err(f"{path}.{k}", f"must be an integer level >= 0, got {lvl!r}")
        return dict(v)

    def dist(self, t: Mapping[str, Any], key: str, path: str, default: Dist | None) -> Dist | None:
        if key not in t:
            return default
        try:
            return parse_dist(t[key], f"{path}.{key}" if path else key)
        except ScenarioError as exc:
            raise ScenarioError(f"{self.filename}: {exc}") from None


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_scenario(text, str(p), base_dir=p.parent)


def parse_scenario(text: str, filename: str = "scenario.toml", base_dir: Path | None = None) -> Scenario:
    P = _P(filename)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{filename}: (toml): {exc}") from None
    return scenario_from_data(data, P, base_dir or Path("."))


def scenario_from_data(data: dict[str, Any], P: _P, base: Path) -> Scenario:
    P.table(data, "", _TOP_KEYS)
    sim = P.table(data.get("simulation", {}), "simulation", _SIM_KEYS)
    name = sim.get("name", "scenario")
    if not isinstance(name, str):
        raise P.err("simulation.name", "must be a string")
    seed = sim.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise P.err("simulation.seed", f"must be an integer, got {seed!r}")
    hours = P.num(sim, "hours", "simulation", None, exclusive=True)
    start_s = P.num(sim, "start_s", "simulation", 0.0) or 0.0
    warmup = P.num(sim, "warmup_s", "simulation", 0.0) or 0.0
    rona_p = P.num(sim, "rona_probability", "simulation", 0.0, maximum=1.0) or 0.0
    rona_t = P.num(sim, "rona_timeout_s", "simulation", None, exclusive=True)
    ring = P.dist(sim, "ring_s", "simulation", constant(0.0))
    drain = sim.get("drain", True)
    if not isinstance(drain, bool):
        raise P.err("simulation.drain", "must be true or false")
    rules_text, rules_file = "", "routing.toml"
    if "rules" in sim:
        if not isinstance(sim["rules"], str):
            raise P.err("simulation.rules", "must be a path to a routing rules file")
        rp = (base / sim["rules"]).resolve()
        try:
            rules_text = rp.read_text(encoding="utf-8")
        except OSError as exc:
            raise P.err("simulation.rules", f"cannot read {rp}: {exc.strerror}") from None
        rules_file = str(rp)

    kt = P.table(data.get("kpi", {}), "kpi", _KPI_KEYS)
    interval = kt.get("interval_s", 900)
    if interval not in INTERVALS:
        raise P.err("kpi.interval_s", f"must be one of {', '.join(map(str, INTERVALS))}, got {interval!r}")
    kpi_args = {
        "sl_threshold_s": P.num(kt, "sl_threshold_s", "kpi", 20.0),
        "short_abandon_s": P.num(kt, "short_abandon_s", "kpi", 5.0),
        "interval_s": interval,
        "abandon_rate_excludes_short": bool(kt.get("abandon_rate_excludes_short", False)),
    }

    ct = P.table(data.get("calls", {}), "calls", _CALL_KEYS)
    defaults = QueueSpec(
        name="*",
        patience=P.dist(ct, "patience", "calls", NONE),  # type: ignore[arg-type]
        handle=P.dist(ct, "handle", "calls", exponential(300.0)),  # type: ignore[arg-type]
        wrap_up=P.dist(ct, "wrap_up", "calls", None),
    )

    raw_queues = data.get("queue", [])
    if not isinstance(raw_queues, list):
        raise P.err("queue", "must be an array of tables ([[queue]])")
    queues = []
    seen = set()
    for i, qd in enumerate(raw_queues):
        qp = f"queue[{i}]"
        P.table(qd, qp, _QUEUE_KEYS)
        qname = qd.get("name")
        if not isinstance(qname, str) or not qname:
            raise P.err(f"{qp}.name", "missing or not a string")
        if qname in seen:
            raise P.err(f"{qp}.name", f"duplicate queue {qname!r}")
        seen.add(qname)
        cph = qd.get("calls_per_hour", [])
        if isinstance(cph, (int, float)) and not isinstance(cph, bool):
            cph = [cph]
        if not isinstance(cph, list):
            raise P.err(f"{qp}.calls_per_hour", "must be a number or a list of numbers")
        for j, r in enumerate(cph):
            if isinstance(r, bool) or not isinstance(r, (int, float)) or r < 0:
                raise P.err(f"{qp}.calls_per_hour[{j}]", f"must be a number >= 0, got {r!r}")
        prio = qd.get("priority", 0)
        if isinstance(prio, bool) or not isinstance(prio, int):
            raise P.err(f"{qp}.priority", "must be an integer")
        attrs = qd.get("attributes", {})
        if not isinstance(attrs, dict):
            raise P.err(f"{qp}.attributes", "must be a table")
        queues.append(
            QueueSpec(
                name=qname,
                skills=P.skills(qd.get("skills", {}), f"{qp}.skills"),
                priority=prio,
                calls_per_hour=tuple(float(r) for r in cph),
                profile_interval_s=P.num(qd, "profile_interval_s", qp, 3600.0, exclusive=True),  # type: ignore[arg-type]
                patience=P.dist(qd, "patience", qp, defaults.patience),  # type: ignore[arg-type]
                handle=P.dist(qd, "handle", qp, defaults.handle),  # type: ignore[arg-type]
                wrap_up=P.dist(qd, "wrap_up", qp, defaults.wrap_up),
                attributes=attrs,
            )
        )

    raw_agents = data.get("agents", [])
    if not isinstance(raw_agents, list) or not raw_agents:
        raise P.err("agents", "must be a non-empty array of tables ([[agents]])")
    groups = []
    prefixes = set()
    for i, ad in enumerate(raw_agents):
        ap = f"agents[{i}]"
        P.table(ad, ap, _AGENT_KEYS)
        prefix = ad.get("prefix", f"g{i}-")
        if not isinstance(prefix, str) or not prefix:
            raise P.err(f"{ap}.prefix", "must be a non-empty string")
        if prefix in prefixes:
            raise P.err(f"{ap}.prefix", f"duplicate prefix {prefix!r}")
        prefixes.add(prefix)
        count = ad.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise P.err(f"{ap}.count", f"must be an integer >= 1, got {count!r}")
        team = ad.get("team", "")
        if not isinstance(team, str):
            raise P.err(f"{ap}.team", "must be a string")
        langs = ad.get("languages", [])
        if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
            raise P.err(f"{ap}.languages", "must be a list of strings")
        shifts_raw = ad.get("shifts", [])
        if not isinstance(shifts_raw, list):
            raise P.err(f"{ap}.shifts", "must be a list of [start_s, end_s] pairs")
        shifts = []
        for j, sh in enumerate(shifts_raw):
            if (not isinstance(sh, list) or len(sh) != 2
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in sh)
                    or not 0 <= sh[0] < sh[1]):  # fmt: skip
                raise P.err(f"{ap}.shifts[{j}]", f"must be [start_s, end_s] with 0 <= start < end, got {sh!r}")
            shifts.append((float(sh[0]), float(sh[1])))
        shifts.sort()
        for j in range(1, len(shifts)):
            if shifts[j][0] < shifts[j - 1][1]:
                raise P.err(f"{ap}.shifts", "shifts overlap")
        cap = ad.get("capacity", 1)
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise P.err(f"{ap}.capacity", "must be an integer >= 1")
        groups.append(
            AgentGroup(
                prefix, count, P.skills(ad.get("skills", {}), f"{ap}.skills"), team, tuple(langs), tuple(shifts), cap
            )
        )

    replay = None
    if "replay" in data:
        rt = P.table(data["replay"], "replay", _REPLAY_KEYS)
        kinds = [k for k in ("queue_log", "events", "anonymous_bank") if k in rt]
        if len(kinds) != 1:
            raise P.err("replay", "set exactly one of queue_log, events, anonymous_bank")
        kind = kinds[0]
        if not isinstance(rt[kind], str):
            raise P.err(f"replay.{kind}", "must be a path")
        rpath = (base / rt[kind]).resolve()
        if not rpath.is_file():
            raise P.err(f"replay.{kind}", f"no such file: {rpath}")
        dates = rt.get("dates", [])
        if not isinstance(dates, list) or not all(isinstance(d, str) for d in dates):
            raise P.err("replay.dates", "must be a list of YYMMDD strings")
        qs = rt.get("queue_skills", True)
        if not isinstance(qs, bool):
            raise P.err("replay.queue_skills", "must be true or false")
        replay = ReplaySpec(kind, rpath, tuple(dates), qs)
    elif not any(q.calls_per_hour for q in queues):
        raise P.err("queue", "no arrivals: give calls_per_hour to a [[queue]] or a [replay] source")

    if hours is None:
        if replay is None:
            raise P.err("simulation.hours", "missing (how long to simulate)")
        hours = 0.0  # replay: until the last arrival
    return Scenario(
        name=name,
        seed=seed,
        duration_s=hours * 3600.0,
        queues=tuple(queues),
        agents=tuple(groups),
        start_s=start_s,
        warmup_s=warmup,
        rules_text=rules_text,
        rules_filename=rules_file,
        ring=ring,  # type: ignore[arg-type]
        rona_probability=rona_p,
        rona_timeout_s=rona_t,
        drain=drain,
        kpi=KpiConfig(teams={aid: g.team for g in groups if g.team for aid in g.agent_ids()}, **kpi_args),  # type: ignore[arg-type]
        call_defaults=defaults,
        replay=replay,
        source=data,
    )


def mmn_scenario(
    agents: int,
    calls_per_hour: float,
    aht_s: float,
    patience_s: float | None = None,
    hours: float = 8.0,
    sl_threshold_s: float = 20.0,
    seed: int = 0,
    warmup_s: float = 0.0,
) -> Scenario:
    """The quick M/M/N(+M) form: one queue, N identical agents, exponential handle time
    and (optionally) exponential patience, no wrap-up, no ring time, no RONA."""
    for name, v in (("agents", agents), ("calls_per_hour", calls_per_hour), ("aht_s", aht_s), ("hours", hours)):
        if not v > 0:
            raise ScenarioError(f"--{name.replace('_', '-')}: must be > 0, got {v!r}")
    if patience_s is not None and not patience_s > 0:
        raise ScenarioError(f"--patience: must be > 0, got {patience_s!r}")
    q = QueueSpec(
        name="main",
        calls_per_hour=(float(calls_per_hour),),
        patience=NONE if patience_s is None else exponential(patience_s),
        handle=exponential(aht_s),
        wrap_up=constant(0.0),
    )
    return Scenario(
        name=f"M/M/{agents}{'' if patience_s is None else '+M'}",
        seed=seed,
        duration_s=hours * 3600.0,
        queues=(q,),
        agents=(AgentGroup("agent", agents, {}, "all"),),
        warmup_s=warmup_s,
        rules_text=MMN_RULES,
        rules_filename="<M/M/N rules>",
        kpi=KpiConfig(sl_threshold_s=sl_threshold_s, teams={}),
        source={
            "simulation": {"name": "quick M/M/N", "seed": seed, "hours": hours, "warmup_s": warmup_s},
            "queue": [
                {
                    "name": "main",
                    "calls_per_hour": calls_per_hour,
                    "handle": {"dist": "exponential", "mean_s": aht_s},
                    "patience": {"dist": "exponential", "mean_s": patience_s} if patience_s else {"dist": "none"},
                }
            ],
            "agents": [{"prefix": "agent", "count": agents}],
        },
    )


# Any agent takes any call, longest idle first, no wrap-up, RONA never pauses.
MMN_RULES = """\
[defaults]
strategy = "longest_idle"
wrap_up_s = 0

[rona]
max_misses = 0

[queues.main]
"""
