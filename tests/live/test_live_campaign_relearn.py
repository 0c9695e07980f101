"""What the live dialer's pacer learned (answer rate and times, handle times, gain)
starts again from its cold start when an admin's edit changes what it learned from
(mode, caller id, calling hours...: dialer.live.RELEARN_ON), and is kept through an
edit of anything else; a new abandon cap re-aims it without forgetting. Edited over the
admin API, applied by the server's live loop to the running dialer on the PBX emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.live_items import InLoop
from dialer.live import DialerRunner
from tests.live.test_live_commands import Center, center  # noqa: F401  (fixture)
from tests.web.test_web_campaign_editor_browser import runner


async def inside(c: Center, fn: Any) -> Any:
    """`fn()` inside the live loop's consumer (where the dialer's pacer lives)."""
    result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def call() -> None:
        result.set_result(fn())

    c.live.submit(InLoop(call))
    return await asyncio.wait_for(result, 5)


def learn(dialer: DialerRunner) -> None:
    """Thirty dials answered after 4 s, thirty calls of 60 s, a gain moved off its start."""
    pacer = dialer.pacer
    for _ in range(30):
        pacer.observe_dial_result(True, 4.0)
        pacer.observe_handle_time(60.0)
    pacer.gain = 1.7


def learned(dialer: DialerRunner) -> tuple[int, int, float]:
    pacer = dialer.pacer
    return pacer.dials_resolved, pacer.handle_time.n, round(pacer.gain, 3)


COLD = (0, 0, 0.2)  # (PacingConfig.initial_gain)


@pytest.mark.parametrize("center", [{"campaign": "predictive"}], indirect=True)  # (hotline.toml's "spring")
async def test_an_edit_resets_the_pacers_learning_only_when_it_changes_what_it_learned(
    center: Center,  # noqa: F811
) -> None:
    desk = await center.desk("admin")
    version = 0

    async def edit(**changes: Any) -> None:
        nonlocal version
        async with desk.session.put(
            f"{desk.base}/api/v1/campaigns/spring",
            json={**changes, "base_version": version},
            headers={"X-CSRF-Token": desk.csrf},
        ) as r:
            assert r.status == 200, await r.text()
            version = (await r.json())["version"]

    await center.until(lambda: runner(center, "spring") is not None)
    spring = runner(center, "spring")
    assert spring is not None
    await inside(center, lambda: learn(spring))
    await inside(center, lambda: spring.pacer.budget.record_answer(center.live.clock()))
    assert learned(spring) == (30, 30, 1.7)

    await edit(max_attempts=4, name="Spring again")  # nothing the pacer learned from
    await center.until(lambda: spring.campaign.config.max_attempts == 4)
    assert await inside(center, lambda: learned(spring)) == (30, 30, 1.7)

    await edit(drop_cap=0.02)  # re-aimed, nothing forgotten
    await center.until(lambda: spring.campaign.config.drop_cap == 0.02)
    assert await inside(center, lambda: learned(spring)) == (30, 30, 1.7)
    assert (spring.pacer.config.drop_cap, spring.pacer.budget.cap) == (0.02, 0.02)

    await edit(caller_id='"ACME" <8005550199>')  # other people answer another number
    await center.until(lambda: spring.campaign.config.caller_id == '"ACME" <8005550199>')
    assert await inside(center, lambda: learned(spring)) == COLD
    assert spring.pacer.answer_rate() == spring.pacer.config.prior_answer_rate
    assert spring.pacer.budget.total_answers == 1  # the regulators' counts are kept

    for change in (
        {"mode": "progressive"},
        {"calling_window": {"start": "09:00:00", "end": "20:00:00", "days": ["mon", "tue"]}},
    ):
        await inside(center, lambda: learn(spring))
        await edit(**change)
        await center.until(lambda: learned(spring) == COLD)
    assert spring.campaign.config.mode == "progressive" and spring.campaign.config.calling_window.end.hour == 20
    assert runner(center, "spring") is spring  # the same dialer throughout
