"""Campaign calls are not inbound; each queue has its own service-level threshold; an
empty chart has sane ticks."""

from __future__ import annotations

import re

from events import CallConnected, CallEnded, CallOffered, CallQueued, WrapUpEnded
from reports.kpi import KpiConfig, KpiEngine, batch_report
from reports.web_charts import bar_chart

CAMPAIGN = {"campaign": "demo", "direction": "outbound", "lead_id": "D1"}


def answered(call_id: str, queue: str, at: float, wait: float, agent: str, **attributes: object) -> list[object]:
    return [
        CallQueued(at, call_id, queue=queue, attributes=attributes),
        CallOffered(at + wait - 1, call_id, agent, queue),
        CallConnected(at + wait, call_id, agent, queue),
        CallEnded(at + wait + 60, call_id),
        WrapUpEnded(at + wait + 70, call_id, agent),
    ]


def events() -> list[object]:
    return [
        *answered("in1", "billing", 100, 10, "a1"),
        *answered("out1", "campaign-demo", 200, 40, "a2", **CAMPAIGN),
        *answered("out2", "campaign-demo", 400, 2, "a2", direction="outbound"),
    ]


def both(cfg: KpiConfig) -> tuple[dict[str, object], dict[str, object]]:
    engine = KpiEngine(cfg)
    for e in events():
        engine.apply(e)
    return batch_report(events(), cfg, 0, 1000).to_dict(), engine.report(1000).to_dict()


def test_campaign_calls_count_in_their_queue_and_agent_not_in_the_inbound_summary() -> None:
    cfg = KpiConfig(interval_s=900, teams={"a1": "red", "a2": "red"})
    for report in both(cfg):
        overall, outbound = report["overall"], report["outbound"]
        assert overall["offered"] == 1 and overall["answered"] == 1 and overall["service_level"] == 1.0
        assert sum(i["offered"] for i in report["intervals"]) == 1
        assert outbound["queues"] == ["campaign-demo"]
        assert outbound["total"]["offered"] == 2 and outbound["total"]["answered"] == 2
        assert report["queues"]["campaign-demo"]["total"]["offered"] == 2
        assert report["agents"]["a2"]["total"]["handled"] == 2
        assert report["teams"]["red"]["total"]["handled"] == 3
    batch, live = both(cfg)
    assert batch["overall"] == live["overall"] and batch["outbound"] == live["outbound"]
    engine = KpiEngine(cfg)
    for e in events():
        engine.apply(e)
    window = engine.window(1000).to_dict()  # the wallboard's "last 30 minutes"
    assert window["overall"]["offered"] == 1 and window["outbound"]["total"]["offered"] == 2


def test_each_queue_has_its_own_service_level_threshold() -> None:
    calls = [*answered("b", "billing", 100, 15, "a1"), *answered("s", "sales", 300, 40, "a2")]
    one = batch_report(calls, KpiConfig(sl_threshold_s=20)).to_dict()
    assert one["overall"]["service_level"] == 0.5  # billing within 20 s, sales not
    cfg = KpiConfig(sl_threshold_s=20, sl_thresholds={"billing": 10, "sales": 60})
    per_queue = batch_report(calls, cfg).to_dict()
    assert per_queue["queues"]["billing"]["total"]["service_level"] == 0.0
    assert per_queue["queues"]["sales"]["total"]["service_level"] == 1.0
    relaxed = batch_report(calls, KpiConfig(sl_threshold_s=20, sl_thresholds={"sales": 60})).to_dict()
    assert relaxed["overall"]["service_level"] == 1.0  # billing on the default 20 s, sales on its 60 s
    assert per_queue["overall"]["service_level"] == 0.5 and per_queue["config"]["sl_thresholds"]["sales"] == 60
    engine = KpiEngine(cfg)
    for e in calls:
        engine.apply(e)
    assert engine.report().to_dict()["queues"] == per_queue["queues"]


def test_an_empty_days_chart_has_sane_ticks() -> None:
    for unit in ("", "s", "%"):
        svg = bar_chart("empty", ["08:00", "09:00"], [("offered", [0, 0]), ("asa", [None, None])], unit=unit)
        ticks = re.findall(r'class="tick" text-anchor="end">([^<]*)<', svg)
        assert ticks and not any("e-" in t for t in ticks), ticks
    svg = bar_chart("empty", [], [("offered", [])])
    assert re.findall(r'class="tick" text-anchor="end">([^<]*)<', svg) == ["0", "0.5", "1"]
