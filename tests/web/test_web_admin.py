"""Admin REST API: settings sections (validated, versioned, optimistic), users and
proficiencies, routing rules (inline validation, diff, simulate, versioned apply)."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from tests.web.web_helpers import BusCallDriver, busy_hour_events, login
from web.admin import simulator
from web.security import verify_password
from web.settings import routing_available

RULES_V1 = """\
[queues.billing]
[[queues.billing.targets]]
expression = "skills.billing >= 5"
timeout_s = 20
[[queues.billing.targets]]
expression = "true"
"""

RULES_BAD = """\
[queues.billing]
[[queues.billing.targets]]
expression = "skils.billing >= 5"
timeout_s = -3
"""


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


async def admin(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": await login(client, "admin")}


async def test_sections_are_validated_and_versioned(client: TestClient) -> None:
    h = await admin(client)
    live = await (await wf(client.get("/api/v1/dispositions"))).json()
    assert live["version"] == 0 and "resolved" in live["items"] and "requires_notes" in live["fields"]
    bad = {"items": {"ok": {"label": "OK", "colour": "red"}, "bad name!": {}}, "base_version": 0}
    r = await wf(client.put("/api/v1/dispositions", json=bad, headers=h))
    body = await r.json()
    assert r.status == 400
    assert sorted(body["problems"]) == [
        "dispositions.bad name!: name must be 1-64 letters, digits, '_', '.', '-'",
        "dispositions.ok.colour: unknown key",
    ]
    good = {"items": {"sold": {"label": "Sold"}, "lost": {"label": "Lost", "requires_notes": True}}, "base_version": 0}
    async with client.server.app[BUS].subscribe("config-changes") as sub:
        r = await wf(client.put("/api/v1/dispositions", json=good, headers=h))
        assert r.status == 200 and (await r.json())["version"] == 1
        _, note = await wf(sub.get())
    assert note == {"section": "dispositions", "version": 1, "author": "admin"}
    r = await wf(client.put("/api/v1/dispositions", json=good, headers=h))  # stale base version
    assert r.status == 409
    live = await (await wf(client.get("/api/v1/dispositions"))).json()
    assert live["version"] == 1 and sorted(live["items"]) == ["lost", "sold"]
    assert live["items"]["lost"] == {"label": "Lost", "requires_notes": True, "schedules_callback": False}
    r = await wf(
        client.put("/api/v1/queues", json={"items": {"billing": {"sl_target": 1.5}}, "base_version": 0}, headers=h)
    )
    assert r.status == 400 and (await r.json())["problems"][0].startswith("queues.billing.sl_target:")


async def test_users_and_proficiencies(client: TestClient) -> None:
    h = await admin(client)
    r = await wf(
        client.put(
            "/api/v1/users/agent09",
            headers=h,
            json={
                "display_name": "Nina New",
                "team": "team-b",
                "skills": {"billing": 11, "karate": 3},
                "password": "short",
            },
        )
    )
    problems = (await r.json())["problems"]
    assert r.status == 400 and len(problems) == 3
    assert any(p.startswith("skills.karate: unknown skill") for p in problems)
    assert any(p.startswith("skills.billing: proficiency must be an integer 1-10") for p in problems)
    assert any(p.startswith("password:") for p in problems)
    r = await wf(
        client.put(
            "/api/v1/users/agent09",
            headers=h,
            json={
                "display_name": "Nina New",
                "team": "team-b",
                "skills": {"billing": 8, "sales": 2},
                "languages": ["en", "es"],
                "password": "long enough pw",
            },
        )
    )
    assert r.status == 201
    user = await client.server.app[STORE].get_user("agent09")
    assert user.skills == {"billing": 8, "sales": 2} and user.languages == ("en", "es") and user.team == "team-b"
    assert verify_password(user.password_hash, "long enough pw")
    async with client.server.app[BUS].subscribe("config-changes") as sub:  # the live loop and wallboards follow
        r = await wf(client.put("/api/v1/users/agent09", headers=h, json={"skills": {"support": 4}}))
        assert r.status == 200
        _, note = await wf(sub.get())
    assert note == {"section": "users", "login": "agent09", "author": "admin"}
    again = await client.server.app[STORE].get_user("agent09")
    assert (
        again.skills == {"support": 4}
        and again.password_hash == user.password_hash
        and again.display_name == "Nina New"
    )


@pytest.mark.skipif(not routing_available(), reason="routing rules package not importable")
async def test_routing_rules_validate_diff_apply(client: TestClient) -> None:
    h = await admin(client)
    live = await (await wf(client.get("/api/v1/routing"))).json()
    assert live["version"] == 0 and live["validator_available"] is True
    r = await (await wf(client.post("/api/v1/routing/validate", json={"text": RULES_BAD}, headers=h))).json()
    assert r["valid"] is False and r["problems"]
    assert all(p["line"] in (3, 4) for p in r["problems"]), r["problems"]
    assert any("skils" in p["message"] for p in r["problems"])
    r = await wf(client.post("/api/v1/routing/apply", json={"text": RULES_BAD, "base_version": 0}, headers=h))
    assert r.status == 400 and (await r.json())["problems"]
    assert (await (await wf(client.post("/api/v1/routing/validate", json={"text": RULES_V1}, headers=h))).json()) == {
        "valid": True,
        "problems": [],
    }
    diff = (await (await wf(client.post("/api/v1/routing/diff", json={"text": RULES_V1}, headers=h))).json())["diff"]
    assert "+[queues.billing]" in diff and diff.startswith("--- live (v0)")
    r = await wf(
        client.post("/api/v1/routing/apply", json={"text": RULES_V1, "base_version": 0, "comment": "first"}, headers=h)
    )
    assert r.status == 200 and (await r.json())["version"] == 1
    v2 = RULES_V1.replace("timeout_s = 20", "timeout_s = 30")
    diff = (await (await wf(client.post("/api/v1/routing/diff", json={"text": v2}, headers=h))).json())["diff"]
    assert "-timeout_s = 20" in diff and "+timeout_s = 30" in diff
    # two admins edited version 1; the second apply must not silently win
    results = await asyncio.gather(
        *(
            client.post("/api/v1/routing/apply", json={"text": v2 + f"# {i}\n", "base_version": 1}, headers=h)
            for i in range(2)
        )
    )
    assert sorted(r.status for r in results) == [200, 409]
    live = await (await wf(client.get("/api/v1/routing"))).json()
    assert live["version"] == 2 and [x["version"] for x in live["history"]] == [2, 1]
    old = await (await wf(client.get("/api/v1/routing/versions/1"))).json()
    assert old["text"] == RULES_V1 and old["comment"] == "first"


async def test_simulate_on_the_last_days_replays_the_stored_calls(client: TestClient) -> None:
    h = await admin(client)
    r = await wf(client.post("/api/v1/routing/simulate", json={"text": RULES_V1}, headers=h))
    if simulator() is None:
        assert r.status == 501 and "simulation not available" in (await r.json())["error"]
        return
    assert r.status == 400 and "nothing to simulate" in (await r.json())["error"]  # empty history
    app = client.server.app
    driver = BusCallDriver(app[STORE], app[BUS])
    for event in busy_hour_events(time.time(), agents=3, calls=30, waiting=0):
        await driver.emit(event)
    r = await wf(client.post("/api/v1/routing/simulate", json={"text": RULES_BAD}, headers=h))
    assert r.status == 400 and (await r.json())["problems"]
    r = await wf(client.post("/api/v1/routing/simulate", json={"text": RULES_V1}, headers=h), 60)
    body = await r.json()
    assert r.status == 200, body
    assert body["days"] == 7 and body["calls_replayed"] == 30 and body["agents"] == 3
    assert body["current"]["offered"] == body["candidate"]["offered"] == 30  # same callers both runs
    assert set(body["difference"]) >= {"service_level", "asa", "abandon_rate"}
    page = await (await wf(client.get("/admin/routing"))).text()
    assert 'id="rules"' in page and 'id="btn-simulate"' in page


async def test_an_agent_phone_names_its_pbx_among_the_configured_ones(tmp_path) -> None:
    """Several Asterisks: the admin puts an agent's phone on one of the `[[pbx]]` PBXs."""
    from tests.web.conftest import serving, web_config
    from tests.web.web_helpers import login

    pbxs = [
        {"name": "paris", "ami_port": 5038, "agi_bind": "127.0.0.1:0"},
        {"name": "lyon", "ami_port": 5039, "agi_bind": "127.0.0.1:0"},
    ]
    async with serving(web_config(f"sqlite:///{tmp_path}/web.sqlite3", pbx=pbxs)) as client:
        h = {"X-CSRF-Token": await login(client, "admin")}
        r = await client.put("/api/v1/users/agent01", json={"pbx": "lyon"}, headers=h)
        assert r.status == 200, await r.text()
        r = await client.put("/api/v1/users/agent02", json={"pbx": "nice"}, headers=h)
        assert r.status == 400
        assert (
            "pbx: unknown PBX 'nice' (the [[pbx]] names: paris, lyon; empty: the first)" in (await r.json())["problems"]
        )
        users = {u["login"]: u["pbx"] for u in (await (await client.get("/api/v1/users")).json())["users"]}
        assert (users["agent01"], users["agent02"]) == ("lyon", "")
