import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.pacing import (
    DropBudget,
    Pacer,
    PacingConfig,
    PacingConfigError,
    PacingSnapshot,
    _Histogram,
    expected_overflow,
    max_window_rate,
)

HOUR = 3600.0


def warmed_pacer(answers: int = 2000, drops: int = 0, config: PacingConfig | None = None) -> Pacer:
    """A pacer whose budget has `answers` live answers (and `drops` drops) in the last hour."""
    pacer = Pacer(config or PacingConfig())
    for i in range(answers):
        pacer.budget.record_answer(1000.0 + i * 0.5)
    for i in range(drops):
        pacer.budget.record_drop(1000.0 + i)
    return pacer


def snap(
    now: float = 3000.0,
    ready: int = 20,
    idle: int = 0,
    busy: list[float] | None = None,
    ringing: list[float] | None = None,
    **kw: object,
) -> PacingSnapshot:
    if busy is None:
        busy = [60.0] * (ready - idle)
    return PacingSnapshot(
        now=now, agents_ready=ready, agents_idle=idle, busy_elapsed=busy, ringing_elapsed=ringing or [], **kw
    )  # type: ignore[arg-type]


def test_never_dials_without_an_agent_ready() -> None:
    pacer = warmed_pacer()
    for mode in ("predictive", "progressive", "preview"):
        decision = pacer.decide(snap(ready=0, idle=0, busy=[]), mode)
        assert decision.dial == 0 and decision.reason == "no_agent_ready"


def test_preview_lets_the_agent_dial() -> None:
    assert warmed_pacer().decide(snap(idle=3), "preview").dial == 0


def test_progressive_is_one_dial_per_idle_agent_not_already_served() -> None:
    pacer = warmed_pacer()
    assert pacer.decide(snap(idle=5, ringing=[3.0, 4.0]), "progressive").dial == 3
    assert pacer.decide(snap(idle=5, answered_waiting=1, inbound_waiting=1), "progressive").dial == 3
    assert pacer.decide(snap(idle=1, ringing=[1.0, 2.0]), "progressive").dial == 0


def test_campaign_start_has_no_budget_so_it_dials_progressively() -> None:
    pacer = Pacer()
    decision = pacer.decide(snap(now=0.0, idle=20, busy=[]))
    assert decision.mode == "progressive" and decision.reason == "drop_budget_spent"
    assert decision.dial == 20


def test_spent_budget_falls_back_to_progressive() -> None:
    pacer = warmed_pacer(answers=1000, drops=30)  # exactly at 3%
    decision = pacer.decide(snap(idle=4))
    assert decision.mode == "progressive" and decision.dial == 4


def test_predictive_overdials_to_cover_answer_rate_and_soon_free_agents() -> None:
    pacer = warmed_pacer()
    decision = pacer.decide(snap(idle=10, busy=[120.0] * 10))
    assert decision.mode == "predictive"
    assert decision.dial > 10  # more than one dial per idle agent at a 30% answer rate
    assert decision.dial < 10 / 0.3 + 15


def test_more_in_flight_means_fewer_new_dials_and_inbound_load_counts() -> None:
    pacer = warmed_pacer()
    base = pacer.decide(snap(idle=10, busy=[120.0] * 10)).dial
    with_ringing = pacer.decide(snap(idle=10, busy=[120.0] * 10, ringing=[2.0] * 15)).dial
    with_inbound = pacer.decide(snap(idle=10, busy=[120.0] * 10, inbound_rate_per_s=0.2)).dial
    assert with_ringing < base
    assert with_inbound < base


def test_tightening_margin_as_the_budget_is_used() -> None:
    config = PacingConfig(drop_cap=0.03, margin=0.1, tighten_from=0.5)
    healthy = warmed_pacer(1000, 5, config)  # 5 of 30 allowed
    assert healthy.target_drop_rate(3000.0) == pytest.approx(0.027)
    worn = warmed_pacer(1000, 24, config)  # 80% used
    assert worn.target_drop_rate(3000.0) == pytest.approx(0.027 * 0.2 / 0.5)
    assert worn.decide(snap(idle=10, busy=[120.0] * 10)).dial <= healthy.decide(snap(idle=10, busy=[120.0] * 10)).dial


def test_drop_budget_windows_and_lookahead() -> None:
    budget = DropBudget(0.03, (10 * HOUR, HOUR), lookahead_share=0.25)
    for i in range(200):
        budget.record_answer(i * 10.0)  # 0 .. 1990 s
    budget.record_drop(1500.0)
    assert budget.counts(2000.0, HOUR) == (200, 1)
    assert budget.remaining(2000.0) == pytest.approx(0.03 * 200 - 1)
    # at t=4000 the 1-hour window holds answers after 400 s; 15 minutes ahead, after 1300 s
    assert budget.counts(4000.0, HOUR) == (159, 1)
    assert budget.remaining(4000.0) == pytest.approx(0.03 * 69 - 1)
    assert budget.used_fraction(4000.0) == pytest.approx(1 / (0.03 * 69))
    assert DropBudget(0.03, (HOUR,)).used_fraction(0.0) == 1.0


