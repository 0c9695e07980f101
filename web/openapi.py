"""The REST API's OpenAPI 3.1 document (`GET /api/v1/openapi.json`, public).

Authentication: `Authorization: Bearer <token>` (create one with POST /api/v1/tokens
from a logged-in session), or the session cookie plus the `X-CSRF-Token` header for
state-changing requests. A test checks that every /api/v1 route is described here.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from agents.commands import json_schema
from reports.export import CSV_SECTIONS as EXPORT_SECTIONS
from reports.export import XLSX_TYPE
from store.models import CALLBACK_CLOSED, CALLBACK_OPEN

# a day in a query: YYYY-MM-DD; empty is as if left out (the pages' forms send empty fields)
_INTERVAL = {"enum": [900, 1800, 3600, 86400, "day", "week", "month"]}  # /reports: seconds, or whole days
_DAY = {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$", "description": "YYYY-MM-DD"}

_PAGING = (
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
)


def _op(
    summary: str,
    role: str,
    body: str | None = None,
    ok: str = "200",
    errors: tuple[str, ...] = (),
    also_ok: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Requires the {role} role.",
        "responses": {code: {"description": "OK", "content": {"application/json": {}}} for code in (ok, *also_ok)},
    }
    for code in ("401", "403", *errors, *_ALWAYS):
        op["responses"][code] = {"$ref": f"#/components/responses/E{code}"}
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return op


def _section(name: str) -> dict[str, Any]:
    return {
        "get": _op(f"Live {name} settings and version", "supervisor"),
        "put": _op(
            f"Replace the {name} settings (new version; base_version must be the live one)",
            "admin",
            "SettingsUpdate",
            errors=("400", "409"),
        ),
    }


_TIME = {"type": "string", "description": "HH:MM or HH:MM:SS, the lead's local time"}
# what an admin sets on a campaign (dialer/definitions.py EDITABLE; the server checks the rest)
_CAMPAIGN_SETTINGS: dict[str, Any] = {
    "name": {"type": "string"},
    "mode": {"enum": ["preview", "progressive", "predictive"]},
    "skill": {"type": "string", "description": "one of the skills catalogue"},
    "queue": {"type": "string", "description": "empty: campaign-<id>"},
    "priority": {"type": "integer", "minimum": 0, "maximum": 9},
    "caller_id": {"type": "string"},
    "calling_window": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "start": _TIME,
            "end": _TIME,
            "days": {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
        },
    },
    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
    "retry": {
        "type": "object",
        "description": "per outcome (busy, no_answer, machine, dropped, congestion, failed)",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"delay_minutes": {"type": "number", "minimum": 0}, "retry": {"type": "boolean"}},
        },
    },
    "drop_cap": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "description": "the abandon cap"},
    "default_region": {"type": "string", "minLength": 2, "maxLength": 2},
    "no_answer_timeout_s": {"type": "number", "minimum": 15},
    "amd_action": {"enum": ["message", "hangup"]},
    "enabled": {"type": "boolean", "description": "false: stopped"},
}
_MAIL_READERS = "agent (the task's), supervisor (that agent's team; any while unassigned), admin"  # (mail/web.py)
_DNC_CAMPAIGN = {
    "name": "campaign",
    "in": "query",
    "description": "the campaign's list (absent: the global list)",
    "schema": {"type": "string"},
}
_DNC_NUMBER = {"name": "number", "in": "query", "schema": {"type": "string"}}
_DNC_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}}

_CUSTOMER_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": 200},
    "company": {"type": "string", "maxLength": 200},
    "tier": {"type": "string", "maxLength": 40},
    "email": {"type": "string", "maxLength": 200},
    "account_number": {"type": "string", "maxLength": 64},
    "notes": {"type": "string", "maxLength": 20000},
    "phone": {"type": "string", "maxLength": 40},
    "phones": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 40}},
    "attributes": {"type": "object", "maxProperties": 50},
}

# what any operation may answer: input refused at the door (web.inputs), a store or
# bus outage (web.outage)
_ALWAYS = ("413", "422", "503")

_ERRORS = {
    code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for code, text in (
        ("400", "Invalid input (problems name the field)"),
        ("401", "Not authenticated"),
        ("403", "Role or scope does not allow it"),
        ("404", "Not found"),
        ("409", "Stale version / conflict"),
        ("413", "Body too large"),
        ("429", "Too many requests (Retry-After)"),
        ("422", "Not storable text, nested too deep, or out of range (the error names the field)"),
        ("501", "Not available"),
        ("503", "The store or the bus is unavailable (Retry-After)"),
    )
}

# A command is kept in the store before the call server is asked (web/commands.py).
_COMMAND_POST = _op(
    "Availability, pause, logout and call controls via the call server (kept until it answers; a retry"
    " with the same request_id is applied once and gets the first answer); a written task's actions"
    " (task_accept, task_reply, task_transfer, task_close) are applied by the web at once (404: no such task;"
    " 409: not the agent's, ended, or for task_accept an offer that is not theirs any more)",
    "agent (self), supervisor (team), admin",
    "Command",
    errors=("400", "404", "409", "503"),
)
_COMMAND_POST["responses"]["200"]["description"] = "Applied (`repeated`: the first answer to this request_id)"
_COMMAND_POST["responses"]["409"] = {
    "description": "Refused by the call server, with its reason (or expired: it waited too long for it)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_COMMAND_POST["responses"]["202"] = {
    "description": "No reply from the call server in time: the command is kept and applied when the live"
    " server is back, or refused if it waits longer than [pbx] command_ttl_s; GET the `status` URL",
    "content": {"application/json": {}},
}

# A call-back waiting to be dialled is cancelled for good (web/callbacks.py).
_CALLBACK_CANCEL = _op(
    "Cancel a call-back waiting to be dialled (never dialled again; cancelling it again is 200 `repeated`)",
    "agent (own), supervisor, admin",
    errors=("404", "409"),
)
_CALLBACK_CANCEL["responses"]["409"] = {
    "description": "Being dialled now, or kept / failed already",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Hotline REST API", "version": "1"},
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "hotline_session"},
        },
        "responses": {f"E{k}": v for k, v in _ERRORS.items()},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "problems": {
                        "type": "array",
                        "description": "one line per problem naming the field, or (routing rules) where in the text",
                        "items": {
                            "anyOf": [
                                {"type": "string"},
                                {"$ref": "#/components/schemas/RuleProblem"},
                                {"$ref": "#/components/schemas/FlowProblem"},
                            ]
                        },
                    },
                },
            },
            "RuleProblem": {
                "type": "object",
                "required": ["line", "col", "path", "reason", "message"],
                "properties": {
                    "line": {"type": ["integer", "null"]},
                    "col": {"type": ["integer", "null"]},
                    "path": {"type": "string"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
            "FlowProblem": {
                "type": "object",
                "description": "a problem in an IVR flow's text (line: None when it is not at one line)",
                "required": ["line", "message"],
                "properties": {"line": {"type": ["integer", "null"]}, "message": {"type": "string"}},
            },
            "SettingsUpdate": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {"type": "object", "additionalProperties": {"type": "object"}},
                    "base_version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "comment": {"type": "string", "maxLength": 500},
                },
            },
            "RecordingPolicy": {
                "type": "object",
                "required": ["base_version"],
                "additionalProperties": False,
                "properties": {
                    "default": {"$ref": "#/components/schemas/RecordingPolicyValue"},
                    "queues": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/RecordingPolicyValue"},
                    },
                    "campaigns": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/RecordingPolicyValue"},
                    },
                    "base_version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "comment": {"type": "string", "maxLength": 500},
                },
            },
            "RecordingPolicyValue": {
                "type": "string",
                "description": "all, never, on_demand or a percentage N% (0-100)",
                "pattern": "^(all|never|on_demand|0{0,2}[0-9]%|0?[1-9][0-9]%|100%)$",
            },
            "Rules": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
            "RulesApply": {
                "type": "object",
                "required": ["text", "base_version"],
                "properties": {
                    "text": {"type": "string"},
                    "base_version": {"type": "integer"},
                    "comment": {"type": "string", "maxLength": 500},
                    "confirm_empty": {"type": "boolean", "description": "required to apply rules naming no queue"},
                },
            },
            "IvrSimulate": {
                "type": "object",
                "required": ["text"],
                "properties": {
                    "text": {"type": "string"},
                    "caller": {"type": "string", "maxLength": 40},
                    "digits": {"type": "array", "maxItems": 20, "items": {"type": "string", "maxLength": 40}},
                    "at": {"type": "string", "description": "local date and time YYYY-MM-DDTHH:MM"},
                },
            },
            "CampaignSettings": {
                "type": "object",
                "required": ["base_version"],
                "additionalProperties": False,
                "description": "the settings not given stay as they are (a new campaign: the defaults)",
                "properties": {
                    **_CAMPAIGN_SETTINGS,
                    "base_version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "comment": {"type": "string", "maxLength": 500},
                },
            },
            "CampaignsRestore": {
                "type": "object",
                "required": ["version", "base_version"],
                "properties": {
                    "version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "base_version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "comment": {"type": "string", "maxLength": 500},
                },
            },
            "CampaignCreate": {
                "type": "object",
                "required": ["id", "base_version"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
                    **_CAMPAIGN_SETTINGS,
                    "base_version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                    "comment": {"type": "string", "maxLength": 500},
                },
            },
            "LeadsUpload": {
                "type": "object",
                "required": ["csv"],
                "properties": {
                    "csv": {"type": "string", "maxLength": 1000000, "description": "header lead_id,phone,..."},
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                },
            },
            "SchedulePut": {
                "type": "object",
                "required": ["shifts"],
                "properties": {
                    "shifts": {
                        "type": "array",
                        "maxItems": 20000,
                        "items": {
                            "type": "object",
                            "required": ["agent", "start", "end"],
                            "additionalProperties": False,
                            "properties": {
                                "agent": {"type": "string"},
                                "start": {"type": ["number", "string"], "description": "epoch s or ISO 8601 with zone"},
                                "end": {"type": ["number", "string"]},
                                "break": {"type": ["array", "null"], "items": {"type": ["number", "string"]}},
                            },
                        },
                    },
                    "comment": {"type": "string", "maxLength": 500},
                },
            },
            "WebhookCreate": {
                "type": "object",
                "required": ["url", "events"],
                "properties": {
                    "url": {"type": "string", "maxLength": 2000, "description": "http(s); no private address"},
                    "events": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "enum": ["call.ended", "interaction.wrapped_up", "callback.scheduled", "alert.raised"]
                        },
                    },
                    "secret": {"type": "string", "minLength": 16, "maxLength": 200},
                },
            },
            "TeamRename": {
                "type": "object",
                "required": ["to"],
                "properties": {"to": {"type": "string", "maxLength": 64}},
            },
            "TeamMove": {
                "type": "object",
                "required": ["team"],
                "properties": {"team": {"type": "string", "minLength": 1, "maxLength": 64}},
            },
            "Board": {
                "type": "object",
                "required": ["tiles"],
                "properties": {
                    "tiles": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {
                            "type": "string",
                            "enum": ["alerts", "totals", "outbound", "queues", "teams", "agents"],
                        },
                    }
                },
            },
            "RulesRestore": {
                "type": "object",
                "required": ["version", "base_version"],
                "properties": {
                    "version": {"type": "integer", "description": "0: the configuration file's rules"},
                    "base_version": {"type": "integer"},
                    "comment": {"type": "string", "maxLength": 500},
                    "confirm_empty": {"type": "boolean"},
                },
            },
            "User": {
                "type": "object",
                "properties": {
                    "display_name": {"type": "string"},
                    "role": {"enum": ["agent", "supervisor", "admin"]},
                    "team": {"type": "string"},
                    "skills": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 10},
                    },
                    "languages": {"type": "array", "items": {"type": "string"}},
                    "phone_endpoint": {"type": "string"},
                    "pbx": {"type": "string", "description": "the [[pbx]] the phone is on (empty: the first)"},
                    "password": {"type": "string", "minLength": 8},
                    "disabled": {
                        "type": "boolean",
                        "description": "a disabled user cannot log in; their sessions and tokens stop at once",
                    },
                },
            },
            "PasswordChange": {
                "type": "object",
                "required": ["current", "new"],
                "properties": {"current": {"type": "string"}, "new": {"type": "string", "minLength": 8}},
            },
            "CallbackRequest": {
                "type": "object",
                "required": ["name", "phone"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "phone": {"type": "string", "maxLength": 40},
                    "email": {"type": "string", "maxLength": 200},
                    "queue": {"type": "string", "maxLength": 100, "description": "one of the admin's queues"},
                    "at": {"type": "number", "description": "epoch seconds (absent: as soon as possible)"},
                    "notes": {"type": "string", "maxLength": 1000},
                    "request_id": {"type": "string", "maxLength": 64},
                },
            },
            "WrapUp": {
                "type": "object",
                "required": ["disposition"],
                "properties": {
                    "disposition": {"type": "string"},
                    "notes": {"type": "string"},
                    "callback_at": {"type": "number", "description": "epoch seconds"},
                    "callback_number": {"type": "string"},
                    "customer_id": {"type": "string"},
                },
            },
            "NewCustomer": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "id": {"type": "string", "maxLength": 64, "description": "admin only (else chosen here)"},
                    "call_id": {"type": "string", "description": "an agent's: the call whose caller this is"},
                    **_CUSTOMER_FIELDS,
                },
            },
            "CustomerUpdate": {
                "type": "object",
                "description": "Only the fields sent change. `phones` replaces the list; `phone` adds one number.",
                "properties": _CUSTOMER_FIELDS,
            },
            "CustomerNote": {
                "type": "object",
                "required": ["text"],
                "properties": {
                    "text": {"type": "string", "minLength": 1, "maxLength": 4000},
                    "call_id": {"type": "string", "description": "required for an agent: a call they handle now"},
                },
            },
            "TokenCreate": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "login": {"type": "string"},
                    "scopes": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"enum": ["read", "agent", "admin"]},
                        "description": "read: reading only; agent: reading and the desktop's calls (commands,"
                        " wrap-up, customer notes); admin: all the user's role allows. Default: read",
                    },
                    "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 90},
                },
            },
            "DncAdd": {
                "type": "object",
                "description": "One number or a list of them (at most 10000), national numbers in the"
                " campaign's default_region (US for the global list)",
                "properties": {
                    "number": {"type": "string"},
                    "numbers": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10000},
                },
            },
        },
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/api/v1/me": {"get": _op("Who is calling", "agent")},
        "/api/v1/me/password": {
            "post": _op(
                "Change one's own password (session only); every other session of the user ends",
                "agent",
                "PasswordChange",
                errors=("400",),
            )
        },
        "/api/v1/tokens": {
            "get": _op("API tokens (own; admin: all)", "agent"),
            "post": _op(
                "Create an API token with scopes and an expiry (the secret is shown once)",
                "agent (own), admin (anyone's)",
                "TokenCreate",
                ok="201",
                errors=("400", "404"),
            ),
        },
        "/api/v1/tokens/{token_id}": {"delete": _op("Revoke a token", "agent", errors=("404",))},
        "/api/v1/queues": _section("queues"),
        "/api/v1/skills": _section("skills"),
        "/api/v1/pause-codes": _section("pause codes"),
        "/api/v1/dispositions": _section("dispositions"),
        "/api/v1/alert-rules": _section("wallboard alert rules"),
        "/api/v1/recording-policy": {
            "get": _op("The live recording policy (default, per queue, per campaign), its version", "supervisor"),
            "put": _op(
                "Set the recording policy (all, never, on_demand or N%); a new version, taken by the live loop at"
                " once; base_version must be the live one",
                "admin",
                "RecordingPolicy",
                errors=("400", "409"),
            ),
        },
        "/api/v1/users": {"get": _op("Users (supervisor: agents of their teams)", "supervisor")},
        "/api/v1/users/{login}": {
            "put": _op(
                "Create or update a user, skills and proficiencies (a new role or password, or disabled:"
                " every session of the user ends); 201 when created",
                "admin",
                "User",
                errors=("400",),
                also_ok=("201",),
            ),
            "delete": _op(
                "Delete a user: their sessions end and their API tokens are revoked at once; their calls and"
                " history keep their login. Not yourself, not the last admin (409)",
                "admin",
                errors=("404", "409"),
            ),
        },
        "/api/v1/users/{login}/sessions": {
            "delete": _op("Sign a user out everywhere, at once", "admin (anyone), agent (self)", errors=("404",))
        },
        "/api/v1/routing": {"get": _op("Live routing rules (TOML), version and history", "supervisor")},
        "/api/v1/routing/versions/{version}": {
            "get": _op("One stored routing version", "supervisor", errors=("400", "404"))
        },
        "/api/v1/routing/validate": {
            "post": _op("Validate rules; problems carry line/col/path", "admin", "Rules", errors=("400",))
        },
        "/api/v1/routing/diff": {
            "post": _op("Unified diff against the live version", "admin", "Rules", errors=("400",))
        },
        "/api/v1/routing/simulate": {
            "post": _op("What-if on the last 7 days (simulator)", "admin", "Rules", errors=("400", "501"))
        },
        "/api/v1/routing/apply": {
            "post": _op(
                "Apply rules as a new version (atomic, optimistic)", "admin", "RulesApply", errors=("400", "409")
            )
        },
        "/api/v1/routing/restore": {
            "post": _op(
                "Restore an earlier version (0: the configuration file's) as a new version",
                "admin",
                "RulesRestore",
                errors=("400", "404", "409"),
            )
        },
        "/api/v1/campaigns": {
            "get": _op(
                "The campaigns (hotline.toml's and the admin's), settings, state, live numbers, versions",
                "supervisor",
            ),
            "post": _op(
                "Create a campaign (created stopped; a new version, audited)",
                "admin",
                "CampaignCreate",
                ok="201",
                errors=("400", "409"),
            ),
        },
        "/api/v1/campaigns/restore": {
            "post": _op(
                "Restore an earlier version of the campaigns' definitions (0: hotline.toml's only), audited",
                "admin",
                "CampaignsRestore",
                errors=("400", "404", "409"),
            )
        },
        "/api/v1/campaigns/{campaign}": {
            "put": _op(
                "Edit a campaign's settings: applied live to its dialer (a new version, audited)",
                "admin",
                "CampaignSettings",
                errors=("400", "404", "409"),
            ),
            "delete": _op(
                "Delete a stopped campaign (409 while it runs, is paused or has calls in progress);"
                " its leads, events and reports stay, its id is not reused (a new version, audited)",
                "admin",
                errors=("404", "409"),
            ),
        },
        "/api/v1/campaigns/{campaign}/stop": {
            "post": _op(
                "Stop a campaign: no new dial, not started again at a restart (audited)",
                "admin",
                errors=("404", "409"),
            )
        },
        "/api/v1/campaigns/{campaign}/pause": {
            "post": _op("Pause a campaign: no new dial, also after a restart (audited)", "admin", errors=("404",))
        },
        "/api/v1/campaigns/{campaign}/leads": {
            "post": _op(
                "Upload leads (CSV text): added, duplicates, rejected rows by line; dialled at once (audited)",
                "admin",
                "LeadsUpload",
                ok="201",
                also_ok=("200",),
                errors=("400", "404"),
            )
        },
        "/api/v1/campaigns/{campaign}/start": {
            "post": _op("Start a paused or stopped campaign (audited)", "admin", errors=("404", "409"))
        },
        "/api/v1/ivr": {
            "get": _op("The IVR flow that runs (TOML; version 0: hotline.toml's) and its history", "supervisor")
        },
        "/api/v1/ivr/versions/{version}": {
            "get": _op("One IVR version (0: hotline.toml's)", "supervisor", errors=("400", "404"))
        },
        "/api/v1/ivr/validate": {
            "post": _op("Validate a flow; problems carry their line", "admin", "Rules", errors=("400",))
        },
        "/api/v1/ivr/diff": {"post": _op("Unified diff against the live flow", "admin", "Rules", errors=("400",))},
        "/api/v1/ivr/simulate": {
            "post": _op(
                "Walk a flow with a caller, digits and a time: steps and outcome",
                "admin",
                "IvrSimulate",
                errors=("400",),
            )
        },
        "/api/v1/ivr/apply": {
            "post": _op(
                "Apply a flow as a new version; the live IVR takes it at once",
                "admin",
                "RulesApply",
                errors=("400", "409"),
            )
        },
        "/api/v1/ivr/restore": {
            "post": _op(
                "Restore an earlier version (0: hotline.toml's)", "admin", "RulesRestore", errors=("400", "404", "409")
            )
        },
        "/api/v1/agents/{agent_id}/commands": {"post": _COMMAND_POST},
        "/api/v1/commands/{request_id}": {
            "get": _op(
                "Where a kept command stands: pending, applied, refused (with the reason) or expired",
                "agent (self), supervisor (team), admin",
                errors=("404",),
            )
        },
        "/api/v1/agents/{agent_id}/tasks": {
            "get": _op(
                "The agent's open written tasks (chat, e-mail...), offered (to accept: task_accept) or assigned:"
                " each with its transcript, customer and history across channels",
                "agent (self), supervisor (team), admin",
            )
        },
        "/api/v1/agents/{agent_id}/screen-pop": {
            "get": _op("The agent's latest screen-pop", "agent (self), supervisor (team), admin", errors=("404",))
        },
        "/api/v1/interactions": {
            "get": {
                **_op(
                    "Find interactions, latest first (paged; a supervisor names only their teams' agents)",
                    "supervisor",
                    errors=("400",),
                ),
                "parameters": [
                    *(
                        {"name": name, "in": "query", "schema": {"type": "string", "maxLength": 200}}
                        for name in ("customer_id", "agent_id", "queue", "direction", "outcome", "disposition")
                    ),
                    {"name": "from", "in": "query", "schema": _DAY},
                    {"name": "to", "in": "query", "schema": _DAY},
                    *_PAGING,
                ],
            }
        },
        "/api/v1/interactions/{call_id}/wrap-up": {
            "post": _op(
                "Save disposition, notes, callback; ends wrap-up", "agent (the call's)", "WrapUp", errors=("400",)
            )
        },
        "/api/v1/interactions/{call_id}/recording": {
            "get": _op(
                "The call's recording (audio/wav); each playback is audited (recording.play)",
                "agent (who took the call), supervisor (that agent's team), admin",
                errors=("404",),
            )
        },
        "/api/v1/mail/attachments/{attachment_id}": {
            "get": _op(
                "A received e-mail attachment (images inline, anything else as a download); audited (mail.attachment)",
                _MAIL_READERS,
                errors=("404",),
            )
        },
        "/api/v1/tasks/{task_id}/messages/{message_id}/html": {
            "get": _op(
                "A received e-mail's HTML, sanitised, as a page for a sandboxed iframe (strict CSP)",
                _MAIL_READERS,
                errors=("404",),
            )
        },
        "/api/v1/tasks/{task_id}/mail": {
            "get": _op(
                "An e-mail task's replies in the outbox (queued, sending, sent, failed) and its attachments",
                _MAIL_READERS,
                errors=("404",),
            )
        },
        "/api/v1/customers": {
            "get": {
                **_op("Find customers by name, company, email, account or number (paged)", "agent", errors=("400",)),
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}}, *_PAGING],
            },
            "post": _op(
                "Create a customer, never replacing one (409 for an id that exists)",
                "admin (any id), agent (the caller of a call they handle; id chosen by the server)",
                "NewCustomer",
                ok="201",
                errors=("400", "409"),
            ),
        },
        "/api/v1/customers/{customer_id}": {
            "patch": _op("Change the fields sent, keep the others", "admin", "CustomerUpdate", errors=("400", "404")),
            "delete": _op(
                "Erase the customer (an erasure request): the record, their interactions and those calls'"
                " recordings; audited. 404 when nothing of theirs is kept",
                "admin",
                errors=("404",),
            ),
        },
        "/api/v1/customers/{customer_id}/notes": {
            "post": _op(
                "Append a dated, signed note",
                "admin, agent (the customer of a call they handle now)",
                "CustomerNote",
                ok="201",
                errors=("400", "404", "409"),
            )
        },
        "/api/v1/wallboard": {"get": _op("Wallboard snapshot (supervisor: their teams)", "supervisor")},
        "/api/v1/alerts/history": {
            "get": {
                **_op(
                    "Wallboard alerts raised, their numbers and when each cleared (latest first)",
                    "supervisor",
                    errors=("400",),
                ),
                "parameters": [
                    {"name": "from", "in": "query", "schema": _DAY},
                    {"name": "to", "in": "query", "schema": _DAY},
                    {"name": "queue", "in": "query", "schema": {"type": "string"}},
                ],
            }
        },
        "/api/v1/reports": {
            "get": {
                **_op("Historical KPIs by interval, queue, team, agent", "supervisor", errors=("400",)),
                "parameters": [
                    {"name": "from", "in": "query", "schema": _DAY},
                    {"name": "to", "in": "query", "schema": _DAY},
                    {"name": "interval", "in": "query", "schema": _INTERVAL},
                    {"name": "queue", "in": "query", "schema": {"type": "string"}},
                ],
            }
        },
        **{
            f"/reports/export.{fmt}": {
                "get": {
                    **_op(
                        f"One section of the report as {what} (the same columns in both)", "supervisor", errors=("400",)
                    ),
                    "parameters": [
                        {"name": "section", "in": "query", "schema": {"enum": list(EXPORT_SECTIONS)}},
                        {"name": "from", "in": "query", "schema": _DAY},
                        {"name": "to", "in": "query", "schema": _DAY},
                        {"name": "interval", "in": "query", "schema": _INTERVAL},
                        {"name": "queue", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        **_op("", "supervisor", errors=("400",))["responses"],
                        "200": {"description": "the file (an attachment)", "content": {media: {}}},
                    },
                }
            }
            for fmt, what, media in (
                ("csv", "CSV", "text/csv"),
                ("xlsx", "an XLSX workbook (numbers as numbers)", XLSX_TYPE),
            )
        },
        "/api/v1/schedule": {
            "get": _op("The published schedule (shifts; supervisor: their teams' agents)", "supervisor"),
            "put": _op(
                "Publish the schedule: shifts per agent (a supervisor replaces their teams'); a new version (audited)",
                "supervisor",
                "SchedulePut",
                errors=("400",),
            ),
        },
        "/api/v1/adherence": {
            "get": {
                **_op(
                    "Adherence and conformance to the schedule per agent, interval and team",
                    "supervisor",
                    errors=("400",),
                ),
                "parameters": [
                    {"name": "date", "in": "query", "schema": _DAY},
                    {"name": "interval", "in": "query", "schema": {"enum": [900, 1800, 3600]}},
                ],
            }
        },
        "/api/v1/webhooks": {
            "get": _op("Webhook subscriptions and the events one may choose", "admin"),
            "post": _op(
                "Subscribe a URL to events; signed deliveries (the secret is shown once) (audited)",
                "admin",
                "WebhookCreate",
                ok="201",
                errors=("400",),
            ),
        },
        "/api/v1/webhooks/deliveries": {
            "get": {
                **_op(
                    "The webhook delivery log, latest first, with each delivery's status",
                    "admin",
                    errors=("400", "404"),
                ),
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"enum": ["pending", "delivered", "failed"]}},
                    {"name": "subscription", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                ],
            }
        },
        "/api/v1/webhooks/{webhook_id}": {
            "delete": _op(
                "Delete a subscription; its pending deliveries are failed (audited)", "admin", errors=("404",)
            )
        },
        "/api/v1/teams": {
            "get": _op("Teams with their agents, supervisors and disabled users", "supervisor (own), admin")
        },
        "/api/v1/teams/{team}/rename": {
            "post": _op(
                "Rename a team on every user who has it (audited)", "admin", "TeamRename", errors=("400", "404", "409")
            )
        },
        "/api/v1/team-moves": {
            "get": _op("Today's team moves (each until local midnight)", "supervisor (their teams), admin")
        },
        "/api/v1/agents/{agent_id}/team-move": {
            "put": _op(
                "Move an agent to another team until local midnight (audited; their own team: the move ends)",
                "supervisor (of both teams), admin",
                "TeamMove",
                errors=("400", "404"),
            ),
            "delete": _op(
                "End an agent's move: back in their own team now (audited)",
                "supervisor (of both teams), admin",
                errors=("400", "404"),
            ),
        },
        "/api/v1/agents/{agent_id}/calls": {
            "get": _op(
                "The agent's calls today, latest first: time, queue, customer, duration, disposition, recording",
                "agent (self), supervisor (team), admin",
                errors=("404",),
            )
        },
        "/api/v1/wallboard/queues/{queue}": {
            "get": _op(
                "A queue's calls waiting now (who, how long) and its agents (state, time in state)",
                "supervisor (their teams' agents), admin",
                errors=("404",),
            )
        },
        "/api/v1/wallboard/boards": {
            "get": _op("The saved wallboards (name, tiles) and the tiles there are", "supervisor, admin")
        },
        "/api/v1/wallboard/boards/{name}": {
            "put": _op(
                "Save a wallboard: its tiles, in order (audited)", "supervisor, admin", "Board", errors=("400", "409")
            ),
            "delete": _op("Remove a saved wallboard (audited)", "supervisor, admin", errors=("400", "404")),
        },
        "/api/v1/agents/{agent_id}/today": {
            "get": _op(
                "The agent's queues now, today's numbers, open call-backs and calls",
                "agent (self), supervisor (team), admin",
            )
        },
        "/api/v1/reports/agents/{login}": {
            "get": {
                **_op(
                    "One agent's KPIs day by day and their calls",
                    "supervisor (their teams' agents)",
                    errors=("400", "404"),
                ),
                "parameters": [
                    {"name": "from", "in": "query", "schema": _DAY},
                    {"name": "to", "in": "query", "schema": _DAY},
                ],
            }
        },
        "/api/v1/reports/abandoned": {
            "get": {
                **_op(
                    "Abandoned calls, latest first, each with where it stands (paged)", "supervisor", errors=("400",)
                ),
                "parameters": [
                    {"name": "from", "in": "query", "schema": _DAY},
                    {"name": "to", "in": "query", "schema": _DAY},
                    {"name": "queue", "in": "query", "schema": {"type": "string"}},
                    *_PAGING,
                ],
            }
        },
        "/api/v1/reports/abandoned/{call_id}/callback": {
            "post": _op(
                "Queue a call-back, due now, to an abandoned call's caller (audited)",
                "supervisor",
                ok="201",
                errors=("400", "404", "409"),
            )
        },
        "/api/v1/dnc": {
            "get": {
                **_op("A do-not-call list: the global one, or the campaign's", "supervisor", errors=("400",)),
                "parameters": [_DNC_CAMPAIGN, {**_DNC_NUMBER, "description": "only this number's entry"}, _DNC_LIMIT],
            },
            "post": {
                **_op(
                    "Add numbers to a do-not-call list (honoured from the next dial)",
                    "supervisor",
                    "DncAdd",
                    ok="201",
                    errors=("400",),
                ),
                "parameters": [_DNC_CAMPAIGN],
            },
            "delete": {
                **_op("Take a number off a do-not-call list", "supervisor", errors=("400", "404")),
                "parameters": [_DNC_CAMPAIGN, {**_DNC_NUMBER, "required": True}],
            },
        },
        "/api/v1/reports/channels": {
            "get": {
                **_op(
                    "Per channel (voice, chat, email, callback): offered, answered, abandoned, first response,"
                    " handle time and agents' concurrency over the days",
                    "supervisor",
                    errors=("400",),
                ),
                "parameters": [
                    {"name": "from", "in": "query", "schema": _DAY},
                    {"name": "to", "in": "query", "schema": _DAY},
                ],
            }
        },
        "/api/v1/wallboard/channels": {
            "get": _op("Per written channel now: tasks waiting, longest wait, being handled, overdue", "supervisor")
        },
        "/api/v1/callback-requests": {
            "post": {
                **_op(
                    "A customer asks to be called back at a time (the public form's API): kept as a call-back"
                    " promise (kind web) before the answer; a request_id sent again returns the first (200)",
                    "no sign-in (the page's CSRF token) or an admin API token; rate-limited per address and number",
                    "CallbackRequest",
                    ok="201",
                    errors=("400", "429"),
                    also_ok=("200",),
                ),
                "security": [{}, {"bearer": []}],
            }
        },
        "/api/v1/callbacks": {
            "get": {
                **_op(
                    "Call-back promises by due time (an agent: their own)",
                    "agent (own), supervisor, admin",
                    errors=("400",),
                ),
                "parameters": [
                    {"name": "state", "in": "query", "schema": {"enum": [*CALLBACK_OPEN, *CALLBACK_CLOSED]}},
                    {"name": "queue", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "agent",
                        "in": "query",
                        "description": "the agent who promised it",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "due_from",
                        "in": "query",
                        "description": "epoch seconds (due_at >= it)",
                        "schema": {"type": "number"},
                    },
                    {
                        "name": "due_to",
                        "in": "query",
                        "description": "epoch seconds (due_at < it)",
                        "schema": {"type": "number"},
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
                ],
            }
        },
        "/api/v1/callbacks/{callback_id}": {"delete": _CALLBACK_CANCEL},
        "/api/v1/callbacks/{callback_id}/cancel": {"post": _CALLBACK_CANCEL},
        "/api/v1/audit": {
            "get": {
                **_op(
                    "The audit log of admin actions (users, settings, routing, tokens, customers, do-not-call),"
                    " latest first",
                    "admin",
                    errors=("400",),
                ),
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {
                        "name": "before",
                        "in": "query",
                        "description": "entries before this seq (the next page: next_before)",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {"name": "actor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "action",
                        "in": "query",
                        "description": "an action (user.saved) or its prefix (settings)",
                        "schema": {"type": "string"},
                    },
                ],
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OK"}}}
        },
    },
}


def _add_commands(schemas: dict[str, Any]) -> None:
    """The agent-command contract's schemas: `Command` (a oneOf on `action` with its
    discriminator) and one schema per command type (its `$defs`, referenced as
    components already). Nothing about commands is written by hand here."""
    command = json_schema()
    defs = command.pop("$defs")
    clash = set(defs) & {*schemas, "Command"}
    if clash:
        raise ValueError(f"agents.commands: schema names {sorted(clash)} clash with the API's own")
    schemas["Command"] = command
    schemas.update(sorted(defs.items()))


_add_commands(DOCUMENT["components"]["schemas"])

# The path parameters, declared once per path (every operation of the path shares them).
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},  # 0: the configuration file's
}


def _add_path_parameters(paths: dict[str, Any]) -> None:
    for path, item in paths.items():
        names = re.findall(r"{([^}]+)}", path)
        if names:
            item["parameters"] = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": _PATH_PARAMETERS.get(name, {"type": "string", "minLength": 1}),
                }
                for name in names
            ]


_add_path_parameters(DOCUMENT["paths"])


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
