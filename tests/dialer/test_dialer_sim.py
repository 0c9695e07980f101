"""Seeded SimPy runs of the dialer through the real pacer (kept short; the long
runs live in bench/bench_dialer.py)."""

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from dialer.cli import sim_dialer
from dialer.sim import DialerSimConfig, SimConfigError, run_dialer_sim
from events import CallConnected, DialerAttempted, DialerDropped, DialerResulted, from_record, to_record

HOUR = 3600.0


def test_progressive_never_drops() -> None:
    result = run_dialer_sim(DialerSimConfig(agents=10, hours=1.5, seed=3, mode="progressive"))
    assert result.dropped == 0
    assert result.humans == result.connected + 0
    assert 0.6 < result.occupancy < 0.82  # about 0.725 at AHT 180, answer rate 0.3


def test_predictive_beats_progressive_and_stays_under_the_cap() -> None:
    common = {"agents": 20, "hours": 2.0, "seed": 11}
    progressive = run_dialer_sim(DialerSimConfig(mode="progressive", **common))  # type: ignore[arg-type]
    predictive = run_dialer_sim(DialerSimConfig(mode="predictive", **common))  # type: ignore[arg-type]
    assert predictive.occupancy > progressive.occupancy + 0.08
    assert predictive.abandon_rate <= 0.03
    assert predictive.dropped > 0  # it does use the budget
    assert predictive.summary()["dials_per_agent_hour"] > progressive.summary()["dials_per_agent_hour"]


@pytest.mark.parametrize(
    "scenario",
    [
        {"agents": 10, "seed": 2},
        {"agents": 20, "seed": 3, "aht_dist": "lognormal", "aht_cv": 1.5},
        {"agents": 15, "seed": 5, "answer_rate": 0.15, "machine_rate": 0.1, "busy_rate": 0.1},
        {"agents": 20, "seed": 1, "inbound_per_hour": 150},
    ],
    ids=["plain", "heavy-tailed-aht", "low-answer-rate", "blended"],
)
def test_cap_holds_on_every_rolling_window(scenario: dict) -> None:
    # a 2-hour regulatory window over a 5-hour run: the pacer's guard must keep every
    # window ending at any answer or drop (and the whole run) at or under 3%
    window = 2 * HOUR
    result = run_dialer_sim(DialerSimConfig(hours=5, window_s=window, **scenario))
    assert result.max_window_abandon_rate(window) <= 0.03
    assert result.abandon_rate <= 0.03
    assert result.dropped > 0
    assert result.occupancy > 0.75


def test_blending_serves_inbound_first() -> None:
    events: list = []
    result = run_dialer_sim(DialerSimConfig(agents=10, hours=1, seed=4, inbound_per_hour=60), events.append)
    queues = Counter(e.queue for e in events if isinstance(e, CallConnected))
    assert queues["inbound"] == result.inbound_handled and queues["sim"] == result.connected
    assert result.inbound_arrived > 30
    assert result.inbound_handled >= result.inbound_arrived - 3  # only the last arrivals may still wait
    assert result.abandon_rate <= 0.03


def test_events_fold_to_the_same_counts() -> None:
    events: list = []
    result = run_dialer_sim(DialerSimConfig(agents=8, hours=1, seed=9), events.append)
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["DialerAttempted"] == result.dials
    assert kinds["DialerDropped"] == result.dropped
    outcomes = Counter(e.result for e in events if isinstance(e, DialerResulted))
    assert outcomes["human"] == result.humans
    connected = {e.call_id for e in events if isinstance(e, CallConnected)}
    dropped = {e.call_id for e in events if isinstance(e, DialerDropped)}
    assert len(connected) == result.connected and not (connected & dropped)
    attempted = {e.call_id: e for e in events if isinstance(e, DialerAttempted)}
    assert all(e.campaign == "sim" and e.lead_id for e in attempted.values())
    # the drop rate read back from the event log is the simulator's
    assert len(dropped) / outcomes["human"] == pytest.approx(result.abandon_rate, abs=1e-9)
    # and the events survive the stable JSON form
    assert [from_record(json.loads(json.dumps(to_record(e)))) for e in events[:50]] == events[:50]


def test_seeded_runs_are_reproducible() -> None:
    config = DialerSimConfig(agents=5, hours=0.5, seed=21)
    assert run_dialer_sim(config).summary() == run_dialer_sim(config).summary()


