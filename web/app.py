"""Shared web infrastructure: sessions (server-side, `web.sessions`; the encrypted
HttpOnly SameSite cookie carries the session's secret and the CSRF token), login
with argon2 hashes and rate limiting, CSRF on every state-changing request, API
tokens (Bearer), role checks, templates and static files.

`setup(app)` is called by the composition root (`cti.server.create_app`); the agent
desktop (`agents.desktop.setup`) and the wallboard/reports (`reports.web.setup`) and
the admin (`web.admin.setup`) add their routes on top of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as session_setup
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from agents.team_moves import team_today
from cti.bounded import cancel_within
from cti.server import BUS, CONFIG, STORE
from store.models import ApiToken, User
from store.port import NotFound
from web.commands import CommandClient
from web.inputs import input_middleware
from web.outage import outage_middleware
from web.security import (
    SCOPES,
    TOKEN_DAYS_DEFAULT,
    TOKEN_DAYS_MAX,
    Identity,
    LoginRateLimiter,
    hash_token,
    new_api_token,
    safe_next,
    same,
    scope_allows,
    verify_password,
)
from web.sessions import SessionPolicy, close_session, open_session, session_id, session_user
from web.settings import SettingsService
from web.socket_watch import SocketWatch, Watched

log = structlog.get_logger()

IDENTITY = web.RequestKey("identity", Identity)
SETTINGS = web.AppKey("web_settings", SettingsService)
LIMITER = web.AppKey("web_login_limiter", LoginRateLimiter)
SESSIONS = web.AppKey("web_session_policy", SessionPolicy)
SOCKET_RECHECK = web.AppKey("web_socket_recheck_s", float)
SOCKET_WATCH = web.AppKey("web_socket_watch", SocketWatch)
COMMANDS = web.AppKey("web_commands", CommandClient)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("web_clock")
COMMAND_TIMEOUT = web.AppKey("web_command_timeout", float)
WEB_TASKS: web.AppKey[list[asyncio.Task[None]]] = web.AppKey("web_tasks")

SESSION_COOKIE = "hotline_session"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC = ("/login", "/static/", "/healthz", "/api/v1/openapi.json")
HOME = {"agent": "/agent", "supervisor": "/wallboard", "admin": "/admin"}
COMMAND_TIMEOUT_S = 5.0
SOCKET_RECHECK_S = 5.0  # how often a websocket's session or token is checked again
BUS_WAIT_S = 2.0  # the login limiter's bus call: longer, and this process's count decides
STOP_WAIT_S = 5.0  # how long the web's stop waits for its cancelled background tasks

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------- helpers for handlers


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.endswith("/ws")


def api_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def current(request: web.Request) -> Identity | None:
    return request.get(IDENTITY)


def require(request: web.Request, role: str = "agent") -> Identity:
    """The caller's identity, or an HTTP error: 401 (API) / redirect to /login (page)
    when anonymous, 403 when the role is too low."""
    me = request.get(IDENTITY)
    if me is None:
        if is_api(request):
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "authentication required"}), content_type="application/json"
            )
        raise web.HTTPFound(f"/login?next={quote(request.path_qs)}")
    if not me.at_least(role):
        raise forbidden(request, f"requires the {role} role")
    return me


def forbidden(request: web.Request, message: str) -> web.HTTPForbidden:
    if is_api(request):
        return web.HTTPForbidden(text=json.dumps({"error": message}), content_type="application/json")
    return web.HTTPForbidden(text=f"403 Forbidden: {message}")


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body: must be a JSON object"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body: must be a JSON object"}), content_type="application/json"
        )
    return body


COMMENT_MAX = 500


def comment_of(body: dict[str, Any]) -> str:
    """A change's comment (settings, rules, flows): text, or a 400 naming `comment`."""
    value = body.get("comment", "")
    if not isinstance(value, str) or len(value) > COMMENT_MAX:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"comment: text, at most {COMMENT_MAX} characters"}),
            content_type="application/json",
        )
    return value


async def agent_team(request: web.Request, agent_id: str) -> str | None:
    """The agent's team today (moved for the day: that team, agents/team_moves.py),
    None when there is no such user."""
    store = request.app[STORE]
    try:
        user = await store.get_user(agent_id)
    except NotFound:
        return None
    return await team_today(store, user, request.app[CLOCK]())


