"""What desktops and wallboards see of the live loop (on the bus, store/topics.py).

`AgentViews` publishes every event the loop logs on the `events` channel (the
screen-pop hub and the wallboards fold them) and keeps each agent's `AgentView` in the
`agents` state map (state, since when, reason, the call, the standing line), so a view
that (re)connects reads where everyone is. The bus is for live views only: a bus
failure is counted (`LiveStats.bus_failures`) and routing goes on without it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged, Event
from store.topics import AGENT_VIEWS, EVENTS, AgentView

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()


class AgentViews:
    """The live loop's publisher to desktops and wallboards (inside the consumer)."""

    def __init__(self, center: LiveCenter) -> None:
        self.center = center
        self._views: dict[str, AgentView] = {}  # the agents state map's values, as last published

    async def publish(self, event: Event) -> None:
        """On the `events` channel."""
        stats = self.center.stats
        try:
            await EVENTS.publish(self.center.bus, event)
        except Exception as exc:  # noqa: BLE001 - the bus is for live views; routing goes on without it
            stats.bus_failures += 1
            if stats.bus_failures == 1 or stats.bus_failures % 1000 == 0:
                log.warning("bus_publish_failed", error=type(exc).__name__, failures=stats.bus_failures)

    async def agent_changed(self, event: AgentLoggedIn | AgentLoggedOut | AgentStateChanged) -> None:
        """The agent's view after the event (the router has applied it)."""
        c = self.center
        if isinstance(event, AgentLoggedOut):
            state, reason = "logged_out", ""
        elif isinstance(event, AgentLoggedIn):
            state, reason = c.router.agent_state(event.agent_id) or "available", ""
        else:
            state, reason = event.state, event.reason
        call_id = self._call_of(event.agent_id)
        info = c.router.call_info(call_id) if call_id else None
        line: str | None = None
        if c.lines is not None:
            agent_line = c.lines.get(event.agent_id)
            line = agent_line.state if agent_line is not None else "down"
        view = AgentView(
            state=state,
            since=event.at,
            reason=reason,
            call_id=str(info["call_id"]) if info else "",
            queue=str(info["queue"]) if info else "",
            line=line,
        )
        await self._set(event.agent_id, view)

    async def line_changed(self, agent_id: str, state: str) -> None:
        """The agent's standing line went up, down or is being dialled."""
        view = self._views.get(agent_id)
        if view is not None:
            await self._set(agent_id, replace(view, line=state))

    async def _set(self, agent_id: str, view: AgentView) -> None:
        self._views[agent_id] = view
        try:
            await AGENT_VIEWS.set(self.center.bus, agent_id, view)
        except Exception as exc:  # noqa: BLE001 - as publish: counted, routing goes on
            self.center.stats.bus_failures += 1
            log.warning("bus_state_failed", error=type(exc).__name__)

    def _call_of(self, agent_id: str) -> str:
        for state in self.center.calls.values():
            if state.agent == agent_id or state.offered_to == agent_id:
                return state.call_id
        return ""
