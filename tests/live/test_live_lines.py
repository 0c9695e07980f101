"""Standing agent lines through the emulator: the agent's phone is called once into its
conference; callers join it without ringing the phone; calls fall back to ringing the
phone when the line is down; logout hangs the line up."""

from __future__ import annotations

from pathlib import Path

from cti.ami_codec import Message
from events import AgentLineChanged, CallConnected, CallEnded, CallOffered
from sim.rig import DEFAULT_ROUTING
from tests.live.harness import AGENTS, live_center


def _agent_dials(messages: list[Message], phone: str) -> int:
    return sum(1 for m in messages if m.get("DestChannel").startswith(phone))


async def _on_line(h, agent_id: str) -> tuple[list[Message], str]:  # type: ignore[no-untyped-def]
    """The agent goes available and its line comes up: (DialBegins seen, line channel)."""
    dials: list[Message] = []
    h.client.subscribe("DialBegin", dials.append)
    await h.command(agent_id, "available")
    await h.wait_for(lambda: h.center.lines.is_up(agent_id))
    return dials, h.center.lines.channel(agent_id)


async def test_callers_join_the_agents_line_without_ringing_the_phone(tmp_path: Path) -> None:
    async with live_center(tmp_path, standing_lines="all") as h:
        dials, line = await _on_line(h, "bob")
        assert line.startswith("Local/2002@agents") and line in h.emulator.pbx.channels
        rung_for_the_line = _agent_dials(dials, "Local/2002@agents")
        for n, caller in enumerate(("5551111", "5552222"), start=1):
            await h.caller(f"Caller {n}", caller, patience_s=60)  # (0.3 s at 10x gave up on a busy machine)
            await h.wait_for(lambda n=n: h.center.stats.calls_answered == n)
            await h.wait_for(lambda n=n: sum(isinstance(e, CallEnded) for e in h.events) == n, timeout=15)
        await h.center.wait_idle()
        assert _agent_dials(dials, "Local/2002@agents") == rung_for_the_line  # the phone never rang again
        connected = [e for e in h.events if isinstance(e, CallConnected)]
        assert [e.agent_id for e in connected] == ["2002", "2002"]
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        stored = [s.event for s in await h.store.events_between(0, 1e12)]
        offers = {e.call_id: e.at for e in stored if isinstance(e, CallOffered) and e.reason}
        talks = {e.call_id: e.at for e in stored if isinstance(e, CallConnected)}
        assert set(offers) == set(talks) and len(offers) == 2
        assert all(talks[c] - offers[c] < 0.5 for c in offers)  # emulated seconds: a redirect, no ring
        assert h.center.lines.channel("bob") == line and line in h.emulator.pbx.channels  # still up
        assert (await h.bus.get_state("agents"))["bob"]["line"] == "up"
        await h.command("bob", "logout")
        await h.wait_for(lambda: line not in h.emulator.pbx.channels)
        assert h.center.lines.get("bob") is None
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        stored = [s.event for s in await h.store.events_between(0, 1e12)]
        assert [e.state for e in stored if isinstance(e, AgentLineChanged)] == ["dialling", "up", "down"]
        assert (await h.bus.get_state("agents"))["bob"]["line"] == "down"


async def test_calls_ring_the_phone_while_the_line_is_down(tmp_path: Path) -> None:
    async with live_center(tmp_path, standing_lines="all") as h:
        dials, line = await _on_line(h, "alice")
        await h.pbx.hangup(line)  # the agent hung the line up at once: a failure, retried later
        await h.wait_for(lambda: not h.center.lines.is_up("alice"))
        assert h.center.lines.get("alice").failures == 1
        before = _agent_dials(dials, "Local/2001@agents")
        await h.caller("Dora", "5553333", patience_s=60, talk_s=2)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        assert [e.agent_id for e in h.events if isinstance(e, CallConnected)] == ["2001"]
        assert _agent_dials(dials, "Local/2001@agents") == before + 1  # agent-connect rang the phone


async def test_a_restarted_server_adopts_the_lines_still_up(tmp_path: Path) -> None:
    async with live_center(tmp_path, standing_lines="all") as h:
        dials, line = await _on_line(h, "bob")
        await h.center.wait_idle()
        await h.wait_for(lambda: h.eventlog.backlog == 0)
        await h.kill_center()
        await h.start_center(AGENTS, DEFAULT_ROUTING)
        await h.wait_for(lambda: h.center.lines.is_up("bob"))
        assert h.center.lines.channel("bob") == line and h.center.lines.dials == 0  # adopted, not dialled again
        h.client.subscribe("DialBegin", dials.append)
        before = len(dials)
        await h.caller("Eve", "5554444", patience_s=60)
        await h.wait_for(lambda: h.center.stats.calls_answered == 1)
        assert not [m for m in dials[before:] if m.get("DestChannel").startswith("Local/2002@agents")]
