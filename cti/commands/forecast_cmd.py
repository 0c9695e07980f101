"""`hotline forecast LOG --format anonymous-bank|csv --interval 30 [--holdout-days 7 | --days 7]`:
calls and handle time per interval (wfm.forecast), scored against seasonal-naive on
held-out days."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from cti.commands.history_cmd import load_calls, log_options


@click.command("forecast", context_settings={"help_option_names": ["-h", "--help"]})
@log_options
@click.option("--holdout-days", type=int, default=0, show_default=True,
              help="Hold out the last N days: fit on the days before, forecast and score these.")  # fmt: skip
@click.option("--days", type=int, default=7, show_default=True,
              help="Without --holdout-days: forecast this many days after the history.")  # fmt: skip
@click.option("--holiday", "holidays", multiple=True, metavar="YYYY-MM-DD",
              help="A holiday (repeat): forecast with the Saturday profile.")  # fmt: skip
@click.option("--level", type=float, default=0.9, show_default=True, help="Prediction interval's coverage.")
@click.option("--json", "json_out", default=None, help="Write the forecast as one JSON object ('-' = stdout).")
def forecast(
    log: Path | None,
    fmt: str | None,
    interval: str,
    from_store: bool,
    queues: tuple[str, ...],
    config_path: str | None,
    holdout_days: int,
    days: int,
    holidays: tuple[str, ...],
    level: float,
    json_out: str | None,
) -> None:
    """Forecast calls and handle time per interval from a recorded call LOG: a Poisson
    regression (day of week, day type x time of day, holidays) with a prediction
    interval; with --holdout-days, its WAPE on those days beside the seasonal naive's
    (the same interval a week earlier)."""
    from wfm.forecast import ForecastError, parse_holidays
    from wfm.forecast import forecast as run

    if not 0 < level < 1:
        raise click.ClickException(f"--level: must be between 0 and 1, got {level}")
    calls = load_calls(log, fmt, from_store, config_path, json_out == "-", queues)
    try:
        result = run(calls, int(interval) * 60, holdout_days, days, parse_holidays(holidays), level)
    except ForecastError as exc:
        raise click.ClickException(str(exc)) from None
    payload = result.to_dict()
    if json_out is not None:
        text = json.dumps(payload, indent=None if json_out == "-" else 2)
        if json_out == "-":
            click.echo(text)
            return
        Path(json_out).write_text(text + "\n", encoding="utf-8")
    by_day: dict[str, list[float]] = {}
    for i in result.intervals:
        d = by_day.setdefault(datetime.fromtimestamp(i.start, UTC).strftime("%Y-%m-%d %a"), [0.0, 0.0])
        d[0] += i.volume
        d[1] += i.actual or 0
    click.echo(f"{'day':<16} {'forecast':>9} {'actual':>9}" if holdout_days else f"{'day':<16} {'forecast':>9}")
    for day, (f, a) in by_day.items():
        click.echo(f"{day:<16} {f:>9.0f} {a:>9.0f}" if holdout_days else f"{day:<16} {f:>9.0f}")
    if holdout_days:
        click.echo(f"wape {payload['wape']:.4f}  seasonal naive {payload['seasonal_naive_wape']:.4f}  "
                   f"{level:.0%} interval coverage {payload['coverage']:.3f}")  # fmt: skip
    sys.stdout.flush()
