"""`hotline config check FILE`."""

from __future__ import annotations

import sys

import click

from config.loader import ConfigError, load


@click.group()
def config() -> None:
    """Configuration tools."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Validate FILE: exit 0 when valid, else 2 with one line per problem."""
    try:
        load(file)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(2)
    click.echo(f"{file}: ok")
