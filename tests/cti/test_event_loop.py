"""`[server] event_loop`: `hotline serve` runs on uvloop by default, on asyncio's own
loop when asked, and a wrong value is named with its line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import uvloop
from click.testing import CliRunner

from cti.cli import main
from cti.event_loop import new_event_loop


def test_the_server_loop_is_uvloop_unless_asyncio_is_asked() -> None:
    for kind, cls in (("uvloop", uvloop.Loop), ("asyncio", asyncio.BaseEventLoop)):
        loop = new_event_loop(kind)
        try:
            assert isinstance(loop, cls)
            assert loop.run_until_complete(asyncio.sleep(0, result=kind)) == kind
        finally:
            loop.close()


def test_a_wrong_event_loop_is_named_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text('[server]\nport = 1\nevent_loop = "trio"\n')
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 2, result.output
    assert "hotline.toml:3: server.event_loop: Input should be 'uvloop' or 'asyncio'" in result.output
