"""Issue 17 item 3 in a real browser: a recording is played back (Chromium decodes the
WAV in the page's <audio> player) by the agent who took the call, refused to another
agent, and each playback is an audit entry."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from cti.server import STORE
from sim.pbx_emulator.recorder import RATE, tone
from store.models import Recording
from tests.web.test_web_browser import CHROMIUM, DOCS, browser, server, sign_in  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make test installs it)"),
]


async def test_the_agent_plays_their_recording_and_another_agent_may_not(
    browser,  # noqa: F811
    server: TestClient,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "recordings" / "call-r1.wav"
    path.parent.mkdir()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(tone(3.0))
    store = server.server.app[STORE]
    await store.put_recording(Recording("call-r1", str(path), "agent01", "billing", 1.0, 4.0))

    page = await sign_in(browser, server, "agent01")
    await page.wait_for_url(str(server.make_url("/agent")))
    await page.goto(str(server.make_url("/recordings/call-r1")))
    duration = await page.evaluate(
        """() => new Promise((done, fail) => {
             const a = document.getElementById("player");
             a.addEventListener("loadedmetadata", () => done(a.duration));
             a.addEventListener("error", () => fail(String(a.error && a.error.code)));
             a.load();
           })"""
    )
    assert 2.9 < duration < 3.1, duration
    await page.screenshot(
        path=str(DOCS / "recording-playback.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 370}
    )
    entries = await store.audit_entries(action="recording.play")
    assert [(e.actor, e.target) for e in entries][:1] == [("agent01", "call-r1")]

    other = await sign_in(browser, server, "agent02")
    await other.wait_for_url(str(server.make_url("/agent")))
    response = await other.goto(str(server.make_url("/recordings/call-r1")))
    assert response is not None and response.status == 403
    status = await other.evaluate("fetch('/api/v1/interactions/call-r1/recording').then(r => r.status)")
    assert status == 403
    assert {e.actor for e in await store.audit_entries(action="recording.play")} == {"agent01"}
