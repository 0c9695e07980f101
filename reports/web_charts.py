"""Inline SVG charts for the report pages (no JavaScript, no CDN): bars with an
optional target line, and grouped bars. Output is markup-safe SVG text; every label
is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2")


def _fmt(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v * 100:.0f}%"
    if unit == "s":
        return f"{v:.0f}s"
    return f"{v:g}" if abs(v) < 1000 else f"{v:,.0f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str = "",
    target: float | None = None,
    target_label: str = "target",
    width: int = 640,
    height: int = 220,
) -> str:
    """Grouped bars: one group per label, one bar per series. `target` draws a dashed line."""
    pad_l, pad_r, pad_t, pad_b = 48, 10, 26, 42
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for _, vs in series for v in vs if v is not None]
    # an empty or all-zero chart keeps a scale of 1 (ticks 0, 0.5, 1: never "1e-09")
    top = max([v for v in values if v > 0] + ([target] if target is not None and target > 0 else []) or [1.0])
    if unit == "%":
        top = max(top, 1.0)
    top *= 1.1
    n = max(len(labels), 1)
    group_w = plot_w / n
    bar_w = max(1.0, group_w * 0.8 / max(len(series), 1))
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
        f' xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{pad_l}" y="16" class="chart-title">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" class="axis"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        tick = top / 1.1 * frac
        y = pad_t + plot_h - (tick / top) * plot_h
        out.append(
            f'<text x="{pad_l - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">{escape(_fmt(tick, unit))}</text>'
        )
    for si, (name, vs) in enumerate(series):
        color = PALETTE[si % len(PALETTE)]
        for i, v in enumerate(vs):
            if v is None:
                continue
            h = (v / top) * plot_h
            x = pad_l + i * group_w + group_w * 0.1 + si * bar_w
            out.append(
                f'<rect x="{x:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(labels[i])} {escape(name)}: {escape(_fmt(v, unit))}</title></rect>"
            )
    step = max(1, n // 12)
    for i, label in enumerate(labels):
        if i % step == 0:
            x = pad_l + i * group_w + group_w / 2
            out.append(
                f'<text x="{x:.1f}" y="{height - pad_b + 14}" class="tick" text-anchor="middle">{escape(label)}</text>'
            )
    if target is not None:
        y = pad_t + plot_h - (target / top) * plot_h
        out.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{width - pad_r}" y2="{y:.1f}" class="target"/>')
        out.append(
            f'<text x="{width - pad_r}" y="{y - 3:.1f}" class="tick" text-anchor="end">'
            f"{escape(target_label)} {escape(_fmt(target, unit))}</text>"
        )
    lx = pad_l
    for si, (name, _) in enumerate(series):
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 5}" class="tick">{escape(name)}</text>')
        lx += 14 + 8 * len(name) + 16
    out.append("</svg>")
    return "".join(out)