async def require_agent_access(request: web.Request, agent_id: str) -> Identity:
    """403 unless the caller may see this agent (self / supervisor of the team / admin)."""
    me = require(request, "agent")
    if me.login == agent_id or me.role == "admin":
        return me
    if me.role == "supervisor" and me.may_see_agent(agent_id, await agent_team(request, agent_id)):
        return me
    raise forbidden(request, f"not allowed to see agent {agent_id!r}")


async def self_or_admin(request: web.Request, me: Identity, login: str, what: str) -> web.Response | None:
    """The error answer unless the caller is `login` or an admin (403) and the user
    exists (404); None when the caller may go on."""
    if login != me.login and me.role != "admin":
        return api_error(403, f"only an admin {what} another user")
    try:
        await request.app[STORE].get_user(login)
    except NotFound:
        return api_error(404, f"login: no user {login!r}")
    return None


# ---------------------------------------------------------------- middlewares


def _session_key(secret: str) -> bytes:
    if not secret:
        log.warning("session_secret_missing", hint="set server.session_secret; sessions last for this process only")
        secret = secrets.token_urlsafe(32)
    return hashlib.sha256(secret.encode()).digest()  # 32 raw bytes; the storage base64s them for Fernet


async def _token_user(request: web.Request) -> tuple[ApiToken | None, User | None, str]:
    """The request's Bearer token and its user, or None and why not."""
    return await token_user(request.app, request.headers.get("Authorization", "")[7:].strip())


async def token_user(app: web.Application, token: str) -> tuple[ApiToken | None, User | None, str]:
    """An API token (its secret text) and its user, or None and why not: unknown,
    revoked or expired token, user gone or disabled."""
    found = await app[STORE].find_api_token(hash_token(token))
    if found is None or found.revoked:
        return None, None, "invalid or revoked API token"
    if found.expires_at and app[CLOCK]() >= found.expires_at:
        return None, None, "API token expired: create a new one"
    try:
        user = await app[STORE].get_user(found.login)
    except NotFound:
        return None, None, "the token's user no longer exists"
    if user.disabled:
        return None, None, "the token's user is disabled"
    return found, user, ""


async def still_signed_in(request: web.Request) -> bool:
    """Is the caller of this long-lived request (a websocket) still signed in, with the
    role it had? False once its session or token is revoked or expired, its user
    disabled, or its role changed."""
    me = current(request)
    if me is None:
        return False
    if me.via == "token":
        _, user, _ = await _token_user(request)
    else:
        secret = (await get_session(request)).get("sid")
        user = None
        if isinstance(secret, str) and secret:
            user = await session_user(request.app[STORE], request.app[SESSIONS], secret, request.app[CLOCK]())
    return user is not None and user.role == me.role


@asynccontextmanager
async def signed_in_only(
    request: web.Request, ws: web.WebSocketResponse, still: Callable[[], Awaitable[bool]] | None = None
) -> AsyncIterator[None]:
    """While inside, `ws` is closed (4401) once its caller is signed out (this process's
    sockets are checked together every `SOCKET_RECHECK`: web/socket_watch.py; a revoked
    session's sockets end within seconds on every process); `still` says whether they
    still are (default: the caller's session or token, user and role)."""
    me = current(request)
    watched = Watched(ws, request.path, me.role if me is not None else "", still=still)
    if still is None and me is not None:
        if me.via == "token":
            watched.token_hash = hash_token(request.headers.get("Authorization", "")[7:].strip())
        else:
            secret = (await get_session(request)).get("sid")
            watched.session_id = session_id(secret) if isinstance(secret, str) and secret else ""
    request.app[SOCKET_WATCH].add(watched)
    try:
        yield
    finally:
        request.app[SOCKET_WATCH].discard(ws)


