"""Staffing and schedules: the schedule's paid hours are the least a brute force finds,
its roster keeps the day and week limits, patience is estimated as the censored-data
MLE, and on the real month the last week's plan, replayed through the real router,
meets its service-level target with its interval."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import main
from sim.erlang import evaluate
from wfm.history import CallRecord
from wfm.plan_check import take_for_outbound
from wfm.schedule import ScheduleError, ShiftTemplate, load_templates, solve
from wfm.staffing import mean_patience, requirements

LOG = Path(__file__).resolve().parents[2] / "data" / "anonymous-bank" / "february-1999.tsv"
H = 3600.0


def _brute_force(required: list[int], templates: list[ShiftTemplate]) -> float:
    """Fewest paid hours over every way to take 0-2 of each possible shift (one day)."""
    options = [(t, s) for t in templates for s in t.starts()]
    best = float("inf")
    for counts in itertools.product(range(3), repeat=len(options)):
        cover = [0] * len(required)
        for (t, s), k in zip(options, counts, strict=True):
            for h in range(int(s // H), int(s // H + t.hours)):
                if h < len(required):
                    cover[h] += k
        if all(c >= r for c, r in zip(cover, required, strict=True)):
            best = min(best, sum(t.hours * k for (t, _), k in zip(options, counts, strict=True)))
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_paid_hours_are_the_fewest_possible(seed: int) -> None:
    rng = random.Random(seed)
    required = [rng.randint(0, 2) for _ in range(8)] + [0] * 16  # one day of hours, busy 00-08
    templates = [
        ShiftTemplate("three", 3.0, 0.0, 5 * H, H, days_per_week=7),
        ShiftTemplate("two", 2.0, 0.0, 6 * H, 2 * H, days_per_week=7),
    ]
    sched = solve(required, 0.0, 3600, templates, head_cost_h=0.0)
    assert sched.paid_hours == _brute_force(required, templates)
    assert all(c >= r for c, r in zip(sched.scheduled, required, strict=True))
    assert not sched.uncovered


def test_roster_keeps_breaks_days_off_and_part_time_share() -> None:
    day = [0] * 16 + [3] * 32  # 08:00-24:00 in half hours
    required = day * 7
    full = ShiftTemplate("full", 8.5, 8 * H, 15.5 * H, 1800.0, 4 * H, 1800.0, 5)
    part = ShiftTemplate("part", 4.0, 8 * H, 20 * H, 1800.0, None, 0.0, 4, 0.25)
    sched = solve(required, 0.0, 1800, [full, part])
    assert all(c >= r for c, r in zip(sched.scheduled, required, strict=True))
    per_day = Counter((sh.agent, int(sh.start // 86400)) for sh in sched.shifts)
    assert max(per_day.values()) == 1  # nobody works twice a day
    per_week = Counter(sh.agent for sh in sched.shifts)
    assert all(per_week[a] <= (5 if a.startswith("full") else 4) for a in per_week)
    part_h = sum(sh.end - sh.start for sh in sched.shifts if sh.template == "part") / H
    assert part_h <= 0.25 * sched.paid_hours + 1e-9
    for sh in sched.shifts:
        if sh.template == "full":
            assert sh.break_ == (sh.start + 4 * H, sh.start + 4.5 * H)
            assert sh.end <= (sh.start // 86400 + 1) * 86400  # ends by midnight


def test_an_interval_no_shift_reaches_is_reported_not_hidden() -> None:
    required = [1] * 2 + [0] * 46  # 00:00-01:00, before any start
    sched = solve(required, 0.0, 1800, [ShiftTemplate("day", 8.0, 8 * H, 8 * H)])
    assert sched.uncovered == {0: 1, 1: 1}
    assert sched.paid_hours == 0


def test_patience_is_the_censored_mle() -> None:
    calls = [
        CallRecord("a", "q", 0.0, 30.0, True, 100.0),
        CallRecord("b", "q", 0.0, 90.0, False),
        CallRecord("c", "q", 0.0, 0.0, True, 100.0),
        CallRecord("d", "q", 0.0, 60.0, False),
    ]
    assert mean_patience(calls) == (30 + 90 + 0 + 60) / 2
    with pytest.raises(ValueError, match="no caller hung up"):
        mean_patience(calls[:1])


def test_requirement_is_the_fewest_agents_erlang_a_allows() -> None:
    reqs = requirements([0.0, 1800.0, 3600.0], [40.0, 0.0, 75.0], [180.0, None, 240.0], 1800, 300.0, 0.8, 20.0, 0.25)
    assert reqs[1].agents == 0 and reqs[1].scheduled == 0
    for r, calls, aht in ((reqs[0], 40.0, 180.0), (reqs[2], 75.0, 240.0)):
        assert evaluate(r.agents, calls * 2, aht, 20.0, 300.0).service_level >= 0.8
        assert evaluate(r.agents - 1, calls * 2, aht, 20.0, 300.0).service_level < 0.8
        assert r.scheduled == -(-r.agents * 4 // 3)  # ceil(agents / 0.75)


def test_templates_file_errors_name_the_key(tmp_path: Path) -> None:
    f = tmp_path / "shifts.toml"
    f.write_text('[[shift]]\nname = "x"\nearliest = "7h"\nhours = 8\n')
    with pytest.raises(ScheduleError, match=r"shift\[0\]\.earliest: '7h' is not HH:MM"):
        load_templates(f)
    f.write_text('[[shift]]\nname = "x"\n')
    with pytest.raises(ScheduleError, match=r"shift\[0\]\.hours: required"):
        load_templates(f)


def test_the_last_week_plan_meets_its_target_in_simulation() -> None:
    args = ["plan", str(LOG), "--format", "anonymous-bank", "--holdout-days", "7", "--target-sl", "0.8",
            "--replications", "3", "--json", "-"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    short = {u["start"] for u in out["uncovered"]}
    for i in out["intervals"]:
        assert i["scheduled"] >= i["required"] or i["start"] in short
    assert out["solver"]["status"] == "Optimal"
    sim = out["simulated"]
    assert sim["replications"] == 3 and sim["offered"] == sum(r["recorded_offered"] or 0 for r in out["side_by_side"])
    low, high = sim["ci95"]["service_level"]
    assert low <= sim["service_level"] <= high
    assert low >= 0.8, sim
    busy = [r for r in out["side_by_side"] if (r["sim_offered"] or 0) >= 5]
    met = sum(1 for r in busy if r["sim_service_level_offered"] >= 0.8) / len(busy)
    assert out["intervals_meeting_target"] == met and met > 0.5


def test_blended_outbound_goes_into_the_inbound_slack_first() -> None:
    day = ShiftTemplate("day", 8.0, 8 * H, 8 * H, H, days_per_week=7)  # 08:00-16:00 only
    required = [0] * 8 + [2, 2, 2, 1, 1, 2, 2, 2] + [0] * 8  # slack of 1 agent at 11:00 and 12:00
    alone = solve(required, 0.0, 3600, [day])
    assert alone.paid_hours == 16 and not any(alone.outbound)
    fits = solve(required, 0.0, 3600, [day], outbound_h=[2.0], outbound_window=(9 * H, 20 * H))
    assert fits.paid_hours == 16  # the slack takes it: no hour more
    assert [i for i, o in enumerate(fits.outbound) for _ in range(o)] == [11, 12]
    more = solve(required, 0.0, 3600, [day], outbound_h=[3.0], outbound_window=(9 * H, 20 * H))
    assert more.paid_hours == 24 and sum(more.outbound) == 3  # one more shift
    assert all(9 <= i < 16 for i, o in enumerate(more.outbound) if o)  # inside the window and the shifts
    assert all(c >= r + o for c, r, o in zip(more.scheduled, required, more.outbound, strict=True))


def test_dialling_agents_leave_inbound_for_their_intervals() -> None:
    pieces = {"a": [(0.0, 7200.0)], "b": [(0.0, 3600.0)], "c": [(1800.0, 7200.0)]}
    out = take_for_outbound(pieces, [1, 0, 2, 1], 1800)
    # interval 0 (0-1800): a and b there, a goes; 2 (3600-5400): a and c there, both go;
    # 3 (5400-7200): a and c there, c's turn
    assert out["a"] == [(1800.0, 3600.0), (5400.0, 7200.0)]
    assert out["b"] == [(0.0, 3600.0)]
    assert out["c"] == [(1800.0, 3600.0)]
    busy = sum(y - x for p in out.values() for x, y in p)
    assert busy == sum(y - x for p in pieces.values() for x, y in p) - 4 * 1800.0


def test_a_blended_plan_and_its_page(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    args = ["plan", str(LOG), "--format", "anonymous-bank", "--replications", "1", "--outbound-hours", "8",
            "--outbound-window", "09:00-20:00", "--json", "-", "--html", str(page)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    ob = out["outbound"]
    assert ob["placed_hours"] == 8 * 7
    assert 0 <= ob["extra_paid_hours"] < ob["placed_hours"]  # most of it fits in the inbound slack
    for i in out["intervals"]:
        if i["outbound"]:
            assert "09:00" <= i["start"][11:16] < "20:00"
            assert i["scheduled"] >= i["required"] + i["outbound"]
    html = page.read_text()
    for text in ("Calls per interval: forecast and actual", "required vs scheduled", "dialling out (blended)",
                 "Schedule per agent", "Replay: recorded and simulated"):  # fmt: skip
        assert text in html, text
    assert "<script" not in html
    bad = CliRunner().invoke(main, [*args[:6], "--outbound-window", "20:00-09:00"])
    assert bad.exit_code == 1 and "must run forward" in bad.output
