"""The bus's topics and state maps: wire formats, typed decoding, malformed messages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from events import AgentStateChanged, CallOffered, CallQueued, to_record
from store.bus import MemoryBus
from store.topics import (
    AGENT_COMMANDS,
    AGENT_REPLIES,
    AGENT_VIEWS,
    CAMPAIGN_TILES,
    CONFIG_CHANGES,
    EVENTS,
    STATE_MAPS,
    TOPICS,
    AgentCommandRequest,
    AgentView,
    BadMessage,
    CampaignTile,
    CommandReply,
    ConfigChanged,
    subscribe,
)


def test_every_channel_has_one_name() -> None:
    assert [t.name for t in TOPICS] == ["events", "agent-commands", "agent-replies", "config-changes", "tasks"]
    assert [m.name for m in STATE_MAPS] == ["agents", "campaigns"]


@pytest.mark.parametrize(
    ("topic", "message", "wire"),
    [
        (
            EVENTS,
            CallOffered(at=1.5, call_id="c1", agent_id="a1", queue="sales"),
            {"kind": "CallOffered", "at": 1.5, "call_id": "c1", "agent_id": "a1", "queue": "sales", "reason": ""},
        ),
        (
            AGENT_COMMANDS,
            AgentCommandRequest("a1", "blind_transfer", request_id="r1", call_id="c1", target="queue:sales"),
            {
                "agent_id": "a1",
                "action": "blind_transfer",
                "call_id": "c1",
                "target": "queue:sales",
                "request_id": "r1",
            },
        ),
        (
            AGENT_COMMANDS,
            AgentCommandRequest("a1", "available"),
            {"agent_id": "a1", "action": "available", "request_id": ""},
        ),
        (AGENT_REPLIES, CommandReply("r1", True), {"request_id": "r1", "ok": True}),
        (AGENT_REPLIES, CommandReply("r1", False, "no call"), {"request_id": "r1", "ok": False, "error": "no call"}),
        (
            CONFIG_CHANGES,
            ConfigChanged("routing", author="admin", version=3),
            {"section": "routing", "version": 3, "author": "admin"},
        ),
        (
            CONFIG_CHANGES,
            ConfigChanged("users", author="admin", login="bob"),
            {"section": "users", "login": "bob", "author": "admin"},
        ),
    ],
)
def test_wire_format_and_round_trip(topic: Any, message: Any, wire: dict[str, Any]) -> None:
    """The wire is what the producers sent before the topics were typed."""
    assert topic.encode(message) == wire
    assert list(topic.encode(message)) == list(wire)  # and in the same order
    assert topic.decode(wire) == message


def test_an_agent_command_reads_as_the_live_loop_read_it() -> None:
    got = AGENT_COMMANDS.decode({"agent_id": "a1", "action": "pause", "reason": "lunch", "call_id": None, "x": 1})
    assert got == AgentCommandRequest("a1", "pause", reason="lunch")
    with pytest.raises(BadMessage, match="agent-commands: agent command needs") as caught:
        AGENT_COMMANDS.decode({"action": "hold", "request_id": "r9"})
    assert caught.value.raw["request_id"] == "r9"


@pytest.mark.parametrize(
    ("topic", "raw"),
    [
        (EVENTS, {"kind": "NoSuchEvent", "at": 1.0}),
        (EVENTS, {"kind": "CallOffered", "at": 1.0}),  # fields missing
        (CONFIG_CHANGES, {"section": "routing", "version": "three"}),
    ],
)
def test_malformed_messages_are_bad_messages(topic: Any, raw: dict[str, Any]) -> None:
    with pytest.raises(BadMessage) as caught:
        topic.decode(raw)
    assert caught.value.channel == topic.name and caught.value.raw == raw


async def test_an_inbox_yields_typed_messages_and_skips_malformed_ones() -> None:
    bus = MemoryBus()
    async with subscribe(bus, EVENTS, CONFIG_CHANGES) as inbox:
        queued = CallQueued(at=1.0, call_id="c1", queue="sales", skills={"sales": 3})
        await EVENTS.publish(bus, queued)
        await bus.publish("events", {"kind": "NoSuchEvent"})
        await bus.publish("agent-replies", {"request_id": "r1", "ok": True})  # not subscribed
        await CONFIG_CHANGES.publish(bus, ConfigChanged("queues", author="admin", version=2))
        await bus.publish("events", to_record(AgentStateChanged(at=2.0, agent_id="a1", state="paused")))
        got = [await asyncio.wait_for(inbox.get(), timeout=2) for _ in range(3)]
    assert got == [
        queued,
        ConfigChanged("queues", author="admin", version=2),
        AgentStateChanged(at=2.0, agent_id="a1", state="paused"),
    ]
    assert inbox.malformed == 1


async def test_one_topic_inbox_iterates() -> None:
    bus = MemoryBus()
    async with subscribe(bus, AGENT_REPLIES) as inbox:
        await AGENT_REPLIES.publish(bus, CommandReply("r1", True))
        async for reply in inbox:
            assert reply == CommandReply("r1", True)
            break
    with pytest.raises(ValueError, match="at least one topic"):
        subscribe(bus)


async def test_state_maps_keep_typed_values() -> None:
    bus = MemoryBus()
    view = AgentView(state="on_call", since=5.0, call_id="c1", queue="sales")
    await AGENT_VIEWS.set(bus, "a1", view)
    assert await bus.get_state("agents") == {
        "a1": {"state": "on_call", "since": 5.0, "reason": "", "call_id": "c1", "queue": "sales"}
    }
    await AGENT_VIEWS.set(bus, "a2", AgentView(state="available", since=1.0, line="up"))
    assert (await bus.get_state("agents"))["a2"]["line"] == "up"
    assert await AGENT_VIEWS.get(bus, "a1") == view
    assert await AGENT_VIEWS.get(bus, "nobody") is None
    await AGENT_VIEWS.delete(bus, "a2")
    assert list(await AGENT_VIEWS.get_all(bus)) == ["a1"]

    tile = CampaignTile(name="Spring", mode="predictive", dial_level=1.5, leads_left=7, at=3.0)
    await CAMPAIGN_TILES.set(bus, "spring", tile)
    await bus.set_state("campaigns", "partial", {"name": "Old", "leads_left": 2})  # an older writer's tile
    await bus.set_state("campaigns", "broken", {"leads_left": "many"})
    tiles = await CAMPAIGN_TILES.get_all(bus)
    assert tiles == {"spring": tile, "partial": CampaignTile(name="Old", leads_left=2)}
