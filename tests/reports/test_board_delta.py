"""Wallboard pushes as deltas (reports/board_delta.py): whatever the events, a client
folding the deltas it is pushed holds exactly the whole board of its view; it is sent
only the cells that changed, never a cell (nor an id) of a team it does not see; a
socket that joined late, or a board rebuilt, starts from the whole again."""

from __future__ import annotations

import json
import random
from typing import Any

from reports.board_delta import DELTA_TYPE, FULL_TYPE, CellChanges, merge_delta
from reports.web_live import View, WallboardHub
from tests.reports.test_web_live_incremental import TEAMS, board, stream


class Client:
    """A wallboard socket's other end: folds what it is sent."""

    def __init__(self) -> None:
        self.raw: list[dict[str, Any]] = []
        self.board: dict[str, Any] = {}

    async def send_str(self, data: str) -> None:
        message = json.loads(data)
        self.raw.append(message)
        self.board = merge_delta(self.board, message)


def hub() -> WallboardHub:
    h = WallboardHub(store=None, bus=None, board_factory=board)  # type: ignore[arg-type]  # (no I/O: pushes only)
    h.board = board()
    return h


def whole(h: WallboardHub, now: float, view: View) -> dict[str, Any]:
    return json.loads(h.render(now, [view])[view.key])


def test_generations_tell_what_a_socket_lacks() -> None:
    changes = CellChanges()
    assert changes.since(0) == set()
    changes.record(["a", "b"])
    changes.record([])  # nothing changed: no generation
    changes.record(["c"])
    assert changes.gen == 2 and changes.since(0) == {"a", "b", "c"} and changes.since(1) == {"c"}
    assert changes.since(2) == set() and changes.since(3) is None  # (a mark from the future: not ours)
    for n in range(CellChanges.HISTORY):
        changes.record([f"x{n}"])
    assert changes.since(0) is None  # too far behind: the whole board
    assert changes.since(changes.gen - 1) == {f"x{CellChanges.HISTORY - 1}"}
    assert CellChanges().board != changes.board


async def test_folded_deltas_are_the_whole_board_of_each_view() -> None:
    rng = random.Random(11)
    h = hub()
    everyone, red = Client(), Client()
    h.register(everyone, View(None))
    h.register(red, View(frozenset({"red"})))
    late: Client | None = None
    events = stream(rng, 600)
    other_teams = {a for a, t in TEAMS.items() if t != "red"}
    for i, event in enumerate(events):
        h.board.apply(event)
        if i % 7:
            continue
        now = event.at + 1
        if late is None and i > 300:  # joins as the websocket does: the whole board, then deltas
            late = Client()
            text, sent = h.whole(now, View(None))
            await late.send_str(text)
            h.register(late, View(None), sent)
        await h.push(now)
        assert everyone.board == whole(h, now, View(None))
        assert red.board == whole(h, now, View(frozenset({"red"})))
        if late is not None:
            assert late.board == whole(h, now, View(None))
    assert everyone.raw[0]["type"] == FULL_TYPE and {m["type"] for m in everyone.raw[1:]} == {DELTA_TYPE}
    assert late is not None and late.raw[0]["type"] == FULL_TYPE and late.raw[1]["type"] == DELTA_TYPE
    deltas = everyone.raw[1:]
    assert all("agents" not in m for m in deltas)
    assert max(len(m["agents_changed"]) for m in deltas) < len(everyone.board["agents"]) or len(deltas) > 10
    assert sum(len(m["agents_changed"]) for m in deltas) < len(deltas) * len(everyone.board["agents"])
    assert any(m["agents_removed"] for m in deltas)  # logged out: taken off the clients' boards
    for m in red.raw[1:]:
        shown = {a["id"] for a in m["agents_changed"]} | set(m["agents_removed"])
        assert not shown & other_teams, shown & other_teams


async def test_a_rebuilt_board_is_sent_whole_and_an_unchanged_one_sends_no_cells() -> None:
    h = hub()
    client = Client()
    h.register(client, View(None))
    for event in stream(random.Random(3), 100):
        h.board.apply(event)
    await h.push(2_000.0)
    await h.push(2_000.5)
    assert [m["type"] for m in client.raw] == [FULL_TYPE, DELTA_TYPE]
    assert client.raw[1]["agents_changed"] == [] and client.raw[1]["agents_removed"] == []
    h.board = board()  # rebuilt from the log (a new day, a bus gap, the directory changed)
    for event in stream(random.Random(4), 50):
        h.board.apply(event)
    await h.push(2_001.0)
    assert client.raw[-1]["type"] == FULL_TYPE and client.board == whole(h, 2_001.0, View(None))


async def test_a_socket_that_fails_is_dropped_and_the_others_still_get_their_delta() -> None:
    class Broken:
        async def send_str(self, data: str) -> None:
            raise ConnectionResetError

    h = hub()
    broken, client = Broken(), Client()
    h.register(broken, View(None))
    h.register(client, View(None))
    for event in stream(random.Random(5), 60):
        h.board.apply(event)
    assert await h.push(2_000.0) == 1
    assert h.connected() == 1 and client.board == whole(h, 2_000.0, View(None))
