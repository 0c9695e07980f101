"""What the KPI library counts, on hand-built event streams (REFERENCE.md definitions)."""

from __future__ import annotations

import json

import pytest

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallHeld,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    CallRejected,
    CallResumed,
    CallTransferred,
    WrapUpEnded,
)
from reports.kpi import KpiConfig, KpiEngine, batch_report

CFG = KpiConfig(sl_threshold_s=20, short_abandon_s=5, interval_s=900, teams={"a1": "red", "a2": "blue"})


def day() -> list[object]:
    return [
        AgentLoggedIn(0, "a1"),
        AgentLoggedIn(0, "a2"),
        # c1: queued 100, rings a1 at 105, answered 110 (wait 10), held 150-170, ends 210, wrap to 225
        CallQueued(100, "c1", queue="billing"),
        CallOffered(105, "c1", "a1"),
        CallConnected(110, "c1", "a1"),
        CallHeld(150, "c1", "a1"),
        CallResumed(170, "c1", "a1"),
        CallEnded(210, "c1"),
        WrapUpEnded(225, "c1", "a1"),
        # c2: abandoned after 3 s (short abandon)
        CallQueued(300, "c2", queue="billing"),
        CallAbandoned(303, "c2"),
        # c3: abandoned after 30 s
        CallQueued(400, "c3", queue="sales"),
        CallAbandoned(430, "c3"),
        # c4: RONA at a2, then answered by a1 after 40 s, transferred; a1 paused later
        CallQueued(500, "c4", queue="sales"),
        CallOffered(500, "c4", "a2"),
        CallNotAnswered(515, "c4", "a2"),
        CallOffered(520, "c4", "a1"),
        CallConnected(540, "c4", "a1"),
        CallTransferred(560, "c4", "blind", "a1", "a2"),
        CallConnected(560, "c4", "a2"),  # a1 leaves (wrap-up), a2 talks
        AgentStateChanged(570, "a1", "available"),  # a1 wrap-up ends: 10 s
        CallEnded(600, "c4"),
        AgentStateChanged(600, "a2", "available"),  # a2: no wrap-up
        AgentStateChanged(700, "a1", "paused", "lunch"),
        AgentLoggedOut(800, "a1"),
        AgentLoggedOut(800, "a2"),
    ]


def test_kpi_call_counts_and_service_levels():
    r = batch_report(day(), CFG).overall
    assert (r["offered"], r["answered"], r["abandoned"], r["short_abandoned"]) == (4, 2, 2, 1)
    assert r["answered_within"] == 1  # c1 (10 s); c4 waited 40 s
    assert r["service_level"] == pytest.approx(1 / 2)  # within T / answered
    assert r["service_level_2"] == pytest.approx((1 + 1) / 4)  # c1 + c2 (3 s) / answered+abandoned
    assert r["service_level_3"] == pytest.approx(1 / 3)  # within / (answered + abandoned - short)
    assert r["service_level_offered"] == pytest.approx(1 / 4)
    assert r["asa"] == pytest.approx((10 + 40) / 2)
    assert r["avg_wait"] == pytest.approx((10 + 40 + 3 + 30) / 4)
    assert r["max_wait"] == 40
    assert r["abandon_rate"] == pytest.approx(2 / 4)
    assert r["p_wait"] == pytest.approx(1.0)
    assert r["transfer_rate"] == pytest.approx(1 / 2)
    assert (r["offers"], r["rona"]) == (3, 1)


def test_kpi_handle_time_and_agents():
    rep = batch_report(day(), CFG)
    o = rep.overall
    # segments: c1/a1 talk 80 hold 20 wrap 15; c4/a1 talk 20 wrap 10; c4/a2 talk 40 wrap 0
    assert o["handled"] == 3
    assert o["aht"] == pytest.approx((80 + 20 + 15 + 20 + 10 + 40) / 3)
    assert o["avg_hold"] == pytest.approx(20 / 3)
    a1 = rep.agents["a1"]["total"]
    # a1: logged in 0-800; reserved 105-110, 520-540; on_call 110-210, 540-560;
    # wrap 210-225, 560-570; paused 700-800; available the rest
    assert a1["on_call_s"] == pytest.approx(120)
    assert a1["wrap_up_s"] == pytest.approx(25)
    assert a1["reserved_s"] == pytest.approx(25)
    assert a1["paused_s"] == pytest.approx(100)
    assert a1["logged_in_s"] == pytest.approx(800)
    assert a1["occupancy"] == pytest.approx(145 / 700)
    assert a1["utilization"] == pytest.approx(700 / 800)
    assert a1["handled"] == 2
    assert rep.teams["red"]["total"]["on_call_s"] == pytest.approx(120)
    a2 = rep.agents["a2"]["total"]
    assert a2["rona"] == 1 and a2["offers"] == 1
    assert a2["on_call_s"] == pytest.approx(40)
    assert a2["reserved_s"] == pytest.approx(15)


def test_kpi_buckets_by_queue_and_interval():
    cfg = KpiConfig(interval_s=900)
    events = [
        AgentLoggedIn(800, "a1"),
        CallQueued(890, "x", queue="q"),  # offered in [0, 900), answered in the next interval
        CallConnected(905, "x", "a1"),
        CallEnded(1000, "x"),
        WrapUpEnded(1000, "x", "a1"),
        CallQueued(1900, "y", queue="r"),
        CallAbandoned(1950, "y"),
    ]
    rep = batch_report(events, cfg, end=2000)
    iv = {i["start"]: i for i in rep.intervals}
    assert iv[0]["offered"] == 1 and iv[0]["answered"] == 1 and iv[0]["asa"] == pytest.approx(15)
    assert iv[1800]["abandoned"] == 1 and iv[1800]["offered"] == 1
    # agent time is split at the boundary: 800-900 available, 900-905 available, 905-1000 on call
    assert iv[0]["available_s"] == pytest.approx(100) and iv[0]["on_call_s"] == 0
    assert iv[900]["on_call_s"] == pytest.approx(95)
    assert set(rep.queues) == {"q", "r"}
    assert rep.queues["q"]["intervals"][0]["start"] == 0


