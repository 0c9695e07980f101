"""Campaign admin (/admin/campaigns): the configured campaigns with their live numbers
(the dialers' wallboard tiles: dials, contacts, drops against the cap, leads left),
paused or started from the page (dialer/control.py: kept in the store, applied by the
live loop at once and after a restart), and the do-not-call lists (web/dnc.py's API).

GET  /api/v1/campaigns                 supervisor, admin
POST /api/v1/campaigns/{id}/pause      admin (audited)
POST /api/v1/campaigns/{id}/start      admin (audited)
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
from dialer.control import SECTION, paused_campaigns, set_paused
from dialer.leads import load_leads_csv
from dialer.uploads import MAX_UPLOAD_CHARS, section, upload
from store.topics import CAMPAIGN_TILES, CONFIG_CHANGES, ConfigChanged
from web.app import CLOCK, api_error, json_body, require
from web.audit import record

log = structlog.get_logger()


def configured(request: web.Request) -> dict[str, Any]:
    """The `[campaigns.*]` tables by id (enabled or not)."""
    from dialer.live import parse_live_campaigns

    section = request.app[CONFIG].campaigns
    return {c.id: c for c in parse_live_campaigns(section)} if section else {}


async def campaigns_list(request: web.Request) -> web.Response:
    require(request, "supervisor")
    campaigns = configured(request)
    paused = await paused_campaigns(request.app[STORE])
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
                "state": "disabled" if not c.live.enabled else "paused" if cid in paused else "running",
                "live": tile.to_wire() if tile is not None else None,
            }
        )
    return web.json_response({"campaigns": rows})


async def _pause_or_start(request: web.Request, paused: bool) -> web.Response:
    me = require(request, "admin")
    campaign = request.match_info["campaign"]
    if campaign not in configured(request):
        return api_error(404, f"campaign: no campaign {campaign!r} in the configuration")
    version, now_paused = await set_paused(request.app[STORE], campaign, paused, me.login, request.app[CLOCK]())
    try:  # the live loop applies it at once (else at its next start)
        await CONFIG_CHANGES.publish(request.app[BUS], ConfigChanged(SECTION, author=me.login, version=version))
    except Exception as exc:  # noqa: BLE001 - stored either way
        log.warning("campaign_control_not_announced", error=type(exc).__name__)
    await record(request, "campaign.paused" if paused else "campaign.started", campaign)
    return web.json_response({"campaign": campaign, "paused": campaign in now_paused})


async def campaign_pause(request: web.Request) -> web.Response:
    return await _pause_or_start(request, True)


async def campaign_start(request: web.Request) -> web.Response:
    return await _pause_or_start(request, False)


async def campaign_leads(request: web.Request) -> web.Response:
    me = require(request, "admin")
    campaign = configured(request).get(request.match_info["campaign"])
    if campaign is None:
        return api_error(404, f"campaign: no campaign {request.match_info['campaign']!r} in the configuration")
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
        known = [lead.lead_id for lead in load_leads_csv(campaign.leads_path, region).leads]
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
    app.router.add_post("/api/v1/campaigns/{campaign}/pause", campaign_pause)
    app.router.add_post("/api/v1/campaigns/{campaign}/start", campaign_start)
    app.router.add_post("/api/v1/campaigns/{campaign}/leads", campaign_leads)
