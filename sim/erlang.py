"""Erlang C (M/M/N) and Erlang A (M/M/N+M) queueing formulas, and staffing search.

Pure functions, no I/O. Rates are per second, times in seconds.

Erlang C (no abandonment):
    A = lambda * AHT, P(wait) = C(N, A), ASA = C * AHT / (N - A),
    SL(T) = 1 - C * exp(-(N - A) * T / AHT).

Erlang A (exponential patience, mean 1/theta): the birth-death chain with birth rate
lambda and death rate min(n, N) * mu + max(n - N, 0) * theta, truncated where the tail
weight is below 1e-16 of the total. Arrivals see the stationary distribution (PASTA):
  - P(wait) = P(n >= N);
  - a caller who finds j others waiting moves up one place at rate r_i = N*mu + i*theta
    (a service completion or an abandonment ahead of it) and abandons itself at rate
    theta; competing exponentials give P(served | j) = prod_{i<=j} r_i / (r_i + theta)
    and E[wait; served | j] = P(served | j) * sum_{i<=j} 1 / (r_i + theta) exactly;
  - P(abandon) = 1 - P(served) (cross-checked with theta * E[Lq] / lambda in tests);
  - SL(T) = P(served and wait <= T): the tagged caller's position is a pure-death chain
    with killing, solved by uniformization (exact up to a 1e-13 Poisson tail).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = [
    "ErlangResult",
    "StaffingResult",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "evaluate",
    "staff",
]


@dataclass(frozen=True, slots=True)
class ErlangResult:
    """Steady-state figures for N agents. `service_level` = answered within T / offered."""

    model: str  # "erlang_c" | "erlang_a"
    agents: int
    calls_per_hour: float
    aht_s: float
    patience_s: float | None
    threshold_s: float
    offered_load: float  # erlangs
    p_wait: float
    asa: float  # mean wait of answered calls, s
    service_level: float
    abandon_rate: float
    occupancy: float

    def to_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StaffingResult:
    agents: int  # on the phones, at the target
    scheduled: int  # agents to schedule once shrinkage is allowed for
    shrinkage: float
    result: ErlangResult

    def to_dict(self) -> dict[str, object]:
        return {
            "agents": self.agents,
            "scheduled": self.scheduled,
            "shrinkage": self.shrinkage,
            **{k: v for k, v in self.result.to_dict().items() if k != "agents"},
        }


def _check(agents: int, load: float) -> None:
    if not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents: must be an integer >= 1, got {agents!r}")
    if not load > 0 or math.isinf(load):
        raise ValueError(f"offered load: must be > 0 and finite, got {load!r}")


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of M/M/N/N (stable recursion)."""
    _check(agents, load)
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """P(wait) of M/M/N; 1.0 when the load is at or above the number of agents."""
    _check(agents, load)
    if load >= agents:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1.0 - b))


def _erlang_c_result(agents: int, lam: float, aht: float, threshold: float) -> ErlangResult:
    load = lam * aht
    if load >= agents:
        return ErlangResult(
            "erlang_c",
            agents,
            lam * 3600,
            aht,
            None,
            threshold,
            load,
            1.0,
            math.inf,
            0.0,
            0.0,
            1.0,
        )
    c = erlang_c(agents, load)
    return ErlangResult(
        model="erlang_c",
        agents=agents,
        calls_per_hour=lam * 3600,
        aht_s=aht,
        patience_s=None,
        threshold_s=threshold,
        offered_load=load,
        p_wait=c,
        asa=c * aht / (agents - load),
        service_level=1.0 - c * math.exp(-(agents - load) * threshold / aht),
        abandon_rate=0.0,
        occupancy=load / agents,
    )


def erlang_a(
    agents: int, calls_per_hour: float, aht_s: float, patience_s: float, threshold_s: float = 20.0
) -> ErlangResult:
    """M/M/N+M: exponential service (mean aht_s), exponential patience (mean patience_s)."""
    if not aht_s > 0:
        raise ValueError(f"aht_s: must be > 0, got {aht_s!r}")
    if not patience_s > 0:
        raise ValueError(f"patience_s: must be > 0, got {patience_s!r}")
    if threshold_s < 0:
        raise ValueError(f"threshold_s: must be >= 0, got {threshold_s!r}")
    lam = calls_per_hour / 3600.0
    mu = 1.0 / aht_s
    theta = 1.0 / patience_s
    load = lam * aht_s
    _check(agents, load)
    b = erlang_b(agents, load)
    # weights relative to pi_N: states below N sum to 1/B - 1 (B = Erlang B at N).
    below = 1.0 / b - 1.0
    w = [1.0]  # w[j] = pi_{N+j} / pi_N
    j = 0
    total_queue = 1.0
    while True:
        j += 1
        nxt = w[-1] * lam / (agents * mu + j * theta)
        w.append(nxt)
        total_queue += nxt
        if agents * mu + j * theta > lam and nxt < 1e-16 * (below + total_queue):
            break
        if j > 2_000_000:
            raise ValueError(
                f"Erlang A: patience_s={patience_s} is too long for an overloaded system "
                f"(load {load:.1f} erlangs on {agents} agents): the queue does not settle"
            )
    total = below + total_queue
    p_wait = total_queue / total
    # a caller who arrives in state N + j has j others waiting ahead of it
    served_wait = 0.0  # P(wait > 0 and served)
    wait_sum = 0.0  # E[wait; served]
    prod = 1.0
    inv_sum = 0.0
    for jj, wj in enumerate(w):
        r = agents * mu + jj * theta
        prod *= r / (r + theta)
        inv_sum += 1.0 / (r + theta)
        pj = wj / total
        served_wait += pj * prod
        wait_sum += pj * prod * inv_sum
    p_no_wait = below / total
    p_served = p_no_wait + served_wait
    asa = wait_sum / p_served
    sl = p_no_wait + _served_within(w, total, agents * mu, theta, threshold_s)
    return ErlangResult(
        model="erlang_a",
        agents=agents,
        calls_per_hour=calls_per_hour,
        aht_s=aht_s,
        patience_s=patience_s,
        threshold_s=threshold_s,
        offered_load=load,
        p_wait=p_wait,
        asa=asa,
        service_level=sl,
        abandon_rate=1.0 - p_served,
        occupancy=lam * p_served * aht_s / agents,
    )


