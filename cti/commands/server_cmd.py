"""`hotline serve`."""

from __future__ import annotations

import click
import structlog
from aiohttp import web

from config.schema import HotlineConfig
from cti.ami_native import is_native
from cti.commands.common import config_option, load_or_exit
from cti.event_loop import new_event_loop
from cti.gc_pacer import gc_pace, pace_gc_in
from cti.server import create_app

log = structlog.get_logger()


def _run(config: HotlineConfig, host: str | None, port: int | None) -> None:
    app = create_app(config)
    pace_gc_in(app, gc_pace(config))
    host = host or config.server.host
    port = config.server.port if port is None else port
    click.echo(f"Hotline serving on http://{host}:{port}/  (health: http://{host}:{port}/healthz)")
    # which build parses AMI (cti/ami_native.py: compiled when `make native` built it from this source)
    log.info("ami_codec", build="compiled" if is_native() else "python")
    from mail.listener import MailListenError

    try:
        loop = new_event_loop(config.server.event_loop)
        web.run_app(app, host=host, port=port, print=None, handle_signals=True, loop=loop)
    except MailListenError as exc:  # (a taken SMTP port: said plainly, no traceback)
        raise click.ClickException(str(exc)) from None


@click.command()
@config_option
@click.option("--host", default=None, help="Bind address (overrides server.host).")
@click.option("--port", type=int, default=None, help="Port (overrides server.port).")
def serve(config_path: str | None, host: str | None, port: int | None) -> None:
    """Run the Hotline server."""
    _run(load_or_exit(config_path).config, host, port)
