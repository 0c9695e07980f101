"""Erlang B/C/A formulas and staffing search (sim/erlang.py)."""

from __future__ import annotations

import math

import pytest

from sim.erlang import erlang_a, erlang_b, erlang_c, evaluate, staff


def test_erlang_b_and_c_textbook_values():
    # A = 2 erlangs, N = 3: B = (8/6) / (1 + 2 + 2 + 8/6) ; C = N B / (N - A (1 - B))
    b = (8 / 6) / (1 + 2 + 2 + 8 / 6)
    assert erlang_b(3, 2.0) == pytest.approx(b)
    assert erlang_c(3, 2.0) == pytest.approx(3 * b / (3 - 2 * (1 - b)))
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(5, 5.0) == 1.0  # saturated


def test_erlang_c_result_formulas():
    r = evaluate(10, 100, 300, 20)
    a = 100 / 3600 * 300
    c = erlang_c(10, a)
    assert r.p_wait == pytest.approx(c)
    assert r.asa == pytest.approx(c * 300 / (10 - a))
    assert r.service_level == pytest.approx(1 - c * math.exp(-(10 - a) * 20 / 300))
    assert r.occupancy == pytest.approx(a / 10)
    assert r.abandon_rate == 0


def _chain(n_agents, lam, mu, theta, k_max=4000):
    """Brute-force stationary distribution of the M/M/N+M birth-death chain."""
    w = [1.0]
    for n in range(1, k_max):
        death = min(n, n_agents) * mu + max(n - n_agents, 0) * theta
        w.append(w[-1] * lam / death)
        if n > n_agents + 50 and w[-1] < 1e-18 * sum(w):
            break
    s = sum(w)
    return [x / s for x in w]


@pytest.mark.parametrize("n,cph,aht,pat", [(10, 120, 300, 180), (5, 90, 240, 60), (30, 400, 300, 600)])
def test_erlang_a_matches_the_birth_death_chain(n, cph, aht, pat):
    r = erlang_a(n, cph, aht, pat, threshold_s=20)
    lam, mu, theta = cph / 3600, 1 / aht, 1 / pat
    pi = _chain(n, lam, mu, theta)
    p_wait = sum(pi[n:])
    lq = sum((k - n) * p for k, p in enumerate(pi) if k > n)
    assert r.p_wait == pytest.approx(p_wait, rel=1e-9)
    # abandonment two ways: the tagged-caller product formula and theta * E[Lq] / lambda
    assert r.abandon_rate == pytest.approx(theta * lq / lam, rel=1e-7)
    # Little: mean wait of all callers = E[Lq] / lambda; answered share carries ASA
    assert r.occupancy == pytest.approx(lam * (1 - r.abandon_rate) / (n * mu), rel=1e-9)
    assert 0 < r.service_level < 1 - r.abandon_rate
    assert r.asa * (1 - r.abandon_rate) < lq / lam  # answered callers' total wait < everyone's


def test_erlang_a_limits():
    c = evaluate(10, 100, 300, 20)
    a = evaluate(10, 100, 300, 20, patience_s=1e9)  # patience -> infinity: Erlang C
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-5)
    assert a.asa == pytest.approx(c.asa, rel=1e-4)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-5)
    r = erlang_a(10, 120, 300, 180, threshold_s=0)
    assert r.service_level == pytest.approx(1 - r.p_wait)  # T = 0: only callers who did not wait
    far = erlang_a(10, 120, 300, 180, threshold_s=50_000)
    assert far.service_level == pytest.approx(1 - far.abandon_rate, abs=1e-9)  # T -> inf: everyone served


def test_staffing_search_is_minimal_and_applies_shrinkage():
    s = staff(1000, 300, target_sl=0.8, threshold_s=20)
    assert s.result.service_level >= 0.8
    assert evaluate(s.agents - 1, 1000, 300, 20).service_level < 0.8
    s2 = staff(1000, 300, target_sl=0.8, threshold_s=20, shrinkage=0.3)
    assert s2.agents == s.agents and s2.scheduled == math.ceil(s.agents / 0.7)
    a = staff(1000, 300, target_sl=0.8, threshold_s=20, patience_s=180)
    assert a.result.model == "erlang_a" and a.agents < s.agents  # impatient callers need fewer agents
    assert evaluate(a.agents - 1, 1000, 300, 20, 180).service_level < 0.8
    capped = staff(1000, 300, target_sl=0.5, threshold_s=20, patience_s=180, max_abandon=0.01)
    assert capped.result.abandon_rate <= 0.01


@pytest.mark.parametrize("call,msg", [
    (lambda: evaluate(0, 100, 300), "agents"),
    (lambda: evaluate(3, -1, 300), "calls_per_hour"),
    (lambda: evaluate(3, 100, 0), "aht_s"),
    (lambda: evaluate(3, 100, 300, patience_s=0), "patience_s"),
    (lambda: staff(100, 300, target_sl=1.5), "target_sl"),
    (lambda: staff(100, 300, shrinkage=1.0), "shrinkage"),
])  # fmt: skip
def test_erlang_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
