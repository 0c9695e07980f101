"""`hotline pbx-emulator`: run the AMI-speaking PBX emulator (stands in for Asterisk).

HOTLINE_AMI_SECRET=SECRET hotline pbx-emulator --ami-port 5038 --ami-user hotline
                                                 [--agi-url agi://127.0.0.1:4573] [--host 127.0.0.1] [--speed 1.0]
                     [--channelvars CC_CALLID,CC_SKILL,...]
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import click


@click.command("pbx-emulator")
@click.option("--ami-port", type=click.IntRange(0, 65535), required=True, help="TCP port for AMI (0 = any free port).")
@click.option("--ami-user", required=True, help="AMI username clients must log in with.")
@click.option(
    "--ami-secret",
    envvar="HOTLINE_AMI_SECRET",
    required=True,
    help="AMI secret for that user (better from HOTLINE_AMI_SECRET: a command line is visible in ps).",
)
@click.option(
    "--agi-url", default=None, help="FastAGI server the dialplan's AGI() connects to, e.g. agi://127.0.0.1:4573."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="Time-scale factor: 10 runs every wait ten times faster.",
)
@click.option(
    "--channelvars",
    default="CC_CALLID,CC_SKILL,CC_CAMPAIGN,CC_AGENT",
    show_default=True,
    help="manager.conf channelvars: variables shown as ChanVariable on channel events.",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
def pbx_emulator(
    ami_port: int,
    ami_user: str,
    ami_secret: str,
    agi_url: str | None,
    host: str,
    speed: float,
    channelvars: str,
    log_level: str,
) -> None:
    """Run the PBX emulator: Asterisk 20 AMI + the recorded dialplan, FastAGI client."""
    from cti.logs import configure

    configure(log_level, "text")
    if agi_url is not None and not agi_url.startswith("agi://"):
        raise click.BadParameter(f"must look like agi://HOST:PORT, not {agi_url!r}", param_hint="--agi-url")
    try:
        names = tuple(v.strip() for v in channelvars.split(",") if v.strip())
        asyncio.run(_serve(ami_port, ami_user, ami_secret, agi_url, host, speed, names))
    except OSError as exc:
        click.echo(f"hotline pbx-emulator: cannot listen on {host}:{ami_port}: {exc}", err=True)
        sys.exit(1)


async def _serve(
    port: int, user: str, secret: str, agi_url: str | None, host: str, speed: float, channelvars: tuple[str, ...]
) -> None:
    from sim.pbx_emulator import PbxEmulator

    emu = PbxEmulator(user, secret, agi_url=agi_url, speed=speed, channelvars=channelvars)
    await emu.start(host, port)
    click.echo(f"pbx-emulator listening on {host}:{emu.port} (AMI), agi={agi_url or 'off'}, speed={speed}", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop.wait()
    finally:
        summary = emu.ledger.summary()
        await emu.stop()
        click.echo(json.dumps({"ledger": summary}), err=True)
