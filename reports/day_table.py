"""A day's report counters as one numpy table, so a range sums days with array adds.

With 10,000 agents a day has about 10,000 buckets; summing a year of them as Python
objects (3.6 million merges of 24 counters) took seconds and a gigabyte or more. Here
every bucket key seen gets a row number for good (`Keys`), a day is the sorted row
numbers of its buckets and one float64 row of counters each (`Table`), and `add_up`
adds the days' tables into one array: the same additions in the same order as the
per-object merge, so the same floats.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]


class Keys:
    """Row numbers of keys, given once and kept (only appended to: a reader in another
    thread sees a consistent prefix)."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []

    def __len__(self) -> int:
        return len(self.keys)

    def ids(self, keys: Iterable[Hashable]) -> Ids:
        get, out = self._ids.get, []
        for key in keys:
            i = get(key)
            if i is None:
                i = self._ids[key] = len(self.keys)
                self.keys.append(key)
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def id_of(self, key: Hashable) -> int | None:
        return self._ids.get(key)


@dataclass(frozen=True, slots=True)
class Rows:
    """Keys and their rows, not numbered yet: built in any thread, numbered into a
    `Table` on the thread that owns the `Keys` (`Table.at`)."""

    keys: list[Hashable]
    values: Values  # one row of counters per key

    @classmethod
    def of(cls, rows: Mapping[Any, Sequence[float]], width: int) -> Rows:
        return cls(list(rows), np.asarray(list(rows.values()), dtype=np.float64).reshape(len(rows), width))


@dataclass(frozen=True, slots=True)
class Table:
    ids: Ids  # sorted, each once
    values: Values  # one row of counters per id

    @classmethod
    def of(cls, keys: Keys, rows: Mapping[Any, Sequence[float]], width: int) -> Table:
        return cls.at(keys.ids(rows), Rows.of(rows, width))

    @classmethod
    def at(cls, ids: Ids, rows: Rows) -> Table:
        """`rows` by the row numbers `ids` of its keys (`Keys.ids(rows.keys)`)."""
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], rows.values[order])

    def row(self, i: int | None) -> Values | None:
        if i is None:
            return None
        at = int(np.searchsorted(self.ids, i))
        return self.values[at] if at < len(self.ids) and self.ids[at] == i else None


def add_up(tables: Iterable[Table], size: int, width: int, max_col: int | None = None) -> tuple[Ids, Values]:
    """The ids found in any of `tables` and their summed rows (column `max_col`: the
    largest value, not the sum). `size`: at least one more than the largest id."""
    out = np.zeros((size, width), dtype=np.float64)
    seen = np.zeros(size, dtype=bool)
    for t in tables:
        if max_col is None:
            out[t.ids] += t.values
        else:
            before = out[t.ids, max_col]
            out[t.ids] += t.values
            out[t.ids, max_col] = np.maximum(before, t.values[:, max_col])
        seen[t.ids] = True
    ids = np.flatnonzero(seen)
    return ids, out[ids]
