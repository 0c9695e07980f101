"""The customer API, with object-level rules (`agents.customer_access`):

- `POST /api/v1/customers` creates a record, never replaces one (409 for an id that
  exists). An admin (or an admin's API token) may choose the id; an agent may only
  create the record of the caller of a call they handle now (`call_id`), id chosen here.
- `PATCH /api/v1/customers/{customer_id}` (admin) changes only the fields sent.
- `POST /api/v1/customers/{customer_id}/notes` {text, call_id} appends a dated, signed
  note: an agent only to the customer of a call they handle now; an admin to any.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from agents.customer_access import (
    TEXT_LIMITS,
    HandledCall,
    customer_fields,
    handled_call,
    merged_attributes,
    merged_phones,
)
from agents.hub import customer_card
from cti.server import STORE
from store.models import Customer
from store.phones import InvalidPhone
from store.port import Conflict, NotFound
from web.app import CLOCK, api_error, forbidden, json_body, require
from web.audit import record
from web.security import Identity

log = structlog.get_logger()

NOTE_MAX = 4000


async def _handled(request: web.Request, me: Identity, call_id: Any) -> HandledCall:
    """The call `me` handles now, else 403 naming `call_id`."""
    if not isinstance(call_id, str) or not call_id:
        raise forbidden(request, "call_id: an agent writes customers only for a call they handle (give its id)")
    events = [s.event for s in await request.app[STORE].events_for_call(call_id)]
    found = handled_call(call_id, events, me.login, request.app[CLOCK]())
    if found is None:
        raise forbidden(request, f"call_id: {me.login} does not handle call {call_id!r} now")
    return found


async def customers_of_call(request: web.Request, call: HandledCall) -> set[str]:
    """The ids of the call's customer(s): the queue's id, the IVR's account, the caller's number."""
    store = request.app[STORE]
    ids = {call.customer_id} if call.customer_id else set()
    if call.account_number:
        by_account = await store.find_customer_by_account(call.account_number)
        if by_account is not None:
            ids.add(by_account.id)
    if call.caller:
        try:
            ids.update(c.id for c in await store.find_customers_by_phone(call.caller))
        except InvalidPhone:
            pass
    return ids


async def _save(request: web.Request, customer: Customer, status: int) -> web.Response:
    try:
        await request.app[STORE].put_customer(customer)
    except InvalidPhone as exc:
        return api_error(400, f"phones: {exc}")
    except Conflict as exc:
        return api_error(409, f"account_number: {exc}")
    stored = await request.app[STORE].get_customer(customer.id)
    return web.json_response(customer_card(stored, "store"), status=status)


async def create_customer(request: web.Request) -> web.Response:
    me = require(request, "agent")
    body = await json_body(request)
    fields, problems = customer_fields(body, new=True)
    if problems:
        return api_error(400, "invalid customer", problems=problems)
    if me.role == "admin":
        customer_id = body.get("id") or "N" + uuid.uuid4().hex[:10]
        if not isinstance(customer_id, str) or len(customer_id) > 64:
            return api_error(400, "id: a string of at most 64 characters")
    else:
        if "id" in body:
            return api_error(403, "id: only an admin chooses a customer id")
        await _handled(request, me, body.get("call_id"))
        customer_id = "N" + uuid.uuid4().hex[:10]
    customer = Customer(
        id=customer_id,
        name=fields["name"],
        company=fields.get("company", ""),
        tier=fields.get("tier") or "standard",
        phones=merged_phones((), fields),
        email=fields.get("email", ""),
        account_number=fields.get("account_number", ""),
        attributes=merged_attributes({}, fields.get("attributes")),
        notes=fields.get("notes", ""),
    )
    try:
        await request.app[STORE].add_customer(customer)  # never replaces: 409 for an id that exists
    except InvalidPhone as exc:
        return api_error(400, f"phones: {exc}")
    except Conflict as exc:
        return api_error(409, f"{exc}; PATCH /api/v1/customers/{{id}} changes a customer")
    log.info("customer_created", customer_id=customer_id, by=me.login, via=me.via)
    await record(request, "customer.created", customer_id, fields=sorted(fields), call_id=str(body.get("call_id", "")))
    stored = await request.app[STORE].get_customer(customer_id)
    return web.json_response(customer_card(stored, "store"), status=201)


async def _stored(request: web.Request) -> Customer:
    customer_id = request.match_info["customer_id"]
    try:
        return await request.app[STORE].get_customer(customer_id)
    except NotFound:
        raise web.HTTPNotFound(
            text=f'{{"error": "no customer {customer_id!r}"}}', content_type="application/json"
        ) from None


async def update_customer(request: web.Request) -> web.Response:
    me = require(request, "admin")
    body = await json_body(request)
    fields, problems = customer_fields(body, new=False)
    if "id" in body or "call_id" in body:
        problems.append("id: a customer's id does not change")
    if problems:
        return api_error(400, "invalid customer", problems=problems)
    old = await _stored(request)
    text = {k: v for k, v in fields.items() if k in TEXT_LIMITS}
    customer = replace(
        old,
        **text,
        phones=merged_phones(old.phones, fields),
        attributes=merged_attributes(dict(old.attributes), fields.get("attributes")),
    )
    log.info("customer_updated", customer_id=old.id, by=me.login, fields=sorted(fields))
    await record(request, "customer.updated", old.id, fields=sorted(fields))
    return await _save(request, customer, 200)


async def add_note(request: web.Request) -> web.Response:
    me = require(request, "agent")
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > NOTE_MAX:
        return api_error(400, f"text: the note, 1-{NOTE_MAX} characters")
    call_id = body.get("call_id", "")
    old = await _stored(request)
    if me.role != "admin":
        call = await _handled(request, me, call_id)
        if old.id not in await customers_of_call(request, call):
            raise forbidden(request, f"customer_id: {old.id!r} is not the customer of call {call_id!r}")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(request.app[CLOCK]()))
    where = f" ({call_id})" if isinstance(call_id, str) and call_id else ""
    notes = (old.notes + "\n" if old.notes else "") + f"[{stamp} UTC {me.login}{where}] {text.strip()}"
    if len(notes) > TEXT_LIMITS["notes"]:
        return api_error(409, f"notes: the customer's notes are full ({TEXT_LIMITS['notes']} characters)")
    log.info("customer_note_added", customer_id=old.id, by=me.login, call_id=call_id)
    return await _save(request, replace(old, notes=notes), 201)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/customers", create_customer)
    app.router.add_patch("/api/v1/customers/{customer_id}", update_customer)
    app.router.add_post("/api/v1/customers/{customer_id}/notes", add_note)
