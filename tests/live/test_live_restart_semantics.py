"""Issue 14 item 1 through the live loop on the emulator: standing lines whichever order
ConfBridge reports in, and what a restart keeps: no call "ended while Hotline was down"
for what was never a call (a dialer attempt, a standing line's originate), a waiting
call's real wait, and the day's /healthz counters."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp import web

from cti.live_app import live_health
from cti.live_root import AMI, EVENTLOG, LIVE
from events import (
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    DialerAttempted,
    DialerResulted,
    Event,
    OriginateResulted,
)
from sim.rig import DEFAULT_ROUTING, Rig
from tests.live.harness import AGENTS, live_center


async def _stored(h: Rig) -> list[Event]:
    await h.center.wait_idle()
    await h.wait_for(lambda: h.eventlog.backlog == 0)
    return [s.event for s in await h.store.events_between(0, 1e12)]


@pytest.mark.parametrize("order", ["recorded", "reversed"])
async def test_a_standing_line_call_whichever_order_confbridge_reports(tmp_path: Path, order: str) -> None:
    """ConfBridge's ConfbridgeJoin/Leave and the bridge's BridgeEnter/Leave come in
    either order: the caller is connected through the line, and when the line is hung up
    the call ends by the agent's side and the line is down."""
    async with live_center(tmp_path, standing_lines="all") as h:
        h.emulator.pbx.confbridge_order = order
        await h.command("bob", "available")
        await h.wait_for(lambda: h.center.lines.is_up("bob"))
        line = h.center.lines.channel("bob")
        await h.caller("Cleo", "5553131", patience_s=120)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        assert [e.agent_id for e in h.events if isinstance(e, CallConnected)] == ["2002"]
        await h.pbx.hangup(line)  # the agent's phone hangs the line up
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events), timeout=15)
        [ended] = [e for e in h.events if isinstance(e, CallEnded)]
        assert ended.hung_up_by == "agent"
        await h.wait_for(lambda: not h.center.lines.is_up("bob"))
        stored = await _stored(h)
        assert [type(e).__name__ for e in stored if getattr(e, "call_id", "") == ended.call_id].count("CallEnded") == 1


async def test_no_call_ends_while_down_for_what_was_never_a_call(tmp_path: Path) -> None:
    """A dialer attempt and a standing line's originate name a call id in the log, but
    the PBX never had a call there: after a restart (the line gone meanwhile) nothing is
    "ended while Hotline was down" for them."""
    async with live_center(tmp_path, standing_lines="all") as h:
        await h.command("bob", "available")
        await h.wait_for(lambda: h.center.lines.is_up("bob"))
        line = h.center.lines.channel("bob")
        now = h.emulator.pbx.now()
        for event in (
            DialerAttempted(at=now, call_id="attempt-1", campaign="spring", lead_id="L1", number="5550002"),
            OriginateResulted(at=now, originate_id="attempt-1", success=False, reason=5),
            DialerResulted(at=now, call_id="attempt-1", campaign="spring", lead_id="L1", result="busy"),
        ):
            await h.center.record(event)
        before = await _stored(h)
        line_calls = {e.call_id for e in before if isinstance(e, OriginateResulted) and e.call_id}
        assert line_calls  # the line's originate named its call
        await h.kill_center()
        pbx = h.emulator.pbx
        pbx.soft_hangup(pbx.find(line), 16)  # the line goes while Hotline is down
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        after = await _stored(h)
        ended = [e for e in after if isinstance(e, CallEnded)]
        assert not [e for e in ended if e.call_id in line_calls | {"attempt-1"}], ended


async def test_a_waiting_call_keeps_its_wait_across_a_restart(tmp_path: Path) -> None:
    """Waiting since before the restart: the router puts it back in line as the log
    queued it and when, so the offer's reason says the real wait, not the time since
    the restart."""
    async with live_center(tmp_path) as h:  # nobody is available
        await h.caller("Wanda", "5554141", patience_s=600)
        await h.wait_for(lambda: any(isinstance(e, CallQueued) for e in h.events))
        [queued] = [e for e in await _stored(h) if isinstance(e, CallQueued)]
        await asyncio.sleep(20 / h.emulator.speed)  # 20 s of waiting
        await h.kill_center()
        await asyncio.sleep(20 / h.emulator.speed)  # and 20 more while Hotline is down
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        info = h.center.router.call_info(queued.call_id)
        assert info is not None and info["state"] == "waiting" and info["first_at"] == queued.at
        await h.command("alice", "available")
        await h.wait_for(lambda: h.center.stats.calls_answered == 1, timeout=15)
        stored = await _stored(h)
        [offer] = [e for e in stored if isinstance(e, CallOffered) and e.call_id == queued.call_id]
        waited = offer.at - queued.at
        match = re.search(r"after (\d+) s", offer.reason)
        assert waited >= 40 and match is not None and int(match.group(1)) >= 40, offer.reason
        assert abs(int(match.group(1)) - waited) <= 2, offer.reason
        # queued once, offered once, connected once: nothing logged twice
        kinds = [type(e).__name__ for e in stored if getattr(e, "call_id", "") == queued.call_id]
        assert (kinds.count("CallQueued"), kinds.count("CallConnected")) == (1, 1), kinds


async def test_healthz_counts_the_day_s_calls_across_a_restart(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        await h.command("bob", "available")
        await h.caller("Ann", "5555151", patience_s=60, talk_s=30)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        await h.caller("Abe", "5555252", patience_s=2)  # bob is busy: Abe gives up
        await h.wait_for(lambda: h.center.stats.calls_abandoned == 1, timeout=15)
        before = (h.center.stats.calls_offered, h.center.stats.calls_answered, h.center.stats.calls_abandoned)
        assert before == (2, 1, 1)
        await _stored(h)
        await h.stop_center()
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        app = web.Application()
        app[AMI], app[LIVE], app[EVENTLOG] = h.client, h.center, h.eventlog
        _, live = live_health(app, h.config(DEFAULT_ROUTING))
        assert (live["calls_offered"], live["calls_answered"], live["calls_abandoned"]) == before