@web.middleware
async def identity_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is calling: a Bearer API token, else the session. Session-authenticated
    unsafe requests must carry the session's CSRF token (header X-CSRF-Token or form
    field csrf_token); token-authenticated ones carry no cookies, so need none."""
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token, user, refusal = await _token_user(request)
        if token is None or user is None:
            return api_error(401, refusal)
        if not scope_allows(token.scopes, request.method, request.path):
            return api_error(403, f"the token's scopes ({', '.join(token.scopes)}) do not allow this request")
        request[IDENTITY] = Identity.of(user, via="token")
        return await handler(request)
    if request.path.startswith("/static/") or request.path == "/healthz":
        return await handler(request)
    origin = request.headers.get("Origin")
    if request.path.endswith("/ws") and origin and urlsplit(origin).netloc != request.host:
        # cross-site websocket hijacking: browsers send cookies with the handshake
        log.warning("websocket_origin_rejected", origin=origin, host=request.host)
        return api_error(403, "websocket from another origin")
    session = await get_session(request)
    secret = session.get("sid")
    login = ""
    if isinstance(secret, str) and secret:
        signed_in = await session_user(request.app[STORE], request.app[SESSIONS], secret, request.app[CLOCK]())
        if signed_in is None:  # logged out, revoked, expired or disabled: the browser forgets it too
            session.pop("sid", None)
        else:
            login = signed_in.login
            request[IDENTITY] = Identity.of(signed_in)
    if request.method in UNSAFE:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            sent = str((await request.post()).get("csrf_token", ""))
        expected = session.get("csrf", "")
        if not expected or not sent or not same(sent, expected):
            log.warning("csrf_rejected", path=request.path, login=login or "")
            if is_api(request):
                return api_error(403, "CSRF token missing or wrong")
            return web.Response(status=403, text="403 Forbidden: CSRF token missing or wrong; reload the page")
    return await handler(request)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:",
        )
    return response


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


async def template_context(request: web.Request) -> dict[str, Any]:
    return {"me": current(request), "csrf": await csrf_token(request), "request": request}


# ---------------------------------------------------------------- login / logout / home


async def login_page(request: web.Request) -> web.StreamResponse:
    me = current(request)
    if me is not None:
        raise web.HTTPFound(HOME.get(me.role, "/agent"))
    return aiohttp_jinja2.render_template("login.html", request, {"error": "", "next": request.query.get("next", "")})


def _attempts_key(key: str) -> str:
    return f"login-attempts:{key}"


async def _reserve_login(app: web.Application, limits: dict[str, int], now: float, member: str) -> float:
    """Count this attempt before the password is checked: in this process first (so a
    burst is bounded here whatever the bus does), then on the bus for every process.
    The bus away or its pool exhausted: this process's count still holds."""
    limiter = app[LIMITER]
    wait = limiter.reserve(limits, now, member)
    if wait > 0:
        return wait
    shared = {_attempts_key(k): n for k, n in limits.items()}
    try:
        wait = await asyncio.wait_for(app[BUS].reserve_hits(shared, now, limiter.window_s, member), BUS_WAIT_S)
    except Exception as exc:  # noqa: BLE001 - any bus failure: the local count decides
        log.warning("login_limiter_bus_unavailable", error=type(exc).__name__)
        return 0.0
    if wait > 0:  # refused by the shared count: counted nowhere, here neither
        for key in limits:
            limiter.windows.release(key, member)
    return wait


