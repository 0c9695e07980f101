"""A closed report day (reports/report_days.Day) as bytes for the store, and back.

Row numbers (`day_table.Keys`) are one process's own, so the bytes carry the bucket keys
themselves: a JSON header (the keys of each table, the day's event count) and the
tables' float64 values, compressed. No pickle: a row read back is data, not code.
A body that cannot be decoded raises ValueError (the caller folds the day again).
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports.day_table import Keys, Table

VERSION = 1
_LEN = struct.Struct(">I")


def _keys_of(keys: Keys, table: Table) -> list[Any]:
    return [list(keys.keys[i]) for i in table.ids.tolist()]  # type: ignore[call-overload]


def encode(keys: Keys, extra_keys: Keys, totals: Table, series: Table, extras: Table, events: int) -> bytes:
    header = json.dumps(
        {
            "v": VERSION,
            "events": events,
            "totals": _keys_of(keys, totals),
            "series": _keys_of(keys, series),
            "extras": _keys_of(extra_keys, extras),
        },
        separators=(",", ":"),
    ).encode()
    parts = [_LEN.pack(len(header)), header]
    parts += [np.ascontiguousarray(t.values, dtype="<f8").tobytes() for t in (totals, series, extras)]
    return zlib.compress(b"".join(parts), 1)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A body read back, its keys not yet given this process's row numbers."""

    head: dict[str, Any]
    raw: bytes
    at: int  # where the values start


def parse(body: bytes) -> Parsed:
    """Decompress and read the header (no `Keys` touched: safe in a worker thread)."""
    try:
        raw = zlib.decompress(body)
        (size,) = _LEN.unpack_from(raw)
        head = json.loads(raw[_LEN.size : _LEN.size + size])
    except (zlib.error, struct.error, json.JSONDecodeError) as exc:
        raise ValueError(f"report day: unreadable body ({exc})") from exc
    if not isinstance(head, dict) or head.get("v") != VERSION:
        raise ValueError(f"report day: not a version {VERSION} body")
    return Parsed(head, raw, _LEN.size + size)


def _table(keys: Keys, found: list[Any], raw: bytes, at: int, width: int) -> tuple[Table, int]:
    n = len(found) * width
    if at + n * 8 > len(raw):
        raise ValueError("report day: body cut short")
    values = np.frombuffer(raw, dtype="<f8", count=n, offset=at).reshape(len(found), width).astype(np.float64)
    ids = keys.ids(tuple(k) for k in found)
    order = np.argsort(ids, kind="stable")
    return Table(ids[order], values[order]), at + n * 8


def tables(parsed: Parsed, keys: Keys, extra_keys: Keys, width: int) -> tuple[Table, Table, Table, int]:
    """(totals, series, extras, events), their ids in `keys` and `extra_keys` (on the
    thread that owns them)."""
    head, raw, at = parsed.head, parsed.raw, parsed.at
    try:
        totals, at = _table(keys, head["totals"], raw, at, width)
        series, at = _table(keys, head["series"], raw, at, width)
        extras, at = _table(extra_keys, head["extras"], raw, at, 1)
        events = int(head["events"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"report day: malformed header ({exc})") from exc
    if at != len(raw):
        raise ValueError(f"report day: {len(raw) - at} bytes left over")
    return totals, series, extras, events
