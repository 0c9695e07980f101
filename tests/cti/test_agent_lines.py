"""Standing agent lines: when to ring an agent's phone into its conference."""

from __future__ import annotations

import pytest

from cti.agent_lines import AgentLines, lines_for


def test_a_line_is_dialled_once_and_used_when_it_joins() -> None:
    lines = AgentLines(lambda a: True)
    assert lines.should_dial("a1", 0.0)
    lines.dialling("a1", "o1", 0.0)
    assert not lines.should_dial("a1", 1.0) and not lines.is_up("a1")
    lines.came_up("a1", "Local/2001@agents-1;1", 1.0)
    assert lines.is_up("a1") and lines.channel("a1") == "Local/2001@agents-1;1"
    assert not lines.should_dial("a1", 2.0)


def test_a_line_that_keeps_failing_stops_ringing_the_phone_until_the_next_login() -> None:
    lines = AgentLines(lambda a: True, retry_s=30, max_failures=3)
    now = 0.0
    for _ in range(3):
        assert lines.should_dial("a1", now)
        lines.dialling("a1", "o", now)
        lines.dial_failed("a1", "o", now)
        assert not lines.should_dial("a1", now + 29)  # waits between tries
        now += 30
    assert not lines.should_dial("a1", now + 3600)  # gave up
    assert lines.forget("a1") == ""  # logout: forgotten
    assert lines.should_dial("a1", now)


def test_a_line_dropping_soon_after_joining_is_a_failure_a_later_drop_is_not() -> None:
    lines = AgentLines(lambda a: True, retry_s=30, settle_s=5)
    lines.dialling("a1", "o", 0.0)
    lines.came_up("a1", "L;1", 1.0)
    assert not lines.went_down("a1", "other;1", 2.0)  # not the line's channel
    assert lines.went_down("a1", "L;1", 2.0)
    assert lines.get("a1").failures == 1 and not lines.should_dial("a1", 10.0) and lines.should_dial("a1", 32.0)
    lines.dialling("a1", "o2", 32.0)
    lines.came_up("a1", "L2;1", 33.0)
    assert lines.went_down("a1", "L2;1", 600.0)  # the agent hung up after a long while
    assert lines.get("a1").failures == 0 and lines.should_dial("a1", 600.0)


def test_a_dial_that_never_joins_times_out() -> None:
    lines = AgentLines(lambda a: True)
    lines.dialling("a1", "o", 0.0)
    assert lines.check_dialling(59.0, 60.0) == []
    assert lines.check_dialling(60.0, 60.0) == ["a1"]
    assert lines.get("a1").failures == 1


def test_logout_returns_the_channel_to_hang_up() -> None:
    lines = AgentLines(lambda a: True)
    lines.adopt("a1", "SIP/agent1001-0001", 0.0)
    assert lines.forget("a1") == "SIP/agent1001-0001"
    assert lines.forget("a1") == ""


def test_policy_from_configuration() -> None:
    assert lines_for("off", {"a": ["x"]}) is None
    assert lines_for("all", {"a": ["x"]}).should_dial("anyone", 0.0)
    only = lines_for("campaigns", {"a": ["billing", "outbound"], "b": ["billing"]}, ["outbound"])
    assert only.should_dial("a", 0.0) and not only.should_dial("b", 0.0)
    with pytest.raises(ValueError, match="standing_lines"):
        lines_for("sometimes", {})


def test_who_works_on_a_line_follows_the_directory() -> None:
    only = lines_for("campaigns", {"a": ["outbound"], "b": ["billing"]}, ["outbound"])
    only.set_agents({"a": ["billing"], "b": ["billing", "outbound"], "c": ["outbound"]})  # an admin edited a and b
    assert [x for x in "abc" if only.should_dial(x, 0.0)] == ["b", "c"]
    every = lines_for("all", {"a": []})
    every.set_agents({})
    assert every.should_dial("a", 0.0)  # "all" does not depend on skills
