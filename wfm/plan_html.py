"""The plan as one self-contained HTML page (`hotline plan --html`): forecast vs actual
calls, requirement vs scheduled agents (and outbound), the simulated check beside what
was recorded, and the schedule per agent. Inline SVG from sim.html_report, no script."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sim.html_report import _e, _fmt, _side_by_side, _summary_table, _table, line_chart, page


def _label(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%a %H:%M")


def _hm(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M")


def render_plan(plan: dict[str, Any]) -> str:
    ivs = plan["intervals"]
    labels = [_label(i["start"]) for i in ivs]
    body = [f"<h1>Staffing plan from {_e(plan['start'][:10])} ({plan['days']} days)</h1>"]
    body.append(
        f"<p>target {plan['target_sl']:.0%} answered within {plan['sl_threshold_s']:g} s (of offered calls) · "
        f"shrinkage {plan['shrinkage']:.0%} · patience {plan['patience_s']} s (from the history) · "
        f"{plan['interval_s'] // 60}-min intervals · headcount {_e(plan['headcount'])} · paid "
        f"{plan['paid_hours']:.1f} h for {plan['required_hours']:.1f} h required · "
        f"solver {_e(plan['solver']['status'])}</p>"
    )
    ob = plan.get("outbound") or {}
    if ob.get("hours_per_day"):
        body.append(
            f"<p>blended: {ob['hours_per_day']:g} outbound agent-hours a day, {ob['placed_hours']:.1f} h placed, "
            f"{ob['extra_paid_hours']:.1f} paid hours more than inbound alone (the rest fits in its slack)</p>"
        )
    calls = [[i["calls"] for i in ivs], [i["forecast_low"] for i in ivs], [i["forecast_high"] for i in ivs]]
    names = ["forecast", "prediction interval: low", "prediction interval: high"]
    if any(i.get("actual") is not None for i in ivs):
        calls.append([i.get("actual") for i in ivs])
        names.append("actual (held out)")
    body.append("<h2>Calls</h2>" + line_chart(labels, calls, names, "Calls per interval: forecast and actual",
                                              "calls", pct=False))  # fmt: skip
    agents = [[i["required"] for i in ivs], [i["scheduled"] for i in ivs]]
    anames = ["required (Erlang A, with shrinkage)", "scheduled (on the phones)"]
    if any(i.get("outbound") for i in ivs):
        agents.append([i["outbound"] for i in ivs])
        anames.append("dialling out (blended)")
    body.append("<h2>Agents</h2>" + line_chart(labels, agents, anames, "Agents per interval: required vs scheduled",
                                               "agents", pct=False))  # fmt: skip
    if plan.get("uncovered"):
        rows = [[_label(u["start"]), u["short"]] for u in plan["uncovered"]]
        body.append("<h3>Intervals no shift template reaches</h3>" + _table(rows, ["interval", "agents short"]))
    sim = plan.get("simulated")
    if sim:
        body.append("<h2>Check: the schedule replayed through the router on the recorded calls</h2>")
        body.append(_summary_table(sim))
        replayed = [{**r, "start": datetime.fromisoformat(r["start"]).timestamp()} for r in plan["side_by_side"]]
        body.append(_side_by_side(replayed, [_label(r["start"]) for r in plan["side_by_side"]]))
    days = sorted({s["start"][:10] for s in plan["shifts"]})
    per_agent: dict[str, dict[str, str]] = {}
    for s in plan["shifts"]:
        brk = f" (break {_hm(s['break'][0])})" if s.get("break") else ""
        per_agent.setdefault(s["agent"], {})[s["start"][:10]] = f"{_hm(s['start'])}\u2013{_hm(s['end'])}{brk}"
    rows = [[a, *(cells.get(d, "off") for d in days)] for a, cells in sorted(per_agent.items())]
    head = ["agent", *(datetime.fromisoformat(d).strftime("%a %d %b") for d in days)]
    body.append("<h2>Schedule per agent</h2>" + _table(rows, head))
    body.append(f"<p>forecast WAPE on these days: {_fmt(plan.get('forecast_wape'))}</p>")
    return page("Hotline staffing plan", body)
