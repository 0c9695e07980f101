"""Prometheus metrics at GET /metrics (text exposition format 0.0.4), for a scraper
with an API token (read scope) or a supervisor's session: HTTP requests and latency
by route, store and bus health, calls waiting and today's calls per queue, agents by
state (the wallboard's numbers), and, in the process running the live loop, the PBX
link and the event log's backlog.

Written out here rather than with prometheus-client: the lock does not carry it, and
the format is a few lines of text; names follow Prometheus' conventions.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from web.app import Handler, require

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HttpStats:
    """Requests by (method, route, status) and a latency histogram by route; the route
    is the router's pattern (`/api/v1/users/{login}`), never the raw path (bounded labels)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        counts = self.buckets.setdefault(route, [0] * (len(BUCKETS) + 1))
        for i, edge in enumerate((*BUCKETS, math.inf)):
            if seconds <= edge:
                counts[i] += 1
        self.sums[route] += seconds


HTTP_STATS = web.AppKey("http_stats", HttpStats)


def _route(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.route is not None else None
    return resource.canonical if resource is not None and info.http_exception is None else "(unmatched)"


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[HTTP_STATS].observe(request.method, _route(request), status, time.perf_counter() - started)


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(name: str, value: float, **labels: Any) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g}" if inner else f"{name} {value:g}"


def _family(name: str, kind: str, help_: str, lines: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *lines]


def http_lines(stats: HttpStats) -> list[str]:
    out = _family(
        "hotline_http_requests_total",
        "counter",
        "HTTP requests by method, route and status",
        (
            _line("hotline_http_requests_total", n, method=m, route=r, status=s)
            for (m, r, s), n in sorted(stats.requests.items())
        ),
    )
    hist: list[str] = []
    for route, counts in sorted(stats.buckets.items()):
        for edge, n in zip((*BUCKETS, math.inf), counts, strict=True):
            hist.append(
                _line(
                    "hotline_http_request_duration_seconds_bucket",
                    n,
                    route=route,
                    le="+Inf" if edge == math.inf else f"{edge:g}",
                )
            )
        hist.append(_line("hotline_http_request_duration_seconds_sum", stats.sums[route], route=route))
        hist.append(_line("hotline_http_request_duration_seconds_count", counts[-1], route=route))
    return out + _family("hotline_http_request_duration_seconds", "histogram", "HTTP request latency by route", hist)


def board_lines(snapshot: dict[str, Any]) -> list[str]:
    """The wallboard's numbers (every team's view)."""
    queues = snapshot.get("queues", [])
    totals = snapshot.get("totals", {})
    out: list[str] = []
    for name, help_, key in (
        ("hotline_queue_calls_waiting", "calls waiting now", "waiting"),
        ("hotline_queue_longest_wait_seconds", "the longest current wait", "longest_wait"),
        ("hotline_queue_calls_offered_today", "inbound calls offered today", "offered"),
        ("hotline_queue_calls_answered_today", "inbound calls answered today", "answered"),
        ("hotline_queue_calls_abandoned_today", "inbound calls abandoned today", "abandoned"),
    ):
        out += _family(name, "gauge", help_, (_line(name, q.get(key) or 0, queue=q["name"]) for q in queues))
    sl = totals.get("sl_today")
    out += _family("hotline_service_level_today", "gauge", "share of inbound calls answered within the threshold today",
                   [_line("hotline_service_level_today", sl)] if sl is not None else [])  # fmt: skip
    states = totals.get("agents_by_state", {})
    out += _family("hotline_agents", "gauge", "logged-in agents by state",
                   (_line("hotline_agents", n, state=s) for s, n in sorted(states.items())))  # fmt: skip
    return out


def health_lines(store_up: bool, bus_up: bool, live: dict[str, Any] | None) -> list[str]:
    out = _family("hotline_store_up", "gauge", "1 when the store answers", [_line("hotline_store_up", int(store_up))])
    out += _family("hotline_bus_up", "gauge", "1 when the bus answers", [_line("hotline_bus_up", int(bus_up))])
    if live is not None:  # this process runs the live loop
        log_ = live.get("event_log", {})
        out += _family(
            "hotline_pbx_up", "gauge", "1 when the AMI link is up", [_line("hotline_pbx_up", int(live["pbx_up"]))]
        )
        out += _family("hotline_event_log_backlog", "gauge", "events waiting to be written to the store",
                       [_line("hotline_event_log_backlog", log_.get("backlog", 0))])  # fmt: skip
        out += _family("hotline_event_log_dropped_total", "counter", "events the log could not keep",
                       [_line("hotline_event_log_dropped_total", log_.get("dropped", 0))])  # fmt: skip
    return out


async def metrics(request: web.Request) -> web.Response:
    require(request, "supervisor")
    from cti.live_app import live_health
    from cti.server import BUS, CONFIG, STORE, _check
    from reports.web import WALLBOARD
    from reports.web_live import View

    app = request.app
    store_up = (await _check(app[STORE].ping))["status"] == "ok"
    bus_up = (await _check(app[BUS].ping))["status"] == "ok"
    pbx, live = live_health(app, app[CONFIG])
    lines = http_lines(app[HTTP_STATS])
    if WALLBOARD in app:
        lines += board_lines(app[WALLBOARD].board.snapshot(time.time(), View(None)))
    lines += health_lines(store_up, bus_up, {**live, "pbx_up": pbx["status"] == "ok"} if live else None)
    return web.Response(body=("\n".join(lines) + "\n").encode(), headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app[HTTP_STATS] = HttpStats()
    app.middlewares.insert(0, http_metrics)  # outermost: every request's whole time
    app.router.add_get("/metrics", metrics)
