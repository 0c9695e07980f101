"""Moving an agent to another team for the day (a supervisor lending an agent to a
team short of people), kept apart from the agent's own team so it reverts by itself.

Stored as the settings section `team_moves` (versioned like the others, so two
supervisors moving at once never lose a move): `{"day": "YYYY-MM-DD", "moves": {login:
{"team", "from", "by", "at"}}}`. The rule: a move holds for the local calendar day
(the server's time zone) it was made on; from local midnight the agent is in their own
team again, whatever the document still says (a document of another day is read as
empty, and the next move starts the day afresh). Nothing runs at midnight: every
reader applies the moves of the day of its `now` (`users_today`), and the readers that
compare the directory periodically (the live loop every 30 s, the wallboard at its
day change) follow.

Who reads the team in force: the live loop's router (a team in a routing rule, the
`[capacity]` per team), the wallboard and today's reports (grouping by team, and a
supervisor's view: their teams' agents), and the access checks (a supervisor of the
team the agent is in today may watch, monitor and force them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

import structlog

from store.models import SettingsVersion, User
from store.settings_update import update_settings

log = structlog.get_logger()

SECTION = "team_moves"


@dataclass(frozen=True, slots=True)
class Move:
    agent: str
    team: str  # the team for the day
    home: str  # the agent's own team, as it was when moved
    by: str
    at: float


def day_of(now: float) -> str:
    """The local calendar day of `now`, as the document names it."""
    return datetime.fromtimestamp(now).date().isoformat()


def end_of_day(now: float) -> float:
    """Local midnight after `now`: when a move made at `now` stops holding."""
    return datetime.combine(datetime.fromtimestamp(now).date() + timedelta(days=1), time()).timestamp()


def parse(body: str, now: float) -> dict[str, Move]:
    """The moves in force at `now` from a stored document (another day's: none)."""
    try:
        doc = json.loads(body)
        if doc.get("day") != day_of(now):
            return {}
        return {
            login: Move(login, str(m["team"]), str(m.get("from", "")), str(m.get("by", "")), float(m.get("at", 0.0)))
            for login, m in doc.get("moves", {}).items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        log.error("team_moves_unreadable")
        return {}


async def moves_today(store: Any, now: float) -> dict[str, Move]:
    stored = await store.get_settings_version(SECTION)
    return {} if stored is None else parse(stored.body, now)


def apply_moves(users: Iterable[User], moves: dict[str, Move]) -> list[User]:
    """The users with today's team of each moved agent."""
    return [replace(u, team=moves[u.login].team) if u.login in moves else u for u in users]


async def users_today(store: Any, now: float, role: str | None = None) -> list[User]:
    """`store.list_users(role)` with the teams in force today."""
    users = await (store.list_users(role) if role else store.list_users())
    return apply_moves(users, await moves_today(store, now))


async def team_today(store: Any, user: User, now: float) -> str:
    move = (await moves_today(store, now)).get(user.login)
    return move.team if move else user.team


async def save_move(store: Any, agent: str, move: Move | None, author: str, now: float) -> dict[str, Move]:
    """Set (or with None end) `agent`'s move for today; the moves in force after it
    (over the moves other supervisors saved meanwhile)."""
    moves: dict[str, Move] = {}

    def change(stored: SettingsVersion | None) -> str:
        nonlocal moves
        moves = {} if stored is None else parse(stored.body, now)
        if move is None:
            moves.pop(agent, None)
        else:
            moves[agent] = move
        doc = {
            "day": day_of(now),
            "moves": {m.agent: {"team": m.team, "from": m.home, "by": m.by, "at": m.at} for m in moves.values()},
        }
        return json.dumps(doc, sort_keys=True)

    comment = f"move {agent} to {move.team}" if move else f"{agent} back to their team"
    await update_settings(store, SECTION, change, author=author, comment=comment, at=now)
    return moves
