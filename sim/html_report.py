"""Self-contained HTML report of simulation runs: hand-made inline SVG charts (no
JavaScript, no CDN, readable offline): wait-time distribution, service level and
abandonment per interval, occupancy per team and agent, the scenario echoed, and the
KPI tables. One run, or two side by side for what-if."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from sim.run import SimResult, compare

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")
W, H = 760, 260
ML, MR, MT, MB = 56, 16, 20, 46


CSS = ("body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}"
       "table{border-collapse:collapse;margin:8px 0 20px;font-size:13px}"
       "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}"
       "td:first-child{text-align:left}figure{margin:8px 0 20px}figcaption{font-weight:600;margin-bottom:4px}"
       "pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}"
       ".legend{font-size:12px;margin:2px 0 0 56px}.key{margin-right:14px;white-space:nowrap}"
       ".key i{display:inline-block;width:10px;height:10px;margin-right:4px}")  # fmt: skip


def page(title: str, body: list[str]) -> str:
    """A whole self-contained page: no script, no link outside it."""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")  # fmt: skip


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "\u2013"  # an en dash: no value
    if isinstance(v, float):
        if pct:
            return f"{v * 100:.1f}%"
        return f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _clock(t: float) -> str:
    t = int(t) % 86400
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def _axes(ymax: float, ylabel: str, pct: bool) -> list[str]:
    out = [f'<line x1="{ML}" y1="{H - MB}" x2="{W - MR}" y2="{H - MB}" stroke="#333"/>',
           f'<line x1="{ML}" y1="{MT}" x2="{ML}" y2="{H - MB}" stroke="#333"/>']  # fmt: skip
    for i in range(5):
        v = ymax * i / 4
        y = H - MB - (H - MT - MB) * i / 4
        lab = f"{v * 100:.0f}%" if pct else (f"{v:.0f}" if ymax >= 10 else f"{v:.2f}")
        out.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{W - MR}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{lab}</text>')
    out.append(f'<text x="14" y="{MT + (H - MT - MB) / 2:.0f}" font-size="11" transform="rotate(-90 14 '
               f'{MT + (H - MT - MB) / 2:.0f})" text-anchor="middle">{_e(ylabel)}</text>')  # fmt: skip
    return out


def _svg(parts: list[str], title: str, legend: Sequence[str] = ()) -> str:
    return (f'<figure><figcaption>{_e(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{_e(title)}">'
            + "".join(parts) + "</svg>" + _legend(legend) + "</figure>")  # fmt: skip


def _legend(names: Sequence[str]) -> str:
    """The series' names under the chart, in HTML: they wrap instead of being cut."""
    if not names:
        return ""
    items = "".join(f'<span class="key"><i style="background:{COLORS[i % len(COLORS)]}"></i>{_e(n)}</span>'
                    for i, n in enumerate(names))  # fmt: skip
    return f'<div class="legend">{items}</div>'


def _label_step(labels: Sequence[str], width: float) -> int:
    """Every how many x labels to print so that they do not overlap (10 px font)."""
    widest = max((len(x) for x in labels), default=1) * 6.5 + 8
    return max(1, math.ceil(len(labels) * widest / width))


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Sequence[float]],
    names: Sequence[str],
    title: str,
    ylabel: str,
    pct: bool = False,
) -> str:
    n = len(labels)
    if n == 0:
        return f"<p><em>{_e(title)}: no data</em></p>"
    ymax = max([v for s in series for v in s] + [1e-9])
    ymax = 1.0 if pct and ymax <= 1.0 else ymax * 1.05
    parts = _axes(ymax, ylabel, pct)
    pw = (W - ML - MR) / n
    bw = max(pw * 0.8 / len(series), 0.5)
    step = _label_step(labels, W - ML - MR)
    for i, lab in enumerate(labels):
        for k, s in enumerate(series):
            v = s[i]
            h = (H - MT - MB) * (v / ymax if ymax else 0)
            x = ML + i * pw + pw * 0.1 + k * bw
            parts.append(
                f'<rect x="{x:.1f}" y="{H - MB - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[k % len(COLORS)]}"><title>{_e(lab)}: {_fmt(v, pct)}</title></rect>'
            )
        if i % step == 0:
            x = ML + i * pw + pw / 2
            parts.append(f'<text x="{x:.1f}" y="{H - MB + 14}" font-size="10" text-anchor="middle">{_e(lab)}</text>')
    return _svg(parts, title, names if len(series) > 1 else ())


