"""`hotline db migrate`."""

from __future__ import annotations

import asyncio

import click

from cti.commands.common import config_option, load_or_exit
from store import open_store


@click.group()
def db() -> None:
    """Database tools."""


@db.command("migrate")
@config_option
def migrate(config_path: str | None) -> None:
    """Apply pending schema migrations (safe to run from several hosts at once)."""
    config = load_or_exit(config_path).config

    async def run() -> list[str]:
        store = await open_store(config.store)
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = asyncio.run(run())
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