def test_kpi_config_variants():
    events = day()
    excl = batch_report(events, KpiConfig(abandon_rate_excludes_short=True)).overall
    assert excl["abandon_rate"] == pytest.approx(1 / 3)
    t40 = batch_report(events, KpiConfig(sl_threshold_s=40)).overall
    assert t40["answered_within"] == 2
    with pytest.raises(ValueError, match=r"kpi\.interval_s"):
        KpiConfig(interval_s=0)
    with pytest.raises(ValueError, match="window_s"):
        KpiConfig(window_s=90, slot_s=60)


def test_kpi_live_window_and_json():
    eng = KpiEngine(KpiConfig(window_s=1800, slot_s=60))
    for e in [AgentLoggedIn(0, "a1"), CallQueued(10, "old", queue="q"), CallAbandoned(20, "old"),
              CallQueued(4000, "w1", queue="q"), CallQueued(4010, "w2", queue="q"),
              CallOffered(4010, "w1", "a1")]:  # fmt: skip
        eng.apply(e)
    live = eng.live(4030)
    assert live["queues"]["q"] == {"waiting": 2, "longest_wait": 30}
    assert live["agents_by_state"]["reserved"] == 1
    win = eng.window(4030)
    assert win.overall["offered"] == 2 and win.overall["abandoned"] == 0  # the old call is out
    assert win.start == 4020 - 1800 + 60
    assert eng.report(4030).overall["offered"] == 3
    json.dumps(eng.report(4030).to_dict())
    json.dumps(win.to_dict())


def test_kpi_bad_input_does_not_crash():
    eng = KpiEngine()
    for e in [object(), CallConnected(5, "nope", "a9"), AgentStateChanged(6, "a9", "dancing"),
              CallEnded(7, "ghost"), WrapUpEnded(8, "ghost", "a9"), CallQueued(3, "late", queue="q")]:  # fmt: skip
        eng.apply(e)
    r = eng.report(10).overall
    assert r["offered"] == 1  # the late event is clamped to the last time seen, not dropped


def test_kpi_rejected_offer_is_not_a_rona():
    events = [AgentLoggedIn(0, "a"), CallQueued(1, "c", queue="q"), CallOffered(2, "c", "a"),
              CallRejected(3, "c", "a"), CallOffered(5, "c", "a"), CallConnected(6, "c", "a")]  # fmt: skip
    r = batch_report(events, KpiConfig()).overall
    assert (r["offers"], r["rona"], r["answered"]) == (2, 0, 1)
    assert r["asa"] == pytest.approx(5.0)
    assert r["reserved_s"] == pytest.approx(2.0)  # 2-3 and 5-6


def test_kpi_callbacks_voicemail_and_closed_previews_are_deflected_not_abandoned():
    events = [
        AgentLoggedIn(0, "a"),
        # c1 waits 40 s, takes a call-back (queued as cb-c1), then hangs up: deflected
        CallQueued(10, "c1", queue="q"),
        CallQueued(50, "cb-c1", queue="q", attributes={"callback": True, "callback_for": "c1"}),
        CallAbandoned(55, "c1"),
        CallEnded(55, "c1"),
        CallOffered(60, "cb-c1", "a"),
        CallConnected(70, "cb-c1", "a"),
        CallEnded(100, "cb-c1"),
        WrapUpEnded(100, "cb-c1", "a"),
        # c2: the router's final step sends it to voicemail after 30 s: deflected
        CallQueued(200, "c2", queue="q"),
        CallTransferred(230, "c2", "voicemail", "", "vm-intro"),
        CallEnded(260, "c2"),
        # pv1: a preview the agent skipped: deflected; pv2: dialled and answered
        CallQueued(300, "pv1", queue="campaign", attributes={"preview": True}),
        CallOffered(300, "pv1", "a"),
        CallEnded(310, "pv1"),
        CallQueued(320, "pv2", queue="campaign", attributes={"preview": True}),
        CallOffered(320, "pv2", "a"),
        CallConnected(340, "pv2", "a"),
        CallEnded(400, "pv2"),
        # c3: a real abandon
        CallQueued(500, "c3", queue="q"),
        CallAbandoned(530, "c3"),
        # c4 takes a call-back that does not reach the customer: both deflected, no abandon
        CallQueued(600, "c4", queue="q"),
        CallQueued(620, "cb-c4", queue="q", attributes={"callback": True, "callback_for": "c4"}),
        CallEnded(621, "c4"),
        CallOffered(650, "cb-c4", "a"),
        CallAbandoned(680, "cb-c4"),
        CallEnded(680, "cb-c4"),
    ]
    for r in (batch_report(events, CFG).overall, _incremental(events)):
        assert (r["offered"], r["answered"], r["abandoned"], r["deflected"]) == (8, 2, 1, 5)
        assert r["abandon_rate"] == pytest.approx(1 / 8)
        assert r["avg_abandon_wait"] == pytest.approx(30.0)


def _incremental(events: list[object]) -> dict:
    engine = KpiEngine(CFG)
    for e in events:
        engine.apply(e)
    return engine.report(events[-1].at).overall  # type: ignore[attr-defined]
