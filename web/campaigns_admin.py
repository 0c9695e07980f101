"""Campaign admin (/admin/campaigns): the campaigns (hotline.toml's and those an admin
created, dialer/definitions.py) with their live numbers (the dialers' wallboard tiles:
dials, contacts, drops against the cap, leads left); created and edited (mode, calling
hours, retries, caller id, skill, queue, abandon cap), started, paused and stopped from
the page, each change kept in the store, audited and applied by the leader's live loop
at once and after a restart; leads uploaded; the do-not-call lists (web/dnc.py's API).

GET  /api/v1/campaigns                 supervisor, admin: the campaigns, their settings,
                                       state, live numbers, the definitions' version and history,
                                       the ids deleted
POST /api/v1/campaigns                 admin (audited): {"id", settings..., base_version,
                                       comment} -> 201, the campaign created stopped
POST /api/v1/campaigns/restore         admin (audited): {version, base_version}: an earlier
                                       version's definitions again (0: hotline.toml's only)
PUT  /api/v1/campaigns/{id}            admin (audited): {settings..., base_version, comment};
                                       the settings not given stay (400 naming each field, 409
                                       when base_version is not the live one)
POST /api/v1/campaigns/{id}/pause      admin (audited)
POST /api/v1/campaigns/{id}/start      admin (audited): a stopped campaign is enabled too
POST /api/v1/campaigns/{id}/stop       admin (audited): disabled (a new version); dials
                                       nothing new, is not started again at a restart
DELETE /api/v1/campaigns/{id}          admin (audited): deleted in a new version (dialer/definitions.py);
                                       409 while it runs or is paused (stop it first) or while
                                       its stopped dialer still has calls in progress; its
                                       leads' rows, events and reports stay, its id is not reused
POST /api/v1/campaigns/{id}/leads      admin (audited): {"csv": TEXT, "name": "leads.csv"} -> the
                                       leads added (kept, dialled by the running campaign
                                       at once), duplicates and rejected rows by line
                                       (dialer/uploads.py)
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from cti.server import BUS, CONFIG, STORE
from dialer import definitions
from dialer.control import SECTION, paused_campaigns, set_paused
from dialer.leads import load_leads_csv
from dialer.live import LiveCampaign, parse_live_campaigns
from dialer.uploads import MAX_UPLOAD_CHARS, section, upload
from store.port import Conflict
from store.topics import CAMPAIGN_TILES, CONFIG_CHANGES, CampaignTile, ConfigChanged
from web.app import CLOCK, SETTINGS, api_error, comment_of, json_body, require
from web.audit import record
from web.text_versions import VERSION_MAX

log = structlog.get_logger()

HISTORY = 20
TILE_FRESH_S = 30.0  # a tile older than this: no dialer runs the campaign (none to wait for)
ACTED = {"pause": "paused", "start": "started", "stop": "stopped"}


async def configured(request: web.Request) -> dict[str, LiveCampaign]:
    """The campaigns by id (enabled or not): the file's with the admin's laid over."""
    found = await definitions.campaign_set(request.app[STORE], request.app[CONFIG].campaigns)
    return {c.id: c for c in parse_live_campaigns(definitions.live_section(found))}


def _settings(table: dict[str, Any]) -> dict[str, Any]:
    return {k: table[k] for k in definitions.EDITABLE if k in table}


async def campaigns_list(request: web.Request) -> web.Response:
    require(request, "supervisor")
    store = request.app[STORE]
    found = await definitions.campaign_set(store, request.app[CONFIG].campaigns)
    campaigns = {c.id: c for c in parse_live_campaigns(definitions.live_section(found))}
    paused = await paused_campaigns(store)
    try:
        tiles = await CAMPAIGN_TILES.get_all(request.app[BUS])
    except Exception as exc:  # noqa: BLE001 - the bus is away: the list without live numbers
        log.warning("campaign_tiles_unavailable", error=type(exc).__name__)
        tiles = {}
    rows = []
    for cid, c in sorted(campaigns.items()):
        tile = tiles.get(cid)
        rows.append(
            {
                "id": cid,
                "name": c.config.name or cid,
                "mode": c.config.mode,
                "skill": c.live.skill,
                "queue": c.queue,
                "enabled": c.live.enabled,
                "paused": cid in paused,
                "state": "stopped" if not c.live.enabled else "paused" if cid in paused else "running",
                "origin": found.origins[cid],
                "settings": _settings(found.tables[cid]),
                "live": tile.to_wire() if tile is not None else None,
            }
        )
    versions = await store.list_settings_versions(definitions.SECTION, HISTORY)
    history = [
        {"version": v.version, "author": v.author, "comment": v.comment, "created_at": v.created_at} for v in versions
    ]
    return web.json_response(
        {"version": found.version, "campaigns": rows, "history": history, "deleted": list(found.deleted)}
    )


def _base_version(body: dict[str, Any]) -> int | None:
    value = body.pop("base_version", None)
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= VERSION_MAX
    return value if ok else None  # type: ignore[return-value]


def _invalid(problems: list[dict[str, str]]) -> web.Response:
    """400: the first problem, all of them, and the fields they name (the form marks them)."""
    fields = sorted({p["field"] for p in problems})
    return api_error(400, problems[0]["message"], problems=[p["message"] for p in problems], fields=fields)


async def _store_definition(
    request: web.Request,
    cid: str,
    changes: dict[str, Any],
    base: dict[str, Any],
    *,
    created: bool,
    comment: str,
    base_version: int,
) -> web.Response:
    """Validate `base` with `changes` laid over, store it as a new version, announce
    it to the live loop and audit it."""
    me = require(request, "admin")
    table, problems = definitions.validate(cid, {**base, **changes})
    if table is not None and "skill" in changes:
        skills = set((await request.app[SETTINGS].live("skills")).data)
        if table["skill"] not in skills:
            known = ", ".join(sorted(skills)) or "none"
            problems.append({"field": "skill", "message": f"skill: unknown skill {table['skill']!r} (known: {known})"})
    if table is None or problems:
        return _invalid(problems)
    try:
        version = await definitions.save(
            request.app[STORE],
            cid,
            table,
            author=me.login,
            comment=comment or ("create " if created else "edit ") + cid,
            base_version=base_version,
            at=request.app[CLOCK](),
        )
    except Conflict as exc:
        return api_error(409, f"base_version: {exc}; reload and apply again")
    await _announce(request, definitions.SECTION, version, me.login)
    await record(request, "campaign.created" if created else "campaign.edited", cid, version=version, changes=changes)
    return web.json_response(
        {"id": cid, "version": version, "settings": _settings(table)}, status=201 if created else 200
    )


async def _announce(request: web.Request, name: str, version: int, author: str) -> None:
    try:  # the live loop applies it at once (else at its next start)
        await CONFIG_CHANGES.publish(request.app[BUS], ConfigChanged(name, author=author, version=version))
    except Exception as exc:  # noqa: BLE001 - stored either way
        log.warning("campaign_change_not_announced", section=name, error=type(exc).__name__)


async def campaign_create(request: web.Request) -> web.Response:
    require(request, "admin")
    body = await json_body(request)
    cid = body.get("id")
    if not isinstance(cid, str) or not definitions.ID_PATTERN.match(cid):
        return api_error(400, "id: the campaign's id, 1-64 letters, digits, '_', '.', '-'", fields=["id"])
    if cid in await configured(request):
        return api_error(409, f"id: there is a campaign {cid!r} already (edit it)", fields=["id"])
    if cid in (await definitions.campaign_set(request.app[STORE], request.app[CONFIG].campaigns)).deleted:
        problem = f"id: campaign {cid!r} was deleted (its leads and history keep that id); choose another id"
        return api_error(409, problem, fields=["id"])
    parsed = _request_from(body)
    if isinstance(parsed, web.Response):
        return parsed
    changes, base_version, comment = parsed
    base = {"leads": "", "enabled": False}  # leads uploaded from the page; started from the page
    return await _store_definition(
        request, cid, changes, base, created=True, comment=comment, base_version=base_version
    )


def _request_from(body: dict[str, Any]) -> tuple[dict[str, Any], int, str] | web.Response:
    """(the settings asked for, base_version, comment), or the 400 naming the field."""
    comment = comment_of(body)
    body = {k: v for k, v in body.items() if k not in ("comment", "id")}
    base_version = _base_version(body)
    if base_version is None:
        problem = "base_version: the campaigns' live version the edit started from (integer)"
        return _invalid([{"field": "base_version", "message": problem}])
    changes, problems = definitions.editable_changes(body)
    if problems:
        return _invalid(problems)
    return changes, base_version, comment


async def campaign_edit(request: web.Request) -> web.Response:
    require(request, "admin")
    cid = request.match_info["campaign"]
    found = await definitions.campaign_set(request.app[STORE], request.app[CONFIG].campaigns)
    if cid not in found.tables:
        return api_error(404, f"campaign: no campaign {cid!r}")
    parsed = _request_from(await json_body(request))
    if isinstance(parsed, web.Response):
        return parsed
    changes, base_version, comment = parsed
    return await _store_definition(
        request, cid, changes, found.tables[cid], created=False, comment=comment, base_version=base_version
    )


async def campaigns_restore(request: web.Request) -> web.Response:
    """{version, base_version, comment}: the definitions of `version` again (0: only
    hotline.toml's campaigns), as a new version."""
    me = require(request, "admin")
    body = await json_body(request)
    comment = comment_of(body)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= VERSION_MAX:
        return api_error(400, f"version: the version to restore (integer 0-{VERSION_MAX})", fields=["version"])
    base_version = _base_version(dict(body))
    if base_version is None:
        problem = "base_version: the campaigns' live version the restore started from (integer)"
        return _invalid([{"field": "base_version", "message": problem}])
    try:
        saved = await definitions.restore(
            request.app[STORE],
            version,
            author=me.login,
            comment=comment or f"restore v{version}",
            base_version=base_version,
            at=request.app[CLOCK](),
        )
    except Conflict as exc:
        return api_error(409, f"base_version: {exc}; reload and restore again")
    if saved is None:
        return api_error(404, f"version: no campaigns version {version}")
    await _announce(request, definitions.SECTION, saved, me.login)
    await record(request, "campaign.restored", definitions.SECTION, version=saved, restored=version)
    return web.json_response({"version": saved, "restored": version})


async def _set_enabled(request: web.Request, cid: str, enabled: bool) -> web.Response | None:
    """Start a stopped campaign / stop a running one: a new version of its definition
    (None: done, or nothing to change)."""
    me = require(request, "admin")
    store = request.app[STORE]
    for attempt in range(2):  # (retried once when another admin saved meanwhile)
        found = await definitions.campaign_set(store, request.app[CONFIG].campaigns)
        table = found.tables[cid]
        if bool(table.get("enabled", True)) == enabled:
            return None
        try:
            version = await definitions.save(
                store,
                cid,
                {**table, "enabled": enabled},
                author=me.login,
                comment=("start " if enabled else "stop ") + cid,
                base_version=found.version,
                at=request.app[CLOCK](),
            )
        except Conflict:
            if attempt:
                return api_error(409, "campaigns: changed by another admin meanwhile; reload and try again")
            continue
        await _announce(request, definitions.SECTION, version, me.login)
        return None
    return None


async def _control(request: web.Request, action: str) -> web.Response:
    me = require(request, "admin")
    campaign = request.match_info["campaign"]
    if campaign not in await configured(request):
        return api_error(404, f"campaign: no campaign {campaign!r}")
    if action in ("start", "stop"):
        failed = await _set_enabled(request, campaign, action == "start")
        if failed is not None:
            return failed
    if action != "stop":
        version, now_paused = await set_paused(
            request.app[STORE], campaign, action == "pause", me.login, request.app[CLOCK]()
        )
        await _announce(request, SECTION, version, me.login)
    else:
        now_paused = await paused_campaigns(request.app[STORE])
    await record(request, f"campaign.{ACTED[action]}", campaign)
    return web.json_response({"campaign": campaign, "paused": campaign in now_paused, "enabled": action != "stop"})


async def campaign_pause(request: web.Request) -> web.Response:
    return await _control(request, "pause")


async def campaign_start(request: web.Request) -> web.Response:
    return await _control(request, "start")


async def campaign_stop(request: web.Request) -> web.Response:
    return await _control(request, "stop")


async def campaign_delete(request: web.Request) -> web.Response:
    """Delete a stopped campaign with nothing in progress (409 naming why not)."""
    me = require(request, "admin")
    cid = request.match_info["campaign"]
    store = request.app[STORE]
    for attempt in range(2):  # (retried once when another admin saved meanwhile)
        found = await definitions.campaign_set(store, request.app[CONFIG].campaigns)
        table = found.tables.get(cid)
        if table is None:
            return api_error(404, f"campaign: no campaign {cid!r}")
        if table.get("enabled", True):
            running = "paused" if cid in await paused_campaigns(store) else "running"
            return api_error(409, f"campaign: {cid} is {running}; stop it first, then delete it")
        busy = await _in_progress(request, cid)
        if busy:
            return api_error(409, f"campaign: {cid} {busy}")
        try:
            at = request.app[CLOCK]()
            version = await definitions.delete(
                store, cid, author=me.login, comment=f"delete {cid}", base_version=found.version, at=at
            )
        except Conflict:
            if attempt:
                return api_error(409, "campaigns: changed by another admin meanwhile; reload and try again")
            continue
        await _announce(request, definitions.SECTION, version, me.login)
        try:  # off the wallboard (the live loop's dialer stops publishing it too)
            await CAMPAIGN_TILES.delete(request.app[BUS], cid)
        except Exception as exc:  # noqa: BLE001 - a view; the definition is what counts
            log.warning("campaign_tile_not_deleted", campaign=cid, error=type(exc).__name__)
        await record(request, "campaign.deleted", cid, version=version)
        return web.json_response({"campaign": cid, "deleted": True, "version": version})
    return api_error(409, "campaigns: changed by another admin meanwhile; reload and try again")


async def _in_progress(request: web.Request, cid: str) -> str:
    """What the campaign's dialer (its tile) says is not over yet ("": nothing, or no
    dialer runs it: its tile is missing or older than TILE_FRESH_S)."""
    try:
        tile: CampaignTile | None = await CAMPAIGN_TILES.get(request.app[BUS], cid)
    except Exception as exc:  # noqa: BLE001 - the bus is away: cannot tell
        log.warning("campaign_tiles_unavailable", error=type(exc).__name__)
        return "cannot be checked for calls in progress now (the live numbers are unavailable); try again"
    if tile is None or tile.at < request.app[CLOCK]() - TILE_FRESH_S:
        return ""
    if tile.state in ("running", "paused"):
        return "is still stopping; try again in a moment"
    if tile.in_flight:
        return f"has {tile.in_flight} call(s) in progress; delete it once they end"
    return ""


async def campaign_leads(request: web.Request) -> web.Response:
    me = require(request, "admin")
    campaign = (await configured(request)).get(request.match_info["campaign"])
    if campaign is None:
        return api_error(404, f"campaign: no campaign {request.match_info['campaign']!r}")
    body = await json_body(request)
    text, name = body.get("csv"), body.get("name", "upload.csv")
    if not isinstance(text, str) or not text.strip():
        return api_error(400, "csv: the leads file's text (header: lead_id,phone,...)")
    if len(text) > MAX_UPLOAD_CHARS:
        return api_error(400, f"csv: at most {MAX_UPLOAD_CHARS} characters per upload")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        return api_error(400, "name: the file's name, 1-200 characters")
    region = campaign.config.default_region
    try:
        path = campaign.leads_path
        known = [lead.lead_id for lead in load_leads_csv(path, region).leads] if path is not None else []
    except OSError:
        known = []  # (the configured file is gone: the dialer says so at its start)
    result = await upload(
        request.app[STORE],
        campaign.id,
        text,
        known,
        source=name,
        author=me.login,
        at=request.app[CLOCK](),
        region=region,
    )
    if result.version:
        try:  # a running campaign dials them at once (else from its next start)
            await CONFIG_CHANGES.publish(
                request.app[BUS], ConfigChanged(section(campaign.id), author=me.login, version=result.version)
            )
        except Exception as exc:  # noqa: BLE001 - stored either way
            log.warning("campaign_leads_not_announced", error=type(exc).__name__)
        await record(request, "campaign.leads", campaign.id, added=len(result.added), rejected=len(result.rejected))
    return web.json_response(
        {
            "campaign": campaign.id,
            "added": len(result.added),
            "duplicates": len(result.duplicates),
            "rejected": result.rejected,
        },
        status=201 if result.added else 200,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/campaigns", campaigns_list)
    app.router.add_post("/api/v1/campaigns", campaign_create)
    app.router.add_post("/api/v1/campaigns/restore", campaigns_restore)
    app.router.add_put("/api/v1/campaigns/{campaign}", campaign_edit)
    app.router.add_delete("/api/v1/campaigns/{campaign}", campaign_delete)
    app.router.add_post("/api/v1/campaigns/{campaign}/stop", campaign_stop)
    app.router.add_post("/api/v1/campaigns/{campaign}/pause", campaign_pause)
    app.router.add_post("/api/v1/campaigns/{campaign}/start", campaign_start)
    app.router.add_post("/api/v1/campaigns/{campaign}/leads", campaign_leads)
