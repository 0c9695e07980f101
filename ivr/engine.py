"""The IVR engine: a pure generator that walks a flow.

It yields commands (play, collect digits, say digits, look a customer up) and is
sent each command's result; it returns the outcome (queue, callback, voicemail or
hang up) with the routing attributes. No I/O and no clock inside: the driver
(`ivr.agi_driver`) runs the commands over FastAGI and passes the local time in, so
the same flow is tested here exactly and run live unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ivr.flow import (
    DAYS,
    CallbackNode,
    CollectNode,
    HangupNode,
    IvrFlow,
    MenuNode,
    QueueNode,
    SelfServiceNode,
    VoicemailNode,
)

# ---------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Play:
    prompt: str


@dataclass(frozen=True, slots=True)
class Collect:
    """Play `prompt` and read up to `max_digits` DTMF digits; result: the digits ('' on timeout)."""

    prompt: str
    max_digits: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class SayDigits:
    digits: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Find the customer; result: a dict of the record's fields, or None."""

    by: str  # "phone" | "account"
    value: str


@dataclass(frozen=True, slots=True)
class Stepped:
    """Informational: a node finished with `result` (logged as an IvrStepped event)."""

    node: str
    result: str


Command = Play | Collect | SayDigits | Lookup | Stepped


@dataclass(frozen=True, slots=True)
class IvrOutcome:
    action: str  # queue | callback | voicemail | hangup
    queue: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    language: str = ""
    customer_id: str = ""
    mailbox: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


IvrRun = Generator[Command, Any, IvrOutcome]


def is_open(flow: IvrFlow, now_epoch: float) -> bool:
    if flow.hours is None and not flow.holidays:
        return True
    local = datetime.fromtimestamp(now_epoch, ZoneInfo(flow.timezone))
    if local.date().isoformat() in flow.holidays:
        return False
    if flow.hours is None:
        return True
    if DAYS[local.weekday()] not in flow.hours.days:
        return False
    return flow.hours.open <= local.time() < flow.hours.close


def run(flow: IvrFlow, caller: str, now_epoch: float) -> IvrRun:
    """Walk `flow` for a call from `caller` starting at `now_epoch` (for business hours)."""
    customer: dict[str, Any] | None = None
    if caller:
        customer = yield Lookup("phone", caller)
    path: list[str] = []
    attributes: dict[str, Any] = {"ivr_path": path}
    current = flow.start if is_open(flow, now_epoch) else flow.closed_node
    if current != flow.start:
        yield Stepped("hours", "closed")

    def finish(outcome: IvrOutcome) -> IvrOutcome:
        tier = str((customer or {}).get("tier", ""))
        tier_bonus = flow.tier_priority.get(tier, 0)
        if customer is not None:
            attributes["tier"] = tier
        return IvrOutcome(
            action=outcome.action,
            queue=outcome.queue,
            skills=outcome.skills,
            priority=max(outcome.priority, tier_bonus),
            language=outcome.language or str((customer or {}).get("attributes", {}).get("language", "")),
            customer_id=str((customer or {}).get("id", "")),
            mailbox=outcome.mailbox,
            attributes=attributes,
        )

    for _ in range(flow.max_steps):
        node = flow.nodes[current]
        path.append(current)
        if isinstance(node, MenuNode):
            choice = ""
            for attempt in range(node.retries + 1):
                digits = yield Collect(node.prompt, 1, node.timeout_s)
                if digits in node.options:
                    choice = digits
                    break
                if attempt < node.retries:
                    yield Play(node.invalid_prompt)
            yield Stepped(current, choice or "failed")
            if choice:
                attributes.setdefault("ivr_choices", []).append(choice)
            current = node.options[choice] if choice else node.on_fail
        elif isinstance(node, CollectNode):
            value = ""
            for attempt in range(node.retries + 1):
                digits = yield Collect(node.prompt, node.max_digits, node.timeout_s)
                valid = node.min_digits <= len(digits) <= node.max_digits and (
                    not node.pattern or re.fullmatch(node.pattern, digits) is not None
                )
                if valid and node.lookup == "account":
                    found = yield Lookup("account", digits)
                    if found is not None:
                        customer = found
                    valid = found is not None
                if valid:
                    value = digits
                    break
                if attempt < node.retries:
                    yield Play(node.invalid_prompt)
            yield Stepped(current, "ok" if value else "failed")
            if value:
                attributes[node.store_as] = value
            current = node.next if value else node.on_fail
        elif isinstance(node, SelfServiceNode):
            found = (customer or {}).get("attributes", {}).get(node.field)
            if found is None:
                found = (customer or {}).get(node.field)
            if found is None or not str(found).isdigit():
                yield Play(node.unknown_prompt)
                yield Stepped(current, "unknown")
            else:
                yield Play(node.prompt)
                yield SayDigits(str(found))
                yield Stepped(current, "said")
            current = node.next
        elif isinstance(node, QueueNode):
            yield Stepped(current, f"queue:{node.queue}")
            return finish(IvrOutcome("queue", node.queue, dict(node.skills), node.priority, node.language))
        elif isinstance(node, CallbackNode):
            yield Play(node.prompt)
            yield Stepped(current, f"callback:{node.queue}")
            attributes["callback"] = True
            return finish(IvrOutcome("callback", node.queue, dict(node.skills)))
        elif isinstance(node, VoicemailNode):
            yield Play(node.prompt)
            yield Stepped(current, f"voicemail:{node.mailbox}")
            return finish(IvrOutcome("voicemail", mailbox=node.mailbox))
        elif isinstance(node, HangupNode):
            yield Play(node.prompt)
            yield Stepped(current, "hangup")
            return finish(IvrOutcome("hangup"))
    yield Stepped(current, "loop-limit")
    return finish(IvrOutcome("hangup"))
