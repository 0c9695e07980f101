"""Campaigns defined or edited by an admin (/admin/campaigns), on top of hotline.toml's.

Kept in the store as the settings section `campaigns`, versioned like the other admin
sections: each version's body is `{"campaigns": {id: table}}` holding only the
campaigns an admin created or edited (a whole `[campaigns.<id>]` table each). What
runs is the configuration file's campaigns with those tables laid over them, so the
file's campaigns are the starting version of each (shown, edited from there) and a
save can never wipe the file's campaigns: a campaign not in the stored document is the
file's, as the file has it.

An admin edits the keys in `EDITABLE`; the others (the leads file, the dial pattern,
the dialplan context...) keep the file's values, and a campaign created from the page
has no leads file (`leads = ""`: its leads are uploaded, dialer/uploads.py). A new
campaign is created stopped (`enabled = false`): started from the page, it dials.

A deleted campaign (`delete`, only once stopped) is named in the document's `deleted`
list: it is no longer in the set that runs, whether the admin's or the file's, so no
dialer starts it again; its id is not given to a new campaign (its leads' rows, its
events and its customers' records keep that id, for the reports). Restoring an earlier
version restores that version's list too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from dialer.campaign import CampaignSection
from store.port import Conflict

SECTION = "campaigns"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# what the admin page and API may set (the rest stays as the file has it)
EDITABLE = (
    "name",
    "mode",
    "skill",
    "queue",
    "priority",
    "caller_id",
    "calling_window",
    "max_attempts",
    "retry",
    "drop_cap",
    "default_region",
    "no_answer_timeout_s",
    "amd_action",
    "enabled",
)
FILE = "hotline.toml"
ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class CampaignSet:
    """The campaigns that run: each id's whole table and where it comes from."""

    version: int  # 0: nothing stored (the file's campaigns only)
    tables: dict[str, dict[str, Any]]  # id -> a `[campaigns.<id>]` table (JSON values)
    origins: dict[str, str]  # id -> "hotline.toml" | "admin"
    edited: dict[str, dict[str, Any]]  # the stored document's tables (the admin's)
    deleted: tuple[str, ...] = ()  # ids an admin deleted (left out of `tables`)


def _table(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return CampaignSection.model_validate(dict(value)).model_dump(mode="json")


def file_tables(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The configuration file's `[campaigns.*]` as JSON tables (a bad one is left out:
    `hotline config check` and the dialers' start report it)."""
    out = {}
    for name, value in section.items():
        try:
            out[name] = _table(value)
        except ValidationError:
            continue
    return out


async def stored(store: Any) -> tuple[int, dict[str, dict[str, Any]]]:
    version, edited, _deleted = await _document(store)
    return version, edited


async def _document(store: Any) -> tuple[int, dict[str, dict[str, Any]], list[str]]:
    """(version, the admin's tables, the deleted ids) of the stored section."""
    found = await store.get_settings_version(SECTION)
    if found is None:
        return 0, {}, []
    body = json.loads(found.body)
    return found.version, dict(body.get("campaigns", {})), sorted({str(c) for c in body.get("deleted", [])})


async def campaign_set(store: Any, file_section: Mapping[str, Any]) -> CampaignSet:
    version, edited, deleted = await _document(store)
    tables = file_tables(file_section)
    origins = dict.fromkeys(tables, FILE)
    for cid, table in edited.items():
        tables[cid] = table
        origins[cid] = ADMIN
    for cid in deleted:
        tables.pop(cid, None)
        origins.pop(cid, None)
    return CampaignSet(version, dict(sorted(tables.items())), origins, edited, tuple(deleted))


def validate(cid: str, table: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """The normalised table, or the problems: [{"field": "calling_window.start",
    "message": "calling_window.start: ..."}]. The id must be the table's name."""
    if not ID_PATTERN.match(cid):
        return None, [_problem("id", "1-64 letters, digits, '_', '.', '-' (starting with a letter or digit)")]
    try:
        section = CampaignSection.model_validate({**table, "id": cid})
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(p) for p in error["loc"]) or "(campaign)"
            reason = "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"])
            problems.append(_problem(field, reason.removeprefix("Value error, ")))
        return None, problems
    return section.model_dump(mode="json"), []


def _problem(field: str, reason: str) -> dict[str, str]:
    return {"field": field, "message": f"{field}: {reason}"}


def editable_changes(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The keys of a request that an admin may set; any other key is a problem."""
    problems = [
        _problem(k, "cannot be set here (one of: " + ", ".join(EDITABLE) + ")") for k in body if k not in EDITABLE
    ]
    return {k: v for k, v in body.items() if k in EDITABLE}, problems


async def save(
    store: Any, cid: str, table: dict[str, Any], *, author: str, comment: str, base_version: int, at: float
) -> int:
    """Store `table` (validated) as campaign `cid`'s in a new version; Conflict when
    `base_version` is not the live one."""
    version, edited, deleted = await _document(store)
    if version != base_version:
        raise Conflict(f"campaigns: version {base_version} is not the live one ({version})")
    edited[cid] = table
    return await _put(store, edited, deleted, author=author, comment=comment, base_version=base_version, at=at)


async def delete(store: Any, cid: str, *, author: str, comment: str, base_version: int, at: float) -> int:
    """Delete campaign `cid` in a new version (its table dropped, its id listed as
    deleted); Conflict when `base_version` is not the live one."""
    version, edited, deleted = await _document(store)
    if version != base_version:
        raise Conflict(f"campaigns: version {base_version} is not the live one ({version})")
    edited.pop(cid, None)
    return await _put(
        store, edited, sorted({*deleted, cid}), author=author, comment=comment, base_version=base_version, at=at
    )


async def _put(
    store: Any,
    edited: dict[str, dict[str, Any]],
    deleted: list[str],
    *,
    author: str,
    comment: str,
    base_version: int,
    at: float,
) -> int:
    document: dict[str, Any] = {"campaigns": dict(sorted(edited.items()))}
    if deleted:
        document["deleted"] = deleted
    saved = await store.put_settings_version(
        SECTION,
        json.dumps(document, sort_keys=True),
        author=author,
        comment=comment,
        expected_version=base_version,
        at=at,
    )
    return int(saved.version)


async def restore(store: Any, version: int, *, author: str, comment: str, base_version: int, at: float) -> int | None:
    """Store the admin's tables of an earlier `version` as a new version (0: none, the
    file's campaigns as the file has them); None when there is no such version. A
    campaign the restored version does not have is gone from the list: its dialer, if
    one runs, dials nothing new (Live.apply_campaigns)."""
    if version == 0:
        body = json.dumps({"campaigns": {}})
    else:
        found = await store.get_settings_version(SECTION, version)
        if found is None:
            return None
        body = found.body
    saved = await store.put_settings_version(
        SECTION, body, author=author, comment=comment, expected_version=base_version, at=at
    )
    return int(saved.version)


def live_section(campaigns: CampaignSet) -> dict[str, Any]:
    """The `[campaigns]` section the dialers start from (dialer.live.parse_live_campaigns)."""
    return dict(campaigns.tables)


__all__ = [
    "ADMIN",
    "EDITABLE",
    "FILE",
    "SECTION",
    "CampaignSet",
    "campaign_set",
    "delete",
    "editable_changes",
    "file_tables",
    "live_section",
    "restore",
    "save",
    "validate",
]
