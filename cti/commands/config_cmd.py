"""`hotline config check FILE`."""

from __future__ import annotations

import sys

import click

from config.loader import KIND_TITLES, KINDS, ConfigError, check_file


@click.group()
def config() -> None:
    """Configuration tools."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="What FILE is (default: recognised from its tables): the main configuration, "
    "a standalone routing rules file, a standalone campaign or a simulator scenario.",
)
def check(file: str, kind: str | None) -> None:
    """Validate FILE: exit 0 when valid, else 2 with one `FILE:LINE: key.path: reason`
    line per problem (every problem, not just the first)."""
    try:
        found = check_file(file, next((k for k in KINDS if k == kind), None))
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(2)
    click.echo(f"{file}: ok ({found}: {KIND_TITLES[found]})")
