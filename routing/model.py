"""Router inputs and outputs that are not domain events: agent profiles, the clock
tick, and the decisions the router returns.

Decisions are frozen, slotted dataclasses like events. Besides these, the router
returns `events.AgentStateChanged` for the agent state changes it decides
(reserved on an offer, on_call, wrap_up, available after wrap-up, paused after too
many ring-no-answers), so the caller can log and publish them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events import AgentStateChanged
from events.fastinit import fast_init


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """Who an agent is, for routing. Skills map a name to a proficiency 1-10
    (0 or missing: no such skill). `capacity`: simultaneous interactions (voice: 1).
    `wrap_up_s`: this agent's own wrap-up (the longest of this and the queue's
    applies). `attributes`: free values for expressions (`attributes.site == "lyon"`).
    `channels`: contacts per channel at once, as allowed combinations (routing/capacity.py,
    e.g. `({"voice": 1}, {"chat": 3})`); empty: the rules' `[capacity]` for this agent
    or its team, else `capacity` contacts of any channel. `voice_first`: overrides the
    capacity's (a waiting call before any written task)."""

    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    team: str = ""
    capacity: int = 1
    wrap_up_s: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    channels: tuple[Mapping[str, int], ...] = ()
    voice_first: bool | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: due escalations, overflows, final steps and wrap-up ends fire."""

    at: float


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring agent `agent_id` with call `call_id`; the agent is reserved until the
    caller reports CallConnected, CallNotAnswered or CallAbandoned.

    target_index / filter_index: 0-based (filter_index -1: the queue's own targets).
    reason: human-readable, e.g. "queue billing; target 2 'skills.billing >= 5'
    after 30 s; longest idle 94 s; rules v7"."""

    call_id: str
    agent_id: str
    queue: str
    reason: str
    rules_version: int
    target_index: int
    filter_index: int = -1
    strategy: str = ""
    wait_s: float = 0.0
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Escalated:
    """The call moved to another target (its previous one timed out, or the rules
    changed): the pool of agents it may go to is now the new target's."""

    call_id: str
    target_index: int
    reason: str
    queue: str = ""
    filter_index: int = -1
    rules_version: int = 0
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Overflowed:
    """The call left `from_queue` for `to_queue` (overflow rule)."""

    call_id: str
    from_queue: str
    to_queue: str
    reason: str = ""
    rules_version: int = 0
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class FinalStep:
    """The call leaves the router: the IVR offers `action` (callback | voicemail),
    optionally at `destination`. The router forgets the call."""

    call_id: str
    action: str
    queue: str = ""
    destination: str = ""
    reason: str = ""
    rules_version: int = 0
    at: float = 0.0


Decision = Offer | Escalated | Overflowed | FinalStep | AgentStateChanged

for _cls in (Tick, Offer, Escalated, Overflowed, FinalStep):
    fast_init(_cls)  # built for every simulated call: events/fastinit.py
