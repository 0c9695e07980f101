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

from store.port import Conflict

log = structlog.get_logger()

SECTION = "campaign_control"


async def paused_campaigns(store: Any) -> set[str]:
    stored = await store.get_settings_version(SECTION)
    if stored is None:
        return set()
    try:
        return {str(c) for c in json.loads(stored.body).get("paused", [])}
    except (ValueError, AttributeError):
        log.error("campaign_control_unreadable", version=stored.version)
        return set()


async def set_paused(store: Any, campaign: str, paused: bool, author: str, at: float) -> tuple[int, set[str]]:
    """Pause or start `campaign`; (the stored version, the paused set). Retried once
    when another admin changed the set meanwhile."""
    for attempt in range(2):
        stored = await store.get_settings_version(SECTION)
        now = await paused_campaigns(store)
        wanted = (now | {campaign}) if paused else (now - {campaign})
        try:
            saved = await store.put_settings_version(
                SECTION,
                json.dumps({"paused": sorted(wanted)}),
                author=author,
                comment=("pause " if paused else "start ") + campaign,
                expected_version=stored.version if stored else 0,
                at=at,
            )
        except Conflict:
            if attempt:
                raise
            continue
        return saved.version, wanted
    raise AssertionError("unreachable")


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
