"""Who may write which customer record, as pure rules over the event log.

An agent may add notes only to the customer of a call they handle now, and create a
record only for the caller of such a call (the unknown caller's "new customer" form);
creating with a chosen id and changing a record are admin (or an admin's API token:
integrations) rights. "Handles now": the call's last offer or answer went to the agent
(not withdrawn by a no-answer or reject), the agent has not ended its wrap-up, and the
call ended at most `HANDLED_AFTER_END_S` ago. The call's customer comes from the call
itself (the queue's customer id, the IVR's account number, the caller's number), never
from what the agent sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from events import (
    CallArrived,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallRejected,
    Event,
    WrapUpEnded,
)
from store.text import CUSTOMER_TEXT_LIMITS, PHONE_MAX

HANDLED_AFTER_END_S = 3600.0  # wrap-up and the notes that follow it: an hour after the call at most

TEXT_LIMITS = CUSTOMER_TEXT_LIMITS
PHONES_MAX = 20
ATTRIBUTES_MAX = 50


@dataclass(frozen=True, slots=True)
class HandledCall:
    call_id: str
    caller: str = ""
    customer_id: str = ""
    account_number: str = ""


def handled_call(call_id: str, events: Iterable[Event], agent_id: str, now: float) -> HandledCall | None:
    """The call, when `agent_id` handles it now (see the module's doc); else None."""
    holder, wrapped, ended_at = "", False, None
    caller = customer_id = account = ""
    for event in events:
        if isinstance(event, CallArrived):
            caller = event.caller
        elif isinstance(event, CallQueued):
            customer_id = event.customer_id or customer_id
            account = str(event.attributes.get("account_number", "") or account)
        elif isinstance(event, (CallOffered, CallConnected)) and event.agent_id:
            holder, wrapped = event.agent_id, False
        elif isinstance(event, (CallNotAnswered, CallRejected)) and event.agent_id == holder:
            holder = ""
        elif isinstance(event, WrapUpEnded) and event.agent_id == holder:
            wrapped = True
        elif isinstance(event, CallEnded):
            ended_at = event.at
    if holder != agent_id or wrapped or (ended_at is not None and now - ended_at > HANDLED_AFTER_END_S):
        return None
    return HandledCall(call_id, caller, customer_id, account)


def customer_fields(body: dict[str, Any], *, new: bool) -> tuple[dict[str, Any], list[str]]:
    """The fields a create (`new`) or a partial update sends, checked: (fields, problems,
    one line each naming the field). Only the fields sent are returned: what is not
    sent is kept. `phones` replaces the list (explicitly, even with []); `phone` adds one
    number to it, so a form with one phone never drops the others."""
    problems: list[str] = []
    out: dict[str, Any] = {}
    known = {*TEXT_LIMITS, "phones", "phone", "attributes", "id", "call_id"}
    for key in sorted(set(body) - known):
        problems.append(f"{key}: unknown field (known: {', '.join(sorted(known))})")
    for key, limit in TEXT_LIMITS.items():
        if key not in body:
            continue
        value = body[key]
        if not isinstance(value, str):
            problems.append(f"{key}: must be a string")
        elif len(value) > limit:
            problems.append(f"{key}: at most {limit} characters")
        else:
            out[key] = value if key == "notes" else value.strip()
    if new and not out.get("name"):
        problems.append("name: required")
    elif "name" in out and not out["name"]:
        problems.append("name: must not be empty")
    if "phones" in body:
        phones = body["phones"]
        if not isinstance(phones, list) or not all(isinstance(p, str) and len(p) <= PHONE_MAX for p in phones):
            problems.append(f"phones: must be a list of numbers (strings of at most {PHONE_MAX} characters)")
        elif len(phones) > PHONES_MAX:
            problems.append(f"phones: at most {PHONES_MAX} numbers")
        else:
            out["phones"] = [p.strip() for p in phones if p.strip()]
    if "phone" in body:
        phone = body["phone"]
        if not isinstance(phone, str) or len(phone) > PHONE_MAX:
            problems.append(f"phone: must be a number (a string of at most {PHONE_MAX} characters)")
        elif phone.strip():
            out["phone"] = phone.strip()
    if "attributes" in body:
        attributes = body["attributes"]
        if not isinstance(attributes, dict) or len(attributes) > ATTRIBUTES_MAX:
            problems.append(f"attributes: must be an object of at most {ATTRIBUTES_MAX} keys")
        elif not all(isinstance(v, (str, int, float, bool)) or v is None for v in attributes.values()):
            problems.append("attributes: values must be strings, numbers, booleans or null (null removes the key)")
        else:
            out["attributes"] = attributes
    return out, problems


def merged_phones(old: Iterable[str], fields: dict[str, Any]) -> tuple[str, ...]:
    """The record's phones after an update: `phones` when sent, plus `phone` when sent."""
    phones = list(fields.get("phones", old))
    if "phone" in fields and fields["phone"] not in phones:
        phones.append(fields["phone"])
    return tuple(phones)


def merged_attributes(old: dict[str, Any], sent: dict[str, Any] | None) -> dict[str, Any]:
    """Keys sent replace the stored ones; a key sent as null is removed."""
    out = dict(old)
    for key, value in (sent or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
