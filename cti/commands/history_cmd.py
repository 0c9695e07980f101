"""`hotline history import FILE --format anonymous-bank|csv`: a recorded call log into
the store's event log (wfm.history says which events, and what is derived)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from cti.commands.common import config_option, load_or_exit

FORMATS = ("anonymous-bank", "csv")
BATCH = 2000


def log_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """LOG and --format, or --from-store (and --config), and --interval: what `forecast`
    and `plan` read (see `load_calls`)."""
    func = config_option(func)
    func = click.option("--queue", "queues", multiple=True, metavar="NAME",
                        help="Only these queues (repeat): a skill group's own forecast or plan.")(func)  # fmt: skip
    func = click.option("--from-store", is_flag=True,
                        help="Read the calls from the store's event log instead of a LOG file.")(func)  # fmt: skip
    func = click.option("--interval", type=click.Choice(["15", "30", "60"]), default="30", show_default=True,
                        help="Interval, minutes.")(func)  # fmt: skip
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="LOG's format.")(func)
    return click.argument("log", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))(func)


def load_calls(
    log: Path | None,
    fmt: str | None,
    from_store: bool,
    config_path: str | None,
    quiet: bool,
    queues: tuple[str, ...] = (),
) -> list:
    """The calls of LOG (rejected rows listed on stderr) or of the store's event log,
    only those of `queues` when given."""
    calls = _all_calls(log, fmt, from_store, config_path, quiet)
    if not queues:
        return calls
    known = {c.queue for c in calls}
    unknown = sorted(set(queues) - known)
    if unknown:
        raise click.UsageError(f"--queue: {', '.join(unknown)} not in the history (it has {', '.join(sorted(known))})")
    return [c for c in calls if c.queue in queues]


def _all_calls(log: Path | None, fmt: str | None, from_store: bool, config_path: str | None, quiet: bool) -> list:
    if (log is None) == (not from_store):
        raise click.UsageError("give a LOG file (with --format) or --from-store")
    if log is not None:
        if fmt is None:
            raise click.UsageError("--format: required with a LOG file (anonymous-bank or csv)")
        calls, rejected = read_history(log, fmt, progress=not quiet)
        for r in rejected:
            click.echo(f"{log}:{r.line}: rejected: {r.reason}", err=True)
        return calls
    from store import open_store
    from wfm.history import records_from_events

    config = load_or_exit(config_path).config

    async def read() -> list:
        store = await open_store(config.store)
        try:
            return [s.event async for s in store.iter_events(float("-inf"), float("inf"))]
        finally:
            await store.close()

    calls = records_from_events(asyncio.run(read()))
    if not calls:
        raise click.ClickException("the store's event log holds no queued call (see `hotline history import`)")
    return calls


@click.group()
def history() -> None:
    """Recorded call history (workforce planning input)."""


def read_history(file: Path, fmt: str, progress: bool = True) -> tuple[list, list]:
    """(call records, rejected rows) of FILE; a file that is not in the format exits
    with a message naming it."""
    from wfm.history import CallRecord, Rejected, read_anonymous_bank, read_calls_csv

    reader = read_anonymous_bank if fmt == "anonymous-bank" else read_calls_csv
    calls: list[CallRecord] = []
    rejected: list[Rejected] = []
    with file.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        total = sum(1 for _ in fh) - 1
        fh.seek(0)
        with tqdm(total=max(total, 0), unit="row", desc="reading", disable=None if progress else True,
                  file=sys.stderr) as bar:  # fmt: skip
            try:
                for _line, item in reader(fh):
                    if isinstance(item, Rejected):
                        rejected.append(item)
                    elif item is not None:
                        calls.append(item)
                    bar.update(1)
            except ValueError as exc:
                raise click.ClickException(f"{file}:{exc}") from None
    return calls, rejected


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@history.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="anonymous-bank: the tab-separated Anonymous Bank log (data/anonymous-bank); "
                   "csv: call_id,queue,queued_at,wait_s,outcome[,talk_s,wrap_s,agent] (wfm/history.py).")  # fmt: skip
@click.option("--no-presence", is_flag=True, help="Do not derive agent log-in/log-out from the calls.")
@config_option
def import_(file: Path, fmt: str, no_presence: bool, config_path: str | None) -> None:
    """Import a call log FILE into the store as events; rejected rows are listed by line.
    Importing the same file again stores nothing twice."""
    from store import open_store
    from wfm.history import call_events, dedupe_key

    config = load_or_exit(config_path).config
    calls, rejected = read_history(file, fmt)
    events = call_events(calls, presence=not no_presence)
    source = f"{fmt}:{file.name}"

    async def commit() -> int:
        store = await open_store(config.store)
        stored = 0
        try:
            await store.migrate()
            with tqdm(total=len(events), unit="event", desc="storing", disable=None, file=sys.stderr) as bar:
                for batch in _batches(events, BATCH):
                    seqs = await store.append_many(batch, [dedupe_key(source, e) for e in batch])
                    stored += sum(1 for s in seqs if s)
                    bar.update(len(batch))
        finally:
            await store.close()
        return stored

    stored = asyncio.run(commit())
    for r in rejected:
        click.echo(f"{file}:{r.line}: rejected: {r.reason}", err=True)
    agents = len({c.agent for c in calls if c.agent})
    click.echo(
        f"{file}: imported {len(calls)} call(s) ({stored} new event(s), {len(events) - stored} already stored), "
        f"{agents} agent(s), rejected {len(rejected)} row(s)"
    )
    if not no_presence:
        click.echo("presence: derived from the calls (log-in at a call's start, log-out after the last call "
                   "before an idle gap over 1 h): the log has none, so occupancy is an upper bound")  # fmt: skip
    if rejected:
        sys.exit(3)
