"""Admin: queues, skills, pause codes, dispositions, agents and their proficiencies,
routing rules (validate inline, diff against live, simulate, apply versioned). Pages
under /admin use the same JSON REST API under /api/v1 (described in openapi.json).
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web

from cti.server import BUS, CONFIG, STORE
from store.models import ROLES, User
from store.port import Conflict, NotFound
from store.topics import CONFIG_CHANGES, ConfigChanged
from web.app import CLOCK, SETTINGS, api_error, comment_of, json_body, require
from web.audit import record
from web.security import hash_password
from web.settings import (
    CONFIG_FILE,
    SCHEMAS,
    SettingsError,
    diff_text,
    routing_available,
    rules_are_empty,
    validate_rules,
)
from web.text_versions import restore_target, version_response

log = structlog.get_logger()

VERSION_MAX = 2**31 - 1  # a stored version is a 32-bit integer
SECTION_URL = {
    "queues": "queues",
    "skills": "skills",
    "pause-codes": "pause_codes",
    "dispositions": "dispositions",
    "alert-rules": "alert_rules",
}


def _user_json(u: User) -> dict[str, Any]:
    return {
        "login": u.login,
        "display_name": u.display_name,
        "role": u.role,
        "team": u.team,
        "skills": dict(u.skills),
        "languages": list(u.languages),
        "phone_endpoint": u.phone_endpoint,
        "pbx": u.pbx,
        "has_password": bool(u.password_hash),
        "disabled": u.disabled,
    }


def _user_changes(old: User | None, new: User) -> dict[str, Any]:
    """What an audit entry says of a user's change: each field changed as [old, new]
    (a password only as changed, never its hash)."""

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    changes: dict[str, Any] = {}
    for name in ("display_name", "role", "team", "skills", "languages", "phone_endpoint", "pbx", "disabled"):
        before, after = (getattr(old, name) if old else None), getattr(new, name)
        if before != after:
            changes[name] = [plain(before), plain(after)]
    if (old.password_hash if old else "") != new.password_hash:
        changes["password"] = "changed"
    return changes


# ---------------------------------------------------------------- pages


async def admin_page(request: web.Request) -> web.StreamResponse:
    require(request, "admin")
    page = request.match_info.get("page", "")
    if page not in (
        "",
        "queues",
        "skills",
        "pause-codes",
        "dispositions",
        "alert-rules",
        "agents",
        "teams",
        "routing",
        "ivr",
        "campaigns",
        "recording",
        "tokens",
        "webhooks",
    ):
        raise web.HTTPNotFound()
    return aiohttp_jinja2.render_template(
        "admin.html",
        request,
        {
            "page": page or "queues",
            "routing_available": routing_available(),
            "simulate_available": simulator() is not None,
        },
    )


# ---------------------------------------------------------------- settings sections


async def section_get(request: web.Request) -> web.Response:
    require(request, "supervisor")
    section = SECTION_URL[request.match_info["section"]]
    live = await request.app[SETTINGS].live(section)
    return web.json_response(
        {"section": section, "version": live.version, "items": live.data, "fields": list(SCHEMAS[section].model_fields)}
    )


async def section_put(request: web.Request) -> web.Response:
    me = require(request, "admin")
    section = SECTION_URL[request.match_info["section"]]
    body = await json_body(request)
    comment = comment_of(body)
    base = body.get("base_version")
    if "base_version" in body and (not isinstance(base, int) or isinstance(base, bool) or not 0 <= base <= VERSION_MAX):
        return api_error(400, "base_version: the live version the edit started from (integer), or left out")
    try:
        live = await request.app[SETTINGS].apply(section, body.get("items"), me.login, base, comment)
    except SettingsError as exc:
        return api_error(400, "invalid settings", problems=exc.problems)
    except Conflict as exc:
        return api_error(409, str(exc))
    await record(request, f"settings.{section}", section, version=live.version, comment=comment)
    return web.json_response({"section": section, "version": live.version, "items": live.data})


# ---------------------------------------------------------------- agents


async def agents_list(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    users = await request.app[STORE].list_users()
    if me.role != "admin":
        users = [u for u in users if u.role == "agent" and me.may_see_agent(u.login, u.team)]
    return web.json_response({"users": [_user_json(u) for u in users]})


async def agent_put(request: web.Request) -> web.Response:
    me = require(request, "admin")
    login = request.match_info["login"]
    body = await json_body(request)
    store = request.app[STORE]
    try:
        old: User | None = await store.get_user(login)
    except NotFound:
        old = None
    problems: list[str] = []
    role = body.get("role", old.role if old else "agent")
    if role not in ROLES:
        problems.append(f"role: must be one of {', '.join(ROLES)}")
    skills = body.get("skills", dict(old.skills) if old else {})
    known = set((await request.app[SETTINGS].live("skills")).data)
    if not isinstance(skills, dict):
        problems.append("skills: must be an object skill -> proficiency 1-10")
        skills = {}
    for skill, level in skills.items():
        if skill not in known:
            problems.append(f"skills.{skill}: unknown skill (known: {', '.join(sorted(known))})")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 10:
            problems.append(f"skills.{skill}: proficiency must be an integer 1-10, not {level!r}")
    languages = body.get("languages", list(old.languages) if old else [])
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        problems.append("languages: must be a list of language codes")
    password = body.get("password")
    if password is not None and (not isinstance(password, str) or len(password) < 8):
        problems.append("password: at least 8 characters")
    if old is None and not body.get("display_name"):
        problems.append("display_name: required for a new user")
    for name in ("display_name", "team", "phone_endpoint", "pbx"):
        if name in body and not isinstance(body[name], str):
            problems.append(f"{name}: must be a string")
    pbx = body.get("pbx", old.pbx if old else "")
    pbx_names = [p.name for p in request.app[CONFIG].pbxs]
    if isinstance(pbx, str) and pbx and pbx not in pbx_names:
        problems.append(f"pbx: unknown PBX {pbx!r} (the [[pbx]] names: {', '.join(pbx_names)}; empty: the first)")
    disabled = body.get("disabled", old.disabled if old else False)
    if not isinstance(disabled, bool):
        problems.append("disabled: must be true or false")
    if problems:
        return api_error(400, "invalid agent", problems=problems)
    user = User(
        login=login,
        display_name=str(body.get("display_name") or (old.display_name if old else login)),
        role=role,
        password_hash=hash_password(password) if password else (old.password_hash if old else ""),
        team=str(body.get("team", old.team if old else "")),
        skills={k: int(v) for k, v in skills.items()},
        languages=tuple(languages),
        phone_endpoint=str(body.get("phone_endpoint", old.phone_endpoint if old else "")),
        pbx=str(pbx),
        disabled=bool(disabled),
    )
    await store.put_user(user)
    log.info("user_saved", login=login, by=me.login, created=old is None)
    await record(request, "user.created" if old is None else "user.saved", login, **_user_changes(old, user))
    if old is not None and (
        old.role != user.role or old.password_hash != user.password_hash or (user.disabled and not old.disabled)
    ):  # a new password, role or a disable: every session of the user ends now (on every process)
        gone = await store.delete_sessions(login)
        log.info("user_sessions_revoked", login=login, by=me.login, sessions=gone)
    await announce_user(request, me.login, login)
    return web.json_response(_user_json(user), status=201 if old is None else 200)


async def announce_user(request: web.Request, author: str, login: str) -> None:
    """The live loop and the wallboards follow a saved user at once (else within their
    periodic check); a bus failure is logged, the user is saved either way."""
    try:
        await CONFIG_CHANGES.publish(request.app[BUS], ConfigChanged("users", author=author, login=login))
    except Exception as exc:  # noqa: BLE001 - any bus failure: the user is saved either way
        log.warning("user_change_not_announced", login=login, error=type(exc).__name__)


# ---------------------------------------------------------------- routing rules


def simulator() -> Any:
    """The simulator's what-if entry point when the sim package provides one."""
    from web import whatif

    return whatif.simulate_last_days if whatif.available() else None


