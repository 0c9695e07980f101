"""The fold's answers the live wallboard asks for on every push and every event:
the agents' open states asked again at the same time are the same list only while no
agent's state changed (a push asks several times); a late event (older than the last
one folded) is counted as happening then, and logged the first time and once per
LATE_LOG_EVERY after (under load most calls' queue events come a few ms late: a
warning line each was a cost per call)."""

from __future__ import annotations

from structlog.testing import capture_logs

from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged
from reports.kpi import KpiConfig, KpiEngine
from reports.kpi_fold import LATE_LOG_EVERY, Fact, KpiFold


class Facts:
    def __init__(self) -> None:
        self.facts: list[Fact] = []

    def fact(self, fact: Fact) -> None:
        self.facts.append(fact)


def test_open_states_follow_every_change_at_the_same_now() -> None:
    fold = KpiFold(Facts())
    fold.apply(AgentLoggedIn(at=1.0, agent_id="a1"))
    fold.apply(AgentLoggedIn(at=2.0, agent_id="a2"))
    first = fold.open_states(10.0)
    assert sorted(first) == [("a1", "available", 1.0), ("a2", "available", 2.0)]
    assert fold.open_states(10.0) is first  # nothing changed: the same answer
    assert sorted(fold.open_states(1.5)) == [("a1", "available", 1.0)]  # another time: its own
    fold.apply(AgentStateChanged(at=3.0, agent_id="a1", state="paused", reason="lunch"))
    assert sorted(fold.open_states(10.0)) == [("a1", "paused", 3.0), ("a2", "available", 2.0)]
    fold.apply(AgentLoggedOut(at=4.0, agent_id="a2"))
    assert fold.open_states(10.0) == [("a1", "paused", 3.0)]
    fold.apply(AgentStateChanged(at=4.0, agent_id="a1", state="paused", reason="lunch"))  # no change
    assert fold.open_states(10.0) == [("a1", "paused", 3.0)]


def test_late_events_are_clamped_counted_and_logged_sparingly() -> None:
    facts = Facts()
    fold = KpiFold(facts)
    fold.apply(AgentLoggedIn(at=100.0, agent_id="a1"))
    with capture_logs() as logs:
        for n in range(LATE_LOG_EVERY + 1):
            state = "paused" if n % 2 == 0 else "available"
            fold.apply(AgentStateChanged(at=50.0, agent_id="a1", state=state))
    assert fold.late == LATE_LOG_EVERY + 1
    late = [e for e in logs if e["event"] == "kpi_event_out_of_order"]
    assert [e["late"] for e in late] == [1, LATE_LOG_EVERY]
    # each counted at 100 (the last time seen): the state changed then, no time in between
    assert fold.open_states(200.0) == [("a1", "paused", 100.0)]
    assert facts.facts == []


def test_the_pushs_report_and_window_follow_each_change_at_the_same_now() -> None:
    """The day's and the window's open time are summed in one pass and kept for the same
    time and states: an engine asked between changes answers as a fresh one."""
    cfg = KpiConfig(teams={"a1": "red", "a2": "blue"}, window_s=240, slot_s=60)
    events = [
        AgentLoggedIn(at=10.0, agent_id="a1"),
        AgentLoggedIn(at=20.0, agent_id="a2"),
        AgentStateChanged(at=200.0, agent_id="a1", state="paused", reason="lunch"),
        AgentLoggedOut(at=250.0, agent_id="a2"),
    ]
    now = 300.0
    asked = KpiEngine(cfg)
    for n, event in enumerate(events):
        asked.apply(event)
        fresh = KpiEngine(cfg)
        for e in events[: n + 1]:
            fresh.apply(e)
        for engine in (asked, fresh):  # asked twice: the kept answer is the same
            assert (
                engine.report(now, agents=False, with_intervals=False).to_dict()
                == fresh.report(now, agents=False, with_intervals=False).to_dict()
            )
            assert engine.window(now, agents=False).to_dict() == fresh.window(now, agents=False).to_dict()
            assert (
                engine.window(now, agents=False, span_s=120).to_dict()
                == fresh.window(now, agents=False, span_s=120).to_dict()
            )
