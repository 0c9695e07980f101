"""The `hotline` command line. Each command imports its package lazily so that
`hotline --help` stays fast and no command pays for another's dependencies."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hotline")
def main() -> None:
    """Hotline: contact-center / CTI server beside Asterisk."""


# Sub-commands live next to the code they drive; register them here, one line each.
from cti.commands import register_all  # noqa: E402

register_all(main)
