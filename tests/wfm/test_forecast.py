"""`hotline forecast`: on the real month it beats the seasonal naive by the issue's
target on the last week; on a generated history it recovers the rates it was drawn
from; holidays and short histories."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import main
from wfm.forecast import DAY, ForecastError, forecast
from wfm.history import CallRecord, read_anonymous_bank

LOG = Path(__file__).resolve().parents[2] / "data" / "anonymous-bank" / "february-1999.tsv"


def test_the_real_month_beats_seasonal_naive_on_the_last_week() -> None:
    args = [
        "forecast",
        str(LOG),
        "--format",
        "anonymous-bank",
        "--interval",
        "30",
        "--holdout-days",
        "7",
        "--json",
        "-",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["wape"] <= 0.9 * out["seasonal_naive_wape"], out
    # the seasonal naive and the actuals, counted here from the calls themselves
    calls = [c for _, c in read_anonymous_bank(LOG.open(newline="")) if c is not None and hasattr(c, "queued_at")]
    per = Counter(int(c.queued_at // 1800) for c in calls)  # type: ignore[union-attr]
    start = datetime(1999, 2, 22, tzinfo=UTC).timestamp()
    slots = [int(start // 1800) + i for i in range(7 * 48)]
    assert [i["actual"] for i in out["intervals"]] == [per[s] for s in slots]
    naive = sum(abs(per[s] - per[s - 7 * 48]) for s in slots) / sum(per[s] for s in slots)
    assert out["seasonal_naive_wape"] == pytest.approx(naive, rel=1e-12)
    assert all(i["low"] <= i["volume"] <= i["high"] for i in out["intervals"])
    assert 0.8 <= out["coverage"] <= 1.0
    assert out["aht_wape"] < 0.35


def _generated(seed: int, weeks: int = 4) -> tuple[list[CallRecord], dict[int, float]]:
    """Poisson arrivals at a known rate per (weekday, hour): busier Mondays, a mid-day
    peak, closed at night and on Saturdays."""
    rng = random.Random(seed)
    day0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday
    level = {0: 1.3, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.5, 5: 0.0, 6: 1.0}
    rate: dict[int, float] = {}  # calls per hour, key: hour since day0 within one week
    calls: list[CallRecord] = []
    for d in range(weeks * 7):
        for h in range(24):
            lam = 0.0 if not 8 <= h < 20 else level[d % 7] * (30 + 40 * (1 - abs(h - 13.5) / 6))
            rate[(d % 7) * 24 + h] = lam
            t = day0 + d * DAY + h * 3600
            end = t + 3600
            while lam > 0:
                t += rng.expovariate(lam / 3600)
                if t >= end:
                    break
                calls.append(CallRecord(f"c{len(calls)}", "q", t, 5.0, True, talk=rng.expovariate(1 / 200)))
    return calls, rate


def test_a_generated_history_gives_back_its_rates() -> None:
    calls, rate = _generated(7)
    fc = forecast(calls, 3600, holdout_days=7)
    assert len(fc.intervals) == 7 * 24
    truth = [rate[i] for i in range(7 * 24)]
    predicted = [i.volume for i in fc.intervals]
    # each hour within 4 standard errors of the rate it was drawn from (the fewest days
    # behind an hour's estimate: 3 Fridays), the week within 3 %
    for t, p in zip(truth, predicted, strict=True):
        assert abs(p - t) <= 4 * (t / 3) ** 0.5 + 1e-6
    assert sum(predicted) == pytest.approx(sum(truth), rel=0.03)
    assert fc.wape is not None and fc.seasonal_naive_wape is not None
    assert fc.wape < fc.seasonal_naive_wape
    busy = [i for i in fc.intervals if i.aht is not None and i.volume > 0]
    assert busy and all(150 < i.aht < 250 for i in busy)  # type: ignore[operator]


def test_a_holiday_takes_the_closed_day_profile() -> None:
    calls, _ = _generated(3, weeks=3)
    plain = forecast(calls, 3600, holdout_days=0, horizon_days=7)
    tuesday = date(2026, 1, 27)
    hol = forecast(calls, 3600, holdout_days=0, horizon_days=7, holidays={tuesday})
    day = lambda f: sum(i.volume for i in f.intervals if datetime.fromtimestamp(i.start, UTC).date() == tuesday)  # noqa: E731
    assert day(plain) > 500
    assert day(hol) < 1.0  # Saturdays are closed in this history


def test_too_short_a_history_is_refused() -> None:
    calls, _ = _generated(1, weeks=2)
    with pytest.raises(ForecastError, match="need 14"):
        forecast(calls, 1800, holdout_days=7)


def test_a_skill_group_gets_its_own_forecast() -> None:
    args = ["forecast", str(LOG), "--format", "anonymous-bank", "--holdout-days", "7", "--json", "-"]
    result = CliRunner().invoke(main, [*args, "--queue", "NW", "--queue", "NE"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    start = datetime(1999, 2, 22, tzinfo=UTC).timestamp()
    calls = [c for _, c in read_anonymous_bank(LOG.open(newline="")) if c is not None and hasattr(c, "queue")]
    week = [c for c in calls if c.queue in ("NW", "NE") and c.queued_at >= start]  # type: ignore[union-attr]
    assert sum(i["actual"] for i in out["intervals"]) == len(week)
    bad = CliRunner().invoke(main, [*args, "--queue", "XX"])
    assert bad.exit_code == 2 and "--queue: XX not in the history" in bad.output
