"""Standing agent lines: which agents' phones are kept off-hook in their own conference.

With a standing line the agent's phone is called once (at login) into a one-agent
ConfBridge, `hotline-agent-<extension>`, and stays there between calls; a caller, an
answered dialer call or a call-back is then sent *into* that conference and hears the
agent at once, with no ring and no answer delay (the predictive dialer's 2-second
connect rule depends on it). Without a line, or while it is down, Hotline falls back to
`agent-connect` (dialling the agent's phone for each call).

This module is the pure bookkeeping: it is told what the PBX reported (the line's
channel entered its conference, left it, the originate failed) and answers whether a
line is up and whether one should be dialled now. A line that fails to come up, or
drops within `settle_s` of coming up, counts as a failure; after `max_failures` in a
row Hotline stops ringing the agent's phone until the agent logs in again, and between
failures it waits `retry_s` (an agent's phone must not be rung in a loop by a dialplan
that lacks the contexts).

The dialplan side is documented in docs/asterisk.md ("Standing agent lines").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

CONFERENCE_PREFIX = "hotline-agent-"
LINE_CONTEXT = "hotline-agent-line"  # where the agent's phone is originated
JOIN_CONTEXT = "hotline-agent-join"  # where a caller is sent to reach an agent's line

DOWN, DIALLING, UP = "down", "dialling", "up"


def conference_of(exten: str) -> str:
    return f"{CONFERENCE_PREFIX}{exten}"


@dataclass(slots=True)
class LineState:
    agent_id: str
    state: str = DOWN
    channel: str = ""  # the agent's leg in the conference, while up
    originate_id: str = ""
    since: float = 0.0
    failures: int = 0  # in a row
    retry_at: float = 0.0


class AgentLines:
    def __init__(
        self,
        wanted: Callable[[str], bool],
        *,
        retry_s: float = 30.0,
        max_failures: int = 3,
        settle_s: float = 5.0,
        campaign_skills: Iterable[str] | None = None,
    ) -> None:
        self.wanted = wanted  # agent id -> does this agent work on a standing line?
        # "campaigns" mode: the agents with one of these skills work on lines (set_agents)
        self._campaign_skills = frozenset(campaign_skills) if campaign_skills is not None else None
        self.retry_s = retry_s
        self.max_failures = max_failures
        self.settle_s = settle_s
        self._lines: dict[str, LineState] = {}
        self.dials = 0
        self.failures = 0

    def set_agents(self, agent_skills: Mapping[str, Iterable[str]]) -> None:
        """The agents and their skills (at start, and when the directory changes): in
        "campaigns" mode, who works on a line follows their skills."""
        if self._campaign_skills is not None:
            skills = self._campaign_skills
            self.wanted = frozenset(a for a, own in agent_skills.items() if skills & set(own)).__contains__

    def get(self, agent_id: str) -> LineState | None:
        return self._lines.get(agent_id)

    def is_up(self, agent_id: str) -> bool:
        line = self._lines.get(agent_id)
        return line is not None and line.state == UP

    def channel(self, agent_id: str) -> str:
        line = self._lines.get(agent_id)
        return line.channel if line is not None and line.state == UP else ""

    def should_dial(self, agent_id: str, now: float) -> bool:
        """The agent is logged in: dial their line now? (Not while one is up or being
        dialled, not before the retry time, not after too many failures in a row.)"""
        if not self.wanted(agent_id):
            return False
        line = self._lines.get(agent_id)
        if line is None:
            return True
        return line.state == DOWN and line.failures < self.max_failures and now >= line.retry_at

    def dialling(self, agent_id: str, originate_id: str, now: float) -> None:
        line = self._lines.setdefault(agent_id, LineState(agent_id))
        line.state, line.originate_id, line.since, line.channel = DIALLING, originate_id, now, ""
        self.dials += 1

    def adopt(self, agent_id: str, channel: str, now: float) -> None:
        """A line found already up (e.g. after a Hotline restart): use it."""
        line = self._lines.setdefault(agent_id, LineState(agent_id))
        line.state, line.channel, line.since, line.failures = UP, channel, now, 0

    def came_up(self, agent_id: str, channel: str, now: float) -> None:
        line = self._lines.setdefault(agent_id, LineState(agent_id))
        line.state, line.channel, line.since = UP, channel, now

    def went_down(self, agent_id: str, channel: str, now: float) -> bool:
        """The line's channel left its conference or hung up. True if it was the line."""
        line = self._lines.get(agent_id)
        if line is None or line.state != UP or (channel and channel != line.channel):
            return False
        failed = now - line.since < self.settle_s
        self._down(line, now, failed)
        return True

    def dial_failed(self, agent_id: str, originate_id: str, now: float) -> None:
        line = self._lines.get(agent_id)
        if line is not None and line.state == DIALLING and (not originate_id or originate_id == line.originate_id):
            self._down(line, now, True)

    def check_dialling(self, now: float, timeout_s: float) -> list[str]:
        """Lines dialled `timeout_s` ago that never came up: failed (the dialplan may
        lack the contexts, so the originate succeeded but nothing joined)."""
        stuck = [line for line in self._lines.values() if line.state == DIALLING and now - line.since >= timeout_s]
        for line in stuck:
            self._down(line, now, True)
        return [line.agent_id for line in stuck]

    def forget(self, agent_id: str) -> str:
        """The agent logged out: returns the line's channel to hang up ("" if none);
        failures are forgotten (the next login tries again)."""
        line = self._lines.pop(agent_id, None)
        return line.channel if line is not None and line.state == UP else ""

    def _down(self, line: LineState, now: float, failed: bool) -> None:
        line.state, line.channel, line.originate_id = DOWN, "", ""
        if failed:
            line.failures += 1
            self.failures += 1
        else:
            line.failures = 0
        line.retry_at = now + (self.retry_s if failed else 0.0)

    def health(self) -> dict[str, int]:
        """For /healthz: lines by state, dials and failures so far."""
        out = {UP: 0, DIALLING: 0, DOWN: 0}
        for line in self._lines.values():
            out[line.state] += 1
        return {**out, "dials": self.dials, "failures": self.failures}


def lines_for(
    mode: str, agent_skills: Mapping[str, Iterable[str]], campaign_skills: Iterable[str] = ()
) -> AgentLines | None:
    """`[pbx] standing_lines`: "off" -> None; "all" -> every agent; "campaigns" -> the
    agents with a skill of an enabled campaign (they take the dialer's answered calls)."""
    if mode == "off":
        return None
    if mode == "all":
        return AgentLines(lambda agent_id: True)
    if mode != "campaigns":
        raise ValueError(f"standing_lines: must be 'off', 'campaigns' or 'all', not {mode!r}")
    lines = AgentLines(lambda agent_id: False, campaign_skills=campaign_skills)
    lines.set_agents(agent_skills)
    return lines