async def _login_succeeded(app: web.Application, limits: dict[str, int], member: str) -> None:
    """A right password: the login's count is cleared, the address's attempt taken back."""
    app[LIMITER].succeeded(limits, member)
    try:
        for key in limits:
            if key.startswith("login:"):
                await app[BUS].clear_hits(_attempts_key(key))
            else:
                await app[BUS].release_hit(_attempts_key(key), member)
    except Exception as exc:  # noqa: BLE001 - the bus is away: its count expires with its window
        log.warning("login_limiter_bus_unavailable", error=type(exc).__name__)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", "")).strip()
    password = str(form.get("password", ""))
    peer = request.remote or "?"
    limits = request.app[LIMITER].limits(login, peer)
    now = request.app[CLOCK]()
    attempt = secrets.token_hex(8)
    wait = await _reserve_login(request.app, limits, now, attempt)
    if wait > 0:
        log.warning("login_rate_limited", login=login, peer=peer)
        response = aiohttp_jinja2.render_template(
            "login.html",
            request,
            {"error": f"Too many failed attempts. Try again in {int(wait) + 1} s.", "next": ""},
            status=429,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    try:
        user = await request.app[STORE].get_user(login)
        hashed = user.password_hash
    except NotFound:
        user, hashed = None, ""
    ok = await asyncio.get_running_loop().run_in_executor(None, verify_password, hashed, password)
    if user is None or not ok or user.disabled:  # a disabled user hears the same as a wrong password
        log.info("login_failed", login=login, peer=peer)
        return aiohttp_jinja2.render_template(
            "login.html", request, {"error": "Wrong login or password.", "next": form.get("next", "")}, status=401
        )
    await _login_succeeded(request.app, limits, attempt)
    me = Identity.of(user)
    old = (await get_session(request)).get("sid")
    if isinstance(old, str) and old:
        await close_session(request.app[STORE], old)
    session = await new_session(request)  # a fresh cookie and session id: no fixation
    session.update({"sid": await open_session(request.app[STORE], me.login, now), "csrf": secrets.token_urlsafe(32)})
    log.info("login_ok", login=login, role=me.role)
    raise web.HTTPFound(safe_next(str(form.get("next", ""))) or HOME.get(me.role, "/agent"))


async def logout(request: web.Request) -> web.StreamResponse:
    """Deletes the session in the store (a saved copy of the cookie is worth nothing)."""
    session = await get_session(request)
    secret = session.get("sid")
    if isinstance(secret, str) and secret:
        await close_session(request.app[STORE], secret)
    session.invalidate()
    raise web.HTTPFound("/login")


async def home(request: web.Request) -> web.StreamResponse:
    me = require(request)
    raise web.HTTPFound(HOME.get(me.role, "/agent"))


async def whoami(request: web.Request) -> web.Response:
    me = require(request)
    return web.json_response(
        {
            "login": me.login,
            "role": me.role,
            "teams": sorted(me.teams),
            "via": me.via,
            "csrf": await csrf_token(request) if me.via == "session" else None,
        }
    )


# ---------------------------------------------------------------- API tokens


def _token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "login": t.login,
        "name": t.name,
        "created_at": t.created_at,
        "revoked": t.revoked,
        "expires_at": t.expires_at or None,
        "scopes": list(t.scopes),
    }


def _token_terms(body: dict[str, Any]) -> tuple[tuple[str, ...], float, list[str]]:
    """(scopes, lifetime in seconds, problems) from a token request."""
    problems: list[str] = []
    scopes = body.get("scopes", ["read"])
    if not isinstance(scopes, list) or not scopes or not all(s in SCOPES for s in scopes):
        problems.append(f"scopes: a non-empty list of {', '.join(SCOPES)}")
        scopes = []
    days = body.get("expires_in_days", TOKEN_DAYS_DEFAULT)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= TOKEN_DAYS_MAX:
        problems.append(f"expires_in_days: an integer 1-{TOKEN_DAYS_MAX}")
        days = 0
    return tuple(dict.fromkeys(scopes)), days * 86400.0, problems


async def tokens_list(request: web.Request) -> web.Response:
    me = require(request)
    tokens = await request.app[STORE].list_api_tokens(None if me.role == "admin" else me.login)
    return web.json_response({"tokens": [_token_json(t) for t in tokens]})


async def tokens_create(request: web.Request) -> web.Response:
    me = require(request)
    if me.via == "token":
        return api_error(403, "an API token cannot create tokens; log in")
    body = await json_body(request)
    name = str(body.get("name", "")).strip()[:100]
    login = str(body.get("login", me.login))
    scopes, lifetime, problems = _token_terms(body)
    if problems:
        return api_error(400, "invalid token request", problems=problems)
    refused = await self_or_admin(request, me, login, "creates tokens for")
    if refused is not None:
        return refused
    token_id, secret, digest = new_api_token()
    now = request.app[CLOCK]()
    token = ApiToken(token_id, login, name, now, expires_at=now + lifetime, scopes=scopes)
    await request.app[STORE].put_api_token(token, digest)
    log.info("api_token_created", token_id=token_id, login=login, by=me.login, scopes=list(scopes))
    from web.audit import record  # (web.audit builds on this module)

    await record(request, "token.created", token_id, login=login, scopes=list(scopes), expires_at=token.expires_at)
    return web.json_response({**_token_json(token), "token": secret}, status=201)


