"""The routing editor shows what runs: with no version applied, the configuration
file's rules are version 0 (shown, diffed, restorable); rules that name no queue
replace live rules only when confirmed."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from config.loader import parse
from config.toml_text import dumps
from cti.server import STORE
from routing.rules import load_rules, rules_from_data
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import login
from web.settings import routing_available

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
FILE_ROUTING = parse((EXAMPLES / "hotline.toml").read_bytes(), "hotline.toml", EXAMPLES).routing

pytestmark = pytest.mark.skipif(not routing_available(), reason="routing rules package not importable")


def test_the_file_rules_written_back_read_the_same() -> None:
    for name in ("hotline.toml", "routing.toml"):
        data = tomllib.loads((EXAMPLES / name).read_text())
        data = data.get("routing", data) if name == "hotline.toml" else data
        text = dumps(data)
        assert tomllib.loads(text) == data, name
        assert load_rules(text).queues.keys() == rules_from_data(data).queues.keys()
    assert dumps({"a b": {"x": [1.5, True, 'q"uote']}, "t": [{"k": {"n": 1}}, {"k": {}}]}) == (
        '\n["a b"]\nx = [1.5, true, "q\\"uote"]\n\n[[t]]\n\n[t.k]\nn = 1\n\n[[t]]\n\n[t.k]\n'.lstrip("\n")
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    async with serving(web_config(f"sqlite:///{tmp_path}/web.sqlite3", routing=FILE_ROUTING)) as c:
        yield c


async def test_version_0_is_the_file_rules_shown_diffed_and_restorable(client: TestClient) -> None:
    h = {"X-CSRF-Token": await login(client, "admin")}
    live = await (await client.get("/api/v1/routing")).json()
    assert live["version"] == 0 and live["origin"] == "hotline.toml" and not live["empty"]
    assert tomllib.loads(live["text"]) == FILE_ROUTING
    assert live["history"] == [{"version": 0, "author": "", "comment": "from hotline.toml", "created_at": None}]
    diff = await (await client.post("/api/v1/routing/diff", json={"text": live["text"]}, headers=h)).json()
    assert diff["diff"] == ""
    diff = await (await client.post("/api/v1/routing/diff", json={"text": ""}, headers=h)).json()
    assert diff["diff"].startswith("--- live (from hotline.toml)") and "-[queues.billing]" in diff["diff"]

    # rules that name no queue: refused unless confirmed, the field named
    for text in ("", "[defaults]\nwrap_up_s = 5\n"):
        r = await client.post("/api/v1/routing/apply", json={"text": text, "base_version": 0}, headers=h)
        assert r.status == 400 and (await r.json())["error"].startswith("confirm_empty:")
    r = await client.post(
        "/api/v1/routing/apply", json={"text": "", "base_version": 0, "confirm_empty": "yes"}, headers=h
    )
    assert r.status == 400 and (await r.json())["error"] == "confirm_empty: must be true or false"
    assert await client.server.app[STORE].get_settings_version("routing") is None
    r = await client.post(
        "/api/v1/routing/apply", json={"text": "", "base_version": 0, "confirm_empty": True, "comment": "x"}, headers=h
    )
    assert r.status == 200 and (await r.json())["version"] == 1
    live = await (await client.get("/api/v1/routing")).json()
    assert live["empty"] and [v["version"] for v in live["history"]] == [1, 0]

    # the way back: version 0 (the file's rules) becomes version 2
    v0 = await (await client.get("/api/v1/routing/versions/0")).json()
    assert tomllib.loads(v0["text"]) == FILE_ROUTING
    r = await client.post("/api/v1/routing/restore", json={"version": 0, "base_version": 0}, headers=h)
    assert r.status == 409  # the edit's base must be live
    for bad, field in (
        ({"version": "0", "base_version": 1}, "version:"),
        ({"version": 7, "base_version": 1}, "version:"),
    ):
        r = await client.post("/api/v1/routing/restore", json=bad, headers=h)
        assert r.status in (400, 404) and (await r.json())["error"].startswith(field)
    r = await client.post("/api/v1/routing/restore", json={"version": 0, "base_version": 1}, headers=h)
    assert r.status == 200 and (await r.json())["version"] == 2
    assert (await client.server.app[STORE].get_settings_version("routing")).body == v0["text"]
    audit = await (await client.get("/api/v1/audit")).json()
    actions = [(e["action"], e["detail"].get("restored")) for e in audit["entries"]]
    assert ("settings.routing.restored", 0) in actions and ("settings.routing", None) in actions

    # restoring the empty version 1 over non-empty rules needs the confirmation too
    r = await client.post("/api/v1/routing/restore", json={"version": 1, "base_version": 2}, headers=h)
    assert r.status == 400 and (await r.json())["error"].startswith("confirm_empty:")
    # an agent may not restore
    agent = await login(client, "agent01")
    r = await client.post(
        "/api/v1/routing/restore", json={"version": 0, "base_version": 2}, headers={"X-CSRF-Token": agent}
    )
    assert r.status == 403
