"""The do-not-call lists over the REST API (supervisor or admin):

- `GET /api/v1/dnc[?campaign=C][&number=N][&limit=L]`: the global list, or campaign
  C's; with `number`, whether (and how) that number is on it;
- `POST /api/v1/dnc[?campaign=C]` with `{"number": "..."}` or `{"numbers": [...]}`:
  add (201; a number already listed keeps its first entry);
- `DELETE /api/v1/dnc?number=N[&campaign=C]`: take a number off (404 when not on it).

The lists are the store's (`store.port.DoNotCallList`); the running dialers read them
before every dial, so a number added here is honoured from the next dial on. Bad input
is a 400 naming the field (`numbers[2]: ...`); numbers are read in the campaign's
`default_region` (US for the global list) and kept in E.164.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from cti.server import STORE
from dialer.leads import PhoneNumberError, normalize_phone
from store.models import DncEntry
from web.app import CLOCK, api_error, json_body, require
from web.audit import record

log = structlog.get_logger()

MAX_NUMBERS = 10_000  # per request (a larger list: `hotline dnc import`)
GLOBAL_REGION = "US"


class BadInput(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _entry_json(e: DncEntry) -> dict[str, Any]:
    return {
        "number": e.number,
        "campaign": e.campaign,
        "source": e.source,
        "added_at": e.added_at,
        "added_by": e.added_by,
    }


async def _campaign(request: web.Request) -> tuple[str, str]:
    """The list the request names ("" for the global one) and its numbers' region
    (the file's campaigns and those an admin created)."""
    name = request.query.get("campaign", "")
    if not name:
        return "", GLOBAL_REGION
    from web.campaigns_admin import configured

    campaigns = await configured(request)
    found = campaigns.get(name)
    if found is None:
        known = ", ".join(sorted(campaigns)) or "none configured"
        raise BadInput([f"campaign: unknown campaign {name!r} (configured: {known})"])
    return name, found.config.default_region


def _number(raw: Any, field: str, region: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BadInput([f"{field}: must be a phone number (a non-empty string)"])
    try:
        return normalize_phone(raw, region)
    except PhoneNumberError as exc:
        raise BadInput([f"{field}: {exc}"]) from None


def _bad(exc: BadInput) -> web.Response:
    return api_error(400, exc.problems[0], problems=exc.problems)


async def dnc_list(request: web.Request) -> web.Response:
    require(request, "supervisor")
    try:
        campaign, region = await _campaign(request)
        number = request.query.get("number")
        e164 = _number(number, "number", region) if number is not None else None
        try:
            limit = int(request.query.get("limit", MAX_NUMBERS))
        except ValueError:
            raise BadInput(["limit: must be an integer"]) from None
        if not 1 <= limit <= MAX_NUMBERS:
            raise BadInput([f"limit: must be 1-{MAX_NUMBERS}"])
    except BadInput as exc:
        return _bad(exc)
    entries = await request.app[STORE].dnc_entries(campaign, number=e164, limit=limit)
    return web.json_response({"campaign": campaign, "entries": [_entry_json(e) for e in entries]})


async def dnc_add(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    body = await json_body(request)
    try:
        campaign, region = await _campaign(request)
        unknown = sorted(set(body) - {"number", "numbers"})
        if unknown:
            raise BadInput([f"{k}: unknown field (send number or numbers)" for k in unknown])
        if ("number" in body) == ("numbers" in body):
            raise BadInput(["number: give one number, or numbers: a list of them"])
        if "number" in body:
            numbers = [_number(body["number"], "number", region)]
        else:
            raw = body["numbers"]
            if not isinstance(raw, list) or not raw:
                raise BadInput(["numbers: must be a non-empty list of phone numbers"])
            if len(raw) > MAX_NUMBERS:
                raise BadInput([f"numbers: at most {MAX_NUMBERS} per request (more: hotline dnc import)"])
            problems: list[str] = []
            numbers = []
            for i, item in enumerate(raw):
                try:
                    numbers.append(_number(item, f"numbers[{i}]", region))
                except BadInput as exc:
                    problems += exc.problems
            if problems:
                raise BadInput(problems)
    except BadInput as exc:
        return _bad(exc)
    now = request.app[CLOCK]()
    unique = list(dict.fromkeys(numbers))
    added = await request.app[STORE].add_dnc(DncEntry(n, campaign, "api", now, me.login) for n in unique)
    log.info("dnc_added", campaign=campaign or "(global)", numbers=len(unique), added=added, by=me.login)
    await record(request, "dnc.added", campaign or "(global)", numbers=len(unique), added=added)
    return web.json_response(
        {"campaign": campaign, "numbers": unique, "added": added, "already_listed": len(unique) - added}, status=201
    )


async def dnc_remove(request: web.Request) -> web.Response:
    me = require(request, "supervisor")
    try:
        campaign, region = await _campaign(request)
        if "number" not in request.query:
            raise BadInput(["number: required (?number=...)"])
        number = _number(request.query["number"], "number", region)
    except BadInput as exc:
        return _bad(exc)
    if not await request.app[STORE].remove_dnc(number, campaign):
        where = f"campaign {campaign}'s list" if campaign else "the global list"
        return api_error(404, f"number: {number} is not on {where}")
    log.info("dnc_removed", campaign=campaign or "(global)", number=number, by=me.login)
    await record(request, "dnc.removed", campaign or "(global)", number=number)
    return web.json_response({"campaign": campaign, "number": number, "removed": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/dnc", dnc_list)
    app.router.add_post("/api/v1/dnc", dnc_add)
    app.router.add_delete("/api/v1/dnc", dnc_remove)
