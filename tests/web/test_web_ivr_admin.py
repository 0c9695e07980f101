"""The IVR admin API: the flow that runs as text (version 0: hotline.toml's), problems
at their lines, a walk with sample inputs through the live engine, versions applied,
restored and audited."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from config.loader import parse
from cti.server import STORE
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import CUSTOMER, login

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "ivr.toml"
FLOW = parse(EXAMPLE.read_bytes(), "ivr.toml").ivr


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with serving(web_config(f"sqlite:///{tmp_path}/ivr.sqlite3", ivr=FLOW)) as c:
        yield c


async def test_the_ivr_flow_is_edited_walked_applied_and_restored(client: TestClient) -> None:
    h = {"X-CSRF-Token": await login(client, "admin")}
    live = await (await client.get("/api/v1/ivr")).json()
    assert live["version"] == 0 and live["origin"] == "hotline.toml"
    assert parse(live["text"], "ivr.toml").ivr == FLOW
    assert [v["version"] for v in live["history"]] == [0]

    text = live["text"]
    for bad, wrong, says in (
        (text.replace('type = "menu"', 'type = "menu"\nretries = "many"'), "retries", "valid integer"),
        (text.replace('4 = "sales"', '4 = "nowhere"'), "nowhere", "no node named 'nowhere'"),
    ):
        r = await (await client.post("/api/v1/ivr/validate", json={"text": bad}, headers=h)).json()
        [problem] = r["problems"]
        assert not r["valid"] and says in problem["message"]
        assert wrong in bad.splitlines()[problem["line"] - 1]  # marked at its own line
    for other, says in (("", "empty"), ("[routing]\nx = 1\n", "routing: only the [ivr] tables"), ("[ivr\n", "")):
        r = await (await client.post("/api/v1/ivr/validate", json={"text": other}, headers=h)).json()
        assert not r["valid"] and says in r["problems"][0]["message"], (other, r)

    async def walk(**body: object) -> dict:
        r = await client.post("/api/v1/ivr/simulate", json={"text": live["text"], **body}, headers=h)
        assert r.status == 200, await r.text()
        return await r.json()

    open_hours = {"at": "2026-12-07T10:00"}  # a Monday, 10:00 in the flow's time zone (New York)
    sales = await walk(caller="+15550001111", digits=["4"], **open_hours)
    assert sales["outcome"]["action"] == "queue" and sales["outcome"]["queue"] == "sales"
    assert ("main", "4") in [(s["node"], s["result"]) for s in sales["steps"]]
    known = await walk(caller=CUSTOMER.phones[0], digits=["4"], **open_hours)
    assert known["outcome"]["customer_id"] == CUSTOMER.id  # looked up in the real directory
    closed = await walk(caller="", digits=[], at="2026-12-25T12:00")  # a holiday
    assert closed["outcome"]["action"] == "voicemail"
    r = await client.post("/api/v1/ivr/simulate", json={"text": live["text"], "digits": "4"}, headers=h)
    assert r.status == 400 and (await r.json())["error"].startswith("digits:")
    r = await client.post("/api/v1/ivr/simulate", json={"text": live["text"], "at": "noon"}, headers=h)
    assert r.status == 400 and (await r.json())["error"].startswith("at:")

    edited = live["text"].replace('4 = "sales"', '4 = "support"')
    assert edited != live["text"]
    diff = (await (await client.post("/api/v1/ivr/diff", json={"text": edited}, headers=h)).json())["diff"]
    assert diff.startswith("--- live (from hotline.toml)") and '+4 = "support"' in diff
    r = await client.post("/api/v1/ivr/apply", json={"text": "[ivr]\n", "base_version": 0}, headers=h)
    assert r.status == 400 and (await r.json())["problems"]
    r = await client.post(
        "/api/v1/ivr/apply", json={"text": edited, "base_version": 0, "comment": "4: support"}, headers=h
    )
    assert r.status == 200 and (await r.json())["version"] == 1
    assert (await client.server.app[STORE].get_settings_version("ivr")).body == edited
    r = await client.post("/api/v1/ivr/apply", json={"text": edited, "base_version": 0}, headers=h)
    assert r.status == 409
    r = await client.post("/api/v1/ivr/restore", json={"version": 0, "base_version": 1}, headers=h)
    assert r.status == 200 and (await r.json())["version"] == 2
    assert (
        tomllib.loads((await client.server.app[STORE].get_settings_version("ivr")).body)["ivr"]["nodes"]["main"][
            "options"
        ]["4"]
        == "sales"
    )
    audit = await (await client.get("/api/v1/audit")).json()
    assert {"settings.ivr", "settings.ivr.restored"} <= {e["action"] for e in audit["entries"]}
    client.session.cookie_jar.clear()
    agent = await login(client, "agent01")
    r = await client.post(
        "/api/v1/ivr/apply", json={"text": edited, "base_version": 2}, headers={"X-CSRF-Token": agent}
    )
    assert r.status == 403
