"""How much one customer may send: messages per connection (this process, `Gate`),
and messages and new conversations per client address, counted on the bus for every
process (`Bus.reserve_hits`) and in this process, which still holds when the bus is
away (as the login limiter does, `web.app._reserve_login`). Counted before the work."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from chat.config import ChatConfig
from store.bus import Bus
from store.hits import HitWindows

log = structlog.get_logger()

MINUTE = 60.0
HOUR = 3600.0
BUS_WAIT_S = 2.0
FRAMES_PER_10S = 100  # a connection sending more is closed (the page can reload and resume)
TYPING_EVERY_S = 1.0  # typing signals forwarded at most this often


@dataclass(slots=True)
class Gate:
    """One connection's own count (messages) and typing throttle."""

    per_minute: int
    windows: HitWindows = field(default_factory=HitWindows)
    last_typing: float = float("-inf")

    def message(self, now: float, member: str) -> float:
        return self.windows.reserve({"messages": self.per_minute}, now, MINUTE, member)

    def frame(self, now: float) -> bool:
        """Any frame at all (a flood of pings or garbage): False past FRAMES_PER_10S."""
        return self.windows.reserve({"frames": FRAMES_PER_10S}, now, 10.0, "") == 0

    def typing(self, now: float) -> bool:
        """Forward this typing signal? At most one a second (the rest dropped quietly)."""
        if now - self.last_typing < TYPING_EVERY_S:
            return False
        self.last_typing = now
        return True


@dataclass(slots=True)
class AddressLimits:
    """Per client address, over every connection (and every process on one bus)."""

    config: ChatConfig
    bus: Bus
    windows: HitWindows = field(default_factory=HitWindows)

    async def message(self, address: str, now: float, member: str) -> float:
        return await self._reserve(
            f"chat-messages:{address}", self.config.address_messages_per_minute, MINUTE, now, member
        )

    async def new_chat(self, address: str, now: float, member: str) -> float:
        return await self._reserve(f"chat-starts:{address}", self.config.address_chats_per_hour, HOUR, now, member)

    async def _reserve(self, key: str, limit: int, keep_s: float, now: float, member: str) -> float:
        """0: counted, go on; else the seconds to wait (nothing counted)."""
        wait = self.windows.reserve({key: limit}, now, keep_s, member)
        if wait > 0:
            return wait
        try:
            wait = await asyncio.wait_for(self.bus.reserve_hits({key: limit}, now, keep_s, member), BUS_WAIT_S)
        except Exception as exc:  # noqa: BLE001 - any bus failure: this process's count decides
            log.warning("chat_limiter_bus_unavailable", error=type(exc).__name__)
            return 0.0
        if wait > 0:
            self.windows.release(key, member)
        return wait