def test_config_errors_are_clear() -> None:
    with pytest.raises(SimConfigError, match="answer_rate \\+ machine_rate \\+ busy_rate: must be <= 1"):
        DialerSimConfig(answer_rate=0.7, machine_rate=0.4)
    with pytest.raises(SimConfigError, match="aht_dist: must be one of"):
        DialerSimConfig(aht_dist="weibull")


def test_cli_prints_one_json_object() -> None:
    runner = CliRunner()
    out = runner.invoke(
        sim_dialer,
        [
            "--agents",
            "6",
            "--answer-rate",
            "0.3",
            "--aht",
            "180",
            "--ring-mean",
            "10",
            "--no-answer-timeout",
            "25",
            "--hours",
            "0.5",
            "--seed",
            "2",
            "--mode",
            "predictive",
            "--json",
            "-",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    for key in ("occupancy", "abandon_rate", "max_window_abandon_rate", "dials_per_agent_hour"):
        assert isinstance(data[key], float)
    assert data["agents"] == 6 and data["mode"] == "predictive"
    bad = runner.invoke(sim_dialer, ["--agents", "0", "--answer-rate", "0.3", "--aht", "180"])
    assert bad.exit_code == 2 and "--agents" in bad.output


def test_a_campaign_book_drives_the_simulation_within_its_rules() -> None:
    from dialer.campaign import CampaignBook, CampaignConfig, LeadStatus, utc, window_open
    from dialer.dnc import DoNotCall
    from dialer.leads import Lead

    zones = [("America/New_York",), ("America/Los_Angeles",), ("Pacific/Honolulu",)]
    leads = [Lead(lead_id=f"L{i:04d}", phone=f"+1212{2000000 + i:07d}", time_zones=zones[i % 3]) for i in range(400)]
    dnc = DoNotCall("US")
    for lead in leads[::25]:
        dnc.add(lead.phone)
    config = CampaignConfig(id="promo", max_attempts=2, retry={"no_answer": {"delay_minutes": 20}})
    book = CampaignBook(config, dnc)
    start = utc(2026, 6, 1, 12)  # 08:00 in New York: nobody may be called for an hour
    book.add_leads(leads, start)
    events: list = []
    result = run_dialer_sim(DialerSimConfig(agents=6, hours=4, seed=3), events.append, book, start)
    by_id = {lead.lead_id: lead for lead in leads}
    attempts: dict[str, list[float]] = {}
    for e in events:
        if isinstance(e, DialerAttempted):
            assert e.campaign == "promo" and e.number == by_id[e.lead_id].phone
            assert window_open(config.calling_window, by_id[e.lead_id].time_zones, start + e.at), e
            assert not dnc.blocked(e.number, "promo")
            attempts.setdefault(e.lead_id, []).append(e.at)
    assert result.dials == sum(len(v) for v in attempts.values()) > 100
    assert min(t for v in attempts.values() for t in v) >= 3600.0  # first dial at 09:00 New York
    assert all(len(v) <= 2 for v in attempts.values())
    assert all(b - a >= 20 * 60 for v in attempts.values() if len(v) == 2 for a, b in [v])
    counts = book.counts()
    assert counts["blocked"] >= 1 and counts["done"] == result.connected - sum(
        1 for s in book.states.values() if s.status == LeadStatus.CONNECTED
    )
    assert result.abandon_rate <= 0.03


def test_cli_runs_the_example_campaign() -> None:
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "config" / "examples"
    runner = CliRunner()
    args = [
        "--agents",
        "2",
        "--answer-rate",
        "0.3",
        "--aht",
        "180",
        "--hours",
        "1",
        "--json",
        "-",
        "--campaign",
        str(examples / "campaign-spring-promo.toml"),
        "--leads",
        str(examples / "leads-spring-promo.csv"),
        "--start",
        "2026-06-01T13:00+0000",
    ]
    out = runner.invoke(sim_dialer, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["campaign"] == "spring-promo"
    assert data["leads"]["blocked"] == 1  # the example's campaign DNC number
    assert data["dials"] >= 1
    assert "leads-spring-promo.csv:6: phone:" in out.stderr
    alone = runner.invoke(sim_dialer, args[:12])  # --campaign without --leads and --start
    assert alone.exit_code == 2 and "go together" in alone.output
