"""Wallboard alerts: what a supervisor must see at once, from the numbers the board
already has (reports/web_live.py; no KPI math here), by the admin's alert rules
(settings section `alert_rules`, web/settings.py; `DEFAULT_RULES` until one is saved).

A rule has a `kind`, a `scope` ("all", "queue:NAME" or "team:NAME") and a threshold:

- `service_level`: the service level over the last `window_min` minutes (the board's
  window, 30 by default) is below `threshold` (a share; none: the queue's own target).
  A team's is that of the calls its agents answered or were offered (the team tiles');
- `waiting`: a call of the queue has waited longer than `threshold` seconds (none: the
  queue's service-level threshold). Queues only: a team has no calls waiting;
- `abandon_rate`: today's abandon rate is above `threshold` (none: the queue's target,
  as its tile's "bad" colour says);
- `agent_state`: an agent has been in `state` (paused, wrap_up, on_call...) longer than
  `threshold` seconds: one alert per agent, naming them, cleared when they leave it.

An alert is raised while its condition holds and cleared with it (the next push, at
most 0.5 s later); it carries the numbers and a sentence for the banner. Its identity
(`subject`, `rule`) is what reports/alert_log.py and the webhooks tell apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reports.kpi_fold import AGENT_STATES

KINDS = ("service_level", "waiting", "abandon_rate", "agent_state")

# what runs while no version of the section was saved (the behaviour before rules existed)
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "service_level": {"kind": "service_level"},
    "waiting": {"kind": "waiting"},
    "abandon_rate": {"kind": "abandon_rate"},
}


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    kind: str
    scope: str = "all"  # "all", "queue:NAME", "team:NAME"
    threshold: float | None = None
    window_min: int | None = None  # service_level: None is the board's window
    state: str = ""  # agent_state: the state watched

    def covers(self, queue: str = "", team: str = "") -> bool:
        if self.scope == "all":
            return True
        dim, _, name = self.scope.partition(":")
        return (dim == "queue" and name == queue) or (dim == "team" and name == team)

    @property
    def team(self) -> str:
        return self.scope[5:] if self.scope.startswith("team:") else ""


def rule_problems(row: Mapping[str, Any]) -> dict[str, str]:
    """What a rule's fields, each valid alone, get wrong together: field -> reason (the
    admin's section, web/settings.py, and the configuration file's `[alert_rules]`)."""
    kind, scope, threshold = row.get("kind"), str(row.get("scope") or "all"), row.get("threshold")
    out: dict[str, str] = {}
    if kind in ("service_level", "abandon_rate") and threshold is not None and threshold > 1:
        out["threshold"] = "a share between 0 and 1 for " + str(kind)
    if row.get("state") and row["state"] not in AGENT_STATES:
        out["state"] = "one of " + ", ".join(AGENT_STATES)
    if kind == "agent_state":
        if not row.get("state"):
            out["state"] = "required for agent_state (the state watched)"
        if threshold is None:
            out["threshold"] = "required for agent_state (seconds in the state)"
    elif row.get("state"):
        out["state"] = "only for agent_state"
    if row.get("window_min") is not None and kind != "service_level":
        out["window_min"] = "only for service_level"
    if scope.startswith("team:"):
        if kind == "waiting":
            out["scope"] = "a team has no calls waiting: all or queue:NAME"
        elif kind != "agent_state" and threshold is None:
            out["threshold"] = "required for a team (a team has no target of its own)"
    return out


def parse_rules(data: Mapping[str, Mapping[str, Any]]) -> tuple[AlertRule, ...]:
    """The validated section (web/settings.py) as rules, by name."""
    return tuple(
        AlertRule(
            name=name,
            kind=str(row["kind"]),
            scope=str(row.get("scope") or "all"),
            threshold=row.get("threshold"),
            window_min=row.get("window_min"),
            state=str(row.get("state") or ""),
        )
        for name, row in sorted(data.items())
    )


def _alert(rule: AlertRule, subject: str, text: str, value: Any, target: Any, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "rule": rule.name,
        "kind": rule.kind,
        "queue": extra.pop("queue", ""),
        "team": extra.pop("team", ""),
        "value": value,
        "target": target,
        "text": text,
        **extra,
    }


def alerts(
    rules: Iterable[AlertRule],
    queues: Iterable[Mapping[str, Any]],
    teams_today: Mapping[str, Mapping[str, Any]],
    window_of: Callable[[int | None], Mapping[str, Any]],
    cells: Callable[[], Iterable[Mapping[str, Any]]],
    skills: Mapping[str, frozenset[str]],
    now: float,
    window_min: int,
    threshold_s: float,
) -> list[dict[str, Any]]:
    """The alerts up now. `queues`: the board's queue tiles; `teams_today`: today's
    report's teams (name -> {"total": ...}); `window_of(minutes)`: the window report
    (None: the board's own window of `window_min`); `cells()`: the logged-in agents'
    cells (id, name, team, state, since), read only when an agent_state rule exists."""
    rules = list(rules)
    queues = list(queues)
    out: list[dict[str, Any]] = []
    agent_rules = [r for r in rules if r.kind == "agent_state"]
    for rule in rules:
        if rule.kind == "agent_state":
            continue
        if rule.team:
            out.extend(_team_alert(rule, teams_today, window_of, window_min))
            continue
        for q in queues:
            if rule.covers(queue=q["name"]):
                out.extend(_queue_alert(rule, q, window_of, window_min, threshold_s))
    if agent_rules:
        out.extend(agent_alerts(agent_rules, cells(), skills, now))
    return out


def _queue_alert(
    rule: AlertRule,
    q: Mapping[str, Any],
    window_of: Callable[[int | None], Mapping[str, Any]],
    window_min: int,
    threshold_s: float,
) -> list[dict[str, Any]]:
    name, label = q["name"], q.get("label") or q["name"]
    if rule.kind == "service_level":
        minutes = rule.window_min or window_min
        if minutes == window_min:
            sl = q.get("sl_30m")
        else:
            sl = window_of(minutes)["queues"].get(name, {}).get("total", {}).get("service_level")
        target = q.get("sl_target") if rule.threshold is None else rule.threshold
        if sl is None or target is None or sl >= target:
            return []
        text = f"{label}: service level {sl:.0%} over the last {minutes} min, below the {target:.0%} target"
        return [_alert(rule, name, text, sl, target, queue=name)]
    if rule.kind == "waiting":
        limit = rule.threshold if rule.threshold is not None else (q.get("sl_threshold_s") or threshold_s)
        if not q.get("waiting") or q.get("longest_wait", 0.0) <= limit:
            return []
        text = f"{label}: a call has waited {q['longest_wait']:.0f} s (over {limit:.0f} s)"
        return [_alert(rule, name, text, q["longest_wait"], limit, queue=name)]
    rate = q.get("abandon_rate")
    if rule.threshold is None:  # the queue's own target, as its tile colours it
        if q.get("abandon_status") != "bad":
            return []
        text = f"{label}: {rate or 0.0:.0%} of today's callers abandoned, above target"
        return [_alert(rule, name, text, rate or 0.0, None, queue=name)]
    if rate is None or rate <= rule.threshold:
        return []
    text = f"{label}: {rate:.0%} of today's callers abandoned, above {rule.threshold:.0%}"
    return [_alert(rule, name, text, rate, rule.threshold, queue=name)]


def _team_alert(
    rule: AlertRule,
    teams_today: Mapping[str, Mapping[str, Any]],
    window_of: Callable[[int | None], Mapping[str, Any]],
    window_min: int,
) -> list[dict[str, Any]]:
    """A team-scoped service level or abandon rate, from the team totals of the board
    (calls its agents answered or were offered); no threshold means no alert (a team
    has no target of its own)."""
    team, subject = rule.team, rule.scope
    if rule.threshold is None:
        return []
    if rule.kind == "service_level":
        minutes = rule.window_min or window_min
        window = window_of(None if minutes == window_min else minutes)
        sl = window["teams"].get(team, {}).get("total", {}).get("service_level")
        if sl is None or sl >= rule.threshold:
            return []
        text = f"Team {team}: service level {sl:.0%} over the last {minutes} min, below the {rule.threshold:.0%} target"
        return [_alert(rule, subject, text, sl, rule.threshold, team=team)]
    if rule.kind == "abandon_rate":
        rate = teams_today.get(team, {}).get("total", {}).get("abandon_rate")
        if rate is None or rate <= rule.threshold:
            return []
        text = f"Team {team}: {rate:.0%} of today's calls to its agents abandoned, above {rule.threshold:.0%}"
        return [_alert(rule, subject, text, rate, rule.threshold, team=team)]
    return []


AGENTS_NAMED = 20  # per rule and team; past it, one alert counts the rest


def agent_alerts(
    rules: Iterable[AlertRule],
    cells: Iterable[Mapping[str, Any]],
    skills: Mapping[str, frozenset[str]],
    now: float,
    named: int = AGENTS_NAMED,
) -> list[dict[str, Any]]:
    """One alert per agent (and rule) in the rule's state longer than its threshold.
    O(agents) once per push; a queue scope means the agents with that queue's skill.

    A rule that catches a whole floor at once (everyone paused for a meeting) would
    raise an alert, an event and a webhook per agent: per rule and team the `named`
    agents longest in the state are named, and one more alert counts the others."""
    by_state: dict[str, list[AlertRule]] = {}
    for rule in rules:
        by_state.setdefault(rule.state, []).append(rule)
    caught: dict[tuple[str, str], list[tuple[float, Mapping[str, Any], AlertRule]]] = {}
    for cell in cells:
        watching = by_state.get(cell["state"])
        if not watching:
            continue
        in_state = now - cell["since"]
        for rule in watching:
            if rule.threshold is None or in_state <= rule.threshold:
                continue
            agent, team = cell["id"], cell.get("team", "")
            if rule.scope.startswith("queue:"):
                if rule.scope[6:] not in skills.get(agent, ()):
                    continue
            elif not rule.covers(team=team):
                continue
            caught.setdefault((rule.name, team), []).append((in_state, cell, rule))
    out: list[dict[str, Any]] = []
    for (_, team), found in caught.items():
        found.sort(key=lambda f: (-f[0], f[1]["id"]))
        for in_state, cell, rule in found[:named]:
            out.append(_agent_alert(rule, cell, in_state))
        if len(found) > named:
            out.append(_more_agents_alert(found[0][2], team, len(found) - named))
    return out


def _agent_alert(rule: AlertRule, cell: Mapping[str, Any], in_state: float) -> dict[str, Any]:
    agent, team = cell["id"], cell.get("team", "")
    name = cell.get("name") or agent
    state = cell["state"].replace("_", " ")
    text = f"{name} has been {state} for {_mmss(in_state)} (over {_mmss(rule.threshold or 0.0)})"
    return _alert(
        rule,
        f"agent:{agent}",
        text,
        round(in_state, 1),
        rule.threshold,
        team=team,
        agent=agent,
        agent_name=name,
        state=cell["state"],
    )


def _more_agents_alert(rule: AlertRule, team: str, more: int) -> dict[str, Any]:
    """The agents past the named ones, counted; its subject is the team's (alert_log.key_of)."""
    state = rule.state.replace("_", " ")
    whose = f"of team {team} " if team else ""
    text = f"{more} more agents {whose}have been {state} for over {_mmss(rule.threshold or 0.0)}"
    return _alert(rule, f"team:{team}" if team else "", text, more, rule.threshold, team=team, state=rule.state)


def _mmss(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def seen_by(alert: Mapping[str, Any], teams: frozenset[str] | None) -> bool:
    """May a view of `teams` (None: all) see this alert? A team's or an agent's alert
    only by its team's supervisors; a queue's by all."""
    return teams is None or not alert.get("team") or alert["team"] in teams
