"""Events and routing decisions are built with the cheaper __init__ of
events/fastinit.py (13% of a simulated day), which must behave as the dataclass's own."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from events import EVENT_TYPES, CallEnded, CallQueued
from events.fastinit import fast_init
from routing.model import Escalated, FinalStep, Offer, Overflowed, Tick

DECISIONS: list[type] = [Tick, Offer, Escalated, Overflowed, FinalStep]
CLASSES: list[type] = [*sorted(EVENT_TYPES.values(), key=lambda c: c.__name__), *DECISIONS]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_built_with_the_fast_init_and_the_dataclass_signature(cls: type) -> None:
    init = cls.__init__  # type: ignore[misc]
    assert init.__module__ == cls.__module__ and init.__qualname__ == f"{cls.__qualname__}.__init__"
    assert "_set_" in " ".join(init.__code__.co_names)  # the slots' descriptors, not object.__setattr__
    assert "__setattr__" not in init.__code__.co_names
    params = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default
        elif f.default_factory is not dataclasses.MISSING:
            assert repr(p.default) == "<factory>"
        else:
            assert p.default is inspect.Parameter.empty


def test_fast_init_keeps_defaults_frozenness_and_fresh_factory_values() -> None:
    a, b = CallQueued(1.0, "c1"), CallQueued(at=1.0, call_id="c1")
    assert a == b and a.queue == "" and a.priority == 0 and a.skills == {}
    assert a.skills is not b.skills  # a new dict per event, as default_factory gives
    assert repr(a) == "CallQueued(at=1.0, call_id='c1', queue='', skills={}, priority=0, customer_id='', attributes={})"
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.at = 2.0  # type: ignore[misc]
    assert dataclasses.replace(a, queue="q") == CallQueued(1.0, "c1", "q")
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(TypeError):
        CallQueued(1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        CallQueued(1.0, "c1", nope=1)  # type: ignore[call-arg]
    assert hash(CallEnded(2.0, "c1")) == hash(CallEnded(2.0, "c1", 16, "", ""))
    o = Offer("c1", "a1", "q", "why", 3, 0, wait_s=2.5)
    assert (o.filter_index, o.strategy, o.wait_s, o.at) == (-1, "", 2.5, 0.0)


def test_fast_init_refuses_what_it_cannot_keep_frozen() -> None:
    @dataclasses.dataclass(slots=True)
    class Loose:
        x: int

    with pytest.raises(TypeError, match="frozen, slotted dataclass"):
        fast_init(Loose)
