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


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_events_are_frozen(name: str) -> None:
    event = _sample(EVENT_TYPES[name])
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.at = 1.0  # type: ignore[misc]
    assert event == dataclasses.replace(event)


def test_defaults_and_fresh_factory_values() -> None:
    from events import CallEnded, CallQueued

    a, b = CallQueued(1.0, "c1"), CallQueued(at=1.0, call_id="c1")
    assert a == b and a.queue == "" and a.priority == 0 and a.skills == {}
    assert a.skills is not b.skills  # a new dict per event, as default_factory gives
    assert repr(a) == "CallQueued(at=1.0, call_id='c1', queue='', skills={}, priority=0, customer_id='', attributes={})"
    with pytest.raises(TypeError):
        CallQueued(1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        CallQueued(1.0, "c1", nope=1)  # type: ignore[call-arg]
    assert hash(CallEnded(2.0, "c1")) == hash(CallEnded(2.0, "c1", 16, "", ""))


def test_the_written_tasks_events_are_registered_and_round_trip() -> None:
    """(issue 18) A task's steps in the log: typed, registered, the same after JSON."""
    from events import TASK_EVENTS, TaskClosed, TaskQueued

    assert all(EVENT_TYPES[cls.__name__] is cls for cls in TASK_EVENTS)
    for event in (
        TaskQueued(1.5, "t1", "email", "billing", 2, 1.5 + 8 * 3600, "C7"),
        TaskQueued(1.5, "t2", "chat", "support", from_agent="ann", to_agent="bob"),  # due_at None
        TaskClosed(9.0, "t1", "email", "ann", "billing", "ann", "answered", first_response_at=4.25),
    ):
        record = json.loads(json.dumps(to_record(event)))
        assert from_record(record) == event
    assert to_record(TaskQueued(1.0, "t3", "chat"))["due_at"] is None
