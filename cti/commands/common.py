"""Options and helpers shared by commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from config.loader import ENV_VAR, ConfigError, LoadedConfig, load
from cti.logs import configure


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"TOML configuration file (default: ${ENV_VAR}, else built-in defaults).",
    )(func)


def load_or_exit(config_path: str | None) -> LoadedConfig:
    try:
        loaded = load(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(2)
    configure(loaded.config.log.level, loaded.config.log.format)
    return loaded
