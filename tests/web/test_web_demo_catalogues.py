"""The demo's own data works in the admin flows: its campaigns' skills are in the skills
catalogue, its rules' `no_answer` pause is a pause code, every queue has an expert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from cti.demo import DEMO_ROUTING, EXPERT, demo_catalogues, demo_users
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import login
from web.settings import routing_available


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with serving(
        web_config(f"sqlite:///{tmp_path}/demo.sqlite3", routing=DEMO_ROUTING, **demo_catalogues())
    ) as c:
        yield c


async def test_a_campaign_agent_saves_and_the_rules_pause_is_a_pause_code(client: TestClient) -> None:
    h = {"X-CSRF-Token": await login(client, "admin")}
    skills = (await (await client.get("/api/v1/skills")).json())["items"]
    assert {"outbound", "preview"} <= set(skills)
    r = await client.put(
        "/api/v1/users/agent01", json={"skills": {"billing": 7, "outbound": 5, "preview": 3}}, headers=h
    )
    assert r.status == 200, await r.text()
    codes = (await (await client.get("/api/v1/pause-codes")).json())["items"]
    rona_pause = DEMO_ROUTING["rona"]["pause_reason"]
    assert rona_pause in codes and set(DEMO_ROUTING["pause_reasons"]) <= set(codes)
    if routing_available():
        text = (await (await client.get("/api/v1/routing")).json())["text"]
        valid = await (await client.post("/api/v1/routing/validate", json={"text": text}, headers=h)).json()
        assert valid == {"valid": True, "problems": []}


def test_every_demo_queue_has_an_expert_among_the_simulated_agents() -> None:
    simulated = [u for u in demo_users() if u.role == "agent" and u.login != "demo"]
    for queue in ("billing", "support", "sales"):
        assert any(u.skills.get(queue, 0) >= EXPERT for u in simulated), queue
    catalogue = set(demo_catalogues()["skills"])
    for user in demo_users():
        assert set(user.skills) <= catalogue, user.login
