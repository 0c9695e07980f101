"""Simulated chat customers for `hotline demo`: each opens the chat websocket like the
widget does, gives a name and address, writes, waits for an agent with some patience
(leaving is an abandon), talks a little once answered, then leaves."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import aiohttp
import structlog

from cti.bounded import raise_if_cancelled

log = structlog.get_logger()

OPENERS = (
    "Hi, I was charged twice this month. Can you check?",
    "Hello! Where is my order? It has been a week.",
    "Can I change the plan on my account?",
    "My invoice shows a fee I don't understand.",
)
FOLLOW_UPS = ("Thanks, that helps.", "OK, I'll wait for the e-mail.", "Great, thank you!")


async def customer(
    session: aiohttp.ClientSession, url: str, n: int, rng: random.Random, patience: tuple[float, float] = (60, 240)
) -> None:
    """One customer's chat: start, write, wait `patience` (s, a range) for an agent."""
    patience_s = rng.uniform(*patience)
    async with session.ws_connect(url) as ws:
        email = f"chat.customer{n}@example.com"
        await ws.send_json({"type": "start", "name": f"Chat customer {n}", "email": email})
        await ws.send_json({"type": "say", "text": rng.choice(OPENERS)})
        answered = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience_s
        while True:
            raise_if_cancelled()  # (a cancel that came with a frame, below, was swallowed: it ends here)
            try:
                msg = await asyncio.wait_for(ws.receive(), max(deadline - loop.time(), 0.01))
            except TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                return
            frame: dict[str, Any] = json.loads(msg.data)
            if frame["type"] == "ended":
                return
            if frame["type"] == "assigned" and not answered:
                answered = True
                deadline = loop.time() + rng.uniform(60, 180)  # talks this long, then says goodbye
            if frame["type"] == "message" and frame["direction"] == "out":
                await asyncio.sleep(rng.uniform(3, 10))
                await ws.send_json({"type": "say", "text": rng.choice(FOLLOW_UPS)})
        await ws.send_json({"type": "leave"})
        async with asyncio.timeout(5):  # until Hotline says it is over
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT or json.loads(msg.data)["type"] == "ended":
                    break


async def run_chat_traffic(base_url: str, chats_per_hour: float, seed: int = 18) -> None:
    """Forever (cancel to stop): new chat customers at `chats_per_hour` (Poisson)."""
    rng = random.Random(seed)
    url = base_url.rstrip("/") + "/chat/ws"
    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
        n = 0
        while True:
            await asyncio.sleep(rng.expovariate(chats_per_hour / 3600.0))
            n += 1
            group.create_task(_one(session, url, n, random.Random(rng.random())))


async def _one(session: aiohttp.ClientSession, url: str, n: int, rng: random.Random) -> None:
    try:
        await customer(session, url, n, rng)
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # one customer's trouble ends only them
        log.warning("demo_chat_failed", error=type(exc).__name__)
