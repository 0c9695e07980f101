"""`hotline bench ...`: benchmarks runnable from the CLI (the `bench/` scripts run
the full matrices for `make bench`)."""

from __future__ import annotations

import json

import click


@click.group()
def bench() -> None:
    """Run a benchmark and print its figures."""


@bench.command("router")
@click.option("--agents", type=click.IntRange(min=1), default=1000, show_default=True, help="agents logged in")
@click.option("--skills", type=click.IntRange(min=1), default=100, show_default=True, help="skills (one queue each)")
@click.option(
    "--waiting", type=click.IntRange(min=0), default=2000, show_default=True, help="calls kept waiting (about)"
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--events", type=click.IntRange(min=100), default=100_000, show_default=True, help="timed events")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def router(agents: int, skills: int, waiting: int, seed: int, events: int, as_json: bool) -> None:
    """Per-event decision latency of the ACD router over a realistic mixed stream
    (arrivals, answers, RONA, wrap-ups, abandons, breaks, escalation ticks)."""
    from cti.logs import configure
    from routing.benchmark import run_benchmark

    configure("warning")  # logs go to stderr; stdout carries only the figures
    result = run_benchmark(agents, skills, waiting, seed=seed, events=events)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(
        f"agents={result['agents']} skills={result['skills']} waiting~{waiting} events={result['events']}\n"
        f"events/s={result['events_per_s']}  p50={result['p50_us']} us  p90={result['p90_us']} us  "
        f"p99={result['p99_us']} us  max={result['max_us']} us\n"
        f"waiting at end={result['waiting_at_end']}  rule swap={result['swap_rules_ms']} ms"
    )
