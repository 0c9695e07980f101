"""A campaign deleted over the admin API, on the server's live loop and the PBX
emulator: refused while its stopped dialer still has a call up, then deleted; its
leads' rows, events and report stay; after a restart it is not started again, and an
admin's later change (another campaign started) does not bring it back."""

from __future__ import annotations

from typing import Any

import pytest

from cti.server import BUS
from store.topics import CAMPAIGN_TILES, CampaignTile
from tests.live.test_live_campaign_definitions import restarted
from tests.live.test_live_commands import Center, Desk, center  # noqa: F401  (fixture)
from tests.web.test_web_campaign_editor_browser import runner, tick


async def api(desk: Desk, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with desk.session.request(method, f"{desk.base}{path}", json=body, headers={"X-CSRF-Token": desk.csrf}) as r:
        return r.status, await r.json()


async def tile(c: Center) -> CampaignTile | None:
    return await CAMPAIGN_TILES.get(c.client.server.app[BUS], "spring")


@pytest.mark.parametrize("center", [{"campaign": "progressive"}], indirect=True)  # (hotline.toml's "spring")
async def test_a_deleted_campaign_keeps_its_history_and_stays_deleted_after_a_restart(
    center: Center,  # noqa: F811
) -> None:
    ada = await center.desk("agent01")  # (support: the campaign's skill)
    await ada.ok("available")
    await center.until(lambda: runner(center, "spring") is not None)
    spring = runner(center, "spring")
    assert spring is not None
    call_id = await center.connected("agent01")  # the dialer called a lead, ada talks to them
    admin = await center.desk("admin")
    assert (await api(admin, "POST", "/api/v1/campaigns/spring/stop"))[0] == 200

    async def stopped_with(calls: int) -> bool:
        found = await tile(center)
        return found is not None and (found.state, found.in_flight) == ("stopped", calls)

    await center.until(lambda: stopped_with(1))  # stopped: the call goes on
    status, body = await api(admin, "DELETE", "/api/v1/campaigns/spring")
    assert (status, body["error"]) == (409, "campaign: spring has 1 call(s) in progress; delete it once they end")
    await ada.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "wrap_up")
    await ada.ok("wrap_up_done", call_id=call_id)
    await center.until(lambda: stopped_with(0))
    status, body = await api(admin, "DELETE", "/api/v1/campaigns/spring")
    assert (status, body) == (200, {"campaign": "spring", "deleted": True, "version": 2}), body
    await center.until(lambda: spring.deleted)
    assert await tick(center, spring) == 0 and await tile(center) is None  # no tile published any more

    # its history stays: the report's campaign section, its leads' rows and records
    status, report = await api(admin, "GET", "/api/v1/reports")
    assert status == 200 and report["extras"]["campaigns"]["spring"]["dials"] == 1
    assert sorted(r.lead_id for r in await center.store.lead_states("spring")) == ["L1", "L2"]

    async with restarted(center) as again:
        assert runner(again, "spring") is None  # hotline.toml still has it: deleted all the same
        admin = await again.desk("admin")
        status, listed = await api(admin, "GET", "/api/v1/campaigns")
        assert (listed["campaigns"], listed["deleted"]) == ([], ["spring"])
        body = {"id": "autumn", "mode": "progressive", "skill": "support", "queue": "support", "base_version": 2}
        assert (await api(admin, "POST", "/api/v1/campaigns", body))[0] == 201
        assert (await api(admin, "POST", "/api/v1/campaigns/autumn/start"))[0] == 200
        await again.until(lambda: runner(again, "autumn") is not None)
        assert runner(again, "spring") is None
        status, report = await api(admin, "GET", "/api/v1/reports")
        assert report["extras"]["campaigns"]["spring"]["dials"] == 1
