"""`hotline ami-watch`: connect to an Asterisk (or the emulator) over AMI and print
the domain events the call model derives, one JSON object per line. The quickest
way to try the call model against a real Asterisk 20.

    HOTLINE_AMI_SECRET=SECRET hotline ami-watch --host 127.0.0.1 --port 5038 --user hotline
"""

from __future__ import annotations

import asyncio
import json
import signal

import click


@click.command("ami-watch")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5038, show_default=True)
@click.option("--user", required=True, help="AMI username (manager.conf).")
@click.option(
    "--secret",
    envvar="HOTLINE_AMI_SECRET",
    required=True,
    help="AMI secret (better from HOTLINE_AMI_SECRET: a command line is visible in ps).",
)
def ami_watch(host: str, port: int, user: str, secret: str) -> None:
    """Print Hotline domain events from a live AMI stream (Ctrl-C to stop)."""
    from cti.logs import configure

    configure("warning", "text")
    asyncio.run(_watch(host, port, user, secret))


async def _watch(host: str, port: int, user: str, secret: str) -> None:
    import dataclasses

    from cti.ami import AmiClient, AmiSettings
    from cti.call_model import CallModel
    from events import kind_of

    def show(events: list) -> None:  # type: ignore[type-arg]
        for event in events:
            # "event" rather than events.to_record's "kind": CallTransferred has a
            # field named kind
            record = {"event": kind_of(event)}
            record.update({f.name: getattr(event, f.name) for f in dataclasses.fields(event)})
            click.echo(json.dumps(record, default=dict))

    client = AmiClient(AmiSettings(host, port, user, secret), CallModel(), on_events=show)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await client.start()
    try:
        await stop.wait()
    finally:
        await client.close()
