"""Which calls are recorded, as an admin sets it (`/admin/recording`): the `[recording]`
policies (default, per queue, per campaign: "all", "never", "on_demand" or "N%") kept
in the store as settings section `recording_policy` (a JSON document, versioned like
the other admin sections), over the configuration file's.

The live loop takes the stored policy at start and on each
`ConfigChanged("recording_policy")` (cti/live_root.py): the next call connected is
recorded (or not) by it; a call being recorded stays recorded. The directory, the
retention and anything not in the document stay the file's.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from pydantic import ValidationError

from config.recording import RecordingConfig

log = structlog.get_logger()

SECTION = "recording_policy"
FIELDS = ("default", "queues", "campaigns")


def document(config: RecordingConfig) -> dict[str, Any]:
    """The policy part of a recording configuration, as the admin page edits it."""
    return {"default": config.default, "queues": dict(config.queues), "campaigns": dict(config.campaigns)}


def validated(base: RecordingConfig, doc: Any) -> tuple[RecordingConfig | None, list[str]]:
    """`base` with the document's policies, or the problems, each naming its field
    (`queues.billing: must be one of ...`)."""
    if not isinstance(doc, dict):
        return None, ["body: must be an object with default, queues and campaigns"]
    extra = sorted(set(doc) - set(FIELDS))
    if extra:
        return None, [f"{name}: unknown field (only {', '.join(FIELDS)})" for name in extra]
    try:
        return base.model_copy(
            update=RecordingConfig.model_validate({**document(base), **doc}).model_dump(include=set(FIELDS))
        ), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        return None, problems


async def live_recording(store: Any, base: RecordingConfig) -> tuple[RecordingConfig, int]:
    """The recording configuration the live loop runs with now, and its stored version
    (0: the configuration file's)."""
    stored = await store.get_settings_version(SECTION)
    if stored is None:
        return base, 0
    try:
        doc = json.loads(stored.body)
    except ValueError:
        doc = None
    config, problems = validated(base, doc)
    if config is None:  # validated before it was stored: never stop the loop on it
        log.error("recording_policy_unreadable", version=stored.version, problems=problems)
        return base, 0
    return config, stored.version
