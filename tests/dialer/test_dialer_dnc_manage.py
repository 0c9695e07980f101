"""Managing the durable do-not-call lists: `GET/POST/DELETE /api/v1/dnc` (supervisor
or admin; bad input named) and `hotline dnc import FILE [--campaign C]`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from config.schema import StoreConfig
from cti.cli import main
from cti.server import STORE
from dialer.dnc import parse_dnc_csv
from store import open_store
from store.models import DncEntry
from tests.dialer.test_dialer_live import campaign_table, write_leads
from tests.web.conftest import started, web_config
from tests.web.web_helpers import login


def wf(coro: Any, t: float = 10) -> Any:
    return asyncio.wait_for(coro, t)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    campaigns = campaign_table(write_leads(tmp_path / "leads.csv", ["busy"]), default_region="GB")
    c = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3", campaigns=campaigns))
    try:
        yield c
    finally:
        await wf(c.close(), 20)


async def as_user(client: TestClient, login_name: str) -> dict[str, str]:
    return {"X-CSRF-Token": await login(client, login_name)}


async def test_a_supervisor_lists_adds_and_removes_numbers(client: TestClient) -> None:
    h = await as_user(client, "sup")
    r = await wf(client.post("/api/v1/dnc", json={"number": "(212) 736-0001"}, headers=h))
    assert r.status == 201, await r.text()
    assert await r.json() == {"campaign": "", "numbers": ["+12127360001"], "added": 1, "already_listed": 0}
    r = await wf(client.post("/api/v1/dnc", json={"numbers": ["+1 212 736 0001", "2127360002"]}, headers=h))
    assert (await r.json())["added"] == 1 and (await r.json())["already_listed"] == 1

    listed = await (await wf(client.get("/api/v1/dnc"))).json()
    assert [e["number"] for e in listed["entries"]] == ["+12127360001", "+12127360002"]
    first = listed["entries"][0]
    assert (first["campaign"], first["source"], first["added_by"]) == ("", "api", "sup") and first["added_at"] > 0
    one = await (await wf(client.get("/api/v1/dnc", params={"number": "212-736-0002"}))).json()
    assert [e["number"] for e in one["entries"]] == ["+12127360002"]

    r = await wf(client.delete("/api/v1/dnc", params={"number": "+12127360002"}, headers=h))
    assert r.status == 200 and (await r.json())["removed"] is True
    r = await wf(client.delete("/api/v1/dnc", params={"number": "+12127360002"}, headers=h))
    assert r.status == 404 and "not on the global list" in (await r.json())["error"]
    stored = await client.server.app[STORE].dnc_entries()
    assert [e.number for e in stored] == ["+12127360001"]


async def test_a_campaign_list_reads_national_numbers_in_the_campaign_region(client: TestClient) -> None:
    h = await as_user(client, "admin")
    r = await wf(client.post("/api/v1/dnc", params={"campaign": "spring"}, json={"number": "020 7946 0958"}, headers=h))
    assert r.status == 201 and (await r.json())["numbers"] == ["+442079460958"]
    spring = await (await wf(client.get("/api/v1/dnc", params={"campaign": "spring"}))).json()
    assert [(e["campaign"], e["number"]) for e in spring["entries"]] == [("spring", "+442079460958")]
    assert (await (await wf(client.get("/api/v1/dnc"))).json())["entries"] == []  # not on the global list
    store = client.server.app[STORE]
    assert await store.dnc_blocked(["+442079460958"], "spring") == {"+442079460958"}
    assert await store.dnc_blocked(["+442079460958"], "autumn") == set()


@pytest.mark.parametrize(
    ("method", "params", "body", "problem"),
    [
        ("post", {}, {"numbers": ["+12127360001", "call me", 7]}, "numbers[1]: "),
        ("post", {}, {"numbers": ["+12127360001", "call me", 7]}, "numbers[2]: must be a phone number"),
        ("post", {}, {"number": ""}, "number: must be a phone number"),
        ("post", {}, {"number": "+1", "numbers": ["+1"]}, "number: give one number"),
        ("post", {}, {}, "number: give one number"),
        ("post", {}, {"numbers": []}, "numbers: must be a non-empty list"),
        ("post", {}, {"number": "+12127360001", "note": "x"}, "note: unknown field"),
        ("post", {"campaign": "nope"}, {"number": "+12127360001"}, "campaign: unknown campaign 'nope'"),
        ("get", {"limit": "0"}, None, "limit: must be 1-10000"),
        ("get", {"limit": "many"}, None, "limit: must be an integer"),
        ("get", {"number": "12"}, None, "number: "),
        ("delete", {}, None, "number: required"),
        ("delete", {"number": "+12127360001", "campaign": "nope"}, None, "campaign: unknown campaign"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    client: TestClient, method: str, params: dict[str, str], body: Any, problem: str
) -> None:
    h = await as_user(client, "sup")
    kwargs: dict[str, Any] = {"params": params, "headers": h}
    if body is not None:
        kwargs["json"] = body
    r = await wf(getattr(client, method)("/api/v1/dnc", **kwargs))
    assert r.status == 400, await r.text()
    reply = await r.json()
    assert any(p.startswith(problem) for p in reply["problems"]), reply
    assert await client.server.app[STORE].dnc_entries() == []


async def test_agents_and_strangers_may_not_touch_the_lists(client: TestClient) -> None:
    assert (await wf(client.get("/api/v1/dnc"))).status == 401
    h = await as_user(client, "agent01")
    assert (await wf(client.get("/api/v1/dnc"))).status == 403
    assert (await wf(client.post("/api/v1/dnc", json={"number": "+12127360001"}, headers=h))).status == 403
    assert (await wf(client.delete("/api/v1/dnc", params={"number": "+12127360001"}, headers=h))).status == 403
    assert await client.server.app[STORE].dnc_entries() == []


async def test_the_openapi_document_describes_the_routes(client: TestClient) -> None:
    doc = await (await wf(client.get("/api/v1/openapi.json"))).json()
    ops = doc["paths"]["/api/v1/dnc"]
    assert set(ops) == {"get", "post", "delete"}
    assert "supervisor" in ops["post"]["description"] and "400" in ops["post"]["responses"]
    assert ops["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/DncAdd"
    assert {p["name"] for p in ops["delete"]["parameters"]} == {"campaign", "number"}


# ---------------------------------------------------------------- hotline dnc import


def test_a_dnc_file_is_a_csv_with_a_number_column_or_one_number_per_line() -> None:
    numbers, problems = parse_dnc_csv("name,Number\nAnn,(212) 736-0001\nBob,\n# a comment\n\nCy,not one\n")
    assert numbers == [(2, "+12127360001")]
    assert [(p.line, p.reason.split(":")[0]) for p in problems] == [(3, "number"), (6, "number")]
    numbers, problems = parse_dnc_csv("\ufeff020 7946 0958\n# x\n+1 212 736 0001, ignored\n", "GB")
    assert numbers == [(1, "+442079460958"), (3, "+12127360001")] and problems == []


def _config(tmp_path: Path) -> Path:
    leads = write_leads(tmp_path / "leads.csv", ["busy"])
    config = tmp_path / "hotline.toml"
    config.write_text(f"""
