"""Adherence and conformance (wfm/adherence.py), worked by hand on one agent's day."""

from __future__ import annotations

from events import AgentLoggedIn, AgentLoggedOut, AgentStateChanged
from wfm.adherence import adherence, on_phone_spans, scheduled_now
from wfm.schedule import Shift

H = 3600.0
SHIFT = Shift("a1", "full", 9 * H, 13 * H, (11 * H, 11.5 * H))  # 09:00-13:00, break 11:00-11:30


def test_an_agent_late_in_and_long_on_break() -> None:
    events = [
        AgentLoggedIn(9.25 * H, "a1"),  # 15 min late
        AgentStateChanged(9.25 * H, "a1", "available"),
        AgentStateChanged(10 * H, "a1", "on_call"),
        AgentStateChanged(10.5 * H, "a1", "wrap_up"),
        AgentStateChanged(11 * H, "a1", "paused", "break"),  # on time for the break...
        AgentStateChanged(11.75 * H, "a1", "available"),  # ...15 min long
        AgentLoggedOut(13.5 * H, "a1"),  # 30 min past the shift (on the phones, not scheduled)
        AgentLoggedIn(10 * H, "b2"),  # no shift: counted on the phones only
    ]
    events.sort(key=lambda e: e.at)
    got = adherence([SHIFT], events, 8 * H, 14 * H, 3600, now=20 * H, teams={"a1": "red", "b2": "blue"})
    a1 = got["agents"]["a1"]["total"]
    # scheduled 4 h; out of adherence: 09:00-09:15 (off, should be on), 11:30-11:45 (off, should be on)
    assert a1["scheduled_s"] == 4 * H and a1["scheduled_on_s"] == 3.5 * H
    assert a1["adherent_s"] == 3.5 * H and a1["adherence"] == 0.875
    # on the phones 09:15-11:00 and 11:45-13:30 = 1.75 h + 1.75 h
    assert a1["actual_on_s"] == 3.5 * H and a1["conformance"] == 1.0
    by_hour = {round(r["start"] / H): r for r in got["agents"]["a1"]["intervals"]}
    assert by_hour[9]["adherence"] == 0.75 and by_hour[10]["adherence"] == 1.0
    assert by_hour[11]["adherent_s"] == 0.75 * H  # the break on time, 15 min of it too long
    assert by_hour[13]["scheduled_s"] == 0 and by_hour[13]["actual_on_s"] == 0.5 * H
    assert got["agents"]["b2"]["total"]["adherence"] is None  # not scheduled
    assert got["teams"]["red"]["adherence"] == 0.875 and got["overall"]["scheduled_s"] == 4 * H


def test_so_far_counts_only_up_to_now_and_who_is_scheduled_now() -> None:
    events = [AgentLoggedIn(9 * H, "a1"), AgentStateChanged(9 * H, "a1", "available")]
    got = adherence([SHIFT], events, 8 * H, 14 * H, 1800, now=10 * H)
    assert got["agents"]["a1"]["total"]["scheduled_s"] == 1 * H and got["agents"]["a1"]["total"]["adherence"] == 1.0
    assert on_phone_spans(events, 10 * H) == {"a1": [(9 * H, 10 * H)]}
    assert scheduled_now([SHIFT], 10 * H) == {"a1": "on"}
    assert scheduled_now([SHIFT], 11.2 * H) == {"a1": "break"}
    assert scheduled_now([SHIFT], 13 * H) == {}
