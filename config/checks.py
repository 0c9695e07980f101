"""Checks and errors the sections' models share (a leaf module: the owners of the
sections import it, and `config.schema` imports the owners)."""

from __future__ import annotations

from urllib.parse import urlsplit

KeyPath = tuple[str | int, ...]


class Located(ValueError):
    """Problems below the field whose validator raises it, each as (key path relative
    to that field, reason): `config.loader` reports each at its own line (a wrong key
    of a nested table at that key's line, not the table's). `message`, when given, is
    the one-line text the owner's own error messages keep."""

    def __init__(self, located: list[tuple[KeyPath, str]], message: str | None = None) -> None:
        super().__init__(message or "; ".join(f"{'.'.join(map(str, path))}: {reason}" for path, reason in located))
        self.located = located


def check_port(url: str) -> str:
    """A URL whose port, when it has one, is 1-65535."""
    try:
        port = urlsplit(url).port
    except ValueError:
        raise ValueError("port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError("port must be a number from 1 to 65535")
    return url
