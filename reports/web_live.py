"""The live wallboard's state: the KPI library's incremental engine folded over the
`events` channel, bootstrapped from today's stored event log, plus who is on which
call. Pure of I/O except `WallboardHub.run` (bus + store); numbers come only from
`reports.kpi` (no KPI math here).

Pushes are coalesced: at most one snapshot per `min_interval_s` (0.5 s = 2/s), sent
only when something changed (or every `refresh_s`, so "time in state" and the
30-minute window keep sliding). Each distinct view (admin: everything; a supervisor:
their teams) is serialised once per push and the same text goes to every socket that
was sent the same before: the whole board to a socket just opened, else a delta of the
agent cells changed since (reports/board_delta.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from events import Event, to_record
from reports.alert_log import AlertBook
from reports.alerts import DEFAULT_RULES, AlertRule, alerts, parse_rules, seen_by
from reports.board_delta import CellChanges, delta_head
from reports.kpi import KpiConfig, KpiEngine
from store.bus import Bus
from store.port import EventLog
from store.topics import CAMPAIGN_TILES, EVENTS, CampaignTile, Inbox, Topic, subscribe

log = structlog.get_logger()

BOOTSTRAP_PAGE = 10_000
DEDUP_HORIZON_S = 10.0
BOARD_CPU_SHARE = 0.1  # the most of its process's time the board's pushes take
CALL_STATES = frozenset({"reserved", "on_call", "wrap_up"})  # an agent cell shows a call only then
IDLE_STATES = frozenset({"available", "paused", "logged_out"})


class Socket(Protocol):
    async def send_str(self, data: str) -> None: ...


def day_start(now: float) -> float:
    """Local midnight of `now` (the server's time zone)."""
    lt = time.localtime(now)
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))


def status(value: float | None, target: float | None, higher_is_better: bool) -> str:
    """ok / warn / bad against a target (warn: within 10 % of it), '' when undefined."""
    if value is None or target is None:
        return ""
    if higher_is_better:
        return "ok" if value >= target else ("warn" if value >= target * 0.9 else "bad")
    return "ok" if value <= target else ("warn" if value <= target * 1.1 + 1e-9 else "bad")


@dataclass(slots=True)
class View:
    """What one wallboard may see: all, or only some teams."""

    teams: frozenset[str] | None = None  # None: everything

    @property
    def key(self) -> str:
        return "*" if self.teams is None else ",".join(sorted(self.teams))


