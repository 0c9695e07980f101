"""Wallboard alerts: what a supervisor must see at once, from the numbers the board
already has for each queue (reports/web_live.py; no KPI math here).

- `service_level`: the queue's service level over the sliding window (the last 30
  minutes by default, `KpiConfig.window_s`) is below its target;
- `waiting`: a call has waited longer than the queue's service-level threshold;
- `abandon_rate`: today's abandon rate is above its target.

An alert is raised while its condition holds and cleared with it (the next push, at
most 0.5 s later); it carries the numbers and a sentence for the banner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def alerts(queues: Iterable[Mapping[str, Any]], window_min: int, threshold_s: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for q in queues:
        name, label = q["name"], q.get("label") or q["name"]
        sl, target = q.get("sl_30m"), q.get("sl_target")
        if sl is not None and target is not None and sl < target:
            text = f"{label}: service level {sl:.0%} over the last {window_min} min, below the {target:.0%} target"
            out.append({"queue": name, "kind": "service_level", "value": sl, "target": target, "text": text})
        limit = q.get("sl_threshold_s") or threshold_s
        if q.get("waiting") and q.get("longest_wait", 0.0) > limit:
            text = f"{label}: a call has waited {q['longest_wait']:.0f} s (over {limit:.0f} s)"
            out.append({"queue": name, "kind": "waiting", "value": q["longest_wait"], "target": limit, "text": text})
        if q.get("abandon_status") == "bad":
            rate = q.get("abandon_rate") or 0.0
            text = f"{label}: {rate:.0%} of today's callers abandoned, above target"
            out.append({"queue": name, "kind": "abandon_rate", "value": rate, "target": None, "text": text})
    return out
