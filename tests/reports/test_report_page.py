"""What the /reports page shows of a report: the agents a page at a time, the agents
with the most under a pause reason or disposition, each row's label."""

from __future__ import annotations

from datetime import date

import pytest

from reports.report_days import day_start
from reports.report_page import BadPage, agents_page, interval_labels, page_number, period_end, top_agents


def test_pages_cover_every_agent_once_and_a_page_past_the_last_is_the_last() -> None:
    agents = {f"a{n}": n for n in range(7)}
    got = [agents_page(agents, n, size=3) for n in (1, 2, 3)]
    assert [list(rows) for rows, _ in got] == [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6"]]
    assert [(p.first, p.last, p.pages, p.total) for _, p in got] == [(1, 3, 3, 7), (4, 6, 3, 7), (7, 7, 3, 7)]
    assert agents_page(agents, 9, size=3)[1].number == 3
    assert agents_page({}, 1)[1] == agents_page({}, 5)[1]  # one empty page
    assert page_number("") == 1 and page_number("4") == 4
    for bad in ("0", "-1", "x", "1.5"):
        with pytest.raises(BadPage):
            page_number(bad)


def test_the_agents_with_the_most_first_ties_by_name() -> None:
    assert top_agents({"b": 5.0, "a": 5.0, "c": 9.0, "d": 1.0}, 3) == ([("c", 9.0), ("a", 5.0), ("b", 5.0)], 1)
    assert top_agents({"a": 1.0}, 3) == ([("a", 1.0)], 0)


def test_a_row_is_labelled_with_its_days_in_the_range() -> None:
    first, last = date(2026, 3, 18), date(2026, 4, 14)  # a Wednesday; the last a Tuesday
    starts = [day_start(date(2026, 3, 18)), day_start(date(2026, 3, 23)), day_start(date(2026, 4, 13))]
    assert interval_labels(starts, "week", first, last) == [
        "2026-03-18 to 2026-03-22",
        "2026-03-23 to 2026-03-29",
        "2026-04-13 to 2026-04-14",
    ]
    assert interval_labels(starts[:1], "month", first, last) == ["2026-03-18 to 2026-03-31"]
    assert period_end(date(2028, 2, 1), "month", date(2028, 12, 31)) == date(2028, 2, 29)
    assert interval_labels(starts[:1], 86_400, first, last) == ["2026-03-18 Wed"]
    assert interval_labels([starts[0] + 3600 * 14], 3600, first, first) == ["14:00"]
    assert interval_labels([starts[0] + 3600 * 14], 3600, first, last) == ["03-18 14:00"]
