"""Issue 17 item 4: an agent moved to another team for the day is routed as that team's
at once. The billing queue's rules take team-b's agents only; agent01 (team-a) is
available while Grace waits, and gets her call once a supervisor of both teams moves
them to team-b, through the real server's API and live loop on the PBX emulator."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from cti.live_app import LIVE
from cti.server import STORE
from tests.live.test_live_browser import grace_calls, live_server  # noqa: F401  (fixture)
from tests.web.web_helpers import login, wait_until

TEAM_B_ONLY = {
    "defaults": {"wrap_up_s": 30},
    "rona": {"ring_timeout_s": 15},
    "queues": {"billing": {"targets": [{"name": "team-b", "expression": 'team == "team-b"'}]}},
}


@pytest.mark.parametrize("live_server", [{"routing": TEAM_B_ONLY}], indirect=True)
async def test_an_agent_moved_for_the_day_takes_the_other_teams_calls(live_server) -> None:  # noqa: F811
    client, emulator = live_server
    app = client.server.app
    store = app[STORE]
    await store.put_user(replace(await store.get_user("sup"), team="team-a,team-b"))
    csrf = await login(client, "agent01")
    r = await client.post(
        "/api/v1/agents/agent01/commands", json={"action": "available"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 200, await r.text()
    router = app[LIVE].router
    await wait_until(lambda: router.agent_state("agent01") == "available", timeout=10)

    callers = await grace_calls(emulator, {"PATIENCE": "120", "__AGENT_TALK": "60"})
    try:
        await wait_until(lambda: router.snapshot()["queues"].get("billing", {}).get("waiting") == 1, timeout=15)
        assert router.agent_state("agent01") == "available"  # team-a: not billing's today

        sup = await login(client, "sup")
        r = await client.put("/api/v1/agents/agent01/team-move", json={"team": "team-b"}, headers={"X-CSRF-Token": sup})
        assert r.status == 200, await r.text()
        await wait_until(lambda: router.agent_state("agent01") in ("reserved", "on_call"), timeout=15)
        assert sum(router.snapshot()["teams"]["team-b"].values()) == 2  # agent02, and agent01 today
    finally:
        await asyncio.wait_for(callers.close(), 10)
