"""`sim_dialer`: the dialer simulation as a click command.

Wired as `hotline sim dialer ...` by the CLI owner; also runnable on its own:
`python -m dialer.cli --agents 50 --answer-rate 0.3 --aht 180 --json -`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO, TYPE_CHECKING

import click

from dialer.pacing import MODE_PREDICTIVE, MODE_PROGRESSIVE
from dialer.sim import AHT_DISTRIBUTIONS, DialerSimConfig, SimConfigError, run_dialer_sim

if TYPE_CHECKING:
    from dialer.campaign import CampaignBook


@click.command("dialer")
@click.option("--agents", type=click.IntRange(min=1), required=True, help="Agents logged in.")
@click.option(
    "--answer-rate", type=click.FloatRange(0, 1, min_open=True), required=True, help="Share of dials a human answers."
)
@click.option("--aht", type=click.FloatRange(0, min_open=True), required=True, help="Mean talk time, seconds.")
@click.option("--aht-dist", type=click.Choice(AHT_DISTRIBUTIONS), default="exponential", show_default=True)
@click.option(
    "--aht-cv",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="Coefficient of variation (lognormal, gamma).",
)
@click.option("--wrap-up", type=click.FloatRange(0), default=0.0, show_default=True, help="Seconds after each call.")
@click.option(
    "--ring-mean",
    type=click.FloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Mean seconds to a human answer.",
)
@click.option("--no-answer-timeout", type=click.FloatRange(0, min_open=True), default=25.0, show_default=True)
@click.option("--machine-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--busy-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--inbound-per-hour",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Blended inbound calls (served first).",
)
@click.option("--hours", type=click.FloatRange(0, min_open=True), default=8.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--mode", type=click.Choice([MODE_PREDICTIVE, MODE_PROGRESSIVE]), default=MODE_PREDICTIVE, show_default=True
)
@click.option("--drop-cap", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.03, show_default=True)
@click.option(
    "--window-hours",
    type=click.FloatRange(0, min_open=True),
    default=24.0,
    show_default=True,
    help="Rolling window reported as max_window_abandon_rate.",
)
@click.option(
    "--events",
    "events_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the domain events as JSON lines to this file.",
)
@click.option("--json", "json_out", type=click.File("w"), default=None, help="Write the result as JSON ('-' = stdout).")
@click.option(
    "--campaign",
    "campaign_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Dial this campaign's leads (TOML with a [campaign] table); needs --leads and --start.",
)
@click.option(
    "--leads",
    "leads_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Lead list CSV for --campaign.",
)
@click.option(
    "--start",
    "start_at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]),
    default=None,
    help="Wall-clock start of the simulated campaign, e.g. 2026-06-01T13:00+0000.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Logs go to stderr.",
)
def sim_dialer(
    agents: int,
    answer_rate: float,
    aht: float,
    aht_dist: str,
    aht_cv: float,
    wrap_up: float,
    ring_mean: float,
    no_answer_timeout: float,
    machine_rate: float,
    busy_rate: float,
    inbound_per_hour: float,
    hours: float,
    seed: int,
    mode: str,
    drop_cap: float,
    window_hours: float,
    events_path: str | None,
    json_out: IO[str] | None,
    campaign_path: str | None,
    leads_path: str | None,
    start_at: datetime | None,
    log_level: str,
) -> None:
    """Simulate an outbound campaign through the real pacing core (SimPy)."""
    from cti.logs import configure

    configure(log_level)
    try:
        config = DialerSimConfig(
            agents=agents,
            answer_rate=answer_rate,
            aht_s=aht,
            aht_dist=aht_dist,
            aht_cv=aht_cv,
            wrap_up_s=wrap_up,
            ring_mean_s=ring_mean,
            no_answer_timeout_s=no_answer_timeout,
            machine_rate=machine_rate,
            busy_rate=busy_rate,
            inbound_per_hour=inbound_per_hour,
            hours=hours,
            seed=seed,
            mode=mode,
            drop_cap=drop_cap,
            window_s=window_hours * 3600.0,
        )
    except SimConfigError as exc:
        raise click.UsageError(str(exc)) from None
    book = None
    start_epoch = 0.0
    if campaign_path or leads_path or start_at:
        if not (campaign_path and leads_path and start_at):
            raise click.UsageError("--campaign, --leads and --start go together")
        book, start_epoch = _load_book(campaign_path, leads_path, start_at)
    if events_path:
        from events import to_record

        with open(events_path, "w", encoding="utf-8") as fh:

            def sink(event: object) -> None:
                fh.write(json.dumps(to_record(event), separators=(",", ":")) + "\n")  # type: ignore[arg-type]

            result = run_dialer_sim(config, sink, book, start_epoch)
    else:
        result = run_dialer_sim(config, None, book, start_epoch)
    summary = result.summary()
    if book is not None:
        summary["campaign"] = book.config.id
        summary["leads"] = book.counts()
    if json_out is not None:
        json_out.write(json.dumps(summary, sort_keys=True) + "\n")
        return
    for key in (
        "mode",
        "agents",
        "hours",
        "occupancy",
        "abandon_rate",
        "max_window_abandon_rate",
        "dials_per_agent_hour",
        "live_answered",
        "dropped",
    ):
        click.echo(f"{key:>26}: {summary[key]}")


def _load_book(campaign_path: str, leads_path: str, start_at: datetime) -> tuple[CampaignBook, float]:
    from dialer.campaign import CampaignBook, CampaignConfigError, load_campaign
    from dialer.leads import load_leads_csv

    try:
        config = load_campaign(campaign_path)
    except CampaignConfigError as exc:
        raise click.UsageError("\n".join(exc.problems)) from None
    imported = load_leads_csv(leads_path, config.default_region)
    for line in imported.report():
        click.echo(f"rejected: {line}", err=True)
    if not imported.leads:
        raise click.UsageError(f"{leads_path}: no usable lead")
    if start_at.tzinfo is None:
        raise click.UsageError("--start needs a UTC offset, e.g. 2026-06-01T13:00+0000")
    start_epoch = start_at.timestamp()
    book = CampaignBook(config)
    book.add_leads(imported.leads, start_epoch)
    return book, start_epoch


def main() -> None:
    sim_dialer(prog_name="python -m dialer.cli")


if __name__ == "__main__":
    main()
