"""The recording policy set by an admin (issue 17: per queue/campaign, validated,
audited, live without a restart) and a customer's erasure request taking their
recordings with their interactions, through `hotline serve`'s app and its live loop
on the PBX emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from store.port import NotFound
from tests.live.test_live_commands import Center, center, recording_of  # noqa: F401  (fixture)
from tests.web.web_helpers import CUSTOMER


async def _put(desk: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = await desk.session.put(f"{desk.base}/api/v1/recording-policy", json=body, headers={"X-CSRF-Token": desk.csrf})
    return r.status, await r.json()


async def _call(center: Center, agent: Any) -> str:  # noqa: F811
    """A call from the seeded customer's number to agent01, hung up; its id."""
    await center.caller()
    call_id = await center.connected("agent01")
    await agent.ok("hangup", call_id=call_id)
    await center.until(lambda: center.state("agent01") == "wrap_up")
    await agent.ok("wrap_up_done", call_id=call_id)
    return call_id


async def test_an_admin_sets_the_policy_live_and_an_erasure_takes_the_recordings(center: Center) -> None:  # noqa: F811
    ada, admin, sup = await center.desk("agent01"), await center.desk("admin"), await center.desk("sup")
    await ada.ok("available")
    first = await _call(center, ada)
    assert await recording_of(center, first) is None  # the file's default: never

    status, live = await _json(await sup.session.get(f"{sup.base}/api/v1/recording-policy"))
    assert status == 200 and (live["version"], live["default"], live["origin"]) == (0, "never", "hotline.toml")
    assert "billing" in live["known_queues"]
    # validated, each problem naming its field; only an admin; only from the live version
    status, reply = await _put(admin, {"queues": {"billing": "sometimes", "nope": "all"}, "base_version": 0})
    assert status == 400 and reply["problems"][0].startswith("queues.billing: must be one of"), reply
    status, reply = await _put(admin, {"queues": {"nope": "all"}, "base_version": 0})
    assert status == 400 and reply["problems"] == [
        f"queues.nope: no such queue (known: {', '.join(live['known_queues'])})"
    ]
    status, reply = await _put(admin, {"default": "all", "color": "red", "base_version": 0})
    assert status == 400 and reply["problems"] == ["color: unknown field (only default, queues, campaigns)"]
    assert (await _put(sup, {"queues": {"billing": "all"}, "base_version": 0}))[0] == 403
    status, reply = await _put(admin, {"queues": {"billing": "all"}, "base_version": 0, "comment": "audit asks"})
    assert (status, reply["version"], reply["queues"]) == (200, 1, {"billing": "all"}), reply
    assert (await _put(admin, {"queues": {}, "base_version": 0}))[0] == 409  # edited from a stale version
    [entry] = await center.store.audit_entries(action="settings.recording_policy")
    assert (entry.actor, entry.detail["version"], entry.detail["queues"]) == ("admin", 1, {"billing": "all"})

    # the running loop records the next call by it: no restart
    second = await _call(center, ada)
    await center.until(lambda: _ended(center, second))
    rec = await center.store.get_recording(second)
    assert Path(rec.path).is_file()
    await center.until(lambda: _interaction(center, second))
    assert (await center.store.get_interaction(second)).customer_id == CUSTOMER.id

    # the customer asks to be forgotten: record, interactions and the recording's file go
    r = await admin.session.delete(f"{admin.base}/api/v1/customers/{CUSTOMER.id}", headers={"X-CSRF-Token": admin.csrf})
    erased = await r.json()
    assert r.status == 200 and erased["customer"] is True and erased["recordings"] == 1, erased
    assert erased["interactions"] >= 3  # the two calls and the seeded history
    assert not Path(rec.path).exists() and await recording_of(center, second) is None
    for gone in (center.store.get_interaction(second), center.store.get_customer(CUSTOMER.id)):
        try:
            await gone
            raise AssertionError("still kept")
        except NotFound:
            pass
    [entry] = await center.store.audit_entries(action="customer.erased")
    assert (entry.actor, entry.target, entry.detail["recordings"]) == ("admin", CUSTOMER.id, 1)
    assert CUSTOMER.name not in str(entry.detail)  # no personal data in the audit log
    r = await admin.session.delete(f"{admin.base}/api/v1/customers/{CUSTOMER.id}", headers={"X-CSRF-Token": admin.csrf})
    assert r.status == 404  # sent twice: nothing left
    r = await ada.session.delete(f"{ada.base}/api/v1/customers/C9", headers={"X-CSRF-Token": ada.csrf})
    assert r.status == 403


async def _json(r: Any) -> tuple[int, dict[str, Any]]:
    return r.status, await r.json()


async def _ended(center: Center, call_id: str) -> bool:  # noqa: F811
    rec = await recording_of(center, call_id)
    return rec is not None and rec.ended_at is not None


async def _interaction(center: Center, call_id: str) -> bool:  # noqa: F811
    try:
        await center.store.get_interaction(call_id)
    except NotFound:
        return False
    return True
