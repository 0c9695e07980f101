"""A browser's page request that fails gets a styled page with the reason and a way
back; API requests keep their JSON errors; the favicon is served."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.web.web_helpers import login

HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_failed_pages_are_styled_with_a_way_back(client: TestClient) -> None:
    r = await client.get("/no-such-page", headers=HTML)
    page = await r.text()
    assert r.status == 404 and r.content_type == "text/html"
    assert "404 · Not Found" in page and 'href="/static/hotline.css"' in page and 'id="error-home"' in page
    assert "Content-Security-Policy" in r.headers  # the site's headers on its error pages too
    assert (await client.get("/no-such-page")).content_type == "text/plain"  # not a browser: as before

    await login(client, "agent01")
    r = await client.get("/admin", headers=HTML)
    assert r.status == 403 and "403 · Forbidden" in await r.text()
    r = await client.get("/api/v1/users", headers=HTML)  # the API keeps JSON
    assert r.status == 403 and r.content_type == "application/json"

    client.session.cookie_jar.clear()
    await login(client, "sup")
    r = await client.get("/reports?from=yesterday", headers=HTML)
    page = await r.text()
    assert r.status == 400 and "400 · Bad Request" in page
    assert "from: must be a date YYYY-MM-DD, not &#39;yesterday&#39;" in page


async def test_the_favicon_is_served_to_anyone(client: TestClient) -> None:
    r = await client.get("/favicon.ico")
    assert r.status == 200 and r.headers["Content-Type"] == "image/svg+xml"
    assert (await r.text()).startswith("<svg")
    r = await client.get("/login")
    assert 'rel="icon" href="/favicon.ico"' in await r.text()
