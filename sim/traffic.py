"""Real-time traffic for the demo and the soak tests: emulated callers through AMI.

The schedule is the simulator's (Poisson arrivals, patience and talk-time
distributions from `sim.dists`), paced on the wall clock and played against a PBX
(the emulator, or any Asterisk configured like ami-traces/asterisk-config) with
Originate: `Local/<exten>@inbound` whose `;1` half is the caller's phone
(`caller-phone,wait` with PATIENCE, or `caller-phone,dtmf` pressing IVR digits).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import structlog

from cti.pbx import PbxActions, PbxError
from sim.arrivals import poisson_profile
from sim.dists import Dist, exponential

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class CallPlan:
    at: float  # seconds after the start
    caller_name: str
    caller_number: str
    patience_s: float
    talk_s: float
    ivr_digits: str = ""  # "" : straight to the hold queue (exten 1000)


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    calls_per_hour: float = 360.0
    patience: Dist = field(default_factory=lambda: exponential(120.0))
    talk: Dist = field(default_factory=lambda: Dist("lognormal", 3.4, 0.5))  # median ~30 s
    ivr_share: float = 0.5  # share of callers who go through the IVR
    ivr_choices: Sequence[str] = ("2", "4", "9", "2", "4")  # digits pressed at the main menu
    known_numbers: Sequence[tuple[str, str]] = ()  # (name, number) of CRM customers
    known_share: float = 0.8
    seed: int = 7


def plan_calls(profile: TrafficProfile, duration_s: float) -> Iterator[CallPlan]:
    """The call schedule: pure and seeded (the same profile gives the same calls)."""
    rng = random.Random(profile.seed)
    for at in poisson_profile(rng, "demo", [profile.calls_per_hour], duration_s, 0.0, duration_s):
        if profile.known_numbers and rng.random() < profile.known_share:
            name, number = rng.choice(list(profile.known_numbers))
        else:
            name, number = "Unknown", f"555{rng.randrange(10**6, 10**7)}"
        ivr = rng.random() < profile.ivr_share
        yield CallPlan(
            at=at,
            caller_name=name,
            caller_number=number,
            patience_s=max(1.0, profile.patience.sample(rng)),
            talk_s=max(2.0, min(profile.talk.sample(rng), 600.0)),
            ivr_digits=rng.choice(list(profile.ivr_choices)) if ivr else "",
        )


async def place_call(pbx: PbxActions, plan: CallPlan) -> str:
    variables = {"PATIENCE": f"{plan.patience_s:.1f}", "__AGENT_TALK": f"{plan.talk_s:.1f}"}
    if plan.ivr_digits:
        variables |= {"DTMF_DIGITS": plan.ivr_digits, "DTMF_DELAY": "1"}
    queued = await pbx.originate(
        "Local/1500@inbound" if plan.ivr_digits else "Local/1000@inbound",
        context="caller-phone",
        exten="dtmf" if plan.ivr_digits else "wait",
        caller_id=f'"{plan.caller_name}" <{plan.caller_number}>',
        variables=variables,
        timeout_s=30,
    )
    return queued.originate_id


async def run_traffic(
    pbx: PbxActions,
    profile: TrafficProfile,
    duration_s: float,
    *,
    sleep: Callable[[float], asyncio.Future[None] | asyncio.Task[None] | object] = asyncio.sleep,
    loop_time: Callable[[], float] | None = None,
) -> int:
    """Place the planned calls at their times; returns how many were placed."""
    clock = loop_time or asyncio.get_running_loop().time
    start = clock()
    placed = 0
    for plan in plan_calls(profile, duration_s):
        delay = start + plan.at - clock()
        if delay > 0:
            await sleep(delay)  # type: ignore[misc]
        try:
            await place_call(pbx, plan)
            placed += 1
        except PbxError as exc:  # the PBX is away (reconnecting): this caller never rang
            log.warning("traffic_originate_failed", error=str(exc))
    return placed