[store]
url = "sqlite:///{tmp_path}/cli.sqlite3"
[campaigns.spring]
leads = "{leads}"
default_region = "GB"
""")
    return config


async def _entries(tmp_path: Path, campaign: str | None = None) -> list[DncEntry]:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/cli.sqlite3"))
    try:
        return await store.dnc_entries(campaign)
    finally:
        await store.close()


def test_the_cli_imports_a_file_into_a_campaign_list_and_names_the_lines_it_rejects(tmp_path: Path) -> None:
    config = _config(tmp_path)
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone,why\n020 7946 0958,asked\nnonsense,?\n+1 212 736 0001,complaint\n")
    result = CliRunner().invoke(main, ["dnc", "import", str(dnc), "--campaign", "spring", "--config", str(config)])
    assert result.exit_code == 3, result.output
    assert f"{dnc}:3: rejected: number: " in result.output
    assert "added 2 number(s) to campaign spring's list, 0 already listed, rejected 1" in result.output
    entries = asyncio.run(_entries(tmp_path))
    assert [(e.campaign, e.number, e.source) for e in entries] == [
        ("spring", "+12127360001", "import:dnc.csv"),
        ("spring", "+442079460958", "import:dnc.csv"),
    ]
    assert entries[0].added_by.startswith("cli:") and entries[0].added_at > 0

    again = tmp_path / "again.txt"
    again.write_text("+442079460958\n")
    result = CliRunner().invoke(main, ["dnc", "import", str(again), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "added 1 number(s) to the global list, 0 already listed" in result.output
    result = CliRunner().invoke(main, ["dnc", "import", str(again), "--config", str(config)])
    assert "added 0 number(s) to the global list, 1 already listed" in result.output
    assert [e.number for e in asyncio.run(_entries(tmp_path, ""))] == ["+442079460958"]


def test_the_cli_refuses_an_unknown_campaign(tmp_path: Path) -> None:
    config = _config(tmp_path)
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("+12127360001\n")
    result = CliRunner().invoke(main, ["dnc", "import", str(dnc), "--campaign", "sprnig", "--config", str(config)])
    assert result.exit_code == 2
    assert "--campaign: unknown campaign 'sprnig' (configured: spring)" in result.output


def test_the_cli_imports_into_the_list_of_a_campaign_an_admin_created(tmp_path: Path) -> None:
    from dialer.definitions import save

    config = _config(tmp_path)

    async def create() -> None:
        store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/cli.sqlite3"))
        try:
            await store.migrate()
            table = {"id": "summer", "leads": "", "enabled": False, "default_region": "GB"}
            await save(store, "summer", table, author="admin", comment="", base_version=0, at=1.0)
        finally:
            await store.close()

    asyncio.run(create())
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("020 7946 0958\n")
    result = CliRunner().invoke(main, ["dnc", "import", str(dnc), "--campaign", "summer", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert [(e.campaign, e.number) for e in asyncio.run(_entries(tmp_path, "summer"))] == [("summer", "+442079460958")]
    result = CliRunner().invoke(main, ["dnc", "import", str(dnc), "--campaign", "autumn", "--config", str(config)])
    assert result.exit_code == 2 and "(configured: spring, summer)" in result.output
