"""Where each key and value sits in a TOML source text.

`tomllib` gives data without positions, so validation errors would not say where
the problem is. This scanner walks the source once (tables, arrays of tables,
dotted keys, inline tables and arrays, all string forms) and maps each key path,
as the data has it (`("queues", "sales", "targets", 1, "expression")`), to the
1-based (line, column) of its key and of its value. It assumes the text already
parsed with tomllib, so it never has to diagnose bad TOML; on anything it does not
understand it stops and keeps what it found.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

PathT = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Spot:
    key_line: int
    key_col: int
    value_line: int
    value_col: int
    value_offset: int  # character offset of the value in the source
    raw_string: str | None = None  # the value's source text when it is a string


class _Stop(Exception):
    pass


class Locator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.starts.append(i + 1)
        self.spots: dict[PathT, Spot] = {}
        self.aot_counts: dict[PathT, int] = {}
        self.aot_paths: set[PathT] = set()
        try:
            self._scan()
        except (_Stop, IndexError):
            pass

    # -------------------------------------------------------------- public

    def find(self, path: PathT) -> tuple[PathT, Spot] | None:
        """The spot of `path`, else of its nearest recorded ancestor."""
        p = tuple(path)
        while p:
            spot = self.spots.get(p)
            if spot is not None:
                return p, spot
            p = p[:-1]
        return None

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    # -------------------------------------------------------------- scanning

    def _scan(self) -> None:
        t = self.text
        i, n = 0, len(t)
        table: PathT = ()
        while True:
            i = self._skip_ws_nl_comments(i)
            if i >= n:
                return
            if t.startswith("[[", i):
                keys, key_pos, j = self._keys(i + 2)
                j = self._skip_ws(j)
                if not t.startswith("]]", j):
                    raise _Stop
                full = self._resolve(keys)
                idx = self.aot_counts.get(full, 0)
                self.aot_counts[full] = idx + 1
                self.aot_paths.add(full)
                table = (*full, idx)
                self._record(table, key_pos, key_pos)
                if full not in self.spots:
                    self._record(full, key_pos, key_pos)
                i = j + 2
            elif t[i] == "[":
                keys, key_pos, j = self._keys(i + 1)
                j = self._skip_ws(j)
                if j >= n or t[j] != "]":
                    raise _Stop
                table = self._resolve(keys)
                self._record(table, key_pos, key_pos)
                i = j + 1
            else:
                i = self._keyval(i, table)

    def _resolve(self, keys: list[str]) -> PathT:
        """A header's keys -> data path: array-of-tables prefixes get their last index."""
        out: list[str | int] = []
        for key in keys:
            out.append(key)
            cur = tuple(out)
            if cur in self.aot_paths and len(out) < len(keys):
                out.append(self.aot_counts[cur] - 1)
        return tuple(out)

    def _record(self, path: PathT, key_pos: int, value_pos: int, raw: str | None = None) -> None:
        if path in self.spots:
            return
        kl, kc = self.line_col(key_pos)
        vl, vc = self.line_col(value_pos)
        self.spots[path] = Spot(kl, kc, vl, vc, value_pos, raw)

    def _keyval(self, i: int, table: PathT) -> int:
        keys, key_pos, j = self._keys(i)
        j = self._skip_ws(j)
        if j >= len(self.text) or self.text[j] != "=":
            raise _Stop
        j = self._skip_ws(j + 1)
        path = table + tuple(keys)
        return self._value(j, path, key_pos)

    def _keys(self, i: int) -> tuple[list[str], int, int]:
        """Dotted key starting near i -> (keys, position of first key, end)."""
        t = self.text
        keys: list[str] = []
        i = self._skip_ws(i)
        first = i
        while True:
            i = self._skip_ws(i)
            if i >= len(t):
                raise _Stop
            ch = t[i]
            if ch == '"' or ch == "'":
                value, i = self._string(i)
                keys.append(value)
            else:
                j = i
                while j < len(t) and (t[j].isalnum() or t[j] in "_-"):
                    j += 1
                if j == i:
                    raise _Stop
                keys.append(t[i:j])
                i = j
            i = self._skip_ws(i)
            if i < len(t) and t[i] == ".":
                i += 1
                continue
            return keys, first, i

    def _value(self, i: int, path: PathT, key_pos: int) -> int:
        t = self.text
        ch = t[i]
        if ch == "[":
            self._record(path, key_pos, i)
            j = i + 1
            idx = 0
            while True:
                j = self._skip_ws_nl_comments(j)
                if t[j] == "]":
                    return j + 1
                j = self._value(j, (*path, idx), j)
                idx += 1
                j = self._skip_ws_nl_comments(j)
                if t[j] == ",":
                    j += 1
                    continue
                if t[j] == "]":
                    return j + 1
                raise _Stop
        if ch == "{":
            self._record(path, key_pos, i)
            j = self._skip_ws(i + 1)
            if t[j] == "}":
                return j + 1
            while True:
                keys, kpos, j = self._keys(j)
                j = self._skip_ws(j)
                if t[j] != "=":
                    raise _Stop
                j = self._skip_ws(j + 1)
                j = self._value(j, path + tuple(keys), kpos)
                j = self._skip_ws(j)
                if t[j] == ",":
                    j = self._skip_ws(j + 1)
                    continue
                if t[j] == "}":
                    return j + 1
                raise _Stop
        if ch == '"' or ch == "'":
            _, j = self._string(i)
            raw = t[i:j]
            self._record(path, key_pos, i, raw)
            return j
        j = i
        while j < len(t) and t[j] not in ",]}\n#" and not (t[j] in " \t" and not self._in_datetime(t, i, j)):
            j += 1
        self._record(path, key_pos, i)
        return j

    @staticmethod
    def _in_datetime(t: str, start: int, j: int) -> bool:
        # "1979-05-27 07:32:00": a space between a date and a time belongs to the value.
        return j - start == 10 and t[start + 4 : start + 5] == "-" and j + 1 < len(t) and t[j + 1].isdigit()

    def _string(self, i: int) -> tuple[str, int]:
        t = self.text
        if t.startswith('"""', i) or t.startswith("'''", i):
            q = t[i : i + 3]
            j = i + 3
            while True:
                k = t.find(q, j)
                if k < 0:
                    raise _Stop
                if q == '"""' and _escaped(t, k):
                    j = k + 1
                    continue
                end = k + 3
                while end < len(t) and t[end] == q[0] and end - k < 5:
                    end += 1
                return t[i + 3 : end - 3], end
        q = t[i]
        j = i + 1
        out: list[str] = []
        while j < len(t):
            c = t[j]
            if c == "\\" and q == '"':
                out.append(t[j + 1] if j + 1 < len(t) else "")
                j += 2
                continue
            if c == q:
                return "".join(out), j + 1
            if c == "\n":
                raise _Stop
            out.append(c)
            j += 1
        raise _Stop

    def _skip_ws(self, i: int) -> int:
        t = self.text
        while i < len(t) and t[i] in " \t":
            i += 1
        return i

    def _skip_ws_nl_comments(self, i: int) -> int:
        t = self.text
        while i < len(t):
            c = t[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                k = t.find("\n", i)
                i = len(t) if k < 0 else k + 1
            else:
                break
        return i


def _escaped(t: str, k: int) -> bool:
    backslashes = 0
    j = k - 1
    while j >= 0 and t[j] == "\\":
        backslashes += 1
        j -= 1
    return backslashes % 2 == 1


def render_path(path: PathT) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if all(ch.isalnum() or ch in "_-" for ch in part) and part else f'"{part}"'
            out += ("." if out else "") + name
    return out
