"""What the /reports page shows of a built report, so that it stays a page a browser
opens at 10,000 agents: the agents' table a page at a time (the rest one click away, all
of them in agents.csv and the API), the agents named under each pause reason and
disposition cut to the ones with the most (all of them in pauses.csv, dispositions.csv),
and a label for each interval row. Pure: no aiohttp, no store.

At 10,000 agents the whole page was 5.6 MB and 2-3 s of Jinja: a table of 10,000 rows,
two SVG charts of 10,000 bars, 10,000 names under a disposition.
"""

from __future__ import annotations

import calendar
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

AGENTS_PER_PAGE = 100
TOP_AGENTS = 10  # agents named under a pause reason or a disposition
DAY_S = 86_400


class BadPage(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AgentsPage:
    """Page `number` (from 1) of `total` agents, `size` a page; `first`..`last` (from 1)
    are the rows shown."""

    number: int
    pages: int
    total: int
    first: int
    last: int


def page_number(text: str) -> int:
    """The `agents_page` query parameter ("": the first page)."""
    try:
        number = int(text or 1)
    except ValueError:
        raise BadPage(f"agents_page: must be a page number, not {text[:20]!r}") from None
    if number < 1:
        raise BadPage(f"agents_page: must be 1 or more, not {number}")
    return number


def agents_page(
    agents: Mapping[str, Any], number: int, size: int = AGENTS_PER_PAGE
) -> tuple[dict[str, Any], AgentsPage]:
    """The agents of page `number` (past the last: the last) in their order."""
    pages = max(1, -(-len(agents) // size))
    number = min(number, pages)
    lo = (number - 1) * size
    names = list(agents)[lo : lo + size]
    return {n: agents[n] for n in names}, AgentsPage(number, pages, len(agents), lo + 1, lo + len(names))


def top_agents(by_agent: Mapping[str, float], n: int = TOP_AGENTS) -> tuple[list[tuple[str, float]], int]:
    """The `n` agents with the most (time paused, calls), most first (ties by name), and
    how many more there are."""
    top = heapq.nsmallest(n, by_agent.items(), key=lambda kv: (-kv[1], kv[0]))  # (not a sort of 10,000)
    return top, max(0, len(by_agent) - n)


def period_end(first: date, by: str | int, last: date) -> date:
    """The last day of the row that starts on `first` (a report by day, week or month),
    not past the range's `last` day."""
    if by == "week":
        end = first + timedelta(days=6 - first.weekday())
    elif by == "month":
        end = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    else:
        end = first
    return min(end, last)


def interval_labels(starts: Sequence[float], interval: str | int, first: date, last: date) -> list[str]:
    """Each row's label: "2026-03-18 to 2026-03-22" (a week or a month: its days in the
    range), "2026-03-18 Wed" (a day), "03-18 14:00" or "14:00" (a part of a day)."""
    out = []
    for start in starts:
        at = datetime.fromtimestamp(start)
        if interval in ("week", "month"):
            out.append(f"{at.date().isoformat()} to {period_end(at.date(), interval, last).isoformat()}")
        elif interval == DAY_S:
            out.append(at.strftime("%Y-%m-%d %a"))
        else:
            out.append(at.strftime("%H:%M" if first == last else "%m-%d %H:%M"))
    return out
