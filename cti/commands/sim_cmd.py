"""`hotline sim ...` (call-load simulation through the real router) and
`hotline erlang ...` (Erlang C / Erlang A staffing).

    hotline sim SCENARIO.toml [--seed N] [--json OUT] [--html REPORT.html] [--rules CANDIDATE.toml]
    hotline sim --agents N --calls-per-hour L --aht S [--patience S] [--hours H]
                [--sl-threshold T] [--seed N] [--replications R] --json -
    hotline sim SCENARIO.toml [--agents +k | --staffing FILE.csv] [--replications R]
    hotline sim dialer ARGS...          (the outbound dialer simulation: dialer/cli.py)
    hotline erlang --calls-per-hour L --aht S [--target-sl 0.8] [--threshold 20]
                   [--patience S] [--shrinkage F] [--agents N] [--json]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click


class _SimCommand(click.Command):
    """`sim dialer ...` hands every remaining argument to the dialer's own command."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if args and args[0] == "dialer":
            from dialer.cli import sim_dialer  # (loaded when asked for: the dialer simulation)

            return sim_dialer.make_context(f"{info_name} dialer", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


def _json_default(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _clean(o: Any) -> Any:
    """JSON has no inf/nan: None instead."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def _write_json(dest: str, obj: Any) -> None:
    text = json.dumps(_clean(obj), indent=None if dest == "-" else 2, default=_json_default)
    if dest == "-":
        click.echo(text)
    else:
        Path(dest).write_text(text + "\n", encoding="utf-8")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


@click.command("sim", cls=_SimCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@click.option("--seed", type=int, default=None, help="Random seed (default: the scenario's).")
@click.option("--json", "json_out", default=None, help="Write the results as JSON to this file ('-' = stdout).")
@click.option("--html", "html_out", default=None, type=click.Path(dir_okay=False), help="Write an HTML report.")
@click.option(
    "--rules",
    "candidate",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="What-if: also run these candidate routing rules on the same callers.",
)
@click.option("--agents", type=str, default=None,
              help="Quick M/M/N form: number of agents. With SCENARIO: +k or -k agents in every [[agents]] "
                   "group, run as a what-if against the scenario as it is.")  # fmt: skip
@click.option("--staffing", type=click.Path(exists=True, dir_okay=False), default=None,
              help="With SCENARIO: agents logged in per interval and group (CSV: start,group,agents; "
                   "sim/staffing.py), run as a what-if against the scenario as it is.")  # fmt: skip
@click.option("--replications", type=int, default=1, show_default=True,
              help="Runs with seeds seed, seed+1, ... (common random numbers across a what-if's arms): each "
                   "KPI's mean and 95%% interval (ci95), a what-if's differences paired run by run.")  # fmt: skip
@click.option("--calls-per-hour", type=float, default=None, help="Quick form: arrival rate.")
@click.option("--aht", type=float, default=None, help="Quick form: mean handle time, s (exponential).")
@click.option("--patience", type=float, default=None, help="Quick form: mean patience, s (exponential; omit: none).")
@click.option("--hours", type=float, default=8.0, show_default=True, help="Quick form: simulated hours.")
@click.option("--warmup", type=float, default=0.0, show_default=True, help="Quick form: seconds not counted.")
@click.option("--sl-threshold", type=float, default=20.0, show_default=True, help="Quick form: SL threshold, s.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Logs go to stderr.",
)
def sim(
    scenario: str | None,
    seed: int | None,
    json_out: str | None,
    html_out: str | None,
    candidate: str | None,
    agents: str | None,
    staffing: str | None,
    replications: int,
    calls_per_hour: float | None,
    aht: float | None,
    patience: float | None,
    hours: float,
    warmup: float,
    sl_threshold: float,
    quiet: bool,
    log_level: str,
) -> None:
    """Simulate a call load through the real router and report the KPIs.

    SCENARIO.toml (see config/examples/scenario-*.toml), or the quick M/M/N(+M) form
    with --agents/--calls-per-hour/--aht. `hotline sim dialer ...` runs the outbound
    dialer simulation."""
    from cti.logs import configure
    from sim.dists import ScenarioError
    from sim.scenario import load_scenario, mmn_scenario
    from sim.staffing import add_agents, parse_agents, read_staffing

    configure(log_level)

    if replications < 1:
        raise click.UsageError("--replications: must be >= 1")
    try:
        count, delta = parse_agents(agents) if agents is not None else (None, None)
        if scenario is not None:
            if count is not None or calls_per_hour is not None or aht is not None:
                raise click.UsageError("give either SCENARIO.toml (with --agents +k/-k) or --agents/--calls-per-hour/"
                                       "--aht, not both")  # fmt: skip
            sc = load_scenario(scenario)
        else:
            if delta is not None or staffing is not None:
                raise click.UsageError("--agents +k/-k and --staffing change a SCENARIO.toml: give one")
            if count is None or calls_per_hour is None or aht is None:
                raise click.UsageError("missing SCENARIO.toml (or --agents, --calls-per-hour and --aht)")
            sc = mmn_scenario(count, calls_per_hour, aht, patience, hours, sl_threshold, seed=seed or 0,
                              warmup_s=warmup)  # fmt: skip
        variant = sc if delta is None else add_agents(sc, delta)
        variant = variant if staffing is None else read_staffing(staffing, variant)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None

    from routing import RuleError
    from sim.replicate import combine, paired, run_replications, seeds_for
    from sim.run import compare, load_rules_text

    try:
        current_rules = load_rules_text(sc.rules_text, sc.rules_filename)
        cand_rules = None
        if candidate is not None:
            cand_rules = load_rules_text(Path(candidate).read_text(encoding="utf-8"), candidate)
    except RuleError as exc:
        raise click.ClickException(f"routing rules:\n{exc}") from None
    what_if = cand_rules is not None or variant is not sc
    arms = [sc, variant] if what_if else [sc]
    rules = [current_rules, cand_rules or current_rules] if what_if else [current_rules]
    seeds = seeds_for(sc.seed if seed is None else seed, replications)

    bar = None
    progress = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=100, desc=f"sim {sc.name}", unit="%", file=sys.stderr, leave=False,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")  # fmt: skip

        def progress(f: float) -> None:
            if int(f * 100) != bar.n:
                bar.n = int(f * 100)
                bar.refresh()

    try:
        results, summaries = run_replications(arms, rules, seeds, progress)
    finally:
        if bar is not None:
            bar.close()
    many = replications > 1
    heads = [combine(runs) if many else runs[0] for runs in summaries]
    side = None
    if scenario is not None and sc.replay is not None:
        from wfm.replay_report import recorded_side_by_side

        side = recorded_side_by_side(sc, results[0].report)
    if not what_if:
        result = results[0]
        payload: Any = heads[0] if scenario is None else {
            "scenario": sc.name, "summary": heads[0], "kpi": result.report.to_dict(),
            "stats": {"calls": result.stats.calls, "events": result.stats.events,
                      "ticks": result.stats.ticks, "decisions": result.stats.decisions},
        }  # fmt: skip
    else:
        diff = paired(summaries[0], summaries[1]) if many else compare(summaries[0][0], summaries[1][0])
        payload = {"scenario": sc.name, "candidate_scenario": variant.name, "comparison": diff,
                   "current": results[0].report.to_dict(), "candidate": results[1].report.to_dict(),
                   "current_summary": heads[0], "candidate_summary": heads[1]}  # fmt: skip
    if side is not None and isinstance(payload, dict):
        payload["side_by_side"] = side  # recorded vs the scenario as it is
    if json_out is not None:
        _write_json(json_out, payload)
    if html_out is not None:
        from sim.html_report import render_html

        Path(html_out).write_text(render_html(results, candidate_name=candidate or variant.name, heads=heads,
                                              comparison=payload.get("comparison") if what_if else None,
                                              side_by_side=side), encoding="utf-8")  # fmt: skip
    if json_out != "-":
        _print(heads, payload.get("comparison") if what_if else None, many)
        if html_out:
            click.echo(f"report: {html_out}")


def _print(heads: list[dict[str, Any]], comparison: dict[str, Any] | None, many: bool) -> None:
    """The summary (mean and 95 % interval with replications), or the what-if table."""
    if comparison is None:
        s = heads[0]
        ci = s.get("ci95", {})
        width = max(len(k) for k in s)
        for k, v in s.items():
            if k in ("ci95", "seeds"):
                continue
            iv = ci.get(k)
            span = f"  [{_fmt(iv[0])}, {_fmt(iv[1])}]" if iv else ""
            click.echo(f"{k:<{width}}  {_fmt(v)}{span}")
        return
    extra = f" {'95% interval':>26}" if many else ""
    click.echo(f"{'kpi':<24} {'current':>12} {'candidate':>12} {'difference':>12}{extra}")
    for k, r in comparison.items():
        iv = r.get("ci95")
        span = (
            f" {'[' + _fmt(iv[0]) + ', ' + _fmt(iv[1]) + ']':>26}{' *' if r.get('significant') else ''}" if iv else ""
        )
        click.echo(f"{k:<24} {_fmt(r['current']):>12} {_fmt(r['candidate']):>12} {_fmt(r['difference']):>12}{span}")


@click.command("erlang", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--calls-per-hour", type=float, required=True, help="Arrival rate.")
@click.option("--aht", type=float, required=True, help="Mean handle time, s.")
@click.option(
    "--target-sl",
    type=float,
    default=0.8,
    show_default=True,
    help="Target service level (answered within T / offered).",
)
@click.option("--threshold", type=float, default=20.0, show_default=True, help="Service-level threshold T, s.")
@click.option("--patience", type=float, default=None, help="Mean patience, s: Erlang A (omit: Erlang C).")
@click.option(
    "--shrinkage", type=float, default=0.0, show_default=True, help="Share of paid time off the phones (0-1)."
)
@click.option("--max-abandon", type=float, default=None, help="Also keep abandonment at or below this (Erlang A).")
@click.option("--agents", type=int, default=None, help="Evaluate this many agents instead of searching.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def erlang(
    calls_per_hour: float,
    aht: float,
    target_sl: float,
    threshold: float,
    patience: float | None,
    shrinkage: float,
    max_abandon: float | None,
    agents: int | None,
    as_json: bool,
) -> None:
    """Agents needed for a target service level (Erlang C, or Erlang A with --patience),
    with P(wait), ASA, SL, abandonment and occupancy."""
    if patience is not None and not patience > 0:
        raise click.ClickException(f"--patience: must be > 0, got {patience}")
    from sim.erlang import evaluate, staff

    try:
        if agents is not None:
            r = evaluate(agents, calls_per_hour, aht, threshold, patience)
            out: dict[str, Any] = r.to_dict()
            if 0 <= shrinkage < 1:
                out["scheduled"] = math.ceil(agents / (1 - shrinkage) - 1e-9)
        else:
            out = staff(calls_per_hour, aht, target_sl, threshold, patience, shrinkage, max_abandon).to_dict()
            out["target_sl"] = target_sl
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(_clean(out)))
        return
    width = max(len(k) for k in out)
    for k, v in out.items():
        click.echo(f"{k:<{width}}  {_fmt(v)}")
