"""What the routing and IVR editors share about versions of a text section: reading one
(0: the configuration file's) and picking the one a restore asks for."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.server import STORE
from web.app import SETTINGS, api_error
from web.settings import CONFIG_FILE

VERSION_MAX = 2**31 - 1  # a stored version is a 32-bit integer
NAMES = {"routing": "routing", "ivr": "IVR"}


async def text_of(request: web.Request, section: str, version: int) -> str | None:
    """The text of `version` (0: the configuration file's), None when there is none."""
    if version == 0:
        return str(request.app[SETTINGS].file_text(section))
    found = await request.app[STORE].get_settings_version(section, version)
    return None if found is None else found.body


async def restore_target(request: web.Request, section: str, body: dict[str, Any]) -> tuple[int, str] | web.Response:
    """(version, its text) a restore asks for, or the error answer naming `version`."""
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= VERSION_MAX:
        return api_error(400, f"version: the version to restore (integer 0-{VERSION_MAX})")
    text = await text_of(request, section, version)
    if text is None:
        return api_error(404, f"version: no {NAMES[section]} version {version}")
    return version, text


async def version_response(request: web.Request, section: str) -> web.Response:
    """GET .../versions/{version}: one stored version, or version 0 (the file's)."""
    try:
        version = int(request.match_info["version"])
    except ValueError:
        return api_error(400, "version: must be an integer")
    if not 0 <= version <= VERSION_MAX:
        return api_error(422, f"version: must be 0-{VERSION_MAX}")
    if version == 0:
        text = request.app[SETTINGS].file_text(section)
        return web.json_response({"version": 0, "text": text, "author": "", "comment": f"from {CONFIG_FILE}"})
    found = await request.app[STORE].get_settings_version(section, version)
    if found is None:
        return api_error(404, f"no {NAMES[section]} version {version}")
    return web.json_response(
        {
            "version": found.version,
            "text": found.body,
            "author": found.author,
            "comment": found.comment,
            "created_at": found.created_at,
        }
    )