@dataclass(slots=True)
class LiveBoard:
    """Engine + current-call map; `snapshot(now, view)` is what a wallboard shows.

    At 10,000 agents a snapshot built from scratch took about 100 ms (twice a second,
    and again for the alerts): the board keeps each agent's cell and its JSON text, and
    the agents by state per queue and per team, and redoes only the agents an event
    touched (`_touched`)."""

    kpi: KpiConfig
    queue_targets: Mapping[str, Mapping[str, Any]]
    names: Mapping[str, str] = field(default_factory=dict)  # agent id -> display name
    skills: Mapping[str, frozenset[str]] = field(default_factory=dict)  # agent id -> skills (queue names)
    engine: KpiEngine = field(init=False)
    # agent -> {"call_id", "queue", "caller", "caller_name", "customer_id"}: the call an
    # agent is offered, talks on or wraps up
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    alert_book: AlertBook = field(default_factory=AlertBook)  # today's AlertRaised / AlertCleared
    # who is on each call not ended yet (CallArrived's caller, CallQueued's customer)
    callers: dict[str, dict[str, Any]] = field(default_factory=dict)
    customer_names: dict[str, str] = field(default_factory=dict)  # customer id -> name ("" unknown)
    day: float = 0.0
    applied: int = 0
    # the admin's alert rules (settings section alert_rules); swapped in place when saved
    alert_rules: tuple[AlertRule, ...] = field(default_factory=lambda: parse_rules(DEFAULT_RULES))
    _alerts_memo: tuple[tuple[float, int, tuple[AlertRule, ...]], list[dict[str, Any]]] | None = None
    # the agents' cells, kept between snapshots
    _call_agents: dict[str, set[str]] = field(default_factory=dict)  # call id -> agents whose cell shows it
    _moved: set[str] = field(default_factory=set)  # agents whose state the last event changed
    _touched: set[str] = field(default_factory=set)  # agents whose cell is to be redone
    _state_of: dict[str, str] = field(default_factory=dict)  # logged-in agent -> state counted
    _queue_states: dict[str, dict[str, int]] = field(default_factory=dict)  # queue -> state -> agents
    _team_states: dict[str, dict[str, int]] = field(default_factory=dict)  # team ("" none) -> state -> agents
    _cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # logged-in agent -> cell
    _texts: dict[str, str] = field(default_factory=dict)  # agent -> the cell as JSON
    _order: list[str] | None = None  # logged-in agents by id (None: to sort again)
    cell_changes: CellChanges = field(default_factory=CellChanges)  # whose cell changed, by generation

    def __post_init__(self) -> None:
        self.engine = KpiEngine(self.kpi, on_agent=self._moved.add)

    def apply(self, event: Any) -> None:
        self.engine.apply(event)  # tells `_moved` whose state changed (an ended call: its agent)
        self.applied += 1
        self.alert_book.apply(event)
        kind = type(event).__name__
        agent = getattr(event, "agent_id", "")
        if agent:
            self._touched.add(agent)
        if kind == "CallArrived":
            self.callers[event.call_id] = {"caller": event.caller, "caller_name": event.caller_name}
        elif kind == "CallQueued":
            who = self.callers.setdefault(event.call_id, {})
            who.update(queue=event.queue, customer_id=event.customer_id or who.get("customer_id", ""))
        elif kind in ("CallOffered", "CallConnected") and agent:
            who = self.callers.get(event.call_id, {})
            self._drop_call(agent)
            self.calls[agent] = {
                "call_id": event.call_id,
                "queue": getattr(event, "queue", "") or who.get("queue", ""),
                "caller": who.get("caller", ""),
                "caller_name": who.get("caller_name", ""),
                "customer_id": who.get("customer_id", ""),
            }
            self._call_agents.setdefault(event.call_id, set()).add(agent)
        elif kind in ("CallNotAnswered", "WrapUpEnded", "AgentLoggedOut") and agent:
            self._drop_call(agent)
        elif kind == "AgentStateChanged" and event.state in IDLE_STATES:
            self._drop_call(agent)  # the wrap-up ran out, or the agent paused: no call now
        elif kind in ("CallEnded", "CallAbandoned"):
            self.callers.pop(event.call_id, None)
            agents = self._call_agents.pop(event.call_id, ())
            if kind == "CallAbandoned":  # abandoned while ringing: cleared (ended: kept through wrap-up)
                for a in agents:
                    if self.calls.get(a, {}).get("call_id") == event.call_id:
                        del self.calls[a]
                        self._touched.add(a)
        if self._moved:
            self._count_states(self._moved)
            self._touched |= self._moved
            self._moved.clear()

    def _drop_call(self, agent: str) -> None:
        self.calls.pop(agent, None)

    def _count_states(self, agents: Iterable[str]) -> None:
        """The per-queue and per-team counts follow these agents' states."""
        for agent in agents:
            now = self.engine.agent_state(agent)
            state = now[0] if now is not None else None
            before = self._state_of.get(agent)
            if state == before:
                continue
            team = self.kpi.teams.get(agent, "")
            skills = self.skills.get(agent, ())
            if before is not None:
                _count(self._team_states, team, before, -1)
                for q in skills:
                    _count(self._queue_states, q, before, -1)
            if state is None:
                del self._state_of[agent]
                self._order = None
            else:
                if before is None:
                    self._order = None
                self._state_of[agent] = state
                _count(self._team_states, team, state, 1)
                for q in skills:
                    _count(self._queue_states, q, state, 1)

    def customers_to_name(self) -> set[str]:
        """Customer ids of the agents' calls and of the calls waiting (a queue's
        drill-down names them) whose names are not looked up yet."""
        ids = {c["customer_id"] for c in self.calls.values() if c["customer_id"]}
        ids |= {c.get("customer_id", "") for c in self.callers.values()} - {""}
        return ids - self.customer_names.keys()  # (not a set of every name of the day, at each push)

    def name_customer(self, customer_id: str, name: str) -> None:
        self.customer_names[customer_id] = name
        self._touched.update(a for a, c in self.calls.items() if c["customer_id"] == customer_id)

    def _who(self, call: Mapping[str, Any]) -> str:
        """The call as a supervisor knows it: the customer's name, else the caller's."""
        name = self.customer_names.get(call.get("customer_id", ""), "")
        return name or call.get("caller_name", "") or call.get("caller", "")

    def _cell(self, agent_id: str) -> dict[str, Any] | None:
        now = self.engine.agent_state(agent_id)
        if now is None:
            return None
        state, since = now
        call = self.calls.get(agent_id, {}) if state in CALL_STATES else {}
        return {
            "id": agent_id,
            "name": self.names.get(agent_id, agent_id),
            "team": self.kpi.teams.get(agent_id, ""),
            "state": state,
            "since": since,
            "call_id": call.get("call_id", ""),
            "queue": call.get("queue", ""),
            "caller": self._who(call) if call else "",
        }

    def _refresh_cells(self) -> list[str]:
        """The cells of the agents touched since the last time redone (those whose
        text changed are recorded in `cell_changes`, for the pushes' deltas); the
        logged-in agents by id."""
        changed: list[str] = []
        for agent in self._touched:
            cell = self._cell(agent)
            if cell is None:
                self._cells.pop(agent, None)
                if self._texts.pop(agent, None) is not None:
                    changed.append(agent)
            else:
                text = json.dumps(cell)
                self._cells[agent] = cell
                if self._texts.get(agent) != text:
                    self._texts[agent] = text
                    changed.append(agent)
        self._touched.clear()
        self.cell_changes.record(changed)
        if self._order is None:
            self._order = sorted(self._cells)
        return self._order

    def current_alerts(
        self, now: float, queues: list[dict[str, Any]], report: Mapping[str, Any], window: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The alert rules over this push's numbers (reports/alerts.py): a rule's own
        window is computed once here; the agents are read only for agent_state rules.
        Once per push: every view's snapshot and the alerts' logging share it."""
        key = (now, self.applied, self.alert_rules)
        if self._alerts_memo is not None and self._alerts_memo[0] == key:
            return self._alerts_memo[1]
        windows: dict[int | None, Mapping[str, Any]] = {None: window}

        def window_of(minutes: int | None) -> Mapping[str, Any]:
            if minutes not in windows:
                span = min((minutes or 0) * 60, self.kpi.window_s) or None
                windows[minutes] = self.engine.window(now, agents=False, span_s=span).to_dict()
            return windows[minutes]

        def cells() -> Iterable[Mapping[str, Any]]:
            for agent_id, (state, since) in self.engine.agent_states().items():
                yield {
                    "id": agent_id,
                    "name": self.names.get(agent_id, agent_id),
                    "team": self.kpi.teams.get(agent_id, ""),
                    "state": state,
                    "since": since,
                }

        window_min, threshold_s = self.kpi.window_s // 60, self.kpi.sl_threshold_s
        teams = report["teams"]
        found = alerts(self.alert_rules, queues, teams, window_of, cells, self.skills, now, window_min, threshold_s)
        self._alerts_memo = (key, found)
        return found

    def view_agents(self, view: View) -> list[dict[str, Any]]:
        """The agent cells `view` may see (kept between pushes)."""
        order = self._refresh_cells()
        if view.teams is None:
            return [self._cells[a] for a in order]
        return [self._cells[a] for a in order if self._cells[a]["team"] in view.teams]

    def frame(self, now: float) -> dict[str, Any]:
        """What every view shows alike (the queues, the totals of the day and of the
        window, the alerts), computed once per push."""
        # the PBX stamps events with its own clock: one a moment ahead of ours is "now"
        now = max(now, self.engine.last_event_at)
        # the board shows the queues', the teams' and the overall totals: not the agents'
        # rows of the report nor its intervals (most of its cost with many agents)
        report = self.engine.report(now, agents=False, with_intervals=False).to_dict()
        window = self.engine.window(now, agents=False).to_dict()
        live = self.engine.live(now, agents=False)
        queue_names = sorted(set(self.queue_targets) | set(report["queues"]) | set(live["queues"]))
        queues = []
        for q in queue_names:
            t = self.queue_targets.get(q, {})
            today = report["queues"].get(q, {}).get("total", {})
            last = window["queues"].get(q, {}).get("total", {})
            now_q = live["queues"].get(q, {"waiting": 0, "longest_wait": 0.0})
            sl_target = t.get("sl_target")
            queues.append(
                {
                    "name": q,
                    "label": t.get("label") or q,
                    "waiting": now_q["waiting"],
                    "longest_wait": round(now_q["longest_wait"], 1),
                    "offered": today.get("offered", 0),
                    "answered": today.get("answered", 0),
                    "abandoned": today.get("abandoned", 0),
                    "sl_today": today.get("service_level"),
                    "sl_30m": last.get("service_level"),
                    "sl_target": sl_target,
                    "sl_threshold_s": t.get("sl_threshold_s"),
                    "sl_today_status": status(today.get("service_level"), sl_target, True),
                    "sl_30m_status": status(last.get("service_level"), sl_target, True),
                    "abandon_rate": today.get("abandon_rate"),
                    "abandon_status": status(today.get("abandon_rate"), t.get("abandon_target"), False),
                    "asa": today.get("asa"),
                    "asa_status": status(today.get("asa"), t.get("asa_target_s"), False),
                    "aht": today.get("aht"),
                    "aht_status": status(today.get("aht"), t.get("aht_target_s"), False),
                    # logged-in agents with the queue's skill
                    "agents_by_state": {s: n for s, n in self._queue_states.get(q, {}).items() if n},
                }
            )
        return {
            "now": now,
            "report": report,
            "window": window,
            "queues": queues,
            # every alert, also those of teams a view does not see (logged once for all)
            "alerts": self.current_alerts(now, queues, report, window),
        }

    def snapshot(self, now: float, view: View, all_alerts: bool = False) -> dict[str, Any]:
        """`all_alerts`: every alert, also those of teams `view` does not see (to log them)."""
        return self.view_snapshot(self.frame(now), view, all_alerts=all_alerts)

    def view_snapshot(
        self, frame: Mapping[str, Any], view: View, cells: bool = True, all_alerts: bool = False
    ) -> dict[str, Any]:
        """The board as `view` sees it (cells=False: without the agents' cells, which
        `snapshot_text` splices in as kept JSON)."""
        order = self._refresh_cells()
        report, window = frame["report"], frame["window"]
        shown = order if view.teams is None else [a for a in order if self._cells[a]["team"] in view.teams]
        teams: dict[str, dict[str, Any]] = {}
        by_state: dict[str, int] = {}
        for team, states in sorted(self._team_states.items()):
            if view.teams is not None and team not in view.teams:
                continue
            counts = {s: n for s, n in states.items() if n}
            if not counts:
                continue
            teams[team or "-"] = {"name": team or "-", "by_state": counts}
            for s, n in counts.items():
                by_state[s] = by_state.get(s, 0) + n
        for name, entry in report["teams"].items():
            if view.teams is not None and name not in view.teams:
                continue
            tile = teams.setdefault(name, {"name": name, "by_state": {}})
            total = entry.get("total", {})
            tile.update(
                handled=total.get("handled", 0),
                answered=total.get("answered", 0),
                aht=total.get("aht"),
                occupancy=total.get("occupancy"),
                sl_today=total.get("service_level"),
                sl_30m=window["teams"].get(name, {}).get("total", {}).get("service_level"),
            )
        overall = report["overall"]
        queues = frame["queues"]
        return {
            "type": "wallboard",
            "now": frame["now"],
            "totals": {
                "waiting": sum(q["waiting"] for q in queues),
                "longest_wait": max((q["longest_wait"] for q in queues), default=0.0),
                "offered": overall.get("offered", 0),
                "answered": overall.get("answered", 0),
                "abandoned": overall.get("abandoned", 0),
                "sl_today": overall.get("service_level"),
                "sl_30m": window["overall"].get("service_level"),
                "abandon_rate": overall.get("abandon_rate"),
                "asa": overall.get("asa"),
                "aht": overall.get("aht"),
                "agents_by_state": by_state,
            },
            # campaign calls (the dialer's: CallQueued marked outbound), apart from the inbound totals
            "outbound": {
                k: report["outbound"]["total"].get(k) for k in ("offered", "answered", "abandoned", "handled", "aht")
            },
            "queues": queues,
            "alerts": [a for a in frame["alerts"] if all_alerts or seen_by(a, view.teams)],
            "teams": [teams[k] for k in sorted(teams)],
            "agents": [self._cells[a] for a in shown] if cells else shown,
            "sl_threshold_s": self.kpi.sl_threshold_s,
        }

    def snapshot_text(self, frame: Mapping[str, Any], view: View, extra: Mapping[str, Any]) -> str:
        """`view_snapshot` as JSON, the cells spliced in from their kept texts."""
        head, shown = self._head_text(frame, view, extra)
        return self._full_text(head, shown)

    def snapshot_texts(
        self, frame: Mapping[str, Any], view: View, extra: Mapping[str, Any], since: Iterable[int | None]
    ) -> dict[int | None, str]:
        """What to send the view's sockets, by the cell generation each was last sent
        (None: nothing yet, or from another board): the whole board, or a delta of the
        cells changed since (reports/board_delta.py). The head is serialised once."""
        head, shown = self._head_text(frame, view, extra)
        out: dict[int | None, str] = {}
        for gen in set(since):
            changed = None if gen is None else self.cell_changes.since(gen)
            if changed is None:
                out[gen] = self._full_text(head, shown)
                continue
            changed = {a for a in changed if view.teams is None or self.kpi.teams.get(a, "") in view.teams}
            in_view = sorted(a for a in changed if a in self._cells)
            gone = sorted(changed.difference(self._cells))
            out[gen] = (
                delta_head(head)[:-1]
                + ', "agents_changed": ['
                + ", ".join(map(self._texts.__getitem__, in_view))
                + '], "agents_removed": '
                + json.dumps(gone)
                + "}"
            )
        return out

    def _head_text(self, frame: Mapping[str, Any], view: View, extra: Mapping[str, Any]) -> tuple[str, list[str]]:
        snapshot = self.view_snapshot(frame, view, cells=False)
        shown: list[str] = snapshot.pop("agents")
        snapshot.update(extra)
        return json.dumps(snapshot, default=_json_default), shown

    def _full_text(self, head: str, shown: list[str]) -> str:
        return head[:-1] + ', "agents": [' + ", ".join(map(self._texts.__getitem__, shown)) + "]}"


def _count(counts: dict[str, dict[str, int]], key: str, state: str, delta: int) -> None:
    by_state = counts.setdefault(key, {})
    by_state[state] = by_state.get(state, 0) + delta


def queue_detail(board: LiveBoard, now: float, queue: str, view: View) -> dict[str, Any] | None:
    """A queue tile's drill-down: its calls waiting (longest first: who, how long) and
    the agents with its skill (state, time in state, the call they are on); None for a
    queue the board does not know."""
    now = max(now, board.engine.last_event_at)
    live = board.engine.live(now, agents=False)
    if queue not in board.queue_targets and queue not in live["queues"]:
        return None
    waiting = []
    for call_id, q, since in sorted(board.engine.waiting(), key=lambda w: w[2]):
        if q != queue:
            continue
        who = board.callers.get(call_id, {})
        waiting.append(
            {
                "call_id": call_id,
                "caller": who.get("caller_name", "") or who.get("caller", ""),
                "number": who.get("caller", ""),
                "customer_id": who.get("customer_id", ""),
                "customer": board.customer_names.get(who.get("customer_id", ""), ""),
                "waited_s": round(now - since, 1),
            }
        )
    agents = [
        {**a, "in_state_s": round(now - a["since"], 1)}
        for a in board.view_agents(view)
        if queue in board.skills.get(a["id"], ())
    ]
    label = board.queue_targets.get(queue, {}).get("label") or queue
    return {"queue": queue, "label": label, "now": now, "waiting": waiting, "agents": agents}


def _directory(board: LiveBoard) -> tuple[Any, ...]:
    """What a board takes from the agent directory and the queue settings."""
    return board.kpi, dict(board.queue_targets), dict(board.names), dict(board.skills)


class WallboardHub:
    """`watch_topics`: bus topics whose messages mean the agent directory or the
    queue settings may have changed (an admin saved an agent or a queue): the board is
    rebuilt from the log when what it takes from them differs. They are also compared
    every `directory_check_s`, for changes no message announced."""

    def __init__(
        self,
        store: EventLog,
        bus: Bus,
        board_factory: Callable[[], Awaitable[LiveBoard]],
        clock: Callable[[], float] = time.time,
        min_interval_s: float = 0.5,
        refresh_s: float = 5.0,
        watch_topics: tuple[Topic[Any], ...] = (),
        directory_check_s: float = 30.0,
        customer_name: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self._store = store
        self._customer_name = customer_name  # a customer id -> the name agent cells show
        self._bus = bus
        self._factory = board_factory
        self._clock = clock
        self.min_interval_s = min_interval_s
        self.refresh_s = refresh_s
        self.board = LiveBoard(KpiConfig(), {})
        self._sockets: dict[Socket, View] = {}
        self._sent: dict[Socket, tuple[int, int]] = {}  # socket -> the cells' mark it was last sent
        self._dirty = asyncio.Event()
        self.ready = asyncio.Event()
        self.pushes = 0
        self.last_push_at = 0.0
        self._recent: set[str] = set()  # bootstrap tail, to drop the same events seen on the bus
        # the latest time of an event in `_recent`: a later event cannot be one of them
        # (the tail's events the bus never brings stay there, and encoding every event
        # to compare it was a cost per event for good)
        self._recent_until = float("-inf")
        self.campaigns: dict[str, CampaignTile] = {}  # the dialer's tiles (bus state map "campaigns")
        self._watch = tuple(t for t in watch_topics if t is not EVENTS)
        self.directory_check_s = directory_check_s
        self._directory_due = 0.0  # monotonic time of the next directory comparison
        self._inbox: Inbox[Any] | None = None
        self._gaps = 0  # the inbox's gaps the board was built after

    def register(self, socket: Socket, view: View, sent: tuple[int, int] | None = None) -> None:
        """`sent`: the cells' mark (`CellChanges.mark`) of the whole board the socket was
        sent (pushes then send it deltas); None: the next push sends it the whole."""
        self._sockets[socket] = view
        if sent is None:
            self._sent.pop(socket, None)
        else:
            self._sent[socket] = sent

    def unregister(self, socket: Socket) -> None:
        self._sockets.pop(socket, None)
        self._sent.pop(socket, None)

    def whole(self, now: float, view: View) -> tuple[str, tuple[int, int]]:
        """The whole board `view` sees now, and its mark (for `register`)."""
        text = self.render(now, [view])[view.key]
        return text, self.board.cell_changes.mark

    def connected(self) -> int:
        return len(self._sockets)

    def sockets(self) -> list[Socket]:
        return list(self._sockets)

    def mark_dirty(self) -> None:
        self._dirty.set()

    async def bootstrap(self, now: float) -> LiveBoard:
        """A fresh board folded over today's stored events (streamed by sequence)."""
        board = await self._factory()
        board.day = day_start(now)
        recent: list[tuple[float, str]] = []
        async for stored in self._store.iter_events(board.day, now + 86400, page=BOOTSTRAP_PAGE):
            board.apply(stored.event)
            recent.append((stored.event.at, _text(stored.event)))
        last_at = max((at for at, _ in recent), default=0.0)
        self._recent = {text for at, text in recent if at >= last_at - DEDUP_HORIZON_S}
        self._recent_until = last_at
        log.info("wallboard_bootstrapped", events=board.applied, day=board.day)
        return board

    async def run(self, retry_s: float = 2.0) -> None:
        """Runs until cancelled; a failure (store or bus away) restarts it from the log."""
        while True:
            try:
                await self._run_once()
            except Exception:
                log.exception("wallboard_hub_failed", retry_s=retry_s)
                self.ready.clear()
                await asyncio.sleep(retry_s)

    async def _run_once(self) -> None:
        """Subscribe first, then read the log, so nothing falls between the two."""
        async with subscribe(self._bus, EVENTS, *self._watch) as inbox:
            self._inbox, self._gaps = inbox, inbox.gaps
            self.board = await self.bootstrap(self._clock())
            self._directory_due = time.monotonic() + self.directory_check_s
            self.ready.set()
            self._dirty.set()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._publisher())
                async for message in inbox:
                    if isinstance(message, Event):
                        self.receive(message)
                    else:  # the directory or the queues may have changed: compare at the next push
                        self._directory_due = 0.0
                        self._dirty.set()

    def receive(self, event: Event) -> None:
        if self._recent and event.at <= self._recent_until:
            text = _text(event)
            if text in self._recent:
                self._recent.discard(text)
                return
        self.board.apply(event)
        self._dirty.set()

    async def _publisher(self) -> None:
        while True:
            # an agent-state rule fires with no event (time passes): look every second then
            every = min(self.refresh_s, 1.0) if any(r.kind == "agent_state" for r in self.board.alert_rules) else None
            try:
                async with asyncio.timeout(every or self.refresh_s):
                    await self._dirty.wait()
            except TimeoutError:
                pass
            self._dirty.clear()
            began = time.monotonic()
            now = self._clock()
            if day_start(now) != self.board.day or self._bus_gap() or await self._directory_moved():
                self.board = await self.bootstrap(now)
            await self.refresh_campaigns()
            await self.name_customers()
            frame: Mapping[str, Any] | None = None
            try:
                frame = self.board.frame(now)
                await self.push(now, frame)
            except Exception:  # a bad snapshot must not end the wallboard
                log.exception("wallboard_push_failed")
            await self.log_alerts(now, frame)
            # coalesce: at most one push per min_interval_s (start to start), and the board
            # takes at most BOARD_CPU_SHARE of the process (a push costing 100 ms, on a
            # large centre or a busy machine, spaces pushes out to 1 s)
            spent = time.monotonic() - began
            await asyncio.sleep(max(self.min_interval_s, spent / BOARD_CPU_SHARE) - spent)

    def _bus_gap(self) -> bool:
        """Has the subscription lost messages since the board was built (the bus went
        away and came back)? Then the board is rebuilt from the log."""
        if self._inbox is None or self._inbox.gaps == self._gaps:
            return False
        self._gaps = self._inbox.gaps
        log.info("wallboard_rebuilt_after_bus_gap", gaps=self._gaps)
        return True

    async def _directory_moved(self) -> bool:
        """Has the agent directory or the queue settings changed since the board was
        built? (Checked when a watched message came, else every directory_check_s.)"""
        if time.monotonic() < self._directory_due:
            return False
        self._directory_due = time.monotonic() + self.directory_check_s
        try:
            fresh = await self._factory()
        except Exception as exc:  # noqa: BLE001 (the store is away: keep the board as it is)
            log.warning("wallboard_directory_unavailable", error=type(exc).__name__)
            return False
        if fresh.alert_rules != self.board.alert_rules:  # no rebuild: the next push applies them
            self.board.alert_rules = fresh.alert_rules
        if _directory(fresh) == _directory(self.board):
            return False
        log.info("wallboard_directory_changed")
        return True

    async def name_customers(self) -> None:
        """Look up the names of the customers on the agents' calls (once each)."""
        if self._customer_name is None:
            return
        for customer_id in self.board.customers_to_name():
            try:
                self.board.name_customer(customer_id, await self._customer_name(customer_id))
            except Exception as exc:  # noqa: BLE001 (the cell shows the caller's number meanwhile)
                log.warning("wallboard_customer_unavailable", error=type(exc).__name__)
                return

    async def refresh_campaigns(self) -> None:
        try:
            self.campaigns = await CAMPAIGN_TILES.get_all(self._bus)
        except Exception as exc:  # noqa: BLE001 (tiles stay as they were; the rest of the board goes on)
            log.warning("wallboard_campaigns_unavailable", error=type(exc).__name__)

    async def log_alerts(self, now: float, frame: Mapping[str, Any] | None = None) -> int:
        """Log (and publish) the alerts raised or cleared since the last push, once
        across processes (reports/alert_log.py); how many this process logged."""
        try:
            frame = self.board.frame(now) if frame is None else frame
            changes = self.board.alert_book.changes(frame["alerts"], frame["now"], self.board.day)
            if not changes:
                return 0
            events = [e for e, _ in changes]
            seqs = await self._store.append_many(events, [k for _, k in changes])
        except Exception as exc:  # noqa: BLE001 - the store is away: tried again at the next push
            log.warning("wallboard_alerts_not_logged", error=type(exc).__name__)
            return 0
        logged = 0
        for event, seq in zip(events, seqs, strict=True):
            if not seq:  # another process logged it: it comes on the bus
                continue
            logged += 1
            self.board.apply(event)
            self._recent.add(_text(event))  # its echo on the bus is not applied twice
            self._recent_until = max(self._recent_until, event.at)
            log.info("wallboard_alert", kind=type(event).__name__, queue=getattr(event, "queue", ""))
            try:
                await EVENTS.publish(self._bus, event)
            except Exception as exc:  # noqa: BLE001 - logged; the other boards read it at their next rebuild
                log.warning("wallboard_alert_not_published", error=type(exc).__name__)
        if logged:
            self._dirty.set()
        return logged

    def _extra(self) -> dict[str, Any]:
        return {"campaigns": [{"id": k, **v.to_wire()} for k, v in sorted(self.campaigns.items())]}

    def render(self, now: float, views: Iterable[View], frame: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The whole board of each view, by view key."""
        out: dict[str, str] = {}
        extra = self._extra()
        frame = self.board.frame(now) if frame is None else frame
        for view in views:
            if view.key not in out:
                out[view.key] = self.board.snapshot_text(frame, view, extra)
        return out

    async def push(self, now: float, frame: Mapping[str, Any] | None = None) -> int:
        """Each socket gets its view: a delta of what it was last sent, or the whole
        board when it has had none of this board's (reports/board_delta.py)."""
        if not self._sockets:
            return 0
        board = self.board
        frame = board.frame(now) if frame is None else frame
        gens: dict[Socket, tuple[str, int | None]] = {}  # socket -> its view's key, the generation it has
        by_view: dict[str, tuple[View, set[int | None]]] = {}
        for socket, view in self._sockets.items():
            sent = self._sent.get(socket)
            gen = sent[1] if sent is not None and sent[0] == board.cell_changes.board else None
            gens[socket] = view.key, gen
            by_view.setdefault(view.key, (view, set()))[1].add(gen)
        extra = self._extra()
        texts = {key: board.snapshot_texts(frame, view, extra, g) for key, (view, g) in by_view.items()}
        mark = board.cell_changes.mark  # (the texts are of the cells as they are now)
        sent_count = 0
        for socket, (key, gen) in gens.items():
            if socket not in self._sockets:  # unregistered while another socket was sent
                continue
            try:
                await socket.send_str(texts[key][gen])
            except (ConnectionError, RuntimeError):
                self.unregister(socket)
                continue
            sent_count += 1
            if socket in self._sockets:
                self._sent[socket] = mark
        self.pushes += 1
        self.last_push_at = now
        return sent_count


def _text(event: Event) -> str:
    """An event as the bootstrap tail remembers it, to recognise it again on the bus."""
    return json.dumps(to_record(event), sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
