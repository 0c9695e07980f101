"""The live stack's per-call shortcuts (issue 15) give what the long way gave: the
ringing calls' earliest deadline, an agent's view on the wire, a phone number's
normal form, and the screen pop built from the live loop's own caller lookup."""

from __future__ import annotations

import dataclasses
import random

import pytest

from agents.hub import ScreenPopHub
from cti.live_calls import RingTimers
from events import CallArrived, CallOffered, CallQueued
from store.bus import MemoryBus
from store.memory import MemoryStore
from store.models import Customer
from store.phone_matches import PhoneMatches
from store.phones import InvalidPhone, normalize_phone
from store.topics import AgentView


def test_ring_timers_earliest_follows_every_change() -> None:
    rng = random.Random(15)
    timers = RingTimers()
    plain: dict[str, tuple[float, str]] = {}
    for step in range(3000):
        call = f"c{rng.randrange(40)}"
        op = rng.randrange(7)
        if op <= 1:
            timers[call] = plain[call] = (rng.uniform(0, 100), "a")
        elif op == 2:
            assert timers.pop(call, None) == plain.pop(call, None)
        elif op == 3 and call in plain:
            del timers[call], plain[call]
        elif op == 4:
            value = (rng.uniform(0, 100), "b")
            assert timers.setdefault(call, value) == plain.setdefault(call, value)
        elif op == 5:
            more = {f"u{step}": (rng.uniform(0, 100), "c")}
            timers.update(more)
            plain.update(more)
        elif step % 500 == 0:
            timers.clear()
            plain.clear()
        expected = min((d for d, _ in plain.values()), default=None)
        assert timers.earliest() == expected, step
        assert timers == plain


def test_agent_view_wire_is_the_dataclass_without_unset_fields() -> None:
    for line in (None, "up"):
        for until in (None, 125.5):
            view = AgentView("wrap_up", 12.0, "r", "c1", "billing", line, until)
            expected = {k: v for k, v in dataclasses.asdict(view).items() if v is not None}
            assert view.to_wire() == expected
            assert list(view.to_wire()) == list(expected)  # same order on the wire
            assert AgentView.from_wire(view.to_wire()) == view


def test_normalize_phone_answers_alike_every_time() -> None:
    for raw in ("4155550100", " +1 415 555 0100 ", "0033142685300", "+442071838750"):
        first = normalize_phone(raw)
        assert normalize_phone(raw) == first
    assert normalize_phone("020 7183 8750", "GB") == "+442071838750"
    for _ in range(2):  # a number that is none is refused each time, never remembered as one
        with pytest.raises(InvalidPhone):
            normalize_phone("not a number")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_phone_matches_are_kept_keep_s_and_bounded() -> None:
    clock = Clock()
    matches = PhoneMatches(keep_s=5.0, clock=clock, max_numbers=2)
    alice = Customer("c1", "Alice")
    matches.note("5551", [alice])
    matches.note("5552", [])
    assert matches.recent("5551") == (alice,) and matches.recent("5552") == ()
    assert matches.recent("5553") is None
    matches.note("5553", [])  # the oldest noted number goes
    assert matches.recent("5551") is None
    clock.now += 5.5
    assert matches.recent("5552") is None


async def _pop(hub: ScreenPopHub, customer_id: str = "") -> dict[str, object]:
    hub.note(CallArrived(at=1.0, call_id="k1", caller="4155550100"))
    hub.note(CallQueued(at=2.0, call_id="k1", queue="billing", customer_id=customer_id))
    return await hub.offer(CallOffered(at=3.0, call_id="k1", agent_id="a1", queue="billing"))


async def test_the_pop_takes_the_live_loops_lookup_while_it_is_recent() -> None:
    store = MemoryStore()
    await store.put_customer(Customer("c1", "Alice (stored)", phones=("+14155550100",)))
    clock = Clock()
    matches = PhoneMatches(keep_s=5.0, clock=clock)
    hub = ScreenPopHub(store, MemoryBus(), matches=matches)
    # the loop found no one for the number: the pop says so without asking the store
    matches.note("4155550100", [])
    pop = await _pop(hub)
    assert pop["customer"] is None and pop["new_customer"] is True
    # the loop found Alice (as the store had her then): her card, and the others found
    alice, bob = Customer("c1", "Alice (found)"), Customer("c2", "Bob (found)")
    matches.note("4155550100", [alice, bob])
    pop = await _pop(hub)
    assert pop["customer"]["name"] == "Alice (found)"  # type: ignore[index]
    assert [c["name"] for c in pop["candidates"]] == ["Bob (found)"]  # type: ignore[attr-defined]
    # the call queued with the customer the loop found: that card, not another read
    pop = await _pop(hub, customer_id="c2")
    assert pop["customer"]["name"] == "Bob (found)"  # type: ignore[index]
    # a customer id the lookup did not give is read from the store
    await store.put_customer(Customer("c3", "Carol (stored)"))
    pop = await _pop(hub, customer_id="c3")
    assert pop["customer"]["name"] == "Carol (stored)"  # type: ignore[index]
    # too old: the store is asked again
    clock.now += 6.0
    pop = await _pop(hub)
    assert pop["customer"]["name"] == "Alice (stored)"  # type: ignore[index]


async def test_without_the_live_loops_lookup_the_pop_asks_the_store() -> None:
    store = MemoryStore()
    await store.put_customer(Customer("c1", "Alice (stored)", phones=("+14155550100",)))
    pop = await _pop(ScreenPopHub(store, MemoryBus(), matches=PhoneMatches()))
    assert pop["customer"]["name"] == "Alice (stored)"  # type: ignore[index]
