"""The simulator with chats and e-mails beside calls (issue 18): the same router with
per-channel capacity; the example scenario shows the effect of the capacity rules."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from events import CallConnected, CallEnded, CallQueued
from reports.channels import concurrency
from sim.run import load_rules_text, run_scenario
from sim.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def test_more_chats_at_once_cut_chat_abandons_on_the_same_customers() -> None:
    sc = load_scenario(EXAMPLES / "scenario-blended.toml")
    text = (EXAMPLES / "scenario-blended-rules.toml").read_text()
    one = run_scenario(sc, rules=load_rules_text(text.replace("{ chat = 3 }", "{ chat = 1 }"), "one.toml"))
    three = run_scenario(sc, rules=load_rules_text(text, "three.toml"))
    chat_one = one.report.to_dict()["queues"]["chat"]["total"]
    chat_three = three.report.to_dict()["queues"]["chat"]["total"]
    assert chat_one["offered"] == chat_three["offered"] > 100  # the same customers (common random numbers)
    assert chat_three["abandon_rate"] < chat_one["abandon_rate"] / 2
    # agents did hold up to three chats at once, and never more
    channel = {e.call_id: str(e.attributes.get("channel", "voice")) for e in three.events if isinstance(e, CallQueued)}
    started: dict[str, tuple[str, float]] = {}
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in three.events:
        if isinstance(e, CallConnected) and channel.get(e.call_id) == "chat":
            started[e.call_id] = (e.agent_id, e.at)
        elif isinstance(e, CallEnded) and e.call_id in started:
            agent, at = started.pop(e.call_id)
            spans[agent].append((at, e.at))
    assert max(concurrency(s)[1] for s in spans.values()) == 3
