"""What the live loop knows of each call it follows (collaborators read and update it)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

_BY_AGENT = frozenset({"agent", "offered_to"})


class AgentCalls:
    """Agent -> the calls they are offered or on, in the order the center began
    following them: what an agent's view names, found without a scan of every call (at
    2,000 calls in progress, a scan per agent event was most of the loop's work)."""

    def __init__(self) -> None:
        self._by_agent: dict[str, dict[str, int]] = {}  # agent -> call id -> order
        self._order: dict[str, int] = {}
        self._next = 0

    def add(self, state: CallState) -> None:
        self._order[state.call_id] = self._next
        self._next += 1
        state.index = self
        for agent in (state.agent, state.offered_to):
            self._link(agent, state.call_id)

    def remove(self, state: CallState) -> None:
        state.index = None
        for agent in (state.agent, state.offered_to):
            calls = self._by_agent.get(agent)
            if calls is not None:
                calls.pop(state.call_id, None)
                if not calls:
                    del self._by_agent[agent]
        self._order.pop(state.call_id, None)

    def first(self, agent_id: str) -> str:
        """The earliest call the agent is offered or on ("" when none)."""
        calls = self._by_agent.get(agent_id)
        return min(calls, key=calls.__getitem__) if calls else ""

    def moved(self, state: CallState, old: str, new: str) -> None:
        if old and old not in (state.agent, state.offered_to):
            calls = self._by_agent.get(old)
            if calls is not None:
                calls.pop(state.call_id, None)
                if not calls:
                    del self._by_agent[old]
        self._link(new, state.call_id)

    def _link(self, agent: str, call_id: str) -> None:
        if agent and call_id in self._order:
            self._by_agent.setdefault(agent, {})[call_id] = self._order[call_id]


@dataclass(slots=True)
class CallState:
    call_id: str
    caller: str = ""
    direction: str = "inbound"
    channel: str = ""  # the customer channel waiting on hold (redirect target)
    agent_channels: dict[str, str] = field(default_factory=dict)  # agent login -> leg channel
    queued: bool = False
    answered: bool = False
    offered_to: str = ""
    agent: str = ""
    queue: str = ""
    customer_id: str = ""
    started_at: float = 0.0
    answered_at: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # An attended transfer in progress: "agent:ID" / "number:N", and the consulted
    # party's channel once it is in the consultation bridge (what a cancel hangs up).
    consult_target: str = ""
    consult_channel: str = ""
    # Transferred to a queue: the hold music that follows is the queue's wait, and the
    # hold/resume/transfer the call model reads around the next agent are not logged.
    queue_transfer: bool = False
    # Already in the event log before this process started (restart recovery): the
    # resync's CallArrived/CallQueued/CallConnected for it are routed, not logged again.
    logged: set[tuple[str, str]] = field(default_factory=set)
    # the center's agent -> calls index, while the center follows the call
    index: AgentCalls | None = field(default=None, compare=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _BY_AGENT:
            old = getattr(self, name, "")
            object.__setattr__(self, name, value)
            index = getattr(self, "index", None)
            if index is not None and old != value:
                index.moved(self, old, value)
            return
        object.__setattr__(self, name, value)


class RingTimers(dict[str, tuple[float, str]]):
    """call_id -> (deadline, agent) of the offers ringing now, with their deadlines in a
    heap: the loop asks for the earliest before and after every inbox item, and a scan
    of every ringing call each time (thousands under load) was a cost per item. An entry
    of the heap whose call no longer rings with that deadline is dropped when it comes
    to the top."""

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[float, str]] = []

    def earliest(self) -> float | None:
        """The earliest deadline, None when nothing rings."""
        heap = self._heap
        while heap:
            deadline, call_id = heap[0]
            timer = self.get(call_id)
            if timer is not None and timer[0] == deadline:
                return deadline
            heapq.heappop(heap)  # popped or set again since
        return None

    def __setitem__(self, call_id: str, timer: tuple[float, str]) -> None:
        super().__setitem__(call_id, timer)
        heapq.heappush(self._heap, (timer[0], call_id))

    def setdefault(self, call_id: str, default: tuple[float, str]) -> tuple[float, str]:  # type: ignore[override]
        if call_id not in self:
            self[call_id] = default
        return self[call_id]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for call_id, timer in dict(*args, **kwargs).items():
            self[call_id] = timer

    def clear(self) -> None:
        super().clear()
        self._heap.clear()
