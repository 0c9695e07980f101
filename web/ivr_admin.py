"""Admin of the IVR flow (/admin/ivr): the flow that runs shown as `[ivr]` TOML (version
0: hotline.toml's), validated with each problem at its line, diffed against live,
simulated with sample inputs (caller, digits, time) through the engine the live IVR
runs, applied as a new version (the live IVR takes it at once, cti/live_root.py) and
any earlier version restored. Every apply and restore is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from cti.server import STORE
from ivr.agi_driver import customer_lookup_from_store
from ivr.text import check, simulate
from store.port import Conflict
from web.app import SETTINGS, api_error, comment_of, json_body, require
from web.audit import record
from web.settings import CONFIG_FILE, SettingsError, diff_text
from web.text_versions import VERSION_MAX, restore_target, version_response

DIGITS_MAX = 20


async def _text(request: web.Request) -> tuple[dict[str, Any], str]:
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise web.HTTPBadRequest(text='{"error": "text: the flow as TOML text"}', content_type="application/json")
    return body, text


def _version(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= VERSION_MAX
    return value if ok else None  # type: ignore[return-value]


async def ivr_get(request: web.Request) -> web.Response:
    require(request, "supervisor")
    settings = request.app[SETTINGS]
    live = await settings.live("ivr")
    versions = await request.app[STORE].list_settings_versions("ivr", 20)
    history = [
        {"version": v.version, "author": v.author, "comment": v.comment, "created_at": v.created_at} for v in versions
    ]
    if settings.file_text("ivr"):
        history.append({"version": 0, "author": "", "comment": f"from {CONFIG_FILE}", "created_at": None})
    return web.json_response(
        {"version": live.version, "text": live.data, "origin": live.origin, "author": live.author, "history": history}
    )


async def ivr_validate(request: web.Request) -> web.Response:
    require(request, "admin")
    _, text = await _text(request)
    problems = check(text)[1]
    return web.json_response({"valid": not problems, "problems": problems})


async def ivr_diff(request: web.Request) -> web.Response:
    require(request, "admin")
    _, text = await _text(request)
    live = await request.app[SETTINGS].live("ivr")
    label = f"live (v{live.version})" if live.version else f"live (from {CONFIG_FILE})"
    return web.json_response({"live_version": live.version, "diff": diff_text(live.data, text, label, "edited")})


async def ivr_simulate(request: web.Request) -> web.Response:
    """{text, caller, digits: ["1", "42#"...], at: "2026-12-07T10:00" (the flow's time
    zone unless it names one)}: the walk."""
    require(request, "admin")
    body, text = await _text(request)
    flow, problems = check(text)
    if flow is None:
        return api_error(400, "invalid flow", problems=problems)
    caller, digits, at = body.get("caller", ""), body.get("digits", []), body.get("at")
    if not isinstance(caller, str) or len(caller) > 40:
        return api_error(400, "caller: the caller's number (text, at most 40 characters)")
    if (
        not isinstance(digits, list)
        or len(digits) > DIGITS_MAX
        or not all(isinstance(d, str) and len(d) <= 40 for d in digits)
    ):
        return api_error(400, f"digits: a list of at most {DIGITS_MAX} answers, each the digits keyed (text)")
    when = None
    if at not in (None, ""):
        try:
            local = datetime.fromisoformat(str(at))  # (without a zone: the flow's own, as its hours are)
            when = (local if local.tzinfo else local.replace(tzinfo=ZoneInfo(flow.timezone))).timestamp()
        except ValueError:
            return api_error(400, f"at: a local date and time YYYY-MM-DDTHH:MM, not {at!r}")
    walk = await simulate(flow, customer_lookup_from_store(request.app[STORE]), caller, digits, when)
    return web.json_response(walk)


async def _store_version(
    request: web.Request, text: str, body: dict[str, Any], action: str, **extra: Any
) -> web.Response:
    me = require(request, "admin")
    base = _version(body, "base_version")
    if base is None:
        return api_error(400, "base_version: the live version the edit started from (integer)")
    comment = comment_of(body)
    try:
        applied = await request.app[SETTINGS].apply("ivr", text, me.login, base, comment)
    except SettingsError:
        return api_error(400, "invalid flow", problems=check(text)[1])
    except Conflict as exc:
        return api_error(409, f"{exc}; reload, merge and apply again")
    await record(request, action, "ivr", version=applied.version, comment=comment, **extra)
    return web.json_response({"version": applied.version, "applied": True})


async def ivr_apply(request: web.Request) -> web.Response:
    require(request, "admin")
    body, text = await _text(request)
    return await _store_version(request, text, body, "settings.ivr")


async def ivr_restore(request: web.Request) -> web.Response:
    require(request, "admin")
    body = await json_body(request)
    target = await restore_target(request, "ivr", body)
    if isinstance(target, web.Response):
        return target
    version, text = target
    return await _store_version(request, text, body, "settings.ivr.restored", restored=version)


async def ivr_version(request: web.Request) -> web.Response:
    require(request, "supervisor")
    return await version_response(request, "ivr")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/ivr", ivr_get)
    app.router.add_get("/api/v1/ivr/versions/{version}", ivr_version)
    app.router.add_post("/api/v1/ivr/validate", ivr_validate)
    app.router.add_post("/api/v1/ivr/diff", ivr_diff)
    app.router.add_post("/api/v1/ivr/simulate", ivr_simulate)
    app.router.add_post("/api/v1/ivr/apply", ivr_apply)
    app.router.add_post("/api/v1/ivr/restore", ivr_restore)
