"""Stranded calls: a caller left waiting while an agent who could take the call was free.

Read from the event log alone (pure), so the soak, the restart tests and a report on a
real day all judge the same way: a call counts as stranded when, for longer than
`limit_s` at a stretch, it waited (queued, or back in the queue after a ring-no-answer)
while at least one logged-in agent with its skills was available. A restart that loses
a call, or a resync that queues it needing a skill nobody has, shows up here.

A call-back an agent promised (its CallQueued's `preferred_agent` and
`preferred_agent_s`, cti/live_callbacks.py) is that agent's alone for those seconds,
as the router keeps it: only that agent free counts meanwhile. (Judged from the log's
events alone, the stretch after the promise lapses is counted from the first event
past it.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
    CallTransferred,
    Event,
)


def stranded_calls(
    events: Iterable[Event], agent_skills: Mapping[str, Mapping[str, int]], limit_s: float = 10.0
) -> dict[str, float]:
    """Each stranded call and its longest stretch (seconds) waiting beside a free,
    eligible agent. `agent_skills`: each agent's skills (a call needs every skill it
    names; a call naming none can go to anyone)."""
    watch = _Watch(agent_skills, limit_s)
    for event in events:
        watch.feed(event)
    return watch.finish()


class _Watch:
    def __init__(self, agent_skills: Mapping[str, Mapping[str, int]], limit_s: float) -> None:
        self.agent_skills = agent_skills
        self.limit_s = limit_s
        self.free: set[str] = set()
        self.skills: dict[str, frozenset[str]] = {}  # call -> the skills it needs (as queued)
        self.promised: dict[str, tuple[str, float]] = {}  # call -> (its promised agent, until when)
        self.waiting: set[str] = set()
        self.since: dict[str, float] = {}  # waiting call -> since when an eligible agent is free
        self.worst: dict[str, float] = {}
        self.now = 0.0

    def feed(self, event: Event) -> None:
        self.now = max(self.now, getattr(event, "at", self.now))
        if isinstance(event, AgentStateChanged):
            (self.free.add if event.state == "available" else self.free.discard)(event.agent_id)
        elif isinstance(event, AgentLoggedOut | AgentLoggedIn):
            self.free.discard(event.agent_id)
        elif isinstance(event, CallQueued):
            self.skills[event.call_id] = frozenset(event.skills)
            self.waiting.add(event.call_id)
            self._promise(event)
        elif isinstance(event, CallNotAnswered):
            self.waiting.add(event.call_id)  # back in the queue
        elif isinstance(event, CallOffered):
            self.free.discard(event.agent_id)
            self._stop(event.call_id)
        elif isinstance(event, CallConnected | CallAbandoned | CallEnded | CallTransferred):
            self._stop(event.call_id)
        for call_id in self.waiting:
            if self._eligible(call_id):
                self.since.setdefault(call_id, self.now)
            elif call_id in self.since:
                self._close(call_id)

    def finish(self) -> dict[str, float]:
        for call_id in list(self.since):
            self._close(call_id)
        return self.worst

    def _promise(self, event: CallQueued) -> None:
        agent = str(event.attributes.get("preferred_agent", "") or "")
        try:
            seconds = float(event.attributes.get("preferred_agent_s", 0) or 0)
        except (TypeError, ValueError):
            seconds = 0.0
        if agent and seconds > 0 and agent in self.agent_skills:
            self.promised[event.call_id] = (agent, event.at + seconds)
        else:
            self.promised.pop(event.call_id, None)

    def _eligible(self, call_id: str) -> bool:
        promise = self.promised.get(call_id)
        if promise is not None and self.now < promise[1]:
            return promise[0] in self.free
        need = self.skills.get(call_id, frozenset())
        return any(need <= self.agent_skills.get(agent, {}).keys() for agent in self.free)

    def _stop(self, call_id: str) -> None:
        self.promised.pop(call_id, None)  # (offered and missed: the router lets the promise go too)
        if call_id in self.since:
            self._close(call_id)
        self.waiting.discard(call_id)

    def _close(self, call_id: str) -> None:
        stretch = self.now - self.since.pop(call_id)
        if stretch > self.limit_s:
            self.worst[call_id] = max(self.worst.get(call_id, 0.0), stretch)