async def routing_get(request: web.Request) -> web.Response:
    require(request, "supervisor")
    settings = request.app[SETTINGS]
    live = await settings.live("routing")
    versions = await request.app[STORE].list_settings_versions("routing", 20)
    history = [
        {"version": v.version, "author": v.author, "comment": v.comment, "created_at": v.created_at} for v in versions
    ]
    if settings.file_rules():  # version 0: the configuration file's rules, restorable like any other
        history.append({"version": 0, "author": "", "comment": f"from {CONFIG_FILE}", "created_at": None})
    return web.json_response(
        {
            "version": live.version,
            "text": live.data,
            "origin": live.origin,
            "author": live.author,
            "created_at": live.created_at,
            "empty": rules_are_empty(live.data) or not live.data.strip(),
            "validator_available": routing_available(),
            "history": history,
        }
    )


async def _rules_text(request: web.Request) -> str:
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise web.HTTPBadRequest(text='{"error": "text: the rules as TOML text"}', content_type="application/json")
    return text


async def routing_validate(request: web.Request) -> web.Response:
    require(request, "admin")
    text = await _rules_text(request)
    problems = validate_rules(text)
    return web.json_response({"valid": not problems, "problems": problems})


def _live_label(live: Any) -> str:
    return f"live (v{live.version})" if live.version or live.origin != CONFIG_FILE else f"live (from {CONFIG_FILE})"


