"""The board's alert rules (reports/alerts.py over reports/web_live.py LiveBoard): an
agent too long in a state is named once per agent, seen by their team's views only,
and the rules run once per push however many views are rendered."""

from __future__ import annotations

from events import AgentLoggedIn, AgentStateChanged
from reports.alerts import parse_rules
from reports.kpi import KpiConfig
from reports.web_live import LiveBoard, View


def _board() -> LiveBoard:
    teams = {f"a{i}": ("red" if i % 2 else "blue") for i in range(6)}
    board = LiveBoard(
        KpiConfig(teams=teams), {"billing": {}}, names={"a1": "Ann"}, skills={"a1": frozenset({"billing"})}
    )
    board.alert_rules = parse_rules(
        {
            "pause": {"kind": "agent_state", "state": "paused", "threshold": 60},
            "wrap-billing": {"kind": "agent_state", "state": "wrap_up", "threshold": 30, "scope": "queue:billing"},
        }
    )
    for i in range(6):
        board.apply(AgentLoggedIn(1000.0, f"a{i}"))
        board.apply(AgentStateChanged(1000.0, f"a{i}", "available"))
    board.apply(AgentStateChanged(1100.0, "a1", "paused", reason="break"))  # red
    board.apply(AgentStateChanged(1150.0, "a2", "paused", reason="break"))  # blue, not long yet at 1200
    board.apply(AgentStateChanged(1100.0, "a3", "wrap_up"))  # no billing skill: not watched
    return board


def test_an_agent_long_in_a_state_is_named_and_seen_by_their_team_only() -> None:
    board = _board()
    everyone = board.snapshot(1200.0, View(None))["alerts"]
    assert [(a["agent"], a["rule"], a["subject"], a["team"]) for a in everyone] == [("a1", "pause", "agent:a1", "red")]
    assert everyone[0]["text"] == "Ann has been paused for 1:40 (over 1:00)"
    assert board.snapshot(1200.0, View(frozenset({"blue"})))["alerts"] == []
    red = board.snapshot(1200.0, View(frozenset({"red"})))["alerts"]
    assert red[0] is everyone[0]  # one evaluation for every view of the push

    later = board.snapshot(1300.0, View(None))["alerts"]
    assert {a["agent"] for a in later} == {"a1", "a2"}
    board.apply(AgentStateChanged(1301.0, "a1", "available"))
    assert [a["agent"] for a in board.snapshot(1302.0, View(None))["alerts"]] == ["a2"]
