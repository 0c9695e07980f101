"""web/app.py's stop waits for its background tasks (the hubs, the report warming, the
socket watch) a bounded time: one whose cancel a library swallowed (Python 3.11's
asyncio.wait_for, CPython gh-86296) is left to end, and the server stops all the same."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cancel_swallow import deaf_task
from tests.web.conftest import started, web_config
from web import app as web_app
from web.app import WEB_TASKS


async def test_the_web_stops_though_a_task_does_not_end_at_its_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "STOP_WAIT_S", 0.2)
    release = asyncio.Event()
    client = await started(web_config(f"sqlite:///{tmp_path}/web.sqlite3"))
    stuck = deaf_task(release)
    try:
        client.server.app[WEB_TASKS].append(stuck)
        await asyncio.wait_for(client.close(), 10)  # (it waited for the task forever)
        assert not stuck.done()  # (stopped without it)
    finally:
        release.set()
        await stuck
