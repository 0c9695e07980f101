"""The server's collector paced for latency (cti/gc_pacer.py): what outlived a freeze
is out of the collections' walks (a cycle among it waits for the daily full
collection, which frees it), and the pacer leaves the collector as it found it."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from datetime import datetime

import pytest

from config.loader import ConfigError, load
from cti.gc_pacer import (
    MIDDLE_THRESHOLD,
    OLD_THRESHOLD,
    YOUNG_THRESHOLD,
    GcPace,
    freeze,
    full_collection,
    next_full,
    pace_gc,
)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


def tracked(obj: object) -> bool:
    """Whether `obj` is in one of the collector's generations (not frozen)."""
    return any(o is obj for g in range(3) for o in gc.get_objects(g))


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "not within the timeout"
        await asyncio.sleep(0.01)


def test_a_frozen_cycle_waits_for_the_full_collection() -> None:
    try:
        young = weakref.ref(cycle())
        gc.collect()
        assert young() is None  # not frozen: an ordinary collection frees it
        held = cycle()
        old = weakref.ref(held)
        freeze()
        del held  # garbage now, but frozen: the collections no longer walk it
        gc.collect()
        assert old() is not None
        freed, _ms = full_collection()
        assert old() is None and freed >= 2
    finally:
        gc.unfreeze()


def test_the_next_full_collection_is_the_next_such_local_time() -> None:
    morning = datetime(2026, 3, 18, 3, 0).timestamp()
    assert next_full(morning, "04:00") == datetime(2026, 3, 18, 4, 0).timestamp()
    assert next_full(datetime(2026, 3, 18, 4, 0).timestamp(), "04:00") == datetime(2026, 3, 19, 4, 0).timestamp()
    assert next_full(datetime(2026, 3, 18, 23, 59).timestamp(), "00:30") == datetime(2026, 3, 19, 0, 30).timestamp()


async def test_the_pacer_freezes_then_collects_fully_and_restores_the_collector() -> None:
    before = gc.get_threshold()
    clock = [datetime(2026, 3, 18, 3, 59, 59).timestamp()]
    task = asyncio.create_task(pace_gc(GcPace(start_after_s=0.01, freeze_every_s=0.05), lambda: clock[0]))
    try:
        await until(lambda: gc.get_freeze_count() > 0)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
        held = [cycle()]
        old = weakref.ref(held[0])
        await until(lambda: not tracked(held[0]))  # a later freeze took it out of the generations
        held.clear()
        gc.collect()
        assert old() is not None
        clock[0] += 2  # 04:00:01: the next round is the full collection
        await until(lambda: old() is None)
        assert gc.get_freeze_count() > 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


@pytest.mark.parametrize("value", ['"25:00"', '"4am"'])
def test_a_wrong_full_collection_time_is_named_with_its_line(tmp_path, value: str) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text(f"[server]\nport = 8080\ngc_full_at = {value}\n")
    with pytest.raises(ConfigError) as found:
        load(str(path))
    assert any("hotline.toml:3" in p and "server.gc_full_at" in p for p in found.value.problems), found.value.problems