def line_chart(
    labels: Sequence[str],
    series: Sequence[Sequence[float | None]],
    names: Sequence[str],
    title: str,
    ylabel: str,
    pct: bool = True,
) -> str:
    n = len(labels)
    if n == 0:
        return f"<p><em>{_e(title)}: no data</em></p>"
    vals = [v for s in series for v in s if v is not None]
    ymax = max([*vals, 1e-09])
    ymax = 1.0 if pct and ymax <= 1.0 else ymax * 1.05
    parts = _axes(ymax, ylabel, pct)
    pw = (W - ML - MR) / max(n - 1, 1)
    for k, s in enumerate(series):
        pts = []
        for i, v in enumerate(s):
            if v is None:
                continue
            x = ML + i * pw if n > 1 else ML + (W - ML - MR) / 2
            y = H - MB - (H - MT - MB) * v / ymax
            pts.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{COLORS[k % len(COLORS)]}">'
                         f'<title>{_e(names[k])} {_e(labels[i])}: {_fmt(v, pct)}</title></circle>')  # fmt: skip
        if pts:
            parts.append(
                f'<polyline fill="none" stroke="{COLORS[k % len(COLORS)]}" stroke-width="1.5" '
                f'points="{" ".join(pts)}"/>'
            )
    step = _label_step(labels, W - ML - MR)
    for i in range(0, n, step):
        x = ML + i * pw if n > 1 else ML + (W - ML - MR) / 2
        parts.append(f'<text x="{x:.1f}" y="{H - MB + 14}" font-size="10" text-anchor="middle">{_e(labels[i])}</text>')
    return _svg(parts, title, names)


