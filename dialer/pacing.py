"""Predictive pacing: how many numbers to dial now.

A pure, synchronous core (no clock, no I/O, no asyncio, no simpy): the live
server passes `clock.now()` and a snapshot of its agents and dials in flight, the
simulator passes `env.now` and its own snapshot. Both drive the same `Pacer`.

How a decision is made
----------------------
For a look-ahead grid of times t (0..horizon), with everything a sum of
independent Bernoulli variables (normal approximation):

    demand(t) = answered humans still waiting for an agent
              + humans answering, by t, among the dials in flight   (answer-time model)
              + humans answering, by t, among n new dials
              + inbound calls expected to take an agent by t + grace (blending: inbound first)
    supply(t) = agents idle now
              + busy agents expected to be free by t + grace         (handle-time model,
                                                                      conditioned on the
                                                                      time already spent)
    overflow(t) = E[(demand(t) - supply(t))+]

The largest n is dialled such that max_t overflow(t) <= rho * E[answers in the
horizon]. `rho` is the effective drop target times a gain that an integral
controller adjusts from the observed outcome of every live answer (connected or
dropped), so the realised drop rate settles on the target whatever the
campaign's mix is.

The hard cap: `DropBudget` keeps dropped / live-answered over each regulatory
window (30 days and 24 hours by default), looking ahead at the answers about to
leave each window. Three layers keep every window under the cap:
1. the target the pacer aims at is the cap less a margin, and the margin tightens
   as the budget of the most-used window is used up;
2. the dials in flight may exceed the drops left in the budget only with a small
   probability (`budget_risk_z`, a normal quantile of demand - supply);
3. with fewer than `min_reserve_drops` drops left in any window (including at the
   start of a campaign, before enough calls were answered), the pacer falls back to
   progressive dialing (one dial per idle agent, which cannot drop).
With no agent ready it never dials.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

DAY = 86400.0

MODE_PREDICTIVE = "predictive"
MODE_PROGRESSIVE = "progressive"
MODE_PREVIEW = "preview"
MODES = (MODE_PREVIEW, MODE_PROGRESSIVE, MODE_PREDICTIVE)


class PacingConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """Tunables of the pacer. Validated on construction."""

    drop_cap: float = 0.03  # dropped / live-answered, hard limit per window
    windows_s: tuple[float, ...] = (30 * DAY, DAY)
    margin: float = 0.05  # aim at cap * (1 - margin) while the budget is healthy
    tighten_from: float = 0.9  # fraction of a window's budget used where the margin grows
    min_reserve_drops: float = 1.0  # fewer drops left than this in any window -> progressive
    connect_grace_s: float = 2.0  # a human not connected within this is dropped
    no_answer_timeout_s: float = 25.0
    prior_answer_rate: float = 0.3
    prior_ring_s: float = 10.0  # mean time to a human answer, before observations
    prior_aht_s: float = 180.0  # mean handle time (talk + wrap-up), before observations
    prior_weight: float = 20.0  # pseudo-observations given to the priors
    answer_rate_memory: float = 1000.0  # dials: the answer rate forgets older ones at this scale
    max_lines_per_agent: float = 8.0  # dials in flight per ready agent, at most
    max_dials_per_decision: int = 200
    budget_risk_z: float = 3.0  # in-flight drops may exceed the budget left with prob. ~ 1 - Phi(z)
    initial_gain: float = 0.2  # starting point of the controller (~ where it settles)
    gain_rate_initial: float = 0.05  # ... and its larger value for the first answers
    gain_rate: float = 0.003  # integral controller step per live answer
    gain_min: float = 0.02
    gain_max: float = 50.0
    grid_step_s: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            (0.0 < self.drop_cap < 1.0, "drop_cap: must be in (0, 1)"),
            (len(self.windows_s) > 0 and all(w > 0 for w in self.windows_s), "windows_s: must be > 0"),
            (0.0 <= self.margin < 1.0, "margin: must be in [0, 1)"),
            (0.0 <= self.tighten_from < 1.0, "tighten_from: must be in [0, 1)"),
            (self.min_reserve_drops >= 0, "min_reserve_drops: must be >= 0"),
            (self.connect_grace_s >= 0, "connect_grace_s: must be >= 0"),
            (self.no_answer_timeout_s > 0, "no_answer_timeout_s: must be > 0"),
            (0.0 < self.prior_answer_rate <= 1.0, "prior_answer_rate: must be in (0, 1]"),
            (self.prior_ring_s > 0, "prior_ring_s: must be > 0"),
            (self.prior_aht_s > 0, "prior_aht_s: must be > 0"),
            (self.prior_weight > 0, "prior_weight: must be > 0"),
            (self.answer_rate_memory >= 1, "answer_rate_memory: must be >= 1"),
            (self.max_lines_per_agent >= 1, "max_lines_per_agent: must be >= 1"),
            (self.max_dials_per_decision >= 1, "max_dials_per_decision: must be >= 1"),
            (0 < self.gain_min <= self.gain_max, "gain_min/gain_max: need 0 < min <= max"),
            (self.gain_min <= self.initial_gain <= self.gain_max, "initial_gain: must be within gain_min..gain_max"),
            (self.gain_rate >= 0 and self.gain_rate_initial >= 0, "gain_rate/gain_rate_initial: must be >= 0"),
            (self.budget_risk_z >= 0, "budget_risk_z: must be >= 0"),
            (self.grid_step_s > 0, "grid_step_s: must be > 0"),
        ]
        problems = [reason for ok, reason in checks if not ok]
        if problems:
            raise PacingConfigError("; ".join(problems))


# ---------------------------------------------------------------- the drop budget


class DropBudget:
    """Dropped and live-answered calls over rolling windows (the regulators' cap).

    Times are whatever the caller's clock is (epoch or simulated seconds).

    Looking ahead at exits: in a rolling window, old answers leave the window. If
    they leave with fewer drops than the window's average (e.g. the drop-free
    progressive start of a campaign), the rate of the window rises although nothing
    new was dropped. So the budget is the worst, over the next `lookahead(window)`
    seconds, of cap * answers still inside then - drops still inside then (no credit
    taken for the answers to come).
    """

    def __init__(
        self, cap: float, windows_s: Sequence[float], lookahead_share: float = 0.5, lookahead_max_s: float = 43200.0
    ) -> None:
        self.cap = cap
        self.windows_s = tuple(windows_s)
        self.lookahead_share = lookahead_share
        self.lookahead_max_s = lookahead_max_s
        self._answers: list[float] = []  # sorted
        self._drops: list[float] = []  # sorted
        self.total_answers = 0
        self.total_drops = 0
        self._cache: tuple[float, float, float] | None = None  # (now, remaining, used)

    def retune(self, cap: float, windows_s: Sequence[float]) -> None:
        """A new cap or windows (an admin's edit): the answers and drops counted stay."""
        self.cap, self.windows_s = cap, tuple(windows_s)
        self._cache = None

    def lookahead(self, window_s: float) -> float:
        return min(self.lookahead_share * window_s, self.lookahead_max_s)

    def record_answer(self, at: float) -> None:
        """A live (human) answer, whether it was then connected or dropped."""
        bisect.insort(self._answers, at)
        self.total_answers += 1
        self._cache = None

    def record_drop(self, at: float) -> None:
        bisect.insort(self._drops, at)
        self.total_drops += 1
        self._cache = None

    def _compact(self, now: float) -> None:
        horizon = now - max(self.windows_s)
        for times in (self._answers, self._drops):
            k = bisect.bisect_right(times, horizon)
            if k > 1024:
                del times[:k]

    @staticmethod
    def _count(times: list[float], lo: float, hi: float) -> int:
        return bisect.bisect_right(times, hi) - bisect.bisect_right(times, lo)

    def counts(self, now: float, window_s: float) -> tuple[int, int]:
        """(answers, drops) in the window (now - window_s, now]."""
        lo = now - window_s
        return self._count(self._answers, lo, now), self._count(self._drops, lo, now)

    def _evaluate(self, now: float) -> tuple[float, float]:
        if self._cache is not None and self._cache[0] == now:
            return self._cache[1], self._cache[2]
        self._compact(now)
        remaining = math.inf
        used = 0.0
        for w in self.windows_s:
            ahead = self.lookahead(w)
            for k in range(5):
                lo = now - w + ahead * k / 4.0
                answers = self._count(self._answers, lo, now)
                drops = self._count(self._drops, lo, now)
                remaining = min(remaining, self.cap * answers - drops)
                used = max(used, drops / (self.cap * answers) if answers else (1.0 if drops or k == 0 else 0.0))
        self._cache = (now, remaining, used)
        return remaining, used

    def remaining(self, now: float) -> float:
        """Drops still allowed before the tightest window reaches the cap (looking ahead)."""
        return self._evaluate(now)[0]

    def used_fraction(self, now: float) -> float:
        """Largest share of a window's budget used (1.0 when nothing was answered yet)."""
        return self._evaluate(now)[1]


def max_window_rate(
    answer_times: Sequence[float],
    drop_times: Sequence[float],
    window_s: float,
    start: float,
    end: float,
) -> float:
    """Worst dropped / live-answered over every window (t - window_s, t] inside [start, end].

    Windows are evaluated ending at every answer or drop time t >= start + window_s
    (and at `end`). If the run is shorter than one window, it is the whole run's rate.
    Both sequences must be sorted.
    """
    if end - start <= window_s:
        return len(drop_times) / len(answer_times) if answer_times else 0.0
    ends = sorted(
        {t for t in answer_times if t >= start + window_s} | {t for t in drop_times if t >= start + window_s} | {end}
    )
    worst = 0.0
    for t in ends:
        lo = t - window_s
        answers = bisect.bisect_right(answer_times, t) - bisect.bisect_right(answer_times, lo)
        drops = bisect.bisect_right(drop_times, t) - bisect.bisect_right(drop_times, lo)
        if answers:
            worst = max(worst, drops / answers)
    return worst


# ---------------------------------------------------------------- observed distributions


class _Histogram:
    """Durations in fixed bins; survival by Kaplan-Meier over the observed durations,
    the ones still running (censored: a busy agent's call so far) and `prior_weight`
    pseudo-observations drawn from an exponential prior.

    Without the censored ones, early in a campaign only the short calls have ended
    and handle time would be badly underestimated (the pacer would then overdial).
    `table()[i]` = P(D >= i * step). Tables are rebuilt lazily, when the sample count
    grew by 5% (or 10 samples), so lookups stay O(1).
    """

    def __init__(self, prior_mean: float, prior_weight: float, step: float, limit: float) -> None:
        self.prior_mean = prior_mean
        self.prior_weight = prior_weight
        self.step = step
        self.nbins = math.ceil(limit / step) + 2
        self.counts = [0] * self.nbins
        self.n = 0
        self._table: list[float] = []
        self._mean = prior_mean
        self._built_at = -1

    def add(self, duration: float) -> None:
        i = min(int(max(duration, 0.0) / self.step), self.nbins - 1)
        self.counts[i] += 1
        self.n += 1

    def mean(self) -> float:
        """Mean of the last table built (the prior's mean before that)."""
        return self._mean

    def _rebuild(self, censored: Sequence[float]) -> None:
        nb = self.nbins
        cens = [0] * nb
        for e in censored:
            cens[min(int(max(e, 0.0) / self.step), nb - 1)] += 1
        w = self.prior_weight
        h_prior = 1.0 - math.exp(-self.step / self.prior_mean)
        # at risk in bin i: completed in bins >= i, plus censored in bins > i
        at_risk_done = self.n
        at_risk_cens = len(censored) - cens[0]
        surv = 1.0
        prior_surv = 1.0
        table = []
        mean = 0.0
        for i in range(nb):
            table.append(surv)
            mean += surv * self.step
            d = self.counts[i]
            r = at_risk_done + at_risk_cens
            pw = w * prior_surv
            hazard = (d + pw * h_prior) / (r + pw) if (r + pw) > 0 else h_prior
            surv *= max(0.0, 1.0 - hazard)
            prior_surv *= 1.0 - h_prior
            at_risk_done -= d
            if i + 1 < nb:
                at_risk_cens -= cens[i + 1]
        self._table = table
        self._mean = mean + surv * self.prior_mean  # tail beyond the table: prior shape
        self._built_at = self.n

    def table(self, censored: Sequence[float] = ()) -> list[float]:
        if self._built_at < 0 or self.n - self._built_at >= max(10, self._built_at // 20):
            self._rebuild(censored)
        return self._table


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    """What the pacer sees at one instant. All durations in seconds."""

    now: float
    agents_ready: int  # logged in and not paused (idle, reserved, on a call or in wrap-up)
    agents_idle: int  # ready and free right now (not reserved, not on a call)
    busy_elapsed: Sequence[float] = ()  # for each busy agent: seconds into the current handling
    ringing_elapsed: Sequence[float] = ()  # for each dial in flight: seconds since it was placed
    answered_waiting: int = 0  # humans answered and not yet connected (within the grace)
    inbound_waiting: int = 0  # inbound calls queued for these agents (they go first)
    inbound_rate_per_s: float = 0.0  # expected inbound arrivals taking these agents


@dataclass(frozen=True, slots=True)
class PacingDecision:
    dial: int
    mode: str  # predictive | progressive
    reason: str
    target_drop_rate: float = 0.0
    expected_answers: float = 0.0
    expected_overflow: float = 0.0


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _Phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def expected_overflow(mean: float, var: float) -> float:
    """E[(X)+] for X ~ Normal(mean, var)."""
    if var <= 1e-12:
        return max(mean, 0.0)
    sd = math.sqrt(var)
    z = mean / sd
    return mean * _Phi(z) + sd * _phi(z)


class Pacer:
    """The pacing core for one campaign: observed distributions, the drop budget and
    the decision. Feed it outcomes (`observe_*`) and ask `decide(snapshot)`."""

    def __init__(self, config: PacingConfig | None = None) -> None:
        self.config = config or PacingConfig()
        c = self.config
        self.budget = DropBudget(c.drop_cap, c.windows_s)
        # answer model: P(human) and the time to a human answer / to any other resolution
        self.dials_resolved = 0
        self.humans = 0
        self._recent_dials = 0.0
        self._recent_humans = 0.0
        self.answer_delay = _Histogram(c.prior_ring_s, c.prior_weight, c.grid_step_s, c.no_answer_timeout_s)
        self.other_delay = _Histogram(c.no_answer_timeout_s, c.prior_weight, c.grid_step_s, c.no_answer_timeout_s)
        self.handle_time = _Histogram(c.prior_aht_s, c.prior_weight, c.grid_step_s, max(3600.0, 20 * c.prior_aht_s))
        self.gain = c.initial_gain
        # look-ahead grid, in steps: dense first (answers come early), sparser later
        last = math.ceil(c.no_answer_timeout_s / c.grid_step_s)
        ks = {0, last}
        k, gap = 0, 1
        while k < last:
            ks.add(k)
            k += gap
            if k >= 8:
                gap = max(gap, k // 4)
        self._ks = sorted(ks)
        grace_steps = round(c.connect_grace_s / c.grid_step_s)
        self._sup_offs = [k + grace_steps for k in self._ks]
        self._sup_cache: dict[int, tuple[list[float], list[float]]] = {}
        self._sup_cache_table: list[float] | None = None
        self.budget_limited = False
        self._censored: Sequence[float] = ()
        self.last_mode = ""  # mode of the last decision: the gain learns only from predictive pacing

    def retune(self, config: PacingConfig) -> bool:
        """Take a new cap, windows or margin (an admin's edit) keeping what was learned
        (answer and handle-time models, gain, the budget's counts): they aim the pacer,
        they do not change what it observes. False, nothing changed, when another
        tunable differs: those shape the models, so a new Pacer must learn again."""
        old = self.config
        if replace(config, drop_cap=old.drop_cap, windows_s=old.windows_s, margin=old.margin) != old:
            return False
        self.config = config
        self.budget.retune(config.drop_cap, config.windows_s)
        return True

    # ------------------------------------------------------------ observations
    def observe_dial_result(self, human: bool, ring_s: float) -> None:
        """A dial resolved after `ring_s`: a human answered, or not (busy, no answer, machine...)."""
        self.dials_resolved += 1
        # the answer rate drifts over a day: recent dials weigh more (exponential forgetting)
        keep = 1.0 - 1.0 / self.config.answer_rate_memory
        self._recent_dials = self._recent_dials * keep + 1.0
        self._recent_humans = self._recent_humans * keep + (1.0 if human else 0.0)
        if human:
            self.humans += 1
            self.answer_delay.add(ring_s)
        else:
            self.other_delay.add(ring_s)

    def observe_live_answer(self, at: float, dropped: bool) -> None:
        """The fate of a live answer: connected to an agent, or dropped. Call it once the
        fate is known (at connect or at drop)."""
        self.budget.record_answer(at)
        if dropped:
            self.budget.record_drop(at)
        target = self.target_drop_rate(at)
        # integral control on log(gain): +rate*target per connected answer, -rate*(1-target) per drop
        if target > 0 and self.last_mode == MODE_PREDICTIVE and not self.budget_limited:
            # faster learning while few answers were seen, then the steady rate
            rate = max(
                self.config.gain_rate, self.config.gain_rate_initial / math.sqrt(1.0 + self.budget.total_answers / 20.0)
            )
            step = rate * ((0.0 if dropped else 1.0) * target - (1.0 - target if dropped else 0.0)) / target
            self.gain = min(self.config.gain_max, max(self.config.gain_min, self.gain * math.exp(step)))

    def observe_handle_time(self, seconds: float) -> None:
        self.handle_time.add(seconds)

    # ------------------------------------------------------------ estimates
    def answer_rate(self) -> float:
        """Share of dials a human answers: the prior blended with the recent dials."""
        c = self.config
        return (c.prior_answer_rate * c.prior_weight + self._recent_humans) / (c.prior_weight + self._recent_dials)

    def target_drop_rate(self, now: float) -> float:
        """The cap less a margin that tightens as the most-used window's budget runs out."""
        c = self.config
        used = self.budget.used_fraction(now)
        base = c.drop_cap * (1.0 - c.margin)
        if used <= c.tighten_from:
            return base
        return max(0.0, base * (1.0 - used) / (1.0 - c.tighten_from))

    # ------------------------------------------------------------ the decision
    def progressive(self, snap: PacingSnapshot, reason: str) -> PacingDecision:
        free = snap.agents_idle - len(snap.ringing_elapsed) - snap.answered_waiting - snap.inbound_waiting
        return PacingDecision(dial=max(0, free), mode=MODE_PROGRESSIVE, reason=reason)

    def decide(self, snap: PacingSnapshot, mode: str = MODE_PREDICTIVE) -> PacingDecision:
        decision = self._decide(snap, mode)
        self.last_mode = decision.mode
        return decision

    def _decide(self, snap: PacingSnapshot, mode: str) -> PacingDecision:
        c = self.config
        if mode not in MODES:
            raise ValueError(f"pacing mode {mode!r}: use one of {', '.join(MODES)}")
        if snap.agents_ready <= 0:
            return PacingDecision(dial=0, mode=mode, reason="no_agent_ready")
        if mode == MODE_PREVIEW:
            return PacingDecision(dial=0, mode=mode, reason="preview_agent_dials")
        if mode == MODE_PROGRESSIVE:
            return self.progressive(snap, "progressive_mode")
        if self.budget.remaining(snap.now) < c.min_reserve_drops:
            return self.progressive(snap, "drop_budget_spent")
        target = self.target_drop_rate(snap.now)
        if target <= 0:
            return self.progressive(snap, "drop_budget_spent")
        return self._predictive(snap, target)

    def _supply_vectors(self, i: int) -> tuple[list[float], list[float]]:
        """P(a busy agent i steps into its handling is free by grid[k] + grace), and its variance."""
        s_tab = self.handle_time.table(self._censored)
        if s_tab is not self._sup_cache_table:
            self._sup_cache = {}
            self._sup_cache_table = s_tab
        hit = self._sup_cache.get(i)
        if hit is not None:
            return hit
        nb = len(s_tab)
        c = self.config
        if i >= nb - 1:
            mean = self.handle_time.mean()
            f = [1.0 - math.exp(-(k * c.grid_step_s + c.connect_grace_s) / mean) for k in self._ks]
        else:
            s0 = s_tab[i]
            if s0 <= 1e-12:
                f = [1.0] * len(self._ks)
            else:
                f = [1.0 - (s_tab[i + o] if i + o < nb else 0.0) / s0 for o in self._sup_offs]
        hit = (f, [x * (1.0 - x) for x in f])
        self._sup_cache[i] = hit
        return hit

    def _predictive(self, snap: PacingSnapshot, target: float) -> PacingDecision:
        c = self.config
        ks = self._ks
        ng = len(ks)
        step = c.grid_step_s
        g = c.connect_grace_s
        p = self.answer_rate()

        # supply: idle agents plus busy agents done by t + grace (grouped by elapsed step)
        sup_mean = [float(snap.agents_idle)] * ng
        sup_var = [0.0] * ng
        self._censored = snap.busy_elapsed  # calls still running: censored handle times
        self.handle_time.table(self._censored)
        groups: dict[int, int] = {}
        for e in snap.busy_elapsed:
            i = int(e / step)
            groups[i] = groups.get(i, 0) + 1
        for i, count in groups.items():
            f, v = self._supply_vectors(i)
            if count == 1:
                sup_mean = [a + b for a, b in zip(sup_mean, f, strict=False)]
                sup_var = [a + b for a, b in zip(sup_var, v, strict=False)]
            else:
                sup_mean = [a + count * b for a, b in zip(sup_mean, f, strict=False)]
                sup_var = [a + count * b for a, b in zip(sup_var, v, strict=False)]

        # demand already committed: answered waiting, dials in flight, inbound (goes first)
        lam = snap.inbound_rate_per_s
        dem_mean = [snap.answered_waiting + snap.inbound_waiting + lam * (k * step + g) for k in ks]
        dem_var = [lam * (k * step + g) for k in ks]
        ans_by = [float(snap.answered_waiting)] * ng  # outbound live answers expected by grid[k]
        a_tab = self.answer_delay.table()  # survival of the time to a human answer
        o_tab = self.other_delay.table()  # survival of the time to another resolution
        na = len(a_tab)
        pend: dict[int, int] = {}
        for e in snap.ringing_elapsed:
            i = min(int(e / step), na - 1)
            pend[i] = pend.get(i, 0) + 1
        pend_answers = 0.0
        for i, count in pend.items():
            alive = p * a_tab[i] + (1.0 - p) * o_tab[i]
            if alive <= 1e-12:
                continue
            for idx, k in enumerate(ks):
                j = i + k
                q = p * (a_tab[i] - (a_tab[j] if j < na else 0.0)) / alive
                dem_mean[idx] += count * q
                dem_var[idx] += count * q * (1.0 - q)
                ans_by[idx] += count * q
            pend_answers += count * p * a_tab[i] / alive
        # a new dial has a human answer by grid[k] with probability p * (1 - A(grid[k]))
        new_q = [p * (1.0 - (a_tab[k] if k < na else 0.0)) for k in ks]

        # The normal approximation of demand - supply puts some mass above 0 even with
        # no demand at all (which cannot drop anything); that spurious part, the overflow
        # of "supply alone", is taken off.
        base = [
            (
                dem_mean[i] - sup_mean[i],
                dem_var[i] + sup_var[i],
                new_q[i],
                new_q[i] * (1.0 - new_q[i]),
                ans_by[i] + 1.0,
                expected_overflow(-sup_mean[i], sup_var[i]),
            )
            for i in range(ng)
        ]
        committed = snap.answered_waiting + pend_answers
        rho = target * self.gain
        # the budget left in the tightest window bounds the overflow risked in flight
        remaining = self.budget.remaining(snap.now)
        budget_room = remaining - 1.0
        z = c.budget_risk_z

        def worst_overflow(n: int) -> float:
            return max(
                max(0.0, expected_overflow(m + n * q, v + n * qv) - spurious) for m, v, q, qv, _a, spurious in base
            )

        def acceptable(n: int) -> tuple[bool, bool]:
            # rate: at every look-ahead time, expected drops by t <= rho * expected live answers by t
            # budget: the drops in flight exceed what is left of the budget with probability
            #         below ~alpha (normal quantile of demand - supply at every look-ahead time)
            ok_rate = True
            ok_budget = True
            for m, v, q, qv, a, spurious in base:
                mean = m + n * q
                var = v + n * qv
                if ok_rate and expected_overflow(mean, var) - spurious > rho * (a + n * q):
                    ok_rate = False
                if ok_budget and mean + z * math.sqrt(var) > budget_room:
                    ok_budget = False
                if not (ok_rate or ok_budget):
                    break
            return ok_rate, ok_budget

        max_n = min(
            c.max_dials_per_decision,
            max(0, int(c.max_lines_per_agent * snap.agents_ready) - len(snap.ringing_elapsed)),
        )
        # exponential then binary search for the largest acceptable n (overflow grows with n)
        lo, hi = 0, 1
        limited_by_budget = False
        while hi <= max_n:
            ok_rate, ok_budget = acceptable(hi)
            if not (ok_rate and ok_budget):
                limited_by_budget = ok_rate and not ok_budget
                break
            lo, hi = hi, hi * 2
        else:
            hi = max_n + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            ok_rate, ok_budget = acceptable(mid)
            if ok_rate and ok_budget:
                lo = mid
            else:
                hi = mid
                limited_by_budget = ok_rate and not ok_budget
        chosen = lo
        self.budget_limited = limited_by_budget
        # never leave an idle agent with nothing in flight for it (the progressive floor)
        floor = snap.agents_idle - len(snap.ringing_elapsed) - snap.answered_waiting - snap.inbound_waiting
        if floor > chosen:
            chosen = floor
        return PacingDecision(
            dial=chosen,
            mode=MODE_PREDICTIVE,
            reason="budget_limited" if limited_by_budget else "forecast",
            target_drop_rate=target,
            expected_answers=committed + chosen * p,
            expected_overflow=worst_overflow(chosen),
        )
