"""`hotline db migrate`, `hotline db events CALL_ID` (a call's log with the leaders'
epochs), `hotline db leader` (who leads now), `hotline db report-days` (the reports'
kept days rebuilt from the log)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from config.schema import StoreConfig, redact_url
from cti.commands.common import config_option, load_or_exit
from cti.leadership import LIVE_LEASE
from events import to_record
from store import SqlStore, open_store
from store.models import Lease, StoredEvent

T = TypeVar("T")


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


@db.command("events")
@click.argument("call_id")
@config_option
def events(call_id: str, config_path: str | None) -> None:
    """The event log of one call, with the leader's term (epoch) that logged each event
    (0: logged by the web, or before terms): which server acted, for an audit."""
    config = load_or_exit(config_path).config

    rows: list[StoredEvent] = _read(config.store, lambda store: store.events_for_call(call_id))
    if not rows:
        raise click.ClickException(f"call {call_id!r}: no event in the log")
    click.echo("seq\tepoch\tat (UTC)\tevent")
    for row in rows:
        record = to_record(row.event)
        kind = record.pop("kind")
        at = datetime.fromtimestamp(record.pop("at"), UTC).isoformat(timespec="milliseconds")
        record.pop("call_id", None)
        fields = " ".join(f"{k}={v}" for k, v in record.items() if v not in ("", None, {}, [], ()))
        click.echo(f"{row.seq}\t{row.epoch}\t{at}\t{kind} {fields}".rstrip())


@db.command("report-days")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (default: --from).")
@config_option
def report_days(first: datetime, last: datetime | None, config_path: str | None) -> None:
    """Rebuild the reports' kept days from the event log, replacing their rows (after
    events were added to the log late). A day not closed yet (until 06:00 the next
    day) is left to the report keeper."""
    import time

    from reports.report_rebuild import Rebuilt, rebuild_days
    from reports.web import kpi_config
    from store import open_bus
    from web.settings import SettingsService

    config = load_or_exit(config_path).config
    start, end = first.date(), (last or first).date()
    if end < start:
        raise click.BadParameter(f"--to {end} is before --from {start}", param_hint="--to")
    if (end - start).days >= 3660:
        raise click.BadParameter("at most 10 years at once", param_hint="--to")

    def show(found: Rebuilt) -> None:
        if found.views:
            click.echo(f"{found.day}\trebuilt\t{found.views} view(s)\t{found.events} event(s)")
        else:
            click.echo(f"{found.day}\tnot closed yet: left to the report keeper")

    async def run(store: SqlStore) -> None:
        bus = open_bus(config.bus)
        try:
            queues = (await SettingsService(store, bus, config).live("queues")).data
        finally:
            await bus.close()
        cfg = (await kpi_config(store, queues))[0]
        await rebuild_days(store, cfg, start, end, time.time(), show)

    _read(config.store, run)


@db.command("leader")
@config_option
def leader(config_path: str | None) -> None:
    """Which `hotline serve` leads the live loop now: holder, epoch, lease left."""
    config = load_or_exit(config_path).config

    lease: Lease | None = _read(config.store, lambda store: store.current_lease(LIVE_LEASE))
    if lease is None:
        click.echo("no leader has ever been elected on this store")
        return
    left = lease.expires_at - lease.now
    state = f"lease runs {left:.1f} s more" if left > 0 else f"lease ran out {-left:.1f} s ago: no leader now"
    click.echo(f"leader {lease.holder} epoch {lease.epoch} ({state})")


def _read(config: StoreConfig, query: Callable[[SqlStore], Awaitable[T]]) -> T:
    """One query on the store, a store that cannot answer said in one line."""

    async def run() -> T:
        store = await open_store(config)
        try:
            return await query(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - said plainly, no traceback
        where = redact_url(config.url.get_secret_value())
        why = f"store {where}: {type(exc).__name__}: {exc} (is it migrated? hotline db migrate)"
        raise click.ClickException(why) from None
