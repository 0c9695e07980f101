"""An admin's pause: kept in the store, applied by the live loop's bus handler to the
running dialer, which then dials nothing new until started again."""

from __future__ import annotations

import time
from pathlib import Path

from cti.live_root import _on_bus_message
from dialer.control import SECTION, apply_paused, paused_campaigns, set_paused
from store.topics import ConfigChanged
from tests.dialer.test_dialer_live import dialer_rig, in_loop


async def test_a_paused_campaign_dials_nothing_until_started_again(tmp_path: Path) -> None:
    async with dialer_rig(tmp_path, ["human", "human"]) as (rig, runner, _):
        await rig.command("olga", "available")
        await rig.center.wait_idle()
        store = rig.store
        assert await paused_campaigns(store) == set()
        version, paused = await set_paused(store, "spring", True, "admin", time.time())
        assert version == 1 and paused == {"spring"} and await paused_campaigns(store) == {"spring"}
        config = rig.live.config
        await _on_bus_message(
            ConfigChanged(SECTION, author="admin", version=1), rig.center, store, config, None, lambda: [runner]
        )
        await rig.wait_for(lambda: runner.paused)
        assert await in_loop(rig, runner.tick) == 0
        assert runner.stats.dials == 0 and runner.stats.last_decision == "paused by an admin"

        await set_paused(store, "spring", False, "admin", time.time())
        await _on_bus_message(
            ConfigChanged(SECTION, author="admin", version=2), rig.center, store, config, None, lambda: [runner]
        )
        await rig.wait_for(lambda: not runner.paused)
        assert await in_loop(rig, runner.tick) == 1  # progressive: one dial for the idle agent
        assert apply_paused([runner], {"other"}) == []  # nothing changes for another campaign's pause
