"""`hotline serve` running a campaign as its own process on PostgreSQL, killed with
SIGKILL mid-campaign and started again (issue 14): no lead is dialled before its next
try or from attempt 0, and a number put on the do-not-call list over the REST API
before the kill is never dialled after it. Dials are counted at the PBX emulator by a
client of the test's own."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from store import SqlStore
from store.models import ApiToken, LeadRecord, User
from tests.dialer.test_dialer_live import write_leads
from tests.live.serve_process import free_port, kill, pbx_and_store, serve, stop, until_up, write_config
from web.security import hash_token

SECRET = "dialer-sigkill-secret"
TOKEN = "hl_sigkill_supervisor-token"
AGENTS = [
    User(login=f"d{n}", display_name=f"Agent {n}", skills={"outbound": 5}, phone_endpoint=f"Local/200{n}@agents")
    for n in (1, 2, 3, 4)
]
RETRY_S = 6.0  # busy and failed: 0.1 minute
PHONES = {f"L{n}": f"+1212736{n:04d}" for n in range(1, 5)}


def _post_dnc(port: int, number: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/dnc",
        data=json.dumps({"number": number}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return int(r.status)


async def _rows(store: SqlStore) -> dict[str, LeadRecord]:
    return {r.lead_id: r for r in await store.lead_states("spring")}


async def test_a_campaign_killed_with_sigkill_goes_on_where_it_was(tmp_path: Path, fresh_pg_url: str) -> None:
    emulator, store = await pbx_and_store(SECRET, fresh_pg_url, AGENTS)
    await store.put_user(User("sup", "Sue", role="supervisor"))
    await store.put_api_token(ApiToken("t1", "sup", "sigkill test"), hash_token(TOKEN))
    leads = write_leads(tmp_path / "leads.csv", ["busy"] * 4)
    port = free_port()
    config = write_config(
        tmp_path / "hotline.toml",
        port,
        fresh_pg_url,
        "memory://",
        emulator.port,
        SECRET,
        f"""
[campaigns.spring]
leads = "{leads}"
mode = "progressive"
skill = "outbound"
max_attempts = 2
demo_behaviour = {{ busy = 1.0 }}
retry = {{ busy = {{ delay_minutes = 0.1 }}, failed = {{ delay_minutes = 0.1 }} }}
calling_window = {{ start = "00:00:00", end = "23:59:59", days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] }}
""",
    )
    dials: list[tuple[str, float]] = []

    def on_channel(m: Any) -> None:
        if m.get("Context") == "customers" and m.get("Channel").endswith(";1"):
            dials.append((m.get("Exten"), time.time()))

    def of(phone: str) -> list[float]:
        return [at for number, at in dials if number == phone.lstrip("+")]

    observer = AmiClient(AmiSettings("127.0.0.1", emulator.port, "hotline", SECRET), CallModel())
    observer.subscribe("Newchannel", on_channel)
    log = tmp_path / "serve.log"
    server = serve(config, log)
    try:
        await observer.start()
        await observer.wait_ready(10)
        await until_up(port, "the first server")
        # every lead dialled once (busy) and waiting for its retry
        deadline = time.monotonic() + 30
        while True:
            first = await _rows(store)
            if len(first) == 4 and all(r.status == "pending" and r.attempts == 1 for r in first.values()):
                break
            assert time.monotonic() < deadline, (first, log.read_text()[-3000:])
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(_post_dnc, port, PHONES["L4"]) == 201
        kill(server)
        before = await _rows(store)
        dials_before = {lead: len(of(phone)) for lead, phone in PHONES.items()}
        killed_at = time.time()

        server = serve(config, log)
        await until_up(port, "the restarted server")
        deadline = time.monotonic() + 40
        while True:
            after = await _rows(store)
            if after["L4"].status == "blocked" and all(after[f"L{n}"].status == "exhausted" for n in (1, 2, 3)):
                break
            assert time.monotonic() < deadline, (after, log.read_text()[-3000:])
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # (a dial in flight would reach the observer by now)
    finally:
        await observer.close()
        stop(server)
        await emulator.stop()
    try:
        for lead_id, phone in PHONES.items():
            times = of(phone)
            assert dials_before[lead_id] >= 1 and len(times) <= 2, (lead_id, times)  # not from attempt 0
            assert all(b - a >= RETRY_S for a, b in itertools.pairwise(times)), (lead_id, times)
            row = before[lead_id]
            assert row.attempts == dials_before[lead_id], row
            if row.status == "pending":  # not before the next try the killed server had promised
                assert all(at >= row.next_at - 0.05 for at in times if at >= killed_at), (lead_id, row, times)
        assert len(of(PHONES["L4"])) == dials_before["L4"]  # nothing after the API's do-not-call
        assert all(after[f"L{n}"].attempts == 2 for n in (1, 2, 3)) and after["L4"].attempts == 1
        assert [e.number for e in await store.dnc_entries("")] == [PHONES["L4"]]
    finally:
        await store.close()
