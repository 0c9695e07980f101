"""The events a webhook may subscribe to, and the body each one carries. Pure: the
outbox worker reads `from_log`; the call-backs' body is the call-back API's row."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from events import CallEnded, Event, WrapUpEnded

CALL_ENDED = "call.ended"
WRAPPED_UP = "interaction.wrapped_up"
CALLBACK_SCHEDULED = "callback.scheduled"
ALERT_RAISED = "alert.raised"

WEBHOOK_EVENTS: dict[str, str] = {
    CALL_ENDED: "a call ended (any direction)",
    WRAPPED_UP: "an agent finished the wrap-up of a call (disposition, notes)",
    CALLBACK_SCHEDULED: "a call-back was promised (by an agent, a supervisor or the caller)",
    ALERT_RAISED: "a wallboard alert was raised (service level, long wait, abandon rate, an agent long in a state)",
}

_LOG_NAMES: dict[type[Event], str] = {CallEnded: CALL_ENDED, WrapUpEnded: WRAPPED_UP}
LOG_KINDS: tuple[type[Event], ...] = tuple(_LOG_NAMES)  # those read from the event log


def from_log(event: Event) -> tuple[str, dict[str, Any]] | None:
    """The webhook event and body (the logged event's fields) of a logged event, None
    for the others."""
    name = _LOG_NAMES.get(type(event))
    return None if name is None else (name, asdict(event))