async def tokens_revoke(request: web.Request) -> web.Response:
    me = require(request)
    token_id = request.match_info["token_id"]
    tokens = {t.id: t for t in await request.app[STORE].list_api_tokens()}
    token = tokens.get(token_id)
    if token is None:
        return api_error(404, f"no token {token_id!r}")
    if token.login != me.login and me.role != "admin":
        return api_error(403, "not your token")
    await request.app[STORE].revoke_api_token(token_id)
    from web.audit import record  # (web.audit builds on this module)

    await record(request, "token.revoked", token_id, login=token.login)
    return web.json_response({**_token_json(token), "revoked": True})


# ---------------------------------------------------------------- setup


def setup(app: web.Application, *, clock: Callable[[], float] = time.time) -> None:
    """Sessions, templates, middlewares, login and tokens. Call after the store/bus
    cleanup context is registered (it uses them) and before the pages' setups."""
    config = app[CONFIG]
    secure = config.server.public_url.startswith("https://")
    session_setup(
        app,
        EncryptedCookieStorage(
            _session_key(config.server.session_secret.get_secret_value()),
            cookie_name=SESSION_COOKIE,
            max_age=int(config.server.session_max_s),
            httponly=True,
            samesite="Strict",
            secure=secure,
        ),
    )
    app.middlewares.append(security_headers)
    app.middlewares.append(outage_middleware)  # wraps the identity's store reads too
    app.middlewares.append(input_middleware)  # text, JSON depth and size, before anyone reads them
    app.middlewares.append(identity_middleware)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("web", "templates"),
                jinja2.PackageLoader("agents", "templates"),
                jinja2.PackageLoader("reports", "templates"),
            ]
        ),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[template_context],
    )
    env = aiohttp_jinja2.get_env(app)
    env.filters["tojson_attr"] = lambda v: json.dumps(v)
    app[LIMITER] = LoginRateLimiter()
    app[SESSIONS] = SessionPolicy(config.server.session_idle_s, config.server.session_max_s)
    app[SOCKET_RECHECK] = SOCKET_RECHECK_S
    app[SOCKET_WATCH] = SocketWatch(
        lambda: app[STORE], lambda: app[SESSIONS], lambda: app[CLOCK](), lambda: app[SOCKET_RECHECK]
    )
    app[CLOCK] = clock
    app[COMMAND_TIMEOUT] = COMMAND_TIMEOUT_S
    app[WEB_TASKS] = []

    async def services(app: web.Application) -> AsyncIterator[None]:
        app[SETTINGS] = SettingsService(app[STORE], app[BUS], config, clock)
        # (the clock read at each command: a test may move the app's)
        app[COMMANDS] = CommandClient(app[BUS], app[STORE], clock=lambda: app[CLOCK](), ttl_s=config.pbx.command_ttl_s)
        tasks = app[WEB_TASKS]
        tasks.append(asyncio.create_task(app[COMMANDS].run(), name="web-command-replies"))
        tasks.append(asyncio.create_task(_settings_listener(app), name="web-settings-listener"))
        tasks.append(asyncio.create_task(app[SOCKET_WATCH].run(), name="web-socket-watch"))
        try:
            yield
        finally:
            # bounded: a task that does not end at its cancel (one a library's
            # asyncio.wait_for swallowed on Python 3.11) is left to end in the background
            left = await cancel_within(tasks, STOP_WAIT_S)
            if left:
                log.warning("web_tasks_left_ending", tasks=left)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("web_task_failed", task=task.get_name(), exc_info=task.exception())

    app.cleanup_ctx.append(services)
    app.router.add_static("/static/", path=str(_static_dir()), name="static")
    app.router.add_get("/", home)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/api/v1/me", whoami)
    app.router.add_get("/api/v1/tokens", tokens_list)
    app.router.add_post("/api/v1/tokens", tokens_create)
    app.router.add_delete("/api/v1/tokens/{token_id}", tokens_revoke)


async def _settings_listener(app: web.Application) -> None:
    from store.topics import CONFIG_CHANGES, subscribe

    async with subscribe(app[BUS], CONFIG_CHANGES) as inbox:
        async for change in inbox:
            app[SETTINGS].forget(change.section or None)


def _static_dir() -> Any:
    from pathlib import Path

    return Path(__file__).parent / "static"
