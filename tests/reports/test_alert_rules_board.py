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


def test_a_whole_floor_paused_names_the_longest_and_counts_the_rest_per_team() -> None:
    """Past 20 agents per rule and team, one alert counts the others: a meeting does not
    raise an alert, an event and a webhook per agent."""
    from reports.alert_log import AlertBook

    teams = {f"a{i:02d}": ("red" if i < 30 else "blue") for i in range(33)}
    board = LiveBoard(KpiConfig(teams=teams), {"billing": {}})
    board.alert_rules = parse_rules({"pause": {"kind": "agent_state", "state": "paused", "threshold": 60}})
    for i in range(33):
        board.apply(AgentLoggedIn(1000.0, f"a{i:02d}"))
        board.apply(AgentStateChanged(1000.0 + i, f"a{i:02d}", "paused", reason="meeting"))
    alerts = board.snapshot(1200.0, View(None))["alerts"]
    red_named = [a["agent"] for a in alerts if a.get("agent") and a["team"] == "red"]
    assert red_named == [f"a{i:02d}" for i in range(20)]  # the longest paused first
    assert sorted(a["agent"] for a in alerts if a.get("agent") and a["team"] == "blue") == ["a30", "a31", "a32"]
    (more,) = [a for a in alerts if not a.get("agent")]
    assert (more["team"], more["subject"], more["value"]) == ("red", "team:red", 10)
    assert more["text"] == "10 more agents of team red have been paused for over 1:00"
    assert board.snapshot(1200.0, View(frozenset({"blue"})))["alerts"] == [a for a in alerts if a["team"] == "blue"]

    book = AlertBook()
    changes = book.changes(alerts, 1200.0, 0.0)
    assert len(changes) == 24 and len({key for _, key in changes}) == 24
    for event, _ in changes:
        book.apply(event)
    assert book.changes(alerts, 1201.0, 0.0) == []  # the count's event matches its alert: logged once