def _histogram(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    counts = [0.0] * (len(edges) - 1)
    for v in values:
        for i in range(len(edges) - 1):
            if edges[i] <= v < edges[i + 1] or (i == len(edges) - 2 and v >= edges[-1]):
                counts[i] += 1
                break
    return counts


def _wait_chart(results: Sequence[SimResult], names: Sequence[str]) -> str:
    edges = [0.0, 1e-9, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900]
    labels = ["0", "0-10", "10-20", "20-30", "30-45", "45-60", "60-90", "90-120", "120-180",
              "180-240", "240-300", "300-450", "450-600", "600+"]  # fmt: skip
    series, snames = [], []
    for r, name in zip(results, names, strict=False):
        ans, ab = r.waits()
        total = max(len(ans) + len(ab), 1)
        series.append([c / total for c in _histogram(ans, edges)])
        snames.append(f"{name}: answered")
        series.append([c / total for c in _histogram(ab, edges)])
        snames.append(f"{name}: abandoned")
    return bar_chart(labels, series, snames, "Wait-time distribution (share of calls, by wait in seconds)",
                     "share of calls", pct=True)  # fmt: skip


def _table(rows: list[list[Any]], head: list[str]) -> str:
    out = ["<table><thead><tr>"] + [f"<th>{_e(h)}</th>" for h in head] + ["</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


_PCT = {"p_wait", "abandon_rate", "service_level", "occupancy", "service_level_answered",
        "service_level_2", "service_level_3", "transfer_rate", "utilization"}  # fmt: skip


# the summary's keys as a reader names them, with units
LABELS = {
    "offered": "calls offered", "answered": "calls answered", "abandoned": "calls abandoned",
    "p_wait": "share of calls that waited", "abandon_rate": "abandonment (abandoned / offered)",
    "asa": "average speed of answer, s", "service_level": "service level (answered within T / offered)",
    "occupancy": "agent occupancy (busy / logged in and working)", "sim_calls_per_s": "simulated calls per second",
    "sl_threshold_s": "service-level threshold T, s", "service_level_answered": "service level (within T / answered)",
    "service_level_2": "service level ((answered + abandoned) within T / both)",
    "service_level_3": "service level (within T / offered less short abandons)",
    "short_abandoned": "short abandons (under 5 s)", "avg_wait": "average wait (answered and abandoned), s",
    "max_wait": "longest wait, s", "aht": "average handle time, s", "transfer_rate": "transfers / answered",
    "utilization": "utilization (working / logged in)", "rona": "rings not answered (RONA)",
    "seed": "seed", "rules_version": "routing rules version", "simulated_calls": "simulated calls",
    "wall_s": "run time, s", "router_build": "router build", "replications": "replications",
}  # fmt: skip


def _label(k: str) -> str:
    return LABELS.get(k, k.replace("_", " "))


def _iv(iv: Sequence[float] | None, pct: bool) -> str:
    return "\u2013" if not iv else f"{_fmt(iv[0], pct)} \u2013 {_fmt(iv[1], pct)}"


def _summary_table(head: dict[str, Any]) -> str:
    ci = head.get("ci95")
    if ci is None:
        rows = [[_label(k), _fmt(v, k in _PCT)] for k, v in head.items()]
        return _table(rows, ["KPI", "value"])
    rows = [[_label(k), _fmt(v, k in _PCT), _iv(ci.get(k), k in _PCT)] for k, v in head.items()
            if k not in ("ci95", "seeds")]  # fmt: skip
    return _table(rows, ["KPI", f"mean of {head.get('replications')} runs", "95% interval"])


def _comparison_table(cmp: dict[str, Any]) -> str:
    paired = any("ci95" in r for r in cmp.values())
    rows = []
    for k, r in cmp.items():
        pct = k in _PCT
        row = [_label(k), _fmt(r["current"], pct), _fmt(r["candidate"], pct), _fmt(r["difference"], pct)]
        if paired:
            sig = r.get("significant")
            row += [_iv(r.get("ci95"), pct), "\u2013" if sig is None else ("yes" if sig else "no (noise)")]
        rows.append(row)
    head = ["KPI", "current", "candidate", "difference"]
    return _table(rows, head + (["95% interval (paired)", "beyond noise"] if paired else []))


def _staffing_chart(results: Sequence[SimResult], names: Sequence[str], labels: list[str],
                    starts: list[float]) -> str:  # fmt: skip
    """Agents logged in per interval (time logged in / interval length), each run."""
    size = results[0].report.config["interval_s"]
    series = []
    for r in results:
        by = {iv["start"]: iv.get("logged_in_s", 0.0) / size for iv in r.report.intervals}
        series.append([by.get(t) for t in starts])
    return line_chart(labels, series, [f"{n}: agents logged in" for n in names],
                      "Staffing: agents logged in per interval (average over the interval)", "agents",
                      pct=False)  # fmt: skip


def _side_by_side(rows: Sequence[dict[str, Any]], labels: Sequence[str] | None = None) -> str:
    """The replay's table and chart; `labels` name the intervals (default: HH:MM)."""
    labels = list(labels) if labels is not None else [_clock(r["start"]) for r in rows]
    chart = line_chart(labels, [[r["recorded_service_level_offered"] for r in rows],
                                [r["sim_service_level_offered"] for r in rows]],
                       ["recorded (the log)", "simulated"],
                       "Service level per interval, recorded vs simulated (answered within T / offered)",
                       "service level")  # fmt: skip
    table = _table([[lab, _fmt(r["recorded_offered"]), _fmt(r["sim_offered"]),
                     _fmt(r["recorded_abandoned"]), _fmt(r["sim_abandoned"]), _fmt(r["recorded_asa"]),
                     _fmt(r["sim_asa"]), _fmt(r["recorded_service_level_offered"], True),
                     _fmt(r["sim_service_level_offered"], True)] for lab, r in zip(labels, rows, strict=True)],
                   ["interval", "offered (log)", "offered (sim)", "abandoned (log)", "abandoned (sim)",
                    "ASA s (log)", "ASA s (sim)", "SL (log)", "SL (sim)"])  # fmt: skip
    return "<h2>Replay: recorded and simulated, per interval</h2>" + chart + table


def render_html(
    results: Sequence[SimResult],
    candidate_name: str | None = None,
    heads: Sequence[dict[str, Any]] | None = None,
    comparison: dict[str, Any] | None = None,
    side_by_side: Sequence[dict[str, Any]] | None = None,
) -> str:
    """One run, or [current, candidate] for what-if. `heads`: the summaries to show
    (with replications: means and ci95); `comparison`: a what-if's (paired) differences;
    `side_by_side`: a replay's recorded and simulated figures per interval."""
    if not results:
        raise ValueError("render_html: no results")
    first = results[0]
    sc = first.scenario
    names = ["current", f"candidate ({candidate_name})" if candidate_name else "candidate"][: len(results)]
    if len(results) == 1:
        names = [sc.name]
    body: list[str] = [f"<h1>Simulation: {_e(sc.name)}</h1>"]
    body.append(f"<p>seed {first.seed} · {first.stats.calls} calls · simulated "
                f"{_clock(sc.start_s)}\u2013{_clock(first.stats.end_s)} "
                f"({(first.stats.end_s - sc.start_s) / 3600:.1f} h)"
                f" · SL threshold {first.report.config['sl_threshold_s']} s · interval "
                f"{first.report.config['interval_s'] // 60} min</p>")  # fmt: skip

    # summary
    runs = (heads or [{}])[0].get("replications")
    if runs:
        body.append(f"<p>{runs} replications (seeds {_e(heads[0].get('seeds'))}): charts and tables below the "  # type: ignore[index]
                    "summary show the first; the summary gives each KPI's mean and 95% interval.</p>")  # fmt: skip
    if len(results) == 1:
        body.append("<h2>Summary</h2>" + _summary_table(dict(heads[0]) if heads else first.summary()))
    else:
        cmp = comparison or compare(results[0].summary(), results[1].summary())
        body.append("<h2>What-if: current vs candidate (same callers, same seeds)</h2>" + _comparison_table(cmp))
    if side_by_side:
        body.append(_side_by_side(side_by_side))

    body.append("<h2>Waiting</h2>" + _wait_chart(results, names))

    # per interval
    ivs = [r.report.intervals for r in results]
    starts = sorted({iv["start"] for lst in ivs for iv in lst})
    labels = [_clock(t) for t in starts]

    def col(lst: list[dict[str, Any]], key: str) -> list[float | None]:
        by = {iv["start"]: iv.get(key) for iv in lst}
        return [by.get(t) for t in starts]

    series, snames = [], []
    for lst, name in zip(ivs, names, strict=False):
        series += [col(lst, "service_level_offered"), col(lst, "abandon_rate")]
        snames += [f"{name}: SL (answered ≤ T / offered)", f"{name}: abandon rate"]
    body.append("<h2>Per interval</h2>" + line_chart(labels, series, snames,
                "Service level and abandonment per interval (by offer time)", "share"))  # fmt: skip
    occ = [col(lst, "occupancy") for lst in ivs]
    body.append(line_chart(labels, occ, [f"{n}: occupancy" for n in names], "Occupancy per interval", "occupancy"))
    body.append(_staffing_chart(results, names, labels, starts))
    rows = []
    for iv in first.report.intervals:
        rows.append(
            [
                _clock(iv["start"]),
                iv["offered"],
                iv["answered"],
                iv["abandoned"],
                _fmt(iv["service_level_offered"], True),
                _fmt(iv["service_level"], True),
                _fmt(iv["abandon_rate"], True),
                _fmt(iv["asa"]),
                _fmt(iv["aht"]),
                _fmt(iv["occupancy"], True),
            ]
        )
    body.append(_table(rows, ["interval", "offered", "answered", "abandoned", "SL/offered", "SL/answered",
                              "abandon", "ASA s", "AHT s", "occupancy"]))  # fmt: skip

    # teams and agents
    teams = sorted({t for r in results for t in r.report.teams})
    if teams:
        occupancy: list[list[float]] = [
            [(r.report.teams.get(t, {}).get("total", {}).get("occupancy") or 0.0) for t in teams] for r in results
        ]
        body.append("<h2>Teams</h2>" + bar_chart(teams, occupancy, names, "Occupancy per team", "occupancy", pct=True))
    agents = sorted({a for r in results for a in r.report.agents})
    if agents:
        if len(agents) <= 80:
            occupancy = [
                [(r.report.agents.get(a, {}).get("total", {}).get("occupancy") or 0.0) for a in agents] for r in results
            ]
            body.append(
                "<h2>Agents</h2>" + bar_chart(agents, occupancy, names, "Occupancy per agent", "occupancy", pct=True)
            )
        else:
            edges = [i / 20 for i in range(21)]
            labs = [f"{int(e * 100)}%" for e in edges[:-1]]
            occupancy = []
            for r in results:
                occs = [(r.report.agents[a]["total"].get("occupancy") or 0.0) for a in r.report.agents]
                occupancy.append(_histogram(occs, edges))
            body.append("<h2>Agents</h2>" + bar_chart(labs, occupancy, names,
                        f"Occupancy across {len(agents)} agents (number of agents per 5% band)", "agents"))  # fmt: skip
        rows = []
        for a in agents[:200]:
            t = first.report.agents.get(a, {}).get("total", {})
            rows.append(
                [
                    a,
                    sc.kpi.teams.get(a, ""),
                    t.get("handled", 0),
                    _fmt(t.get("aht")),
                    _fmt(t.get("occupancy"), True),
                    _fmt(t.get("utilization"), True),
                    t.get("rona", 0),
                ]
            )
        body.append(_table(rows, ["agent", "team", "handled", "AHT s", "occupancy", "utilization", "RONA"]))

    # queues
    qrows = []
    for r, name in zip(results, names, strict=False):
        for q, g in r.report.queues.items():
            t = g["total"]
            qrows.append([name, q, t["offered"], t["answered"], t["abandoned"], t["deflected"],
                          _fmt(t["service_level_offered"], True), _fmt(t["asa"]), _fmt(t["abandon_rate"], True),
                          _fmt(t["aht"])])  # fmt: skip
    body.append("<h2>Queues</h2>" + _table(qrows, ["run", "queue", "offered", "answered", "abandoned", "deflected",
                                                    "SL/offered", "ASA s", "abandon", "AHT s"]))  # fmt: skip

    body.append("<h2>Scenario</h2><pre>" + _e(json.dumps(sc.source, indent=2, default=str)) + "</pre>")
    if sc.rules_text:
        body.append(f"<h3>Routing rules ({_e(sc.rules_filename)})</h3><pre>{_e(sc.rules_text)}</pre>")
    return page(f"Hotline simulation: {sc.name}", body)
