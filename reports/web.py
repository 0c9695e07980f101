"""Wallboard (`/wallboard`, live over a websocket) and historical reports (`/reports`,
with inline SVG charts and CSV export). KPI numbers come from `reports.kpi` only:
the incremental engine for the wallboard, `batch_report` over the stored event log
for reports. Supervisors see their teams (queues are shared), admins everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from agents.team_moves import day_of, users_today
from cti.server import BUS, STORE
from reports.alerts import parse_rules
from reports.day_extras import only_agents, summary
from reports.export import CSV_SECTIONS, XLSX_TYPE, section_rows, to_csv, to_xlsx
from reports.kpi import INTERVALS, KpiConfig
from reports.report_days import DAY_S, PERIODS, DayCache, range_report
from reports.report_keeper import ReportKeeper, keep_loop
from reports.report_page import TOP_AGENTS, BadPage, agents_page, interval_labels, page_number, top_agents
from reports.report_warm import DAYS, lease_turn, wake_on_changes, warm_loop
from reports.report_warm import LEASE as REPORT_LEASE
from reports.report_warm import STANDBY_LEASE as REPORT_STANDBY_LEASE
from reports.web_charts import bar_chart
from reports.web_live import LiveBoard, View, WallboardHub
from store.models import User, UserName
from store.port import NotFound
from store.report_day_rows import SqlReportDays
from store.sql import SqlStore
from store.topics import CONFIG_CHANGES
from web.app import CLOCK, SETTINGS, WEB_TASKS, api_error, require, signed_in_only
from web.security import Identity
from web.settings import QueueSettings

log = structlog.get_logger()

WALLBOARD = web.AppKey("wallboard_hub", WallboardHub)
REPORT_DAYS = web.AppKey("report_days", DayCache)
REPORT_KEEPER = web.AppKey("report_keeper", ReportKeeper)
MAX_REPORT_DAYS = 366
MAX_INTERVAL_DAYS = 31  # longer ranges report by day (one row per day, not 35,000 quarter hours)
REPORT_INTERVALS: tuple[int | str, ...] = (*INTERVALS, DAY_S, "week", "month")  # week/month: from the day cache
ABANDONED_SHOWN = 50  # on the page; the API pages through all of them
EVENT_PAGE = 10_000


def view_of(me: Identity) -> View:
    return View(None if me.role == "admin" else frozenset(me.teams))


def sl_threshold(queues: Mapping[str, Mapping[str, Any]]) -> float:
    """The default threshold (a queue the settings do not name): the most common queue's."""
    counts = Counter(float(q.get("sl_threshold_s", 20.0)) for q in queues.values())
    return counts.most_common(1)[0][0] if counts else 20.0


async def kpi_config(
    store: SqlStore, queues: Mapping[str, Mapping[str, Any]], today: float | None = None
) -> tuple[KpiConfig, dict[str, str]]:
    """`today`: group the agents moved for the day (agents/team_moves.py) with their
    team of the day of `today` (the wallboard, a report of today), else with their own."""
    users: Sequence[User | UserName] = (
        await store.list_user_names() if today is None else await users_today(store, today)
    )
    teams = {u.login: u.team for u in users if u.role == "agent" and u.team}
    names = {u.login: u.display_name or u.login for u in users}
    return KpiConfig(sl_threshold_s=sl_threshold(queues), teams=teams, sl_thresholds=sl_thresholds(queues)), names


