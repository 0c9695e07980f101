"""Leads uploaded from the admin page (dialer/uploads.py): rows refused by line, lead ids
the campaign has already refused as duplicates, the rest kept in the store and added to
the running campaign at once (the live loop on the PBX emulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.schema import StoreConfig
from dialer.live import DialerRunner
from dialer.uploads import upload, uploaded_leads
from store import open_store
from tests.live.test_live_commands import Center, center  # noqa: F401  (fixture)

HEADER = "lead_id,phone,time_zone,first_name,last_name\n"


async def test_an_upload_keeps_the_good_rows_and_says_which_are_not(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/uploads.sqlite3"))
    try:
        await store.migrate()
        text = HEADER + "U1,+12127360011,UTC,Ann,One\nU2,not a phone,UTC,Bo,Two\nL1,+12127360001,UTC,Lena,Lead\n"
        got = await upload(store, "spring", text, ["L1", "L2"], source="more.csv", author="admin", at=10.0)
        assert (got.added, got.duplicates, got.version) == (["U1"], ["L1"], 1)
        assert got.rejected[0].startswith("more.csv:3: phone")
        assert got.rejected[1] == "more.csv:4: lead_id: 'L1' is already in the campaign"
        again = await upload(store, "spring", HEADER + "U1,+12127360011,UTC,Ann,One\nU3,+12127360013,UTC,Cy,Three\n",
                             ["L1", "L2"], source="again.csv", author="admin", at=11.0)  # fmt: skip
        assert (again.added, again.duplicates, again.version) == (["U3"], ["U1"], 2)
        nothing = await upload(store, "spring", HEADER + "U3,+12127360013,UTC,Cy,Three\n", [], source="x.csv",
                               author="admin", at=12.0)  # fmt: skip
        assert (nothing.added, nothing.version) == ([], 0)  # nothing new: nothing stored
        # the uploads as kept (the dialer adds the first of each id the campaign has not)
        assert [lead.lead_id for lead in await uploaded_leads(store, "spring")] == ["U1", "L1", "U1", "U3"]
        assert await uploaded_leads(store, "autumn") == []
    finally:
        await store.close()


def runner_of(live: Center) -> DialerRunner:
    found = [getattr(f, "__self__", None) for f in live.live.listeners]
    return next(r for r in found if isinstance(r, DialerRunner))


@pytest.mark.parametrize("center", [{"campaign": "progressive"}], indirect=True)
async def test_uploaded_leads_join_the_running_campaign(center: Center) -> None:  # noqa: F811
    admin = await center.desk("admin")

    async def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = await admin.session.post(
            f"{admin.base}/api/v1/campaigns/spring/leads", json=body, headers={"X-CSRF-Token": admin.csrf}
        )
        return r.status, await r.json()

    status, got = await post({"csv": HEADER + "L3,+12127360003,UTC,Lou,Lead\nL1,+12127360001,UTC,Lena,Lead\n"})
    assert status == 201 and (got["added"], got["duplicates"]) == (1, 1), got
    assert got["rejected"] == ["upload.csv:3: lead_id: 'L1' is already in the campaign"]
    runner = runner_of(center)
    await center.until(lambda: "L3" in runner.book.states)
    stored = await center.store.get_lead_state("spring", "L3")
    assert stored.phone == "+12127360003"
    assert (await center.store.get_customer("lead-spring-L3")).name == "Lou Lead"  # the screen-pop's record
    status, got = await post({"csv": ""})
    assert status == 400 and got["error"].startswith("csv:")
    r = await admin.session.post(f"{admin.base}/api/v1/campaigns/nope/leads", json={"csv": HEADER},
                                 headers={"X-CSRF-Token": admin.csrf})  # fmt: skip
    assert r.status == 404
