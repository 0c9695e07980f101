"""Agents needed per interval for a service-level target: Erlang A (sim.erlang) on the
forecast volume and handle time, with the callers' patience estimated from the history
and shrinkage on top. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.erlang import staff
from wfm.history import CallRecord


def mean_patience(calls: Sequence[CallRecord]) -> float:
    """Mean patience (exponential) from waits that are partly censored: the callers who
    hung up show their patience, the served only that it was longer than their wait.
    The maximum-likelihood mean is then total waiting time / hang-ups."""
    hung_up = sum(1 for c in calls if not c.answered)
    if not hung_up:
        raise ValueError("no caller hung up in the history: patience cannot be estimated (give --patience)")
    return sum(c.wait for c in calls) / hung_up


@dataclass(frozen=True)
class Requirement:
    start: float  # epoch seconds
    calls: float  # forecast calls in the interval
    aht: float | None
    agents: int  # on the phones
    scheduled: int  # with shrinkage
    service_level: float | None  # Erlang A's, at `agents`


def requirements(
    starts: Sequence[float],
    volumes: Sequence[float],
    ahts: Sequence[float | None],
    interval_s: int,
    patience_s: float,
    target_sl: float = 0.8,
    threshold_s: float = 20.0,
    shrinkage: float = 0.3,
    fallback_aht: float = 180.0,
) -> list[Requirement]:
    """Per interval: fewest agents for `target_sl` (answered within threshold_s /
    offered, Erlang A), and those to schedule once `shrinkage` is allowed for. An
    interval with no forecast handle time takes `fallback_aht`; one with (almost) no
    calls needs nobody."""
    out = []
    for t, v, a in zip(starts, volumes, ahts, strict=True):
        aht = a if a is not None and a > 0 else fallback_aht
        if v < 0.05:
            out.append(Requirement(t, v, a, 0, 0, None))
            continue
        r = staff(v * 3600.0 / interval_s, aht, target_sl, threshold_s, patience_s, shrinkage)
        out.append(Requirement(t, v, a, r.agents, r.scheduled, r.result.service_level))
    return out
