"""Input hardening (issue 16, item 6): what used to answer 500 answers 4xx naming the
field: deep or huge JSON, NUL and other non-text (into PostgreSQL), integers and dates
out of range, deep TOML; the CSV import rejects bad rows alone; network values are
escaped in text logs."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
import structlog
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from cti.cli import main
from cti.logs import configure
from tests.web.conftest import started, web_config
from tests.web.web_helpers import login

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000

JSON_ENDPOINTS = [
    ("POST", "/api/v1/tokens"),
    ("PUT", "/api/v1/queues"),
    ("PUT", "/api/v1/skills"),
    ("PUT", "/api/v1/users/agent01"),
    ("POST", "/api/v1/routing/validate"),
    ("POST", "/api/v1/routing/diff"),
    ("POST", "/api/v1/routing/simulate"),
    ("POST", "/api/v1/routing/apply"),
    ("POST", "/api/v1/customers"),
    ("PATCH", "/api/v1/customers/C0000042"),
    ("POST", "/api/v1/customers/C0000042/notes"),
    ("POST", "/api/v1/interactions/c1/wrap-up"),
    ("POST", "/api/v1/agents/agent01/commands"),
    ("POST", "/api/v1/dnc"),
    ("POST", "/api/v1/me/password"),
]


def wf(coro, t=20):
    return asyncio.wait_for(coro, t)


async def send(client: TestClient, method: str, path: str, csrf: str, data: str) -> tuple[int, str]:
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    r = await wf(client.request(method, path, data=data.encode(), headers=headers))
    return r.status, await r.text()


async def test_deep_json_is_422_everywhere(client: TestClient) -> None:
    csrf = await login(client, "admin")
    for method, path in JSON_ENDPOINTS:
        for body in (DEEP, DEEP_OBJECT):
            status, text = await send(client, method, path, csrf, body)
            assert status == 422 and "nested more than" in text, (method, path, status, text)


async def test_large_json_nan_and_huge_integers(client: TestClient) -> None:
    csrf = await login(client, "admin")
    status, _ = await send(client, "POST", "/api/v1/customers", csrf, '{"name": "' + "x" * 1_100_000 + '"}')
    assert status == 413
    status, text = await send(client, "POST", "/api/v1/customers", csrf, '{"name": NaN}')
    assert status == 422 and "NaN" in text
    status, text = await send(client, "PUT", "/api/v1/queues", csrf, '{"items": {}, "base_version": 1' + "0" * 30 + "}")
    assert status == 422 and "base_version" in text


async def test_nul_and_other_non_text_are_422_naming_the_field(fresh_pg_url: str) -> None:
    client = await started(web_config(fresh_pg_url))
    try:
        csrf = await login(client, "admin")
        cases = [
            ("POST", "/api/v1/customers", '{"name": "Ann\\u0000", "phone": "4155550100"}', "name"),
            ("PATCH", "/api/v1/customers/C0000042", '{"notes": "a\\u0001b"}', "notes"),
            ("PUT", "/api/v1/users/agent09", '{"display_name": "x", "team": "t\\u0000"}', "team"),
            ("POST", "/api/v1/tokens", '{"name": "\\ud800"}', "name"),
            ("PUT", "/api/v1/queues", '{"items": {"b\\u0000": {}}, "base_version": 0}', "items"),
            ("POST", "/api/v1/dnc", '{"numbers": ["4155550100", "41555\\u00000101"]}', "numbers[1]"),
        ]
        for method, path, body, field in cases:
            status, text = await send(client, method, path, csrf, body)
            assert status == 422 and f'"{field}' in text, (path, status, text)
        for url, field in (
            ("/api/v1/reports?queue=%00", "queue"),
            ("/api/v1/customers/%00/notes", "customer_id"),
            ("/api/v1/dnc?campaign=a%01", "campaign"),
        ):
            method = "POST" if url.endswith("notes") else "GET"
            r = await wf(client.request(method, url, json={"text": "x"}, headers={"X-CSRF-Token": csrf}))
            assert r.status == 422 and field in (await r.json())["error"], url
        r = await wf(client.post("/login", data={"login": "ad\x00min", "password": "x", "csrf_token": "y"}))
        assert r.status == 422
    finally:
        await client.close()


async def test_integers_and_dates_are_range_checked(client: TestClient) -> None:
    await login(client, "admin")
    r = await wf(client.get("/api/v1/routing/versions/99999999999999999999"))
    assert r.status == 422 and "version" in (await r.json())["error"]
    for query in ("from=9999-12-31", "from=0001-01-01", "to=9999-12-31&from=9999-12-30"):
        r = await wf(client.get(f"/api/v1/reports?{query}"))
        assert r.status == 400 and "between" in (await r.json())["error"], query


async def test_deep_toml_is_a_problem_not_a_crash(client: TestClient) -> None:
    csrf = await login(client, "admin")
    text = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    r = await wf(client.post("/api/v1/routing/validate", json={"text": text}, headers={"X-CSRF-Token": csrf}))
    body = await r.json()
    assert r.status == 200 and body["valid"] is False and "nested more than" in body["problems"][0]["message"]
    r = await wf(client.post("/api/v1/routing/simulate", json={"text": text}, headers={"X-CSRF-Token": csrf}))
    assert r.status in (400, 501)
    r = await wf(
        client.post("/api/v1/routing/apply", json={"text": text, "base_version": 0}, headers={"X-CSRF-Token": csrf})
    )
    assert r.status == 400


def test_csv_import_rejects_bad_rows_alone_and_keeps_the_valid(tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/c.sqlite3"\n')
    rows = [
        "id,name,phones,notes",
        "k1,Kay,4155550101,fine",
        "k2,Nul\x00Person,4155550102,",
        "k3,Long," + "4155550103," + "n" * 200_000,
        "k4,Lou," + "4155550104,ok",
        "k5," + "N" * 300 + ",4155550105,",
    ]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(main, ["customers", "import", str(path), "--config", str(config)])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    rejected = {int(line.split(":")[1]): line for line in result.output.splitlines() if ": rejected: " in line}
    assert sorted(rejected) == [3, 4, 6]
    assert "name: contains a NUL character" in rejected[3]
    assert "unreadable row" in rejected[4] and "name: at most 200 characters" in rejected[6]
    assert "imported 2 customer(s), rejected 3" in result.output


@pytest.fixture
def text_logs() -> io.StringIO:
    saved = structlog.get_config()
    out = io.StringIO()
    configure("info", "text")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    yield out
    structlog.configure(**saved)


def test_network_values_are_escaped_in_text_logs(text_logs: io.StringIO) -> None:
    log = structlog.get_logger()
    log.info("agi_session_started", channel="SIP/1\x00\x1b[31m", uniqueid="1.2")  # (no space: written bare)
    log.info("agi_session_started", channel="SIP/2\x00\n2026 [error] forged")
    log.info("agi_unknown_script\x00\nforged line")
    lines = text_logs.getvalue().splitlines()
    assert len(lines) == 3 and not any(c in text_logs.getvalue() for c in "\x00\x1b")
    assert "channel=SIP/1\\x00\\x1b[31m" in lines[0] and "forged line" in lines[2]
