"""A web call-back request reaches the customer (issue 18): asked on the public API of
`hotline serve`, kept as a promise, dialled by the live loop on the PBX emulator when an
agent is free, and kept."""

from __future__ import annotations

from cti.server import STORE
from tests.live.test_live_commands import Center, center  # noqa: F401  (fixture)
from tests.web.test_web_callback_requests import post, public_token


async def test_a_web_request_is_dialled_and_kept(center: Center) -> None:  # noqa: F811
    client = center.client
    status, asked = await post(client, await public_token(client), {"name": "Grace", "phone": "+1 415 555 0142"})
    assert status == 201, asked
    ada = await center.desk("agent01")
    await ada.ok("available")
    store = client.server.app[STORE]

    async def kept() -> bool:
        return (await store.get_callback(asked["id"])).state == "done"

    await center.until(kept, timeout=30)
    promise = await store.get_callback(asked["id"])
    assert (promise.attempts, promise.outcome, promise.kind) == (1, "connected", "web")
