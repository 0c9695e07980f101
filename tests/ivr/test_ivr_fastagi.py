"""The IVR over a real FastAGI socket: what Asterisk would see and what the live loop gets."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from config.schema import StoreConfig
from cti.agi import AgiServer
from events import IvrStepped
from ivr.agi_driver import IvrService, customer_lookup_from_store
from ivr.engine import IvrOutcome
from ivr.flow import parse_flow
from store import open_store
from store.models import Customer

FLOW = parse_flow(tomllib.loads((Path(__file__).parents[2] / "config/examples/ivr.toml").read_text())["ivr"])
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()

HEADERS = (
    "agi_network: yes\nagi_network_script: ivr\nagi_request: agi://127.0.0.1/ivr\n"
    "agi_channel: Local/1500@inbound-00000019;2\nagi_uniqueid: 1795343333.51\n"
    "agi_callerid: {caller}\nagi_calleridname: Grace\nagi_context: inbound\nagi_extension: 1500\n\n"
)


async def fake_asterisk(port: int, caller: str, digits: list[str], hang_up_after: int | None = None) -> list[str]:
    """Answers commands as Asterisk does; returns the commands received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS.format(caller=caller).encode())
    keys = iter(digits)
    received: list[str] = []
    while True:
        line = await reader.readline()
        if not line:
            break
        command = line.decode().strip()
        received.append(command)
        if hang_up_after is not None and len(received) > hang_up_after:
            writer.write(b"HANGUP\n511 result=-1 Command Not Permitted on a dead channel or intercept routine\n")
            await writer.drain()
            continue
        if command.startswith("GET DATA"):
            reply = f"200 result={next(keys, '')}"
        elif command == 'GET FULL VARIABLE "${CHANNEL(linkedid)}"':
            reply = "200 result=1 (call-42)"
        else:
            reply = "200 result=0"
        writer.write((reply + "\n").encode())
        await writer.drain()
    writer.close()
    return received


async def _run(tmp_path: Path, caller: str, digits: list[str], hang_up_after: int | None = None):
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/ivr.sqlite3"))
    await store.migrate()
    await store.put_customer(
        Customer(
            id="C9",
            name="Grace Hopper",
            tier="vip",
            phones=("+14155550100",),
            account_number="10000009",
            attributes={"balance_cents": 4200},
        )
    )
    steps: list[IvrStepped] = []
    outcomes: list[tuple[str, str, IvrOutcome]] = []

    async def on_step(event: IvrStepped) -> None:
        steps.append(event)

    async def on_outcome(call_id: str, caller: str, outcome: IvrOutcome) -> None:
        outcomes.append((call_id, caller, outcome))

    service = IvrService(FLOW, customer_lookup_from_store(store), on_step, on_outcome, clock=lambda: NOON)
    server = AgiServer({"ivr": service.handle})
    await server.start("127.0.0.1", 0)
    try:
        received = await asyncio.wait_for(fake_asterisk(server.port, caller, digits, hang_up_after), timeout=10)
    finally:
        await server.stop()
        await store.close()
    return received, steps, outcomes


async def test_known_caller_self_service_then_sales(tmp_path: Path) -> None:
    received, steps, outcomes = await _run(tmp_path, "4155550100", ["3", "10000009", "4"])
    assert received[:3] == ["ANSWER", 'GET FULL VARIABLE "${CHANNEL(linkedid)}"', "GET DATA hotline-main-menu 5000 1"]
    assert 'SAY DIGITS 4200 ""' in received
    assert received[-7:] == [
        'SET VARIABLE CC_SKILL "sales"',
        'SET VARIABLE CC_QUEUE "sales"',
        "SET VARIABLE CC_PRIORITY 9",
        'SET VARIABLE CC_CUSTOMER "C9"',
        "SET CONTEXT hotline-queue",
        "SET EXTENSION s",
        "SET PRIORITY 1",
    ]
    [(call_id, caller, outcome)] = outcomes
    assert (call_id, caller) == ("call-42", "4155550100")
    assert (outcome.queue, outcome.priority, outcome.customer_id) == ("sales", 9, "C9")
    assert [(s.node, s.result) for s in steps] == [
        ("main", "3"),
        ("balance_account", "ok"),
        ("balance", "said"),
        ("main", "4"),
        ("sales", "queue:sales"),
    ]
    assert all(s.call_id == "call-42" for s in steps)


async def test_caller_hanging_up_mid_menu_ends_cleanly(tmp_path: Path) -> None:
    received, _steps, outcomes = await _run(tmp_path, "unknown", ["1"], hang_up_after=3)
    assert outcomes == []  # nothing queued for a caller who left
    assert received[0] == "ANSWER"
