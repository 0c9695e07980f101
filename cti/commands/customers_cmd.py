"""`hotline customers import FILE.csv`, `hotline customers erase ID`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from tqdm import tqdm

from cti.commands.common import config_option, load_or_exit
from store import SqlStore, open_store
from store.customer_csv import Rejected, read_customers
from store.models import Customer
from store.port import Conflict


@click.group()
def customers() -> None:
    """CRM customer records."""


async def _reject_existing_accounts(store: SqlStore, rows: list[tuple[int, Customer]]) -> list[Rejected]:
    """Account numbers already held by another customer in the store."""
    rejected = []
    for line, customer in rows:
        if customer.account_number:
            holder = await store.find_customer_by_account(customer.account_number)
            if holder is not None and holder.id != customer.id:
                rejected.append(
                    Rejected(line, f"account_number: {customer.account_number!r} belongs to customer {holder.id!r}")
                )
    return rejected


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
def import_(file: Path, config_path: str | None) -> None:
    """Import FILE.csv: valid rows are committed together; rejected rows are listed."""
    config = load_or_exit(config_path).config
    accepted: list[tuple[int, Customer]] = []
    rejected: list[Rejected] = []
    with file.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        total = sum(1 for _ in handle) - 1
        handle.seek(0)
        with tqdm(total=max(total, 0), unit="row", desc="validating", disable=None) as bar:
            for line, item in read_customers(handle, file.name):
                (rejected.append(item) if isinstance(item, Rejected) else accepted.append((line, item)))
                bar.update(1)

    async def commit() -> list[Rejected]:
        store = await open_store(config.store)
        try:
            await store.migrate()
            clashes = await _reject_existing_accounts(store, accepted)
            bad_lines = {r.line for r in clashes}
            await store.put_customers(c for line, c in accepted if line not in bad_lines)
            return clashes
        finally:
            await store.close()

    try:
        clashes = asyncio.run(commit())
    except Conflict as exc:
        click.echo(f"{file}: nothing imported: {exc}", err=True)
        sys.exit(1)
    rejected = sorted(rejected + clashes, key=lambda r: r.line)
    for r in rejected:
        click.echo(f"{file}:{r.line}: rejected: {r.reason}", err=True)
    imported = len(accepted) - len(clashes)
    click.echo(f"{file}: imported {imported} customer(s), rejected {len(rejected)}")
    if imported == 0:  # the README's contract: 1 nothing imported (an empty file too), 3 some rejected
        sys.exit(1)
    if rejected:
        sys.exit(3)


@customers.command("erase")
@click.argument("customer_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@config_option
def erase(customer_id: str, yes: bool, config_path: str | None) -> None:
    """Erase customer CUSTOMER_ID (an erasure request): their record, their calls'
    interactions and recordings. Audited (actor cli:<user>); exit 1 when nothing was kept."""
    import getpass
    import time

    from agents.erasure import erase_customer
    from store.models import AuditEntry

    config = load_or_exit(config_path).config
    if not yes:
        click.confirm(f"Erase customer {customer_id!r}, their interactions and recordings?", abort=True)

    async def run() -> tuple[bool, str]:
        store = await open_store(config.store)
        try:
            await store.migrate()
            erased = await erase_customer(store, customer_id)
            if erased.anything:
                detail = {
                    "customer": erased.customer,
                    "interactions": erased.interactions,
                    "recordings": erased.recordings,
                    "callbacks": erased.callbacks,
                }
                entry = AuditEntry(time.time(), f"cli:{getpass.getuser()}", "customer.erased", customer_id, detail, "")
                await store.add_audit(entry)
            record = "deleted" if erased.customer else "not found"
            said = (
                f"customer record {record}, {erased.interactions} interaction(s), {erased.recordings} recording(s),"
                f" {erased.callbacks} call-back(s) cancelled"
            )
            return erased.anything, said
        finally:
            await store.close()

    anything, said = asyncio.run(run())
    click.echo(f"{customer_id}: {said}")
    if not anything:
        sys.exit(1)