def _served_within(w: list[float], total: float, n_mu: float, theta: float, t: float) -> float:
    """P(the caller waits, is served, and its wait <= t), by uniformization of the
    tagged caller's position chain (j -> j-1 at rate r_j, killed at rate theta,
    served from j = 0 at rate r_0)."""
    if t <= 0:
        return 0.0
    p = [wj / total for wj in w]
    rates = [n_mu + j * theta for j in range(len(p))]
    big = rates[-1] + theta  # uniformization constant >= every exit rate
    lt = big * t
    # Poisson(lt) weights, summed until the tail is < 1e-13
    k_max = int(lt + 12.0 * math.sqrt(lt) + 30)
    served = 0.0  # absorbing "served" mass at step k
    log_pk = -lt
    cum = 0.0
    stay = [1.0 - (r + theta) / big for r in rates]
    move = [r / big for r in rates]
    for k in range(k_max + 1):
        weight = math.exp(log_pk)
        cum += weight * served
        # one uniformized step
        served += move[0] * p[0]
        new = [p[i] * stay[i] + (p[i + 1] * move[i + 1]) for i in range(len(p) - 1)]
        new.append(p[-1] * stay[-1])
        p = new
        log_pk += math.log(lt) - math.log(k + 1) if lt > 0 else -math.inf
    # P(served by t) = sum_k Poisson_k(lt) * served_after_k_steps
    return cum


def evaluate(
    agents: int,
    calls_per_hour: float,
    aht_s: float,
    threshold_s: float = 20.0,
    patience_s: float | None = None,
) -> ErlangResult:
    """Erlang C when patience_s is None, Erlang A otherwise."""
    if not calls_per_hour > 0:
        raise ValueError(f"calls_per_hour: must be > 0, got {calls_per_hour!r}")
    if not aht_s > 0:
        raise ValueError(f"aht_s: must be > 0, got {aht_s!r}")
    _check(agents, calls_per_hour / 3600.0 * aht_s)
    if patience_s is None:
        return _erlang_c_result(agents, calls_per_hour / 3600.0, aht_s, threshold_s)
    return erlang_a(agents, calls_per_hour, aht_s, patience_s, threshold_s)


def staff(
    calls_per_hour: float,
    aht_s: float,
    target_sl: float = 0.8,
    threshold_s: float = 20.0,
    patience_s: float | None = None,
    shrinkage: float = 0.0,
    max_abandon: float | None = None,
    max_agents: int = 100_000,
) -> StaffingResult:
    """Fewest agents whose service level (answered within T / offered) reaches target_sl
    (and abandonment stays <= max_abandon when given); `scheduled` adds shrinkage:
    ceil(agents / (1 - shrinkage))."""
    if not 0 < target_sl < 1:
        raise ValueError(f"target_sl: must be in (0, 1), got {target_sl!r}")
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage: must be in [0, 1), got {shrinkage!r}")
    load = calls_per_hour / 3600.0 * aht_s

    def ok(n: int) -> ErlangResult | None:
        r = evaluate(n, calls_per_hour, aht_s, threshold_s, patience_s)
        good = r.service_level >= target_sl and (max_abandon is None or r.abandon_rate <= max_abandon)
        return r if good else None

    # SL rises and abandonment falls with N: bracket by doubling, then bisect.
    lo = math.floor(load) if patience_s is None else 0  # known not enough (or 0)
    hi = max(lo + 1, 1)
    while hi <= max_agents and ok(hi) is None:
        lo, hi = hi, hi * 2
    if hi > max_agents:
        if ok(max_agents) is None:
            hi = max_agents + 1
        else:
            hi = max_agents
    if hi <= max_agents:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid) is None:
                lo = mid
            else:
                hi = mid
        r = ok(hi)
        assert r is not None
        scheduled = math.ceil(hi / (1.0 - shrinkage) - 1e-9)
        return StaffingResult(hi, scheduled, shrinkage, r)
    raise ValueError(
        f"target_sl {target_sl} not reachable with <= {max_agents} agents ({calls_per_hour} calls/h, AHT {aht_s} s)"
    )
