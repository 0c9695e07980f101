"""TOML text from parsed TOML data (the stdlib reads TOML but does not write it).

Why: the admin routing editor shows the rules that run; when no version was ever
applied those are the configuration file's `[routing]` table, held parsed. This writes
them back as a standalone rules file that `routing.rules.load_rules` reads to the same
data (comments and key order of the original file are not kept).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"not a TOML value: {type(value).__name__}")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _table(data: Mapping[str, Any], path: tuple[str, ...], out: list[str]) -> None:
    for name, value in data.items():
        if not isinstance(value, Mapping) and not _is_table_array(value):
            out.append(f"{_key(name)} = {_value(value)}")
    for name, value in data.items():
        header = ".".join(_key(p) for p in (*path, name))
        if isinstance(value, Mapping):
            out.extend(["", f"[{header}]"])
            _table(value, (*path, name), out)
        elif _is_table_array(value):
            for item in value:
                out.extend(["", f"[[{header}]]"])
                _table(item, (*path, name), out)


def dumps(data: Mapping[str, Any]) -> str:
    """`data` as TOML text: scalars first, then tables, then arrays of tables."""
    out: list[str] = []
    _table(data, (), out)
    return "\n".join(out).lstrip("\n") + "\n" if out else ""
