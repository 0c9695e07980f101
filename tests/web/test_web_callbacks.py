"""The call-back promises' REST API (web/callbacks.py): listed with filters and
cancelled, an agent their own, supervisors and admins all; bad input named."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from cti.server import STORE
from store.models import Callback
from tests.web.web_helpers import login


def wf(coro: Any, t: float = 10) -> Any:
    return asyncio.wait_for(coro, t)


ROWS = (
    Callback(id="a1", due_at=100.0, agent_id="agent01", number="5550001", queue="billing"),
    Callback(id="a2", due_at=200.0, agent_id="agent01", number="5550002", queue="support", state="dialing"),
    Callback(id="b1", due_at=150.0, agent_id="agent02", number="5550003", queue="billing"),
    Callback(id="q1", due_at=300.0, number="5550004", queue="billing", kind="virtual_hold", state="done"),
)


async def _seed(client: TestClient) -> None:
    for row in ROWS:
        await client.server.app[STORE].put_callback(row)


async def _ids(client: TestClient, query: str = "") -> list[str]:
    r = await wf(client.get(f"/api/v1/callbacks{query}"))
    assert r.status == 200, await r.text()
    return [c["id"] for c in (await r.json())["callbacks"]]


async def test_an_agent_lists_their_own_and_a_supervisor_all_with_filters(client: TestClient) -> None:
    await _seed(client)
    await login(client, "agent01")
    assert await _ids(client) == ["a1", "a2"]
    assert await _ids(client, "?state=dialing") == ["a2"]
    assert await _ids(client, "?agent=agent01&queue=billing") == ["a1"]
    r = await wf(client.get("/api/v1/callbacks?agent=agent02"))
    assert r.status == 403 and "agent:" in (await r.json())["error"]

    await login(client, "sup")
    assert await _ids(client) == ["a1", "b1", "a2", "q1"]
    assert await _ids(client, "?queue=billing&due_from=120&due_to=300") == ["b1"]
    assert await _ids(client, "?agent=agent02") == ["b1"]
    assert await _ids(client, "?state=done&limit=1") == ["q1"]
    [row] = (await (await wf(client.get("/api/v1/callbacks?state=done"))).json())["callbacks"]
    assert (row["kind"], row["number"], row["due_at"], row["agent_id"]) == ("virtual_hold", "5550004", 300.0, "")


async def test_bad_filters_are_400s_naming_the_parameter(client: TestClient) -> None:
    await login(client, "sup")
    for query, field in (
        ("state=ringing", "state:"),
        ("due_from=tomorrow", "due_from:"),
        ("due_to=nan", "due_to:"),
        ("due_from=10&due_to=5", "due_to:"),
        ("limit=0", "limit:"),
        ("limit=x", "limit:"),
        ("agnet=agent01", "agnet:"),
    ):
        r = await wf(client.get(f"/api/v1/callbacks?{query}"))
        assert r.status == 400, query
        assert (await r.json())["error"].startswith(field), (query, await r.json())


async def test_cancel_own_or_as_supervisor_once_and_never_one_being_dialled(client: TestClient) -> None:
    await _seed(client)
    store = client.server.app[STORE]
    csrf = await login(client, "agent02")
    headers = {"X-CSRF-Token": csrf}
    r = await wf(client.post("/api/v1/callbacks/a1/cancel", headers=headers))
    assert r.status == 403 and "not yours" in (await r.json())["error"]
    r = await wf(client.delete("/api/v1/callbacks/b1", headers=headers))
    body = await r.json()
    assert r.status == 200 and body["cancelled"] and body["callback"]["state"] == "cancelled", body
    assert (await store.get_callback("b1")).outcome == "cancelled by agent02"
    r = await wf(client.post("/api/v1/callbacks/b1/cancel", headers=headers))
    assert r.status == 200 and (await r.json())["repeated"] is True
    r = await wf(client.post("/api/v1/callbacks/nope/cancel", headers=headers))
    assert r.status == 404 and (await r.json())["error"].startswith("id:")

    csrf = await login(client, "sup")
    headers = {"X-CSRF-Token": csrf}
    r = await wf(client.post("/api/v1/callbacks/a1/cancel", headers=headers))
    assert r.status == 200 and (await store.get_callback("a1")).state == "cancelled"
    r = await wf(client.post("/api/v1/callbacks/a2/cancel", headers=headers))
    assert r.status == 409 and "being dialled" in (await r.json())["error"]
    r = await wf(client.delete("/api/v1/callbacks/q1", headers=headers))
    assert r.status == 409 and "done already" in (await r.json())["error"]
    assert (await store.get_callback("a2")).state == "dialing"
    r = await wf(client.post("/api/v1/callbacks/a1/cancel"))  # no CSRF token
    assert r.status == 403
