"""What the live loop knows of each call it follows (collaborators read and update it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
