"""GET /metrics: the Prometheus text format, scraped with a read-only API token: HTTP
requests and latency by route, store and bus health, the wallboard's numbers."""

from __future__ import annotations

import re
import time

from aiohttp.test_utils import TestClient

from cti.server import BUS, STORE
from events import AgentLoggedIn, CallQueued
from reports.web import WALLBOARD
from reports.web_live import View
from tests.web.test_web_tokens import token
from tests.web.web_helpers import BusCallDriver, login, wait_until

SAMPLE = re.compile(r'^([a-z_]+)(\{([a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*)\})? (-?[0-9.e+]+|\+Inf|NaN)$')


def parse(text: str) -> dict[str, float]:
    """Every sample as `name{labels}` -> value; each line must be valid exposition text."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
    return out


async def test_metrics_are_scraped_with_a_read_token(client: TestClient) -> None:
    app = client.server.app
    driver = BusCallDriver(app[STORE], app[BUS])
    csrf = await login(client, "admin")
    read, _ = await token(client, csrf, name="prometheus")
    client.session.cookie_jar.clear()
    assert (await client.get("/metrics", allow_redirects=False)).status in (302, 401)  # not anonymous
    now = time.time()
    await driver.emit(AgentLoggedIn(now - 5, "agent01"))
    await driver.emit(CallQueued(now - 3, "m1", queue="billing"))
    await wait_until(
        lambda: app[WALLBOARD].board.snapshot(time.time(), View(None))["totals"]["waiting"] == 1, timeout=5
    )
    for _ in range(3):
        assert (await client.get("/api/v1/users", headers=read)).status == 200
    assert (await client.get("/api/v1/users/nobody/commands", headers=read)).status in (404, 405)

    r = await client.get("/metrics", headers=read)
    assert r.status == 200 and r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse(await r.text())
    assert samples['hotline_http_requests_total{method="GET",route="/api/v1/users",status="200"}'] == 3
    assert any(k.startswith('hotline_http_requests_total{method="GET",route="(unmatched)"') for k in samples)
    assert samples['hotline_http_request_duration_seconds_count{route="/api/v1/users"}'] == 3
    assert samples['hotline_http_request_duration_seconds_bucket{route="/api/v1/users",le="+Inf"}'] == 3
    assert samples["hotline_store_up"] == 1 and samples["hotline_bus_up"] == 1
    assert samples['hotline_queue_calls_waiting{queue="billing"}'] == 1
    assert samples['hotline_queue_calls_offered_today{queue="billing"}'] == 1
    assert samples['hotline_agents{state="available"}'] == 1
