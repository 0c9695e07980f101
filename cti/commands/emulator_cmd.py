"""`hotline pbx-emulator`: run the AMI-speaking PBX emulator (stands in for Asterisk).

HOTLINE_AMI_SECRET=SECRET hotline pbx-emulator --ami-port 5038 --ami-user hotline
                                                 [--agi-url agi://127.0.0.1:4573] [--host 127.0.0.1] [--speed 1.0]
                     [--channelvars CC_CALLID,CC_SKILL,...] [--pbxs paris,lyon]

With `--pbxs`, one emulator per name (several Asterisks, docs/deployment.md), on AMI
ports --ami-port, --ami-port+1, ... (0: any free port each), each reaching the others'
agents through a trunk: on PBX paris, `PJSIP/2001@lyon` rings lyon's agent 2001
(`trunk_dial = "PJSIP/{exten}@{pbx}"`). `--agi-url` is the first's; the next ones' use
the next ports (agi://127.0.0.1:4573, agi://127.0.0.1:4574...).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import sys
from urllib.parse import urlsplit

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
@click.option(
    "--pbxs",
    default="",
    help="Several emulated PBXs joined by trunks: their names, comma-separated (as the [[pbx]] names).",
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
    pbxs: str,
) -> None:
    """Run the PBX emulator: Asterisk 20 AMI + the recorded dialplan, FastAGI client."""
    from cti.logs import configure

    configure(log_level, "text")
    if agi_url is not None and not agi_url.startswith("agi://"):
        raise click.BadParameter(f"must look like agi://HOST:PORT, not {agi_url!r}", param_hint="--agi-url")
    from config.schema import PBX_NAME_PATTERN

    pbx_names = tuple(v.strip() for v in pbxs.split(",") if v.strip())
    if len(set(pbx_names)) != len(pbx_names) or any(not re.fullmatch(PBX_NAME_PATTERN, n) for n in pbx_names):
        raise click.BadParameter(f"distinct PBX names (letters, digits, - and _), not {pbxs!r}", param_hint="--pbxs")
    try:
        names = tuple(v.strip() for v in channelvars.split(",") if v.strip())
        asyncio.run(_serve(ami_port, ami_user, ami_secret, agi_url, host, speed, names, pbx_names))
    except OSError as exc:
        click.echo(f"hotline pbx-emulator: cannot listen on {host}:{ami_port}: {exc}", err=True)
        sys.exit(1)


def _agi_url(agi_url: str | None, n: int) -> str | None:
    """The n-th emulator's FastAGI URL: the first's port + n."""
    if agi_url is None or n == 0:
        return agi_url
    parts = urlsplit(agi_url)
    return parts._replace(netloc=f"{parts.hostname}:{(parts.port or 4573) + n}").geturl()


async def _serve(
    port: int,
    user: str,
    secret: str,
    agi_url: str | None,
    host: str,
    speed: float,
    channelvars: tuple[str, ...],
    pbx_names: tuple[str, ...] = (),
) -> None:
    from cti.gc_pacer import GcPace, pace_gc
    from sim.pbx_emulator import PbxEmulator
    from sim.pbx_emulator.trunk import link

    emus: list[PbxEmulator] = []
    for n, name in enumerate(pbx_names or ("",)):
        url = _agi_url(agi_url, n)
        emu = PbxEmulator(user, secret, agi_url=url, speed=speed, channelvars=channelvars)
        await emu.start(host, port + n if port else 0)
        emus.append(emu)
        what = f"pbx {name} " if name else ""
        click.echo(
            f"pbx-emulator {what}listening on {host}:{emu.port} (AMI), agi={url or 'off'}, speed={speed}", err=True
        )
    for i, j in itertools.combinations(range(len(pbx_names)), 2):
        link(emus[i].pbx, emus[j].pbx, pbx_names[i], pbx_names[j])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    # (its channels of 10,000 agents: a full collection of its own was a second's stop of
    # every call it carries, counted in a benchmark's offer delay as Hotline's)
    pacing = asyncio.create_task(pace_gc(GcPace()), name="gc-pacer")
    try:
        await stop.wait()
    finally:
        pacing.cancel()
        await asyncio.gather(pacing, return_exceptions=True)
        summaries = {name: emu.ledger.summary() for name, emu in zip(pbx_names or ("",), emus, strict=True)}
        for emu in emus:
            await emu.stop()
        click.echo(json.dumps({"ledger": summaries[""]} if "" in summaries else {"ledgers": summaries}), err=True)
