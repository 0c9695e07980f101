"""`hotline sim --replications N`: each KPI's mean and 95 % interval, paired what-if
differences (common random numbers), `--agents +k`, `--staffing FILE.csv`, and a
replay's recorded figures beside the simulated ones."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.cli import main
from sim.dists import ScenarioError
from sim.scenario import load_scenario
from sim.staffing import read_staffing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples"
QUICK = ["sim", "--agents", "4", "--calls-per-hour", "60", "--aht", "200", "--patience", "120", "--hours", "2"]
T95_2DF = 4.302652729911275  # Student t, 0.975 quantile, 2 degrees of freedom


def run(*args: str) -> dict:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_replications_give_the_mean_and_interval_of_single_runs() -> None:
    many = run(*QUICK, "--seed", "5", "--replications", "3", "--json", "-")
    singles = [run(*QUICK, "--seed", str(s), "--json", "-") for s in (5, 6, 7)]
    assert many["replications"] == 3 and many["seeds"] == [5, 6, 7]
    for k in ("offered", "abandoned", "asa", "service_level", "occupancy", "abandon_rate"):
        vals = [s[k] for s in singles]
        assert many[k] == pytest.approx(statistics.fmean(vals), rel=1e-12), k
        half = T95_2DF * statistics.stdev(vals) / math.sqrt(3)
        assert many["ci95"][k] == pytest.approx([many[k] - half, many[k] + half], rel=1e-9), k
    assert len({s["offered"] for s in singles}) > 1  # the seeds differ: the interval is not empty by construction


def test_a_staffing_what_if_is_paired_run_by_run(tmp_path: Path) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text((EXAMPLES / "scenario-mmn.toml").read_text().replace("hours = 24", "hours = 2")
                  .replace("warmup_s = 3600", "warmup_s = 0").replace("count = 12", "count = 9"))  # fmt: skip
    out = run("sim", str(sc), "--agents", "+2", "--replications", "3", "--quiet", "--json", "-")
    cmp = out["comparison"]
    assert cmp["offered"]["difference"] == 0 and cmp["offered"]["ci95"] == [0.0, 0.0]  # same callers
    sl = cmp["service_level"]
    # the paired interval, computed from each seed's own pair of runs
    base = [run("sim", str(sc), "--seed", str(s), "--quiet", "--json", "-")["summary"] for s in (1, 2, 3)]
    plus = tmp_path / "plus.toml"
    plus.write_text(sc.read_text().replace("count = 9", "count = 11"))
    more = [run("sim", str(plus), "--seed", str(s), "--quiet", "--json", "-")["summary"] for s in (1, 2, 3)]
    diffs = [m["service_level"] - b["service_level"] for b, m in zip(base, more, strict=True)]
    assert sl["difference"] == pytest.approx(statistics.fmean(diffs), rel=1e-12)
    half = T95_2DF * statistics.stdev(diffs) / math.sqrt(3)
    assert sl["ci95"] == pytest.approx([sl["difference"] - half, sl["difference"] + half], rel=1e-9)
    assert sl["difference"] > 0 and sl["significant"] == (sl["ci95"][0] > 0)
    assert out["candidate_summary"]["ci95"]["service_level"] is not None


def test_staffing_file_logs_agents_in_interval_by_interval(tmp_path: Path) -> None:
    sc_path = tmp_path / "s.toml"
    sc_path.write_text((EXAMPLES / "scenario-mmn.toml").read_text().replace("hours = 24", "hours = 3")
                       .replace("warmup_s = 3600", "warmup_s = 0"))  # fmt: skip
    staffing = tmp_path / "staffing.csv"
    staffing.write_text("start,group,agents\n00:00,a,5\n01:00,a,2\n02:00,a,6\n")
    sc = read_staffing(staffing, load_scenario(sc_path))
    shifts = {g.agent_ids()[0]: g.shifts for g in sc.agents}
    assert len(shifts) == 6
    assert shifts["a1-1"] == ((0.0, math.inf),)
    assert shifts["a3-1"] == ((0.0, 3600.0), (7200.0, math.inf))
    assert shifts["a6-1"] == ((7200.0, math.inf),)
    out = run("sim", str(sc_path), "--staffing", str(staffing), "--seed", "4", "--quiet", "--json", "-")
    logged = [iv["logged_in_s"] for iv in out["candidate"]["intervals"]]
    per_hour = [sum(logged[i * 4 : i * 4 + 4]) / 3600 for i in range(3)]  # 15-min intervals
    assert per_hour[0] == pytest.approx(5.0)
    assert 2.0 < per_hour[1] < 3.0  # three agents leave at 01:00, each once the call in hand ends
    assert per_hour[2] == pytest.approx(6.0)
    staffing.write_text("start,group,agents\n00:00,b,5\n")
    with pytest.raises(ScenarioError, match=r"staffing.csv:2: group 'b' is not an \[\[agents\]\] prefix"):
        read_staffing(staffing, load_scenario(sc_path))


def test_a_replay_shows_the_recorded_figures_beside_the_simulated(tmp_path: Path) -> None:
    page = tmp_path / "bank.html"
    out = run("sim", str(EXAMPLES / "scenario-bank-replay.toml"), "--replications", "2", "--quiet",
              "--json", "-", "--html", str(page))  # fmt: skip
    rows = out["side_by_side"]
    with (ROOT / "data" / "anonymous-bank" / "february-1999.tsv").open(newline="") as fh:
        day = [r for r in csv.DictReader(fh, delimiter="\t") if r["date"] == "990201"]
    queued = [r for r in day if r["outcome"] == "AGENT" or (r["outcome"] == "HANG" and int(r["q_time"]) > 0)]
    hung = [r for r in queued if r["outcome"] == "HANG"]
    assert sum(r["recorded_offered"] or 0 for r in rows) == len(queued)
    assert sum(r["recorded_abandoned"] or 0 for r in rows) == len(hung)
    assert sum(r["sim_offered"] or 0 for r in rows) == len(queued)  # the same callers replayed
    assert out["summary"]["replications"] == 2 and "service_level" in out["summary"]["ci95"]
    html = page.read_text()
    for text in ("Replay: recorded and simulated", "Staffing: agents logged in", "95% interval",
                 "average speed of answer, s", 'class="legend"'):  # fmt: skip
        assert text in html, text
