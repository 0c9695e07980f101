"""The recording policy's admin (`/admin/recording`): which calls are recorded, per
queue and per campaign ("all", "never", "on_demand": the agent starts it, "N%": that
share of the calls), and for the others.

GET /api/v1/recording-policy   supervisor, admin: the live policy, its version, the
                               known queues and campaigns
PUT /api/v1/recording-policy   admin: {default, queues, campaigns, base_version,
                               comment}; validated (400 naming each field), stored as
                               a new version (409 when base_version is not the live
                               one), audited, and taken by the live loop at once
                               (ConfigChanged "recording_policy", cti/live_root.py)
"""

from __future__ import annotations

import json

import structlog
from aiohttp import web

from cti.recording_policy import SECTION, document, live_recording, validated
from cti.server import BUS, CONFIG, STORE
from store.port import Conflict
from store.topics import CONFIG_CHANGES, ConfigChanged
from web.app import CLOCK, SETTINGS, api_error, comment_of, json_body, require
from web.audit import record
from web.campaigns_admin import configured
from web.text_versions import VERSION_MAX

log = structlog.get_logger()


async def policy_get(request: web.Request) -> web.Response:
    require(request, "supervisor")
    live, version = await live_recording(request.app[STORE], request.app[CONFIG].recording)
    queues = sorted((await request.app[SETTINGS].live("queues")).data)
    return web.json_response(
        {
            "version": version,
            **document(live),
            "known_queues": queues,
            "known_campaigns": sorted(await configured(request)),
            "origin": "admin" if version else "hotline.toml",
        }
    )


async def policy_put(request: web.Request) -> web.Response:
    me = require(request, "admin")
    body = await json_body(request)
    comment = comment_of(body)
    body.pop("comment", None)
    base = body.pop("base_version", None)
    if not isinstance(base, int) or isinstance(base, bool) or not 0 <= base <= VERSION_MAX:
        return api_error(400, "base_version: the live version the edit started from (integer)")
    config, problems = validated(request.app[CONFIG].recording, body)
    if config is not None:
        known = {
            "queues": set((await request.app[SETTINGS].live("queues")).data),
            "campaigns": set(await configured(request)),
        }
        for field, names in known.items():
            problems += [
                f"{field}.{n}: no such {field[:-1]} (known: {', '.join(sorted(names)) or 'none'})"
                for n in getattr(config, field)
                if n not in names
            ]
    if config is None or problems:
        return api_error(400, "invalid recording policy", problems=problems)
    doc = document(config)
    try:
        stored = await request.app[STORE].put_settings_version(
            SECTION,
            json.dumps(doc, sort_keys=True),
            author=me.login,
            comment=comment,
            expected_version=base,
            at=request.app[CLOCK](),
        )
    except Conflict as exc:
        return api_error(409, f"{exc}; reload and apply again")
    try:  # the live loop takes it at once (else at its next start)
        await CONFIG_CHANGES.publish(request.app[BUS], ConfigChanged(SECTION, author=me.login, version=stored.version))
    except Exception as exc:  # noqa: BLE001 - stored either way
        log.warning("recording_policy_not_announced", error=type(exc).__name__)
    await record(request, "settings.recording_policy", SECTION, version=stored.version, comment=comment, **doc)
    return web.json_response({"version": stored.version, **doc})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/recording-policy", policy_get)
    app.router.add_put("/api/v1/recording-policy", policy_put)
