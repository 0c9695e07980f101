"""Web call-back requests (issue 18): a customer asks to be called at a time.

- `GET /callback`: the public form (no sign-in): name, phone, e-mail, topic (one of the
  admin's queues), when (empty: as soon as possible) and a note.
- `POST /api/v1/callback-requests`: the form's API (JSON: `name`, `phone`, optional
  `email`, `queue`, `at` (epoch seconds), `notes`, `request_id`). From the page it
  carries the anonymous session's CSRF token; a company's site calls it server-side
  with an API token (admin scope).

Each request becomes a call-back promise (store.models.Callback, kind "web") in the
store before it is answered (201), which the live loop's scheduler (cti/live_callbacks.py)
dials when due, from whichever process leads, across restarts; GET /api/v1/callbacks
lists it. The customer is matched by phone (else e-mail) to the CRM record. A
`request_id` sent again returns the first promise (200, `repeated`). Bad input is 400
naming the field (`field` too); more than `PER_ADDRESS` requests an hour from one
address, or `PER_PHONE` for one number, are 429 with `Retry-After` (counted on the bus,
shared by every process).
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from cti.server import BUS, STORE
from store.models import Callback
from store.phones import InvalidPhone, normalize_phone
from store.port import NotFound
from web.app import CLOCK, SETTINGS, api_error, json_body
from web.callbacks import callback_json

log = structlog.get_logger()

PER_ADDRESS = 5  # requests per hour from one address
PER_PHONE = 3  # requests per hour for one number
WINDOW_S = 3600.0
HORIZON_S = 30 * 86400.0  # how far ahead a call-back may be asked
FIELDS = ("name", "phone", "email", "queue", "at", "notes", "request_id")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


def _text(body: dict[str, Any], name: str, *, required: bool = False, limit: int = 200) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FieldError(name, "must be text")
    value = value.strip()
    if required and not value:
        raise FieldError(name, "required")
    if len(value) > limit:
        raise FieldError(name, f"at most {limit} characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise FieldError(name, "must not contain control characters")
    return value


def _when(body: dict[str, Any], now: float) -> float:
    raw = body.get("at")
    if raw in (None, ""):
        return now
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise FieldError("at", "must be a time in epoch seconds (or empty: as soon as possible)")
    at = float(raw)
    if at < now - 300:
        raise FieldError("at", "must not be in the past")
    if at > now + HORIZON_S:
        raise FieldError("at", "at most 30 days ahead")
    return max(at, now)


async def _read(request: web.Request, body: dict[str, Any], now: float) -> dict[str, Any]:
    """The request's fields, checked (FieldError naming the first bad one)."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    name = _text(body, "name", required=True, limit=100)
    raw_phone = _text(body, "phone", required=True, limit=40)
    try:
        phone = normalize_phone(raw_phone)
    except InvalidPhone:
        raise FieldError("phone", f"not a phone number we can call: {raw_phone!r}") from None
    email = _text(body, "email", limit=200)
    if email and not _EMAIL.match(email):
        raise FieldError("email", "not an e-mail address")
    queues = sorted((await request.app[SETTINGS].live("queues")).data)
    queue = _text(body, "queue", limit=100)
    if queue and queues and queue not in queues:
        raise FieldError("queue", f"must be one of {', '.join(queues)}")
    request_id = _text(body, "request_id", limit=64)
    if request_id and not _REQUEST_ID.match(request_id):
        raise FieldError("request_id", "letters, digits, . _ : - (up to 64)")
    notes = _text(body, "notes", limit=1000)
    return {
        "name": name,
        "phone": phone,
        "email": email,
        "queue": queue,
        "at": _when(body, now),
        "notes": notes,
        "request_id": request_id,
    }


async def _rate_limited(request: web.Request, phone: str, now: float) -> float:
    """0 when this request is counted, else the seconds to wait (the bus's shared count;
    with the bus away, nothing is refused: logged)."""
    address = request.remote or "unknown"
    limits = {f"cbreq:ip:{address}": PER_ADDRESS, f"cbreq:phone:{phone}": PER_PHONE}
    try:
        return await request.app[BUS].reserve_hits(limits, now, WINDOW_S, uuid.uuid4().hex)
    except Exception as exc:  # noqa: BLE001 - the bus is away: better a call-back too many than none
        log.warning("callback_request_limiter_unavailable", error=type(exc).__name__)
        return 0.0


async def callback_request(request: web.Request) -> web.Response:
    now = request.app[CLOCK]()
    body = await json_body(request)
    try:
        asked = await _read(request, body, now)
    except FieldError as exc:
        return api_error(400, str(exc), field=exc.field)
    store = request.app[STORE]
    callback_id = f"web-{asked['request_id']}" if asked["request_id"] else f"web-{uuid.uuid4().hex[:16]}"
    if asked["request_id"]:
        try:
            first = await store.get_callback(callback_id)
        except NotFound:
            pass
        else:
            return web.json_response({**callback_json(first), "repeated": True})
    wait = await _rate_limited(request, asked["phone"], now)
    if wait > 0:
        log.info("callback_request_limited", address=request.remote, wait_s=round(wait))
        return _too_many(wait)
    customers = await store.find_customers_by_phone(asked["phone"])
    customer_id = customers[0].id if customers else ""
    if not customer_id and asked["email"]:
        by_email = [c for c in await store.search_customers(asked["email"], limit=5) if c.email == asked["email"]]
        customer_id = by_email[0].id if by_email else ""
    promise = Callback(
        id=callback_id,
        due_at=asked["at"],
        customer_id=customer_id,
        number=asked["phone"].lstrip("+"),  # the digits ([pbx] callback_dial's {number})
        notes="; ".join(x for x in (f"web request from {asked['name']}", asked["email"], asked["notes"]) if x),
        created_at=now,
        queue=asked["queue"],
        kind="web",
        arrived_at=now,
        attributes={"name": asked["name"], "email": asked["email"], "source": "web"},
    )
    await store.put_callback(promise)
    log.info("callback_requested", callback_id=callback_id, due_at=promise.due_at, customer_id=customer_id)
    return web.json_response(callback_json(await store.get_callback(callback_id)), status=201)


def _too_many(wait: float) -> web.Response:
    seconds = math.ceil(wait)
    response = api_error(429, f"too many call-back requests: try again in {seconds} s", retry_after=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response


async def callback_page(request: web.Request) -> web.StreamResponse:
    queues = sorted((await request.app[SETTINGS].live("queues")).data)
    return aiohttp_jinja2.render_template("callback_request.html", request, {"queues": queues})


def setup(app: web.Application) -> None:
    app.router.add_get("/callback", callback_page)
    app.router.add_post("/api/v1/callback-requests", callback_request)


__all__ = ["setup"]
