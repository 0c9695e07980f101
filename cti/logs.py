"""Structured logging set-up (structlog): key-value events, text or JSON lines.

Values often come from the network (a FastAGI peer's `agi_channel`, an AMI field, a
login name): in text lines every control character in them is written escaped
(`\\x00`, `\\n`), so a value can neither forge a line nor carry raw bytes into the log
(JSON lines escape them already).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEEP = frozenset({"exception", "stack"})  # the traceback's own lines stay lines


def escape_text(value: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)


def escape_controls(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: string values escaped (see the module's doc)."""
    for key, value in event.items():
        if isinstance(value, str) and key not in _KEEP and _CONTROL.search(value):
            event[key] = escape_text(value)
    return event


def configure(level: str = "info", fmt: str = "text") -> None:
    # Plain tracebacks: with `rich` installed, structlog's default renders each one with
    # every frame's locals, which took a second or more of the event loop per failure
    # (a hub retrying against a Redis that is down starved the whole server).
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *([structlog.processors.format_exc_info] if fmt == "json" else [escape_controls]),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
