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

VERSION = 2
_LEN = struct.Struct(">I")
_BUCKET, _EXTRA = 1, 2  # which part of a key varies within a group: a bucket's name, an extra's column


def _grouped(keys: Keys, table: Table, vary: int) -> tuple[list[Any], list[int]]:
    """The table's keys as groups [fixed, fixed, [the varying parts]] (10,000 agents'
    buckets: one group of names, not 10,000 key lists to write and parse), and the
    table's rows in the groups' order."""
    groups: dict[tuple[Any, Any], tuple[list[Any], list[int]]] = {}
    for row, i in enumerate(table.ids.tolist()):
        key = keys.keys[i]
        fixed = (key[0], key[3 - vary])  # type: ignore[index]
        found = groups.get(fixed)
        if found is None:
            found = groups[fixed] = ([], [])
        found[0].append(key[vary])  # type: ignore[index]
        found[1].append(row)
    header = [[a, b, names] for (a, b), (names, _) in groups.items()]
    return header, [row for _, rows in groups.values() for row in rows]


def encode(keys: Keys, extra_keys: Keys, totals: Table, series: Table, extras: Table, events: int) -> bytes:
    head: dict[str, Any] = {"v": VERSION, "events": events}
    values = []
    for name, table, names, vary in (
        ("totals", totals, keys, _BUCKET),
        ("series", series, keys, _BUCKET),
        ("extras", extras, extra_keys, _EXTRA),
    ):
        head[name], rows = _grouped(names, table, vary)
        values.append(np.ascontiguousarray(table.values[rows], dtype="<f8").tobytes())
    header = json.dumps(head, separators=(",", ":")).encode()
    parts = [_LEN.pack(len(header)), header, *values]
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


def _table(keys: Keys, groups: list[Any], raw: bytes, at: int, width: int, vary: int) -> tuple[Table, int]:
    found: list[tuple[Any, ...]] = []
    for a, b, names in groups:
        found += [(a, n, b) for n in names] if vary == _BUCKET else [(a, b, n) for n in names]
    n = len(found) * width
    if at + n * 8 > len(raw):
        raise ValueError("report day: body cut short")
    values = np.frombuffer(raw, dtype="<f8", count=n, offset=at).reshape(len(found), width).astype(np.float64)
    ids = keys.ids(found)
    order = np.argsort(ids, kind="stable")
    return Table(ids[order], values[order]), at + n * 8


def tables(parsed: Parsed, keys: Keys, extra_keys: Keys, width: int) -> tuple[Table, Table, Table, int]:
    """(totals, series, extras, events), their ids in `keys` and `extra_keys` (on the
    thread that owns them)."""
    head, raw, at = parsed.head, parsed.raw, parsed.at
    try:
        totals, at = _table(keys, head["totals"], raw, at, width, _BUCKET)
        series, at = _table(keys, head["series"], raw, at, width, _BUCKET)
        extras, at = _table(extra_keys, head["extras"], raw, at, 1, _EXTRA)
        events = int(head["events"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"report day: malformed header ({exc})") from exc
    if at != len(raw):
        raise ValueError(f"report day: {len(raw) - at} bytes left over")
    return totals, series, extras, events
