"""Web call-back requests (issue 18): the public form's API keeps each request as a
call-back promise before answering, names a bad field, keeps a resend once and limits
the rate per number (tests/live/test_live_callback_requests.py: the live loop dials it)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp.test_utils import TestClient

from cti.server import STORE
from tests.web.web_helpers import CUSTOMER, login

URL = "/api/v1/callback-requests"


async def public_token(client: TestClient) -> str:
    """The anonymous visitor's CSRF token, from the public page."""
    page = await asyncio.wait_for(client.get("/callback"), 5)
    assert page.status == 200
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', await page.text())
    assert found, "the public page carries no CSRF token"
    return found.group(1)


async def post(client: TestClient, token: str, body: Any) -> tuple[int, dict[str, Any]]:
    r = await asyncio.wait_for(client.post(URL, json=body, headers={"X-CSRF-Token": token}), 5)
    return r.status, await r.json()


async def test_a_request_from_the_public_page_is_a_stored_promise_for_the_customer(client: TestClient) -> None:
    token = await public_token(client)
    at = time.time() + 3600
    status, body = await post(
        client, token, {"name": "Grace", "phone": "(415) 555-0142", "at": at, "notes": "about my bill"}
    )
    assert status == 201, body
    promise = await client.server.app[STORE].get_callback(body["id"])
    assert (promise.kind, promise.state, promise.number, promise.customer_id) == (
        "web",
        "pending",
        "14155550142",
        CUSTOMER.id,
    )
    assert promise.due_at == at and "about my bill" in promise.notes and promise.attributes["name"] == "Grace"
    # supervisors see it with the other call-backs
    await login(client, "sup")
    listed = await (await client.get("/api/v1/callbacks?state=pending")).json()
    assert [c["id"] for c in listed["callbacks"]] == [body["id"]]


async def test_bad_fields_are_named(client: TestClient) -> None:
    token = await public_token(client)
    good = {"name": "Ann", "phone": "+12125550100"}
    cases = [
        ({"phone": "+12125550100"}, "name", "name: required"),
        ({**good, "phone": "call me"}, "phone", "phone: not a phone number"),
        ({**good, "email": "ann-at-example"}, "email", "email: not an e-mail address"),
        ({**good, "at": time.time() - 86400}, "at", "at: must not be in the past"),
        ({**good, "at": time.time() + 40 * 86400}, "at", "at: at most 30 days ahead"),
        ({**good, "at": "tomorrow"}, "at", "at: must be a time in epoch seconds"),
        ({**good, "colour": "red"}, "colour", "colour: unknown field"),
        ({**good, "name": 7}, "name", "name: must be text"),
        ({**good, "request_id": "no spaces"}, "request_id", "request_id: letters"),
    ]
    for body, field, message in cases:
        status, answer = await post(client, token, body)
        assert (status, answer["field"]) == (400, field), (body, answer)
        assert answer["error"].startswith(message), answer
    assert (await client.server.app[STORE].open_callbacks()) == []


async def test_a_resend_is_kept_once_and_too_many_are_refused(client: TestClient) -> None:
    token = await public_token(client)
    first = await post(client, token, {"name": "Ann", "phone": "+12125550100", "request_id": "page-1"})
    again = await post(client, token, {"name": "Ann", "phone": "+12125550100", "request_id": "page-1"})
    assert first[0] == 201 and again[0] == 200 and again[1]["repeated"] is True and again[1]["id"] == first[1]["id"]
    for n in (2, 3):
        assert (await post(client, token, {"name": "Ann", "phone": "+12125550100", "request_id": f"page-{n}"}))[
            0
        ] == 201
    r = await client.post(URL, json={"name": "Ann", "phone": "+12125550100"}, headers={"X-CSRF-Token": token})
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert (await r.json())["error"].startswith("too many call-back requests")
    assert len(await client.server.app[STORE].open_callbacks()) == 3


async def test_without_the_pages_token_it_is_refused(client: TestClient) -> None:
    r = await client.post(URL, json={"name": "Ann", "phone": "+12125550100"})
    assert r.status == 403