async def routing_diff(request: web.Request) -> web.Response:
    require(request, "admin")
    text = await _rules_text(request)
    live = await request.app[SETTINGS].live("routing")
    return web.json_response(
        {"live_version": live.version, "diff": diff_text(live.data, text, _live_label(live), "edited")}
    )


async def routing_simulate(request: web.Request) -> web.Response:
    require(request, "admin")
    text = await _rules_text(request)
    what_if = simulator()
    if what_if is None:
        return api_error(
            501, "simulation not available: the simulator's what-if API (sim.run.what_if) is not installed"
        )
    problems = validate_rules(text)
    if problems:
        return api_error(400, "invalid rules", problems=problems)
    live = await request.app[SETTINGS].live("routing")
    queues = (await request.app[SETTINGS].live("queues")).data
    from reports.web import sl_threshold
    from web.whatif import NothingToSimulate

    try:
        result = await what_if(
            request.app[STORE], live.data, text, now=request.app[CLOCK](), days=7, sl_threshold_s=sl_threshold(queues)
        )
    except NothingToSimulate as exc:
        return api_error(400, f"nothing to simulate: {exc}")
    except Exception as exc:  # the simulator's failure is reported, not a 500 page
        log.exception("what_if_failed")
        return api_error(500, f"simulation failed: {type(exc).__name__}: {exc}")
    return web.json_response({"live_version": live.version, **result})


async def _apply_rules(
    request: web.Request, text: str, body: dict[str, Any], action: str, **extra: Any
) -> web.Response:
    """Store `text` as the next routing version: the edit's base version must be live, and
    rules that name no queue replace non-empty live rules only with `confirm_empty: true`."""
    me = require(request, "admin")
    base = body.get("base_version")
    if not isinstance(base, int) or isinstance(base, bool) or not 0 <= base <= VERSION_MAX:
        return api_error(400, "base_version: the live version the edit started from (integer)")
    confirmed = body.get("confirm_empty", False)
    if not isinstance(confirmed, bool):
        return api_error(400, "confirm_empty: must be true or false")
    live = await request.app[SETTINGS].live("routing")
    if (not text.strip() or rules_are_empty(text)) and not confirmed and not rules_are_empty(live.data):
        return api_error(
            400,
            "confirm_empty: these rules name no queue; every call would go to any agent with its skills "
            "(no targets, overflow, wrap-up or no-answer handling). Send confirm_empty: true to apply them anyway",
        )
    comment = comment_of(body)
    try:
        applied = await request.app[SETTINGS].apply("routing", text, me.login, base, comment)
    except SettingsError:
        return api_error(400, "invalid rules", problems=validate_rules(text))
    except Conflict as exc:
        return api_error(409, f"{exc}; reload, merge and apply again")
    await record(request, action, "routing", version=applied.version, comment=comment, **extra)
    return web.json_response({"version": applied.version, "applied": True})


async def routing_apply(request: web.Request) -> web.Response:
    require(request, "admin")
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        return api_error(400, "text: the rules as TOML text")
    return await _apply_rules(request, text, body, "settings.routing")


async def routing_restore(request: web.Request) -> web.Response:
    """An earlier version (0: the configuration file's rules) becomes the next version."""
    require(request, "admin")
    body = await json_body(request)
    target = await restore_target(request, "routing", body)
    if isinstance(target, web.Response):
        return target
    version, text = target
    return await _apply_rules(request, text, body, "settings.routing.restored", restored=version)


async def routing_version(request: web.Request) -> web.Response:
    require(request, "supervisor")
    return await version_response(request, "routing")


def setup(app: web.Application) -> None:
    from web.openapi import openapi

    app.router.add_get("/admin", admin_page)
    app.router.add_get("/admin/{page}", admin_page)
    for url in SECTION_URL:
        app.router.add_get(f"/api/v1/{{section:{url}}}", section_get)
        app.router.add_put(f"/api/v1/{{section:{url}}}", section_put)
    app.router.add_get("/api/v1/users", agents_list)
    app.router.add_put("/api/v1/users/{login}", agent_put)
    app.router.add_get("/api/v1/routing", routing_get)
    app.router.add_get("/api/v1/routing/versions/{version}", routing_version)
    app.router.add_post("/api/v1/routing/validate", routing_validate)
    app.router.add_post("/api/v1/routing/diff", routing_diff)
    app.router.add_post("/api/v1/routing/simulate", routing_simulate)
    app.router.add_post("/api/v1/routing/apply", routing_apply)
    app.router.add_post("/api/v1/routing/restore", routing_restore)
    app.router.add_get("/api/v1/openapi.json", openapi)
