"""Call volume and handle time per interval, forecast from recorded calls. Pure: call
records in, numbers out (the CLI reads the log and prints).

The volume model is a Poisson regression (statsmodels GLM, log link) one can read:

    log E[calls in interval] = day of week + day type x time of day + holiday

Day types: working days (Sunday-Thursday at the Anonymous Bank), Friday, Saturday; a
holiday takes the Saturday profile (closed or short) and, when the training days hold
one, a level of its own. So every
weekday has its own level (weekly seasonality) and each day type its own intraday
shape (daily seasonality), learnt from all the days of that type rather than from one
week back, which is what beats the seasonal-naive forecast (the same interval a week
earlier). Counts vary more than Poisson says (over-dispersion, estimated from the
deviance): the prediction interval is that of a negative binomial with the
fitted mean and variance phi * mean.

Handle time: a Gamma regression (log link) of the interval's mean handle time on day
type and hour, weighted by the calls it averages.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from wfm.history import CallRecord

DAY = 86400
# datetime.weekday(): Monday 0 ... Sunday 6; the bank's week: Friday short, Saturday evening
DAY_TYPES = {0: "work", 1: "work", 2: "work", 3: "work", 4: "friday", 5: "saturday", 6: "work"}


class ForecastError(ValueError):
    pass


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


@dataclass(frozen=True)
class IntervalForecast:
    start: float  # epoch seconds
    volume: float
    low: float  # prediction interval of the count
    high: float
    aht: float | None
    actual: int | None = None
    actual_aht: float | None = None
    seasonal_naive: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "volume": round(self.volume, 3),
            "low": self.low,
            "high": self.high,
            "aht": None if self.aht is None else round(self.aht, 2),
            "actual": self.actual,
            "actual_aht": None if self.actual_aht is None else round(self.actual_aht, 2),
            "seasonal_naive": self.seasonal_naive,
        }


@dataclass
class Forecast:
    interval_s: int
    train_start: float
    train_end: float
    intervals: list[IntervalForecast]
    level: float
    dispersion: float
    wape: float | None = None
    seasonal_naive_wape: float | None = None
    coverage: float | None = None
    aht_wape: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s,
            "model": "Poisson GLM: day of week + day type x time of day + holiday (statsmodels)",
            "train": [_iso(self.train_start), _iso(self.train_end)],
            "wape": self.wape,
            "seasonal_naive_wape": self.seasonal_naive_wape,
            "prediction_level": self.level,
            "coverage": self.coverage,
            "aht_wape": self.aht_wape,
            "dispersion": round(self.dispersion, 4),
            "volume": round(sum(i.volume for i in self.intervals), 1),
            "intervals": [i.to_dict() for i in self.intervals],
            **self.extra,
        }


def interval_series(
    calls: Sequence[CallRecord], interval_s: int, start: float, end: float
) -> tuple[list[int], list[float]]:
    """(calls offered, handle time summed) per interval of [start, end)."""
    n = int((end - start) // interval_s)
    counts = [0] * n
    handle = [0.0] * n
    for c in calls:
        i = int((c.queued_at - start) // interval_s)
        if 0 <= i < n:
            counts[i] += 1
            if c.answered:
                handle[i] += c.talk + (c.wrap or 0.0)
    return counts, handle


def _features(starts: Sequence[float], interval_s: int, holidays: Collection[date]) -> Any:
    import pandas as pd

    rows = []
    for t in starts:
        dt = datetime.fromtimestamp(t, UTC)
        holiday = dt.date() in holidays
        rows.append({
            "dow": str(dt.weekday()),
            "daytype": "saturday" if holiday else DAY_TYPES[dt.weekday()],
            "slot": str(int((t % DAY) // interval_s)),
            "hour": str(dt.hour),
            "holiday": 1.0 if holiday else 0.0,
        })  # fmt: skip
    return pd.DataFrame(rows)


def wape(actual: Sequence[float], forecast: Sequence[float]) -> float | None:
    total = sum(actual)
    return sum(abs(a - f) for a, f in zip(actual, forecast, strict=True)) / total if total > 0 else None


def forecast(
    calls: Sequence[CallRecord],
    interval_s: int = 1800,
    holdout_days: int = 7,
    horizon_days: int = 0,
    holidays: Collection[date] = (),
    level: float = 0.9,
) -> Forecast:
    """Fit on whole days of history (before the held-out days when holdout_days > 0)
    and forecast the held-out days (scored against what happened and the seasonal
    naive), or, with holdout_days = 0, the horizon_days after the history."""
    import numpy as np
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from scipy.stats import nbinom
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    if interval_s <= 0 or DAY % interval_s:
        raise ForecastError(f"--interval: must divide a day, got {interval_s} s")
    if not calls:
        raise ForecastError("no calls in the history")
    first = min(c.queued_at for c in calls)
    last = max(c.queued_at for c in calls)
    day0 = math.floor(first / DAY) * DAY
    day_n = math.floor(last / DAY) * DAY + DAY  # history covers [day0, day_n)
    days = int((day_n - day0) // DAY)
    if holdout_days < 0 or horizon_days < 0:
        raise ForecastError("--holdout-days and --days: must be >= 0")
    if holdout_days and days - holdout_days < 14:
        raise ForecastError(f"{days} day(s) of history: need 14 before the {holdout_days} held-out day(s)")
    if not holdout_days and not horizon_days:
        raise ForecastError("nothing to forecast: give --holdout-days or --days")
    if days - holdout_days < 7:
        raise ForecastError(f"{days - holdout_days} day(s) of history to learn from: need a week (every weekday)")
    train_end = day_n - holdout_days * DAY
    fc_start = train_end if holdout_days else day_n
    fc_end = day_n if holdout_days else day_n + horizon_days * DAY
    hol = set(holidays)

    counts, handle = interval_series(calls, interval_s, day0, train_end)
    starts = [day0 + i * interval_s for i in range(len(counts))]
    train = _features(starts, interval_s, hol)
    train["y"] = counts
    # a day type's slot with no call in training (the night, Saturday morning) is closed:
    # it is left out of the fit (its coefficient would run to -inf) and forecast as 0
    train["cell"] = train["daytype"] + "/" + train["slot"]
    open_cells = set(train.groupby("cell")["y"].sum().loc[lambda s: s > 0].index)
    train = train[train["cell"].isin(open_cells)]
    if train.empty:
        raise ForecastError("no calls in the training days")
    formula = "y ~ C(dow) + C(daytype):C(slot)" + (" + holiday" if train["holiday"].any() else "")
    with warnings.catch_warnings():
        # day of week and day type overlap (a Friday is both): the design is rank-deficient
        # by construction; the fitted means, all that is used, are unique all the same
        warnings.simplefilter("ignore", SingularMatrixWarning)
        fit = smf.glm(formula, train, family=sm.families.Poisson()).fit(maxiter=100)
    # over-dispersion from the deviance (the Pearson form is swamped by the odd night call
    # where the mean is near 0)
    phi = max(1.0, float(fit.deviance) / max(1.0, float(fit.df_resid)))

    fc_starts = [fc_start + i * interval_s for i in range(int((fc_end - fc_start) // interval_s))]
    new = _features(fc_starts, interval_s, hol)
    is_open = (new["daytype"] + "/" + new["slot"]).isin(open_cells).to_numpy()
    mean = np.zeros(len(new))
    if is_open.any():
        mean[is_open] = np.asarray(fit.predict(new[is_open]))
    tail = (1 - level) / 2

    def quantile(q: float, mu: float) -> float:
        if mu < 1e-6:
            return 0.0
        if phi <= 1.0 + 1e-9:
            from scipy.stats import poisson

            return float(poisson.ppf(q, mu))
        return float(nbinom.ppf(q, mu / (phi - 1.0), 1.0 / phi))

    aht = _aht_model(counts, handle, starts, fc_starts, interval_s, hol)

    actual, act_handle = interval_series(calls, interval_s, fc_start, fc_end) if holdout_days else ([], [])
    back, _ = interval_series(calls, interval_s, fc_start - 7 * DAY, fc_end - 7 * DAY) if holdout_days else ([], [])
    out = []
    for i, t in enumerate(fc_starts):
        out.append(
            IntervalForecast(
                start=t,
                volume=float(mean[i]),
                low=quantile(tail, float(mean[i])),
                high=quantile(1 - tail, float(mean[i])),
                aht=aht[i],
                actual=actual[i] if actual else None,
                actual_aht=(act_handle[i] / actual[i]) if actual and actual[i] else None,
                seasonal_naive=back[i] if back else None,
            )
        )
    result = Forecast(interval_s, day0, train_end, out, level, phi)
    if holdout_days:
        result.wape = wape(actual, [i.volume for i in out])
        result.seasonal_naive_wape = wape(actual, back)
        busy = [i for i in out if i.volume > 0 or i.actual]  # closed intervals say nothing
        result.coverage = sum(1 for i in busy if i.low <= (i.actual or 0) <= i.high) / len(busy) if busy else None
        with_calls = [i for i in out if i.actual and i.aht is not None]
        result.aht_wape = wape(
            [i.actual_aht * i.actual for i in with_calls],  # type: ignore[operator]
            [i.aht * i.actual for i in with_calls],  # type: ignore[operator]
        )
    return result


def _aht_model(
    counts: Sequence[int],
    handle: Sequence[float],
    starts: Sequence[float],
    fc_starts: Sequence[float],
    interval_s: int,
    holidays: Collection[date],
) -> list[float | None]:
    """Mean handle time per forecast interval: Gamma GLM on day type and hour, weighted
    by the answered calls behind each interval's mean (None: no history for that hour)."""
    import numpy as np
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    frame = _features(starts, interval_s, holidays)
    frame["y"] = [h / n if n and h > 0 else np.nan for h, n in zip(handle, counts, strict=True)]
    frame["w"] = list(counts)
    frame = frame.dropna()
    if len(frame) < 10:
        return [None] * len(fc_starts)
    fit = smf.glm("y ~ C(daytype) + C(hour)", frame, family=sm.families.Gamma(sm.families.links.Log()),
                  var_weights=frame["w"]).fit()  # fmt: skip
    new = _features(fc_starts, interval_s, holidays)
    known_hours = set(frame["hour"])
    known_types = set(frame["daytype"])
    ok = [h in known_hours and d in known_types for h, d in zip(new["hour"], new["daytype"], strict=True)]
    pred = fit.predict(new[ok]) if any(ok) else []
    values = iter(np.asarray(pred, dtype=float))
    return [float(next(values)) if k else None for k in ok]


def parse_holidays(values: Sequence[str]) -> set[date]:
    out = set()
    for v in values:
        try:
            out.add(date.fromisoformat(v.strip()))
        except ValueError:
            raise ForecastError(f"--holiday: {v!r} is not YYYY-MM-DD") from None
    return out
