"""Every domain event survives the store/bus record form unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from events import EVENT_TYPES, UnknownEventKind, from_record, to_record


def _sample(cls):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name == "at":
            values[f.name] = 12.5
        elif f.type in ("int",):
            values[f.name] = 3
        elif f.type in ("bool",):
            values[f.name] = True
        elif "Mapping" in str(f.type):
            values[f.name] = {"billing": 5} if f.name == "skills" else {"tier": "vip"}
        else:
            values[f.name] = f"{f.name}-value"
    return cls(**values)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_record_round_trip(name: str) -> None:
    event = _sample(EVENT_TYPES[name])
    record = json.loads(json.dumps(to_record(event)))
    assert record["kind"] == name
    assert from_record(record) == event


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(UnknownEventKind, match="'Nope'"):
        from_record({"kind": "Nope", "at": 1})