def sl_thresholds(queues: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Each queue's own service-level threshold, from the queue settings."""
    return {name: float(q.get("sl_threshold_s", 20.0)) for name, q in queues.items()}


def leads_live(app: web.Application) -> bool:
    """Whether this process leads the live loop now (cti/leadership.py)."""
    from cti.live_app import LEADERSHIP

    leadership = app.get(LEADERSHIP)
    return leadership is not None and leadership.role == "leader"


async def agent_skills(store: SqlStore) -> dict[str, frozenset[str]]:
    return {u.login: frozenset(u.skills) for u in await store.list_users("agent")}


# ---------------------------------------------------------------- wallboard


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    require(request, "supervisor")
    return aiohttp_jinja2.render_template("wallboard.html", request, {})


async def wallboard_json(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    hub = request.app[WALLBOARD]
    await asyncio.wait_for(hub.ready.wait(), timeout=10)
    return web.json_response(hub.board.snapshot(request.app[CLOCK](), view_of(me)))


async def wallboard_ws(request: web.Request) -> web.StreamResponse:
    return await board_socket(request, require(request, "supervisor"))


async def board_socket(
    request: web.Request, me: Identity, still: Callable[[], Awaitable[bool]] | None = None
) -> web.StreamResponse:
    """A wallboard's websocket (the board, the TV mode): the snapshot now, then each push
    of `me`'s view, until the socket closes or its watcher is signed out (`still`)."""
    hub = request.app[WALLBOARD]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    await asyncio.wait_for(hub.ready.wait(), timeout=10)
    view = view_of(me)
    text, sent = hub.whole(request.app[CLOCK](), view)
    await ws.send_str(text)
    hub.register(ws, view, sent)  # then deltas from what it was sent
    try:
        async with signed_in_only(request, ws, still):  # closed (4401) once signed out
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
    finally:
        hub.unregister(ws)
    return ws


# ---------------------------------------------------------------- reports


class BadQuery(ValueError):
    pass


FIRST_DAY, LAST_DAY = date(1971, 1, 1), date(2999, 12, 31)  # what the clock and mktime can hold


def _day(text: str, name: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{name}: must be a date YYYY-MM-DD, not {text!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadQuery(f"{name}: must be between {FIRST_DAY} and {LAST_DAY}, not {text}")
    return day


def _interval(text: str | int) -> int | str:
    """Seconds (900, 1800, 3600, 86400), or "week"/"month" ("day" is 86400)."""
    choices = ", ".join(map(str, REPORT_INTERVALS))
    if text == "day":
        return DAY_S
    if text in PERIODS:
        return str(text)
    try:
        interval = int(text)
    except ValueError:
        raise BadQuery(f"interval: must be one of {choices}, not {str(text)[:20]!r}") from None
    if interval not in REPORT_INTERVALS:
        raise BadQuery(f"interval: must be one of {choices}, not {interval}")
    return interval


def parse_report_query(query: Mapping[str, str], now: float) -> dict[str, Any]:
    today = datetime.fromtimestamp(now).date()
    d_from = _day(query["from"], "from") if query.get("from") else today
    d_to = _day(query["to"], "to") if query.get("to") else d_from
    if d_to < d_from:
        raise BadQuery("to: must not be before from")
    if (d_to - d_from).days >= MAX_REPORT_DAYS:
        raise BadQuery(f"to: at most {MAX_REPORT_DAYS} days per report")
    long_range = (d_to - d_from).days >= MAX_INTERVAL_DAYS
    interval = _interval(query.get("interval") or (DAY_S if long_range else 3600))
    if long_range and isinstance(interval, int) and interval != DAY_S:
        raise BadQuery(
            f"interval: a range over {MAX_INTERVAL_DAYS} days reports by day ({DAY_S}), week or month, not {interval}"
        )
    start = time.mktime(d_from.timetuple())
    end = time.mktime((d_to + timedelta(days=1)).timetuple())
    return {
        "from": d_from.isoformat(),
        "to": d_to.isoformat(),
        "interval": interval,
        "start": start,
        "end": min(end, max(now, start)),
        "queue": query.get("queue", ""),
    }


async def build_report(request: web.Request, me: Identity, q: dict[str, Any]) -> dict[str, Any]:
    store = request.app[STORE]
    queues_cfg = (await request.app[SETTINGS].live("queues")).data
    now = request.app[CLOCK]()
    today = day_of(now)
    cfg, names = await kpi_config(store, queues_cfg, now if q["from"] == q["to"] == today else None)
    by = q["interval"] if isinstance(q["interval"], str) else ""  # week, month: rows of whole days
    cfg = replace(cfg, interval_s=DAY_S if by else q["interval"])
    found = await range_report(
        store,
        request.app[REPORT_DAYS],
        cfg,
        date.fromisoformat(q["from"]),
        date.fromisoformat(q["to"]),
        q["queue"],
        request.app[CLOCK](),
        by,
    )
    report = found.report.to_dict()
    extras = found.extras
    if me.role != "admin":
        report["teams"] = {k: v for k, v in report["teams"].items() if k in me.teams}
        report["agents"] = {k: v for k, v in report["agents"].items() if cfg.teams.get(k) in me.teams}
    targets = {name: QueueSettings.model_validate(v).model_dump() for name, v in queues_cfg.items()}
    overall_target = (
        targets[q["queue"]]
        if q["queue"] in targets
        else {
            k: sum(t[k] for t in targets.values()) / len(targets) for k in QueueSettings().model_dump() if k != "label"
        }
        if targets
        else QueueSettings().model_dump()
    )
    return {
        "report": report,
        "targets": targets,
        "overall_target": overall_target,
        "names": names,
        "agent_teams": dict(cfg.teams),
        "events": found.events,
        "extras": summary(extras if me.role == "admin" else only_agents(extras, set(report["agents"]))),
        "days": found.days,
        "cfg": cfg,
        "query": q,
    }


def pct_text(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def dur_text(v: float | None) -> str:
    """Seconds as h:mm:ss (pause time over days)."""
    if v is None:
        return "—"
    s = round(v)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def sec_text(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f} s"


def charts(data: dict[str, Any], agents: Mapping[str, Any], agents_note: str = "") -> dict[str, str]:
    """The interval charts, and the agents' charts of `agents` (the page's: 10,000 bars
    tell nothing), `agents_note` after their titles."""
    report, target = data["report"], data["overall_target"]
    ivs = report["intervals"]
    interval = data["query"]["interval"]
    fmt = (
        "%Y-%m"
        if interval == "month"
        else "%m-%d"
        if interval in (DAY_S, "week")
        else "%m-%d %H:%M"
        if data["query"]["from"] != data["query"]["to"]
        else "%H:%M"
    )
    labels = [datetime.fromtimestamp(i["start"]).strftime(fmt) for i in ivs]
    agent_labels = list(agents)
    return {
        "volume": bar_chart(
            "Inbound calls per interval",
            labels,
            [
                ("offered", [i["offered"] for i in ivs]),
                ("answered", [i["answered"] for i in ivs]),
                ("abandoned", [i["abandoned"] for i in ivs]),
            ],
        ),
        "service_level": bar_chart(
            "Service level per interval",
            labels,
            [("service level", [i["service_level"] for i in ivs])],
            unit="%",
            target=target.get("sl_target"),
        ),
        "wait": bar_chart(
            "Wait time per interval (ASA, average wait)",
            labels,
            [("ASA", [i["asa"] for i in ivs]), ("avg wait", [i["avg_wait"] for i in ivs])],
            unit="s",
            target=target.get("asa_target_s"),
            target_label="ASA target",
        ),
        "duration": bar_chart(
            "Call duration per interval (AHT, talk)",
            labels,
            [("AHT", [i["aht"] for i in ivs]), ("talk", [i["avg_talk"] for i in ivs])],
            unit="s",
            target=target.get("aht_target_s"),
            target_label="AHT target",
        ),
        "abandonment": bar_chart(
            "Abandon rate per interval",
            labels,
            [("abandon rate", [i["abandon_rate"] for i in ivs])],
            unit="%",
            target=target.get("abandon_target"),
            target_label="max",
        ),
        "transfer": bar_chart(
            "Transfer rate per interval",
            labels,
            [("transfer rate", [i["transfer_rate"] for i in ivs])],
            unit="%",
            target=target.get("transfer_target"),
            target_label="max",
        ),
        "occupancy": bar_chart(
            f"Agent occupancy{agents_note}",
            agent_labels,
            [("occupancy", [a["total"]["occupancy"] for a in agents.values()])],
            unit="%",
            target=target.get("occupancy_target"),
        ),
        "agents_aht": bar_chart(
            f"Agent comparison: AHT{agents_note}",
            agent_labels,
            [("AHT", [a["total"]["aht"] for a in agents.values()])],
            unit="s",
            target=target.get("aht_target_s"),
            target_label="AHT target",
        ),
    }


async def reports_page(request: web.Request) -> web.StreamResponse:
    me = require(request, "supervisor")
    try:
        q = parse_report_query(request.query, request.app[CLOCK]())
        number = page_number(request.query.get("agents_page", ""))
    except (BadQuery, BadPage) as exc:
        return web.Response(status=400, text=f"400 Bad Request: {exc}")
    data = await build_report(request, me, q)
    from store.models import InteractionFilter
    from web.abandoned import abandoned_rows

    where = InteractionFilter(queue=q["queue"] or None, since=q["start"], until=q["end"])
    agents, pager = agents_page(data["report"]["agents"], number)
    note = f" (agents {pager.first}-{pager.last} of {pager.total})" if pager.pages > 1 else ""
    first, last = date.fromisoformat(q["from"]), date.fromisoformat(q["to"])
    ivs = data["report"]["intervals"]
    return aiohttp_jinja2.render_template(
        "reports.html",
        request,
        {
            **data,
            "abandoned": (await abandoned_rows(request.app[STORE], where, ABANDONED_SHOWN, 0))[:ABANDONED_SHOWN],
            "when": lambda t: datetime.fromtimestamp(t).strftime("%m-%d %H:%M:%S"),
            "charts": charts(data, agents, note),
            "shown_agents": agents,
            "pager": pager,
            "interval_rows": list(
                zip(interval_labels([i["start"] for i in ivs], q["interval"], first, last), ivs, strict=True)
            ),
            "top_agents": top_agents,
            "top_n": TOP_AGENTS,
            "pct": pct_text,
            "sec": sec_text,
            "dur": dur_text,
            "intervals": REPORT_INTERVALS,
            "queue_names": sorted(data["targets"]),
            "csv_query": "&".join(f"{k}={q[k]}" for k in ("from", "to", "interval", "queue") if q[k]),
        },
    )


async def reports_json(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    try:
        q = parse_report_query(request.query, request.app[CLOCK]())
    except BadQuery as exc:
        return api_error(400, str(exc))
    data = await build_report(request, me, q)
    return web.json_response(
        {
            "query": q,
            "targets": data["targets"],
            "overall_target": data["overall_target"],
            "events": data["events"],
            "extras": data["extras"],
            **data["report"],
        }
    )


async def _export(request: web.Request, fmt: str) -> web.StreamResponse:
    """GET /reports/export.csv|.xlsx?section=...: one section of the report, the same
    columns in both formats (reports/export.py)."""
    me = require(request, "supervisor")
    section = request.query.get("section", "intervals")
    if section not in CSV_SECTIONS:
        return api_error(400, f"section: must be one of {', '.join(CSV_SECTIONS)}")
    try:
        q = parse_report_query(request.query, request.app[CLOCK]())
    except BadQuery as exc:
        return api_error(400, str(exc))
    rows = section_rows(section, await build_report(request, me, q))
    filename = f"hotline-{section}-{q['from']}-{q['to']}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "xlsx":
        body = await asyncio.to_thread(to_xlsx, rows, section)
        return web.Response(body=body, content_type=XLSX_TYPE, headers=headers)
    return web.Response(text=to_csv(rows), content_type="text/csv", headers=headers)


async def reports_csv(request: web.Request) -> web.StreamResponse:
    return await _export(request, "csv")


async def reports_xlsx(request: web.Request) -> web.StreamResponse:
    return await _export(request, "xlsx")


# ---------------------------------------------------------------- setup


async def _close_sockets(app: web.Application) -> None:
    if WALLBOARD in app:
        for ws in app[WALLBOARD].sockets():
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")  # type: ignore[attr-defined]


def setup(app: web.Application, *, min_interval_s: float = 0.5, warm_days: int = DAYS) -> None:
    """`warm_days`: how many closed days the report cache is filled with ahead (reports/report_warm.py)."""

    async def wallboard_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]

        async def factory() -> LiveBoard:
            settings.forget("queues")  # the stored version, not this process's cached copy
            queues = (await settings.live("queues")).data
            cfg, names = await kpi_config(app[STORE], queues, app[CLOCK]())
            board = LiveBoard(cfg, queues, names, await agent_skills(app[STORE]))
            settings.forget("alert_rules")
            board.alert_rules = parse_rules((await settings.live("alert_rules")).data)
            return board

        async def customer_name(customer_id: str) -> str:
            try:
                return (await app[STORE].get_customer(customer_id)).name
            except NotFound:
                return ""

        hub = WallboardHub(
            app[STORE],
            app[BUS],
            factory,
            app[CLOCK],
            min_interval_s=min_interval_s,
            watch_topics=(CONFIG_CHANGES,),
            customer_name=customer_name,
        )
        app[WALLBOARD] = hub
        task = asyncio.create_task(hub.run(), name="wallboard-hub")
        app[WEB_TASKS].append(task)

        async def report_config() -> KpiConfig:
            return (await kpi_config(app[STORE], (await settings.live("queues")).data))[0]

        if isinstance(app[STORE], SqlReportDays):
            app[REPORT_DAYS].store = app[STORE]
        wake = asyncio.Event()
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        turn = lease_turn(app[STORE], holder, leading=lambda: leads_live(app))
        keeper = ReportKeeper(
            app[STORE], app[REPORT_DAYS], report_config, lambda: app[CLOCK](), readers=lambda: not leads_live(app)
        )
        app[REPORT_DAYS].live = keeper.peek
        app[REPORT_KEEPER] = keeper
        warming = warm_loop(
            app[STORE],
            app[REPORT_DAYS],
            report_config,
            lambda: app[CLOCK](),
            wake,
            back=warm_days,
            turn=turn,
            before=keeper.first_day,
        )
        app[WEB_TASKS].append(asyncio.create_task(warming, name="report-days-warm"))
        app[WEB_TASKS].append(asyncio.create_task(keep_loop(keeper, turn), name="report-days-keeper"))
        changed = wake_on_changes(app[BUS], wake, keeper.reconfigure)
        app[WEB_TASKS].append(asyncio.create_task(changed, name="report-days-wake"))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(Exception):  # (another process takes the days at once)
                for lease in (REPORT_LEASE, REPORT_STANDBY_LEASE):
                    await app[STORE].release_lease(lease, holder)

    app[REPORT_DAYS] = DayCache()  # (its store is given at start: the app's store is opened then)
    app.cleanup_ctx.append(wallboard_ctx)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/wallboard/ws", wallboard_ws)
    app.router.add_get("/api/v1/wallboard", wallboard_json)
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/export.csv", reports_csv)
    app.router.add_get("/reports/export.xlsx", reports_xlsx)
    app.router.add_get("/api/v1/reports", reports_json)
