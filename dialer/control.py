"""Which campaigns an admin paused: kept in the store (settings section
`campaign_control`, a JSON document {"paused": [ids]}, versioned like the others) so a
pause survives a restart; the live loop applies it to its dialers at start and on each
`ConfigChanged("campaign_control")`. A paused campaign dials nothing new (calls in
progress finish); started again, it paces from where its leads stand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import structlog

from store.models import SettingsVersion
from store.settings_update import update_settings

log = structlog.get_logger()

SECTION = "campaign_control"


async def paused_campaigns(store: Any) -> set[str]:
    return _paused_of(await store.get_settings_version(SECTION))


def _paused_of(stored: SettingsVersion | None) -> set[str]:
    if stored is None:
        return set()
    try:
        return {str(c) for c in json.loads(stored.body).get("paused", [])}
    except (ValueError, AttributeError):
        log.error("campaign_control_unreadable", version=stored.version)
        return set()


async def set_paused(store: Any, campaign: str, paused: bool, author: str, at: float) -> tuple[int, set[str]]:
    """Pause or start `campaign`; (the stored version, the paused set). Made again
    from the newer set when another admin changed it meanwhile."""
    wanted: set[str] = set()

    def change(stored: SettingsVersion | None) -> str:
        nonlocal wanted
        now = _paused_of(stored)
        wanted = (now | {campaign}) if paused else (now - {campaign})
        return json.dumps({"paused": sorted(wanted)})

    comment = ("pause " if paused else "start ") + campaign
    saved = await update_settings(store, SECTION, change, author=author, comment=comment, at=at)
    return saved.version, wanted


def apply_paused(runners: Iterable[Any], paused: set[str]) -> list[str]:
    """Set each running dialer's `paused` (paused by an admin, or stopped: its campaign
    disabled, dialer/definitions.py); the ids whose state changed."""
    changed = []
    for runner in runners:
        now = runner.campaign.id in paused or not runner.campaign.live.enabled
        if runner.paused != now:
            runner.paused = now
            changed.append(runner.campaign.id)
    if changed:
        log.info("campaigns_paused_changed", changed=changed, paused=sorted(paused))
    return changed
