"""`hotline plan LOG --format anonymous-bank|csv [--holdout-days 7]`: forecast, agents
needed per interval (Erlang A), shifts at the fewest paid hours (HiGHS) and, on
held-out days, the schedule replayed through the real router (wfm.plan)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cti.commands.history_cmd import load_calls, log_options


@click.command("plan", context_settings={"help_option_names": ["-h", "--help"]})
@log_options
@click.option("--holdout-days", type=int, default=7, show_default=True,
              help="Plan the last N days of the log, checked on what was recorded (0: plan --days ahead).")  # fmt: skip
@click.option("--days", type=int, default=7, show_default=True, help="With --holdout-days 0: days to plan.")
@click.option("--target-sl", type=float, default=0.8, show_default=True,
              help="Service level per interval: answered within --threshold / offered.")  # fmt: skip
@click.option("--threshold", type=float, default=20.0, show_default=True, help="Service-level threshold, s.")
@click.option("--shrinkage", type=float, default=0.2, show_default=True,
              help="Share of on-shift time off the phones beyond the shifts' breaks (0-1).")  # fmt: skip
@click.option("--shifts", "shifts_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Shift templates (TOML [[shift]]; wfm/schedule.py), default: 8.5 h full-time with a 30 min "
                   "break, 4 h part-time (at most 40 % of the hours), 5 days a week.")  # fmt: skip
@click.option("--holiday", "holidays", multiple=True, metavar="YYYY-MM-DD", help="A holiday (repeat).")
@click.option("--replications", type=int, default=5, show_default=True, help="Simulation runs of the check.")
@click.option("--seed", type=int, default=1, show_default=True, help="First replication's seed.")
@click.option("--outbound-hours", type=float, default=0.0, show_default=True,
              help="Blended: outbound agent-hours to place each day, where inbound leaves slack first.")  # fmt: skip
@click.option("--outbound-window", default="09:00-20:00", show_default=True, metavar="HH:MM-HH:MM",
              help="When outbound calling may happen.")  # fmt: skip
@click.option("--json", "json_out", default=None, help="Write the plan as one JSON object ('-' = stdout).")
@click.option("--html", "html_out", default=None, type=click.Path(dir_okay=False),
              help="Write the plan as a self-contained HTML page (charts, schedule per agent).")  # fmt: skip
def plan(
    log: Path | None,
    fmt: str | None,
    interval: str,
    from_store: bool,
    queues: tuple[str, ...],
    config_path: str | None,
    holdout_days: int,
    days: int,
    target_sl: float,
    threshold: float,
    shrinkage: float,
    shifts_file: str | None,
    holidays: tuple[str, ...],
    replications: int,
    seed: int,
    outbound_hours: float,
    outbound_window: str,
    json_out: str | None,
    html_out: str | None,
) -> None:
    """Staffing and shifts for a service-level target from a recorded call LOG."""
    from wfm.forecast import ForecastError, parse_holidays
    from wfm.plan import make_plan
    from wfm.schedule import DEFAULT_TEMPLATES, ScheduleError, load_templates

    if not 0 < target_sl < 1:
        raise click.ClickException(f"--target-sl: must be between 0 and 1, got {target_sl}")
    if not 0 <= shrinkage < 1:
        raise click.ClickException(f"--shrinkage: must be in [0, 1), got {shrinkage}")
    if outbound_hours < 0:
        raise click.ClickException(f"--outbound-hours: must be >= 0, got {outbound_hours}")
    window = _window(outbound_window)
    quiet = json_out == "-"
    calls = load_calls(log, fmt, from_store, config_path, quiet, queues)
    bar = None
    progress = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=100, desc="simulating the plan", unit="%", file=sys.stderr, leave=False)

        def progress(f: float) -> None:
            if int(f * 100) != bar.n:
                bar.n = int(f * 100)
                bar.refresh()

    try:
        templates = load_templates(shifts_file) if shifts_file else list(DEFAULT_TEMPLATES)
        out = make_plan(calls, int(interval) * 60, holdout_days, days, target_sl, threshold, shrinkage, templates,
                        sorted(parse_holidays(holidays)), replications, seed, progress,
                        outbound_h_per_day=outbound_hours, outbound_window=window)  # fmt: skip
    except (ForecastError, ScheduleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    if html_out is not None:
        from wfm.plan_html import render_plan

        Path(html_out).write_text(render_plan(out), encoding="utf-8")
    if json_out is not None:
        text = json.dumps(out, indent=None if quiet else 2)
        if quiet:
            click.echo(text)
            return
        Path(json_out).write_text(text + "\n", encoding="utf-8")
    click.echo(f"plan from {out['start']} for {out['days']} day(s), {out['interval_s'] // 60}-min intervals, "
               f"target {target_sl:.0%} in {threshold:g} s, shrinkage {shrinkage:.0%}, "
               f"patience {out['patience_s']} s")  # fmt: skip
    click.echo(f"headcount {out['headcount']}, paid {out['paid_hours']:.1f} h for {out['required_hours']:.1f} h "
               f"required ({out['solver']['status']})")  # fmt: skip
    for u in out["uncovered"]:
        click.echo(f"uncovered: {u['start']} short of {u['short']} agent(s) (no shift template reaches it)")
    ob = out["outbound"]
    if ob["hours_per_day"]:
        click.echo(f"outbound {ob['placed_hours']:.1f} h placed for {ob['extra_paid_hours']:.1f} paid hours more "
                   "than inbound alone")  # fmt: skip
    sim = out.get("simulated")
    if sim:
        ci = sim["ci95"]
        for k in ("service_level", "abandon_rate", "asa", "occupancy"):
            iv = ci.get(k)
            span = f"  95% [{iv[0]:.4f}, {iv[1]:.4f}]" if iv else ""
            click.echo(f"simulated {k:<14} {sim[k]:.4f}{span}")
        share = out.get("intervals_meeting_target")
        if share is not None:
            click.echo(f"intervals of 5 calls or more meeting the target (first replication): {share:.0%}")


def _window(text: str) -> tuple[float, float]:
    """HH:MM-HH:MM as seconds of the day."""
    try:
        a, b = text.split("-")
        lo, hi = (int(x.split(":")[0]) * 3600.0 + int(x.split(":")[1]) * 60.0 for x in (a, b))
    except (ValueError, IndexError):
        raise click.ClickException(f"--outbound-window: {text!r} is not HH:MM-HH:MM") from None
    if not 0 <= lo < hi <= 86400:
        raise click.ClickException(f"--outbound-window: {text!r} must run forward within a day")
    return lo, hi
