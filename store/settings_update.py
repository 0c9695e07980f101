"""A read-change-write of one settings document (a section of `settings_versions`)
that loses no concurrent change: the new version is stored only over the version it
was made from, and made again from the newer one once when another writer came
between (a second conflict is raised: something is writing in a loop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from store.models import SettingsVersion
from store.port import Conflict


async def update_settings(
    store: Any,
    section: str,
    change: Callable[[SettingsVersion | None], str],
    *,
    author: str,
    comment: str,
    at: float,
) -> SettingsVersion:
    """Store `change(live version or None)` as the section's next version."""
    for attempt in range(2):
        stored = await store.get_settings_version(section)
        try:
            saved: SettingsVersion = await store.put_settings_version(
                section,
                change(stored),
                author=author,
                comment=comment,
                expected_version=stored.version if stored else 0,
                at=at,
            )
        except Conflict:
            if attempt:
                raise
            continue
        return saved
    raise AssertionError("unreachable")
