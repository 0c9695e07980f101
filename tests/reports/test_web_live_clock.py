"""The wallboard's snapshot when the PBX's clock runs a moment ahead of the server's."""

from __future__ import annotations

from events import CallQueued
from reports.kpi import KpiConfig
from reports.web_live import LiveBoard, View


def test_a_snapshot_taken_just_before_the_last_events_time_shows_it() -> None:
    board = LiveBoard(KpiConfig(), {"billing": {}})
    board.apply(CallQueued(at=1_000.5, call_id="c1", queue="billing"))
    snapshot = board.snapshot(1_000.0, View())  # our clock half a second behind the PBX's
    [queue] = [q for q in snapshot["queues"] if q["name"] == "billing"]
    assert (queue["waiting"], queue["offered"]) == (1, 1)
    assert snapshot["now"] == 1_000.5
