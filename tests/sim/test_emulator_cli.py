"""`hotline pbx-emulator` as a process: it listens, speaks AMI, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

from click.testing import CliRunner

from cti.cli import main
from sim.pbx_emulator.client import RawAmiClient


def test_bad_agi_url_is_refused() -> None:
    result = CliRunner().invoke(
        main,
        [
            "pbx-emulator",
            "--ami-port",
            "0",
            "--ami-user",
            "u",
            "--ami-secret",
            "s",
            "--agi-url",
            "http://127.0.0.1:4573",
        ],
    )
    assert result.exit_code == 2
    assert "agi://HOST:PORT" in result.output


async def _emulator_process(*more: str) -> asyncio.subprocess.Process:
    """`hotline pbx-emulator` on any free port, fast, its secret from the environment."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "pbx-emulator",
        "--ami-port",
        "0",
        "--ami-user",
        "hotline",
        "--speed",
        "20",
        "--log-level",
        "warning",
        *more,
        stderr=asyncio.subprocess.PIPE,
        # the secret from the environment: a command line is visible to every user in ps
        env={**os.environ, "HOTLINE_AMI_SECRET": "pw"},
    )


async def test_the_command_serves_ami_until_sigterm() -> None:
    proc = await _emulator_process()
    assert proc.stderr is not None
    assert b"pw" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
        c = RawAmiClient()
        await asyncio.wait_for(c.connect("127.0.0.1", port), 5)
        assert (await c.login("hotline", "pw")).response == "Success"
        await c.action(
            "Originate",
            [
                ("Channel", "Local/1000@inbound"),
                ("Context", "caller-phone"),
                ("Exten", "wait"),
                ("Priority", "1"),
                ("Async", "true"),
                ("Variable", "PATIENCE=1"),
            ],
        )
        await c.wait_for(lambda m: m.event == "Hangup" and m["Channel"].endswith(";1"), timeout=5)
        assert c.banner == "Asterisk Call Manager/9.0.0"
        await c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stderr.read(), 10)).decode()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
    ledger = json.loads(rest.strip().splitlines()[-1])["ledger"]
    assert ledger["created"] == 1 and ledger["ended"] == 1


async def test_two_emulated_pbxs_joined_by_a_trunk() -> None:
    """`--pbxs a,b`: two emulators, each listening on its own AMI port; a call on a sent
    through the trunk (`hotline-trunk`, HOTLINE_TRUNK_DIAL) rings agent 2001 on b."""
    proc = await _emulator_process("--pbxs", "a,b")
    assert proc.stderr is not None
    clients: list[RawAmiClient] = []
    try:
        for name in ("a", "b"):
            line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
            port = int(re.search(rf"pbx {name} listening on 127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
            client = RawAmiClient()
            await asyncio.wait_for(client.connect("127.0.0.1", port), 5)
            assert (await client.login("hotline", "pw")).response == "Success"
            clients.append(client)
        a, b = clients
        await a.action(
            "Originate",
            [
                ("Channel", "Local/2001@hotline-trunk"),
                ("Application", "Wait"),
                ("Data", "5"),
                ("Async", "true"),
                ("Variable", "HOTLINE_TRUNK_DIAL=PJSIP/2001@b"),
            ],
        )
        # a dials its trunk endpoint b; b gets the call from a and rings its agent 2001
        await a.wait_for(lambda m: m.event == "DialBegin" and m["DestChannel"].startswith("PJSIP/b-"), timeout=5)
        incoming = await b.wait_for(
            lambda m: m.event == "Newchannel" and m["Channel"].startswith("PJSIP/a-"), timeout=5
        )
        assert (incoming["Context"], incoming["Exten"]) == ("hotline-trunk-in", "2001")
        await b.wait_for(
            lambda m: m.event == "DialBegin" and m["DestChannel"].startswith("Local/2001@agents"), timeout=5
        )
        await a.wait_for(lambda m: m.event == "DialEnd" and m["DialStatus"] == "ANSWER", timeout=5)
        for client in clients:
            await client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stderr.read(), 10)).decode()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
    ledgers = json.loads(rest.strip().splitlines()[-1])["ledgers"]
    assert set(ledgers) == {"a", "b"} and ledgers["b"]["created"] >= 1
