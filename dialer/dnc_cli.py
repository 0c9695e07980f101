"""`hotline dnc import FILE [--campaign C]`: numbers into a durable do-not-call list.

The file is read with `dialer.dnc.parse_dnc_csv` (a CSV with a `number` or `phone`
column, or one number per line); the numbers it can read are added in one transaction,
each line it cannot is reported as `FILE:LINE: rejected: reason` (exit 3). A number
already on the list keeps its first entry. The running dialers read the lists before
every dial, so the numbers are honoured from the next dial on.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import time
from pathlib import Path
from typing import Any

import click

from cti.commands.common import config_option, load_or_exit


@click.group("dnc")
def dnc() -> None:
    """Do-not-call lists (global and per campaign), kept in the store."""


@dnc.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", default=None, help="The campaign's list (default: the global list).")
@click.option(
    "--region",
    default=None,
    help="Region of national numbers (default: the campaign's default_region, else US).",
)
@config_option
def import_(file: Path, campaign: str | None, region: str | None, config_path: str | None) -> None:
    """Add the numbers of FILE to the global list, or to --campaign's."""
    from dialer.dnc import parse_dnc_csv
    from store import open_store
    from store.models import DncEntry

    config = load_or_exit(config_path).config
    regions = asyncio.run(_campaign_regions(config)) if campaign is not None else {}
    if campaign is not None and campaign not in regions:
        known = ", ".join(sorted(regions)) or "none configured"
        click.echo(f"--campaign: unknown campaign {campaign!r} (configured: {known})", err=True)
        sys.exit(2)
    if region is None:
        region = regions[campaign] if campaign is not None else "US"
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        click.echo(f"{file}:1: not UTF-8 text: {exc.reason} at byte {exc.start}", err=True)
        sys.exit(2)
    numbers, problems = parse_dnc_csv(text, region.upper())
    try:
        by = getpass.getuser()
    except (KeyError, OSError):
        by = ""
    now = time.time()
    entries = [DncEntry(n, campaign or "", f"import:{file.name}", now, f"cli:{by}") for _, n in numbers]

    async def commit() -> int:
        store = await open_store(config.store)
        try:
            await store.migrate()
            return await store.add_dnc(entries)
        finally:
            await store.close()

    added = asyncio.run(commit())
    for problem in problems:
        click.echo(f"{file}:{problem.line}: rejected: {problem.reason}", err=True)
    where = f"campaign {campaign}'s list" if campaign else "the global list"
    click.echo(
        f"{file}: added {added} number(s) to {where}, {len(entries) - added} already listed, rejected {len(problems)}"
    )
    if problems:
        sys.exit(3)


async def _campaign_regions(config: Any) -> dict[str, str]:
    """Each campaign's default region: hotline.toml's and those an admin created."""
    from dialer.definitions import campaign_set
    from store import open_store

    store = await open_store(config.store)
    try:
        await store.migrate()
        found = await campaign_set(store, config.campaigns)
    finally:
        await store.close()
    return {cid: str(table.get("default_region", "US")) for cid, table in found.tables.items()}
