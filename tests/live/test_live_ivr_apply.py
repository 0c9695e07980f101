"""An IVR version the admin applies reaches the running IVR at once: the next caller
walks the new flow (PBX emulator, FastAGI, the live loop), no restart."""

from __future__ import annotations

from pathlib import Path

from config.toml_text import dumps
from events import CallQueued, IvrStepped
from store.models import User
from store.topics import CONFIG_CHANGES, ConfigChanged
from tests.live.harness import example_ivr, ivr_caller, live_center


async def test_an_applied_ivr_version_routes_the_next_caller(tmp_path: Path) -> None:
    ivr = example_ivr()
    agents = [User(login="bill", display_name="Bill", skills={"billing": 9}, phone_endpoint="Local/2004@agents")]
    menu = ivr["nodes"][ivr["start"]]
    assert menu["options"]["4"] == "sales"
    edited = {**ivr, "nodes": {**ivr["nodes"], ivr["start"]: {**menu, "options": {**menu["options"], "4": "billing"}}}}
    async with live_center(tmp_path, agents=agents, ivr=ivr) as h:
        await h.command("bill", "available")
        await h.store.put_settings_version("ivr", dumps({"ivr": edited}), author="admin", expected_version=0, at=0.0)
        await CONFIG_CHANGES.publish(h.bus, ConfigChanged("ivr", author="admin", version=1))
        await h.wait_for(
            lambda: (
                h.live.ivr_service is not None and h.live.ivr_service.flow.nodes[ivr["start"]].options["4"] == "billing"
            )
        )
        await ivr_caller(h, "4")  # the digit that was sales
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=20)
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        stored = [s.event for s in await h.store.events_between(0, 1e12)]
        assert [e.queue for e in stored if isinstance(e, CallQueued)] == ["billing"]
        assert ("main", "4") in [(e.node, e.result) for e in stored if isinstance(e, IvrStepped)]