def test_max_window_rate() -> None:
    answers = [float(t) for t in range(0, 100)]
    drops = [10.0, 11.0, 90.0]
    assert max_window_rate(answers, drops, 1000.0, 0.0, 100.0) == pytest.approx(0.03)
    # 20-second windows: the worst holds both early drops among 20 answers (only full windows count)
    assert max_window_rate(answers, drops, 20.0, 0.0, 100.0) == pytest.approx(2 / 20)
    # the window ending at the end of the run, (80, 100], holds 19 answers
    assert max_window_rate(answers, [90.0], 20.0, 0.0, 100.0) == pytest.approx(1 / 19)
    assert max_window_rate([], [], 20.0, 0.0, 100.0) == 0.0


def test_handle_time_estimate_accounts_for_calls_still_running() -> None:
    rng = random.Random(7)
    durations = [rng.expovariate(1 / 180.0) for _ in range(400)]
    # at t=120 s into a campaign only the calls shorter than 120 s have ended
    ended = [d for d in durations if d < 120.0]
    running = [120.0 for d in durations if d >= 120.0]
    naive = _Histogram(180.0, 1.0, 1.0, 3600.0)
    km = _Histogram(180.0, 1.0, 1.0, 3600.0)
    for d in ended:
        naive.add(d)
        km.add(d)
    naive.table()
    km.table(running)
    assert naive.mean() < 100.0  # survivorship bias
    assert 140.0 < km.mean() < 230.0


def test_expected_overflow_matches_the_normal_formula() -> None:
    assert expected_overflow(3.0, 0.0) == 3.0
    assert expected_overflow(-3.0, 0.0) == 0.0
    assert expected_overflow(0.0, 1.0) == pytest.approx(1 / math.sqrt(2 * math.pi))


def test_config_validation_names_the_key() -> None:
    with pytest.raises(PacingConfigError, match="drop_cap: must be in"):
        PacingConfig(drop_cap=0.0)
    with pytest.raises(PacingConfigError, match="windows_s"):
        PacingConfig(windows_s=())


def test_gain_learns_only_from_predictive_pacing() -> None:
    pacer = warmed_pacer()
    pacer.decide(snap(idle=5), "progressive")
    before = pacer.gain
    pacer.observe_live_answer(3000.0, dropped=False)
    assert pacer.gain == before
    pacer.decide(snap(idle=5, busy=[100.0] * 15))
    pacer.observe_live_answer(3001.0, dropped=True)
    assert pacer.gain < before


@settings(max_examples=60, deadline=None)
@given(
    ready=st.integers(0, 60),
    idle_share=st.floats(0, 1),
    ringing=st.lists(st.floats(0, 30), max_size=80),
    busy_elapsed=st.floats(0, 2000),
    waiting=st.integers(0, 5),
    inbound=st.floats(0, 0.5),
    answers=st.integers(0, 3000),
    drop_share=st.floats(0, 0.05),
    mode=st.sampled_from(["predictive", "progressive"]),
)
def test_decisions_are_sane(
    ready: int,
    idle_share: float,
    ringing: list[float],
    busy_elapsed: float,
    waiting: int,
    inbound: float,
    answers: int,
    drop_share: float,
    mode: str,
) -> None:
    pacer = warmed_pacer(answers, int(answers * drop_share))
    idle = int(ready * idle_share)
    s = snap(
        ready=ready,
        idle=idle,
        busy=[busy_elapsed] * (ready - idle),
        ringing=ringing,
        answered_waiting=waiting,
        inbound_rate_per_s=inbound,
    )
    decision = pacer.decide(s, mode)
    assert decision.dial >= 0
    if ready == 0:
        assert decision.dial == 0
    assert len(ringing) + decision.dial <= max(pacer.config.max_lines_per_agent * ready, len(ringing) + idle)
    if decision.mode == "progressive":
        assert decision.dial == max(0, idle - len(ringing) - waiting)
    if ready > 0 and pacer.budget.remaining(s.now) < pacer.config.min_reserve_drops:
        assert decision.mode == "progressive"


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="pacing mode 'turbo'"):
        warmed_pacer().decide(snap(idle=1), "turbo")


def test_forecast_uses_each_agents_time_into_the_call() -> None:
    pacer = warmed_pacer()
    rng = random.Random(3)
    for _ in range(400):
        pacer.observe_handle_time(rng.uniform(170.0, 190.0))  # nearly fixed handle time
    about_to_finish = pacer.decide(snap(ready=10, idle=0, busy=[178.0] * 10)).dial
    just_started = pacer.decide(snap(ready=10, idle=0, busy=[20.0] * 10)).dial
    assert just_started == 0  # nobody will be free before a new dial could answer
    assert about_to_finish >= 2  # it starts dialing for agents about to finish (and tops up each tick)
    idle_now = pacer.decide(snap(ready=10, idle=10, busy=[])).dial
    assert idle_now > about_to_finish


def test_answer_rate_estimate_follows_the_campaign() -> None:
    pacer = warmed_pacer(config=PacingConfig(prior_answer_rate=0.3, answer_rate_memory=500))
    rng = random.Random(5)
    for _ in range(3000):
        pacer.observe_dial_result(rng.random() < 0.3, 8.0)
    assert pacer.answer_rate() == pytest.approx(0.3, abs=0.04)
    for _ in range(3000):  # the list turns colder
        pacer.observe_dial_result(rng.random() < 0.1, 8.0)
    assert pacer.answer_rate() == pytest.approx(0.1, abs=0.03)
    cold = pacer.decide(snap(idle=10, busy=[120.0] * 10)).dial
    for _ in range(3000):
        pacer.observe_dial_result(rng.random() < 0.3, 8.0)
    assert cold > pacer.decide(snap(idle=10, busy=[120.0] * 10)).dial  # colder list: more dials
