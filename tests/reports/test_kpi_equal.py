"""The incremental KPI engine and the batch report agree on generated event streams."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

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

CALLS = [f"c{i}" for i in range(6)]
AGENTS = ["a0", "a1", "a2", "a3"]
QUEUES = ["sales", "billing"]
STATES = ["available", "paused", "wrap_up", "reserved", "on_call", "lunch?"]

call = st.sampled_from(CALLS)
agent = st.sampled_from(AGENTS)


def _event(draw, at: float):
    kind = draw(st.integers(0, 13))
    c, a = draw(call), draw(agent)
    return [
        lambda: CallQueued(
            at,
            c,
            queue=draw(st.sampled_from(QUEUES)),
            attributes=draw(st.sampled_from([{}, {}, {"preview": True}, {"callback_for": draw(call)}])),
        ),
        lambda: CallOffered(at, c, a),
        lambda: CallConnected(at, c, a),
        lambda: CallNotAnswered(at, c, a),
        lambda: CallAbandoned(at, c),
        lambda: CallEnded(at, c),
        lambda: CallHeld(at, c, a),
        lambda: CallResumed(at, c, a),
        lambda: CallTransferred(at, c, "blind", a, "x"),
        lambda: WrapUpEnded(at, c, a),
        lambda: AgentLoggedIn(at, a),
        lambda: AgentStateChanged(at, a, draw(st.sampled_from(STATES)), "r"),
        lambda: AgentLoggedOut(at, a),
        lambda: CallRejected(at, c, a),
    ][kind]()


@st.composite
def streams(draw):
    t = draw(st.floats(0, 1000, allow_nan=False))
    out = []
    for _ in range(draw(st.integers(0, 80))):
        t += draw(st.sampled_from([0.0, 0.5, 3.0, 17.0, 61.0, 250.0]))
        out.append(_event(draw, t))
    return out


CFG = KpiConfig(
    sl_threshold_s=20,
    short_abandon_s=5,
    interval_s=300,
    window_s=240,
    slot_s=60,
    teams={"a0": "red", "a1": "red", "a2": "blue"},
)


def _close(x, y, path="") -> None:
    if isinstance(x, dict):
        assert isinstance(y, dict) and x.keys() == y.keys(), (path, x.keys(), y.keys())
        for k in x:
            _close(x[k], y[k], f"{path}.{k}")
    elif isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), path
        for i, (a, b) in enumerate(zip(x, y, strict=False)):
            _close(a, b, f"{path}[{i}]")
    elif isinstance(x, float) and isinstance(y, float):
        assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6), (path, x, y)
    else:
        assert x == y, (path, x, y)


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from([0.0, 1.0, 45.0, 400.0]))
def test_kpi_incremental_equals_batch(events, extra):
    eng = KpiEngine(CFG)
    for e in events:
        eng.apply(e)
    end = (events[-1].at if events else 0.0) + extra
    _close(eng.report(end).to_dict(), batch_report(events, CFG, end=end).to_dict())


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from([0.0, 1.0, 45.0, 400.0]))
def test_kpi_window_equals_batch_over_window(events, extra):
    eng = KpiEngine(CFG)
    checked = 0
    for i, e in enumerate(events):
        eng.apply(e)
        # ask the live window mid-stream too, as a wallboard would
        if i % 7 == 6:
            now = e.at
            _close(
                eng.window(now).to_dict(),
                batch_report(
                    events[: i + 1], CFG, start=eng.window_start(now), end=now, with_intervals=False
                ).to_dict(),
            )
            checked += 1
    now = (events[-1].at if events else 0.0) + extra
    _close(
        eng.window(now).to_dict(),
        batch_report(events, CFG, start=eng.window_start(now), end=now, with_intervals=False).to_dict(),
    )


@settings(max_examples=80, deadline=None)
@given(streams())
def test_kpi_overall_between_equals_batch_range(events):
    """The streaming form used by long simulations: whole intervals [lo, hi)."""
    cfg = KpiConfig(interval_s=300, teams={})
    eng = KpiEngine(cfg)
    for e in events:
        eng.apply(e)
    if not events:
        return
    end = events[-1].at
    lo = (int(events[0].at // 300) + 1) * 300
    hi = int(end // 300) * 300
    if hi <= lo or any(isinstance(e, CallQueued) and e.at == hi for e in events):
        return  # batch ranges are closed on the right, interval buckets are not
    got = eng.overall_between(lo, hi, now=end)
    want = batch_report(events, cfg, start=lo, end=hi, with_intervals=False).overall
    _close(got, want)


@settings(max_examples=150, deadline=None)
@given(streams(), st.sampled_from([0.0, 1.0, 45.0, 400.0]))
def test_kpi_board_report_is_the_full_report_without_agents_and_intervals(events, extra):
    """What the live wallboard asks for (agents=False, no intervals): the same queue,
    team and overall totals as the full report, only the agents' rows and the
    intervals left out."""
    eng = KpiEngine(CFG)
    for e in events:
        eng.apply(e)
    now = (events[-1].at if events else 0.0) + extra
    full, board = eng.report(now).to_dict(), eng.report(now, agents=False, with_intervals=False).to_dict()
    assert board["agents"] == {} and board["intervals"] == []
    for group in ("queues", "teams"):
        _close({k: v["total"] for k, v in board[group].items()}, {k: v["total"] for k, v in full[group].items()})
    _close(board["overall"], full["overall"])
    window, board_window = eng.window(now).to_dict(), eng.window(now, agents=False).to_dict()
    assert board_window["agents"] == {}
    for key in ("overall", "queues", "teams"):
        _close(board_window[key], window[key])
