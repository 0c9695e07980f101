"""What desktops and wallboards see of the live loop (on the bus, store/topics.py).

`AgentViews` publishes every event the loop logs on the `events` channel (the
screen-pop hub and the wallboards fold them) and keeps each agent's `AgentView` in the
`agents` state map (state, since when, reason, the call, the standing line, when the
wrap-up ends), so a view that (re)connects reads where everyone is, and the web knows
which call an agent is wrapping up. The bus is for live views only: a bus failure is
counted (`LiveStats.bus_failures`) and routing goes on without it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import structlog

from cti.live_items import InLoop
from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged, Event, WrapUpEnded
from store.bus import BusWrite, Publish
from store.topics import AGENT_VIEWS, EVENTS, AgentView

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()


# the writes of the next events go in the same pipeline and PUBLISH: at 60 calls a second,
# 20 ms is some 12 events a Redis message (a desktop sees its pop 20 ms later at most)
LINGER_S = 0.02


class BusOutbox:
    """The loop's writes to the bus, sent in order by one task, as many at a time as
    have come (one Redis pipeline): the consumer never waits on the bus (a SET and a
    PUBLISH awaited per event were a round trip each in the live loop). A bus away
    loses what was queued (counted: `LiveStats.bus_failures`), as a publish did."""

    MAX_QUEUED = 100_000  # beyond this (the bus hangs), the oldest writes are dropped

    def __init__(self, center: LiveCenter) -> None:
        self.center = center
        self._queued: list[BusWrite] = []
        self._sender: asyncio.Task[None] | None = None

    def put(self, write: BusWrite) -> None:
        self._queued.append(write)
        if len(self._queued) > self.MAX_QUEUED:
            dropped = len(self._queued) - self.MAX_QUEUED
            del self._queued[:dropped]
            self._failed(dropped, "overflow")
        if self._sender is None or self._sender.done():
            self._sender = self.center.spawn(self._send(), "bus-outbox")

    async def _send(self) -> None:
        await asyncio.sleep(LINGER_S)
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                await self.center.bus.write_many(batch)
            except Exception as exc:  # noqa: BLE001 - the bus is for live views; routing goes on without it
                self._failed(len(batch), type(exc).__name__)

    def _failed(self, count: int, why: str) -> None:
        stats = self.center.stats
        before = stats.bus_failures
        stats.bus_failures += count
        if before == 0 or before // 1000 != stats.bus_failures // 1000:
            log.warning("bus_publish_failed", error=why, failures=stats.bus_failures)

    async def sent(self) -> None:
        """Until what is queued now has been sent (or failed)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.wait([self._sender])


class AgentViews:
    """The live loop's publisher to desktops and wallboards (inside the consumer)."""

    def __init__(self, center: LiveCenter) -> None:
        self.center = center
        self.outbox = BusOutbox(center)
        self._views: dict[str, AgentView] = {}  # the agents state map's values, as last published
        self._applied: Event | None = None  # the last agent event the views were set for
        center.listeners.append(self._heard)

    async def publish(self, event: Event, write: Publish | None = None) -> None:
        """On the `events` channel (`write`: the event's publish, encoded already). An
        agent's event sets their view first: a desktop woken by the event reads the view
        after it (its call, when its wrap-up ends); the center's `agent_changed` for the
        same event then has nothing left to do."""
        if isinstance(event, (AgentLoggedIn, AgentLoggedOut, AgentStateChanged)):
            await self.agent_changed(event)
        self.outbox.put(write if write is not None else EVENTS.write(event))

    async def agent_changed(self, event: AgentLoggedIn | AgentLoggedOut | AgentStateChanged) -> None:
        """The agent's view after the event (the router has applied it). In wrap-up,
        the call is the one the router has the agent wrap up, with the end it set."""
        if event is self._applied:
            return
        self._applied = event
        c = self.center
        if isinstance(event, AgentLoggedOut):
            state, reason = "logged_out", ""
        elif isinstance(event, AgentLoggedIn):
            state, reason = c.router.agent_state(event.agent_id) or "available", ""
        else:
            state, reason = event.state, event.reason
        call_id = self._call_of(event.agent_id)
        info = c.router.call_info(call_id) if call_id else None
        call_id, queue = (str(info["call_id"]), str(info["queue"])) if info else ("", "")
        wrap_up_until: float | None = None
        wrapping = c.router.wrap_up_of(event.agent_id) if state == "wrap_up" else None
        if wrapping is not None:  # the call has ended (gone from the calls): the one wrapped up
            before = self._views.get(event.agent_id)
            if wrapping[0] != call_id:
                queue = before.queue if before is not None and before.call_id == wrapping[0] else ""
            call_id, wrap_up_until = wrapping
        line: str | None = None
        if c.lines is not None:
            agent_line = c.lines.get(event.agent_id)
            line = agent_line.state if agent_line is not None else "down"
        view = AgentView(
            state=state,
            since=event.at,
            reason=reason,
            call_id=call_id,
            queue=queue,
            line=line,
            wrap_up_until=wrap_up_until,
        )
        await self._set(event.agent_id, view)

    async def _heard(self, event: Event) -> None:
        """The router ends a wrap-up on WrapUpEnded without an AgentStateChanged (the
        event says it all to the log): the view follows once the router has applied it
        (the web's WrapUpEnded is routed before the listeners hear it, an agent command's
        after: in the consumer, next in turn, both are)."""
        if isinstance(event, WrapUpEnded):
            self.center.submit(InLoop(partial(self.wrap_up_ended, event)))

    async def wrap_up_ended(self, event: WrapUpEnded) -> None:
        """The agent's view after their wrap-up of `event.call_id` ended early, unless a
        later event has set it already."""
        view = self._views.get(event.agent_id)
        if view is None or view.state != "wrap_up" or (event.call_id and view.call_id != event.call_id):
            return
        router = self.center.router
        state = router.agent_state(event.agent_id)
        if state is None or (
            state == "wrap_up" and router.wrap_up_of(event.agent_id) == (view.call_id, view.wrap_up_until)
        ):
            return
        info = router.agent_info(event.agent_id) or {}
        reason = str(info.get("pause_reason") or "") if state == "paused" else ""
        await self.agent_changed(AgentStateChanged(at=event.at, agent_id=event.agent_id, state=state, reason=reason))

    async def line_changed(self, agent_id: str, state: str) -> None:
        """The agent's standing line went up, down or is being dialled."""
        view = self._views.get(agent_id)
        if view is not None:
            await self._set(agent_id, replace(view, line=state))

    async def _set(self, agent_id: str, view: AgentView) -> None:
        self._views[agent_id] = view
        self.outbox.put(AGENT_VIEWS.write(agent_id, view))

    def _call_of(self, agent_id: str) -> str:
        return self.center.agent_calls.first(agent_id)
