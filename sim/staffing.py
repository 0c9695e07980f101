"""Staffing what-ifs on a scenario without editing it: `--agents +k` (k more, or fewer,
agents in every [[agents]] group) and `--staffing FILE.csv` (agents per interval and
group: each group logs in as many of its agents as the file says, interval by
interval). Pure but for reading the file."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import replace
from pathlib import Path

from sim.dists import ScenarioError
from sim.scenario import AgentGroup, Scenario

_DELTA = re.compile(r"^[+-]\d+$")


def parse_agents(value: str) -> tuple[int | None, int | None]:
    """--agents: "20" (the quick form's count) or "+k" / "-k" (a change to a scenario's
    groups). Returns (count, delta), one of them None."""
    v = value.strip()
    if _DELTA.match(v):
        return None, int(v)
    if v.isdigit():
        return int(v), None
    raise ScenarioError(f"--agents: {value!r} is neither a number of agents nor +k / -k")


def add_agents(sc: Scenario, k: int) -> Scenario:
    """Every agent group k agents larger (smaller); the new agents work the group's shifts."""
    groups = []
    for g in sc.agents:
        if g.count + k < 0:
            raise ScenarioError(f"--agents {k:+d}: group {g.prefix!r} has only {g.count} agent(s)")
        groups.append(replace(g, count=g.count + k))
    return replace(sc, name=f"{sc.name} ({k:+d} agents per group)", agents=tuple(g for g in groups if g.count))


def _when(value: str, where: str) -> float:
    """Seconds since the scenario's start: a number, or HH:MM on the clock (day 0)."""
    v = value.strip()
    if re.fullmatch(r"\d{1,2}:\d{2}", v):
        h, m = v.split(":")
        return int(h) * 3600.0 + int(m) * 60.0
    try:
        return float(v)
    except ValueError:
        raise ScenarioError(f"{where}: start {value!r} is neither seconds nor HH:MM") from None


def read_staffing(path: str | Path, sc: Scenario) -> Scenario:
    """The scenario with each group's log-ins taken from a CSV with the columns
    `start` (HH:MM on the scenario clock, or seconds since it), `group` (an [[agents]]
    prefix) and `agents`: from `start` until the group's next row (or the end), the
    group's first `agents` agents are logged in. Groups the file does not name keep
    their own shifts."""
    p = Path(path)
    groups = {g.prefix: g for g in sc.agents}
    rows: dict[str, list[tuple[float, int]]] = {}
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"start", "group", "agents"} - set(reader.fieldnames or [])
            if missing:
                raise ScenarioError(f"{p}:1: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                where = f"{p}:{reader.line_num}"
                group = (row.get("group") or "").strip()
                if group not in groups:
                    raise ScenarioError(f"{where}: group {group!r} is not an [[agents]] prefix of the scenario "
                                        f"({', '.join(sorted(groups))})")  # fmt: skip
                n = (row.get("agents") or "").strip()
                if not n.isdigit():
                    raise ScenarioError(f"{where}: agents {n!r} is not a whole number >= 0")
                at = _when(row.get("start") or "", where) - (sc.start_s % 86400 if ":" in row["start"] else 0.0)
                rows.setdefault(group, []).append((at, int(n)))
    except OSError as exc:
        raise ScenarioError(f"{p}: {exc.strerror}") from None
    out: list[AgentGroup] = []
    for g in sc.agents:
        plan = sorted(rows.get(g.prefix, []))
        if not plan:
            out.append(g)
            continue
        count = max(n for _, n in plan)
        ids_shifts: list[list[tuple[float, float]]] = [[] for _ in range(count)]
        for i, (at, n) in enumerate(plan):
            end = plan[i + 1][0] if i + 1 < len(plan) else math.inf
            for a in range(n):
                spans = ids_shifts[a]
                if spans and spans[-1][1] == at:
                    spans[-1] = (spans[-1][0], end)  # still logged in: one span
                else:
                    spans.append((max(at, 0.0), end))
        # one group per agent: each has its own log-ins, ids as the group would give them
        width = len(str(count))
        for a, spans in enumerate(ids_shifts, 1):
            if spans:
                out.append(replace(g, prefix=f"{g.prefix}{a:0{width}d}-", count=1, shifts=tuple(spans)))
    return replace(sc, name=f"{sc.name} (staffing {p.name})", agents=tuple(out))
