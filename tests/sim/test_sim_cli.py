"""`hotline sim` / `hotline erlang` commands."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cti.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples"
QUICK_KEYS = {"offered", "answered", "abandoned", "p_wait", "abandon_rate", "asa", "service_level",
              "occupancy", "sim_calls_per_s"}  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sim_quick_form_prints_one_json_object():
    r = run("sim", "--agents", "5", "--calls-per-hour", "50", "--aht", "240", "--patience", "60",
            "--hours", "3", "--seed", "2", "--json", "-")  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert QUICK_KEYS <= set(data)
    assert data["offered"] == data["answered"] + data["abandoned"] > 50
    assert 0 < data["occupancy"] < 1 and data["abandon_rate"] > 0
    again = json.loads(run("sim", "--agents", "5", "--calls-per-hour", "50", "--aht", "240", "--patience", "60",
                           "--hours", "3", "--seed", "2", "--json", "-").stdout)  # fmt: skip
    assert {k: v for k, v in again.items() if k not in ("sim_calls_per_s", "wall_s")} == {
        k: v for k, v in data.items() if k not in ("sim_calls_per_s", "wall_s")
    }


def test_sim_scenario_writes_json_and_offline_html(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text((EXAMPLES / "scenario-mmn.toml").read_text().replace("hours = 24", "hours = 2"))
    out, page = tmp_path / "out.json", tmp_path / "report.html"
    r = run("sim", str(sc), "--seed", "3", "--json", str(out), "--html", str(page), "--quiet")
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["summary"]["offered"] == data["kpi"]["overall"]["offered"] > 0
    assert "service_level" in r.output
    html = page.read_text()
    assert html.count("<svg") >= 4
    assert "Wait-time distribution" in html and "Occupancy per agent" in html and "M/M/12+M" in html
    assert "<script" not in html and "https://" not in html  # self-contained


def test_sim_what_if_prints_side_by_side(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text((EXAMPLES / "scenario-mmn.toml").read_text().replace("hours = 24", "hours = 1"))
    cand = tmp_path / "cand.toml"
    cand.write_text('[defaults]\nstrategy = "random"\nwrap_up_s = 30\n')
    page = tmp_path / "w.html"
    r = run("sim", str(sc), "--rules", str(cand), "--quiet", "--html", str(page))
    assert r.exit_code == 0, r.output
    assert "current" in r.output and "candidate" in r.output and "difference" in r.output
    offered = next(line for line in r.output.splitlines() if line.startswith("offered"))
    assert offered.split()[-1] == "0"  # same callers in both runs
    assert "What-if" in page.read_text()


def test_sim_bad_rules_and_bad_usage(tmp_path):
    cand = tmp_path / "bad.toml"
    cand.write_text('[defaults]\nstrategy = "fastest"\n')
    r = CliRunner().invoke(main, ["sim", str(EXAMPLES / "scenario-mmn.toml"), "--rules", str(cand)])
    assert r.exit_code != 0 and "bad.toml" in r.output and "defaults.strategy" in r.output
    r = CliRunner().invoke(main, ["sim", "--agents", "3"])
    assert r.exit_code == 2 and "--calls-per-hour" in r.output


def test_sim_dialer_hands_its_arguments_to_the_dialer_simulation():
    r = run("sim", "dialer", "--help")
    assert r.exit_code == 0 and "Simulate an outbound campaign" in r.output
    r = CliRunner().invoke(main, ["sim", "dialer", "--agents", "0", "--answer-rate", "0.3", "--aht", "180"])
    assert r.exit_code == 2 and "--agents" in r.output  # the dialer simulation's own check


def test_erlang_command():
    r = run("erlang", "--calls-per-hour", "1000", "--aht", "300", "--target-sl", "0.8", "--threshold", "20",
            "--shrinkage", "0.3", "--json")  # fmt: skip
    d = json.loads(r.output)
    assert d["model"] == "erlang_c" and d["agents"] >= 84 and d["scheduled"] == -(-d["agents"] * 10 // 7)
    assert d["service_level"] >= 0.8
    r = run("erlang", "--calls-per-hour", "1000", "--aht", "300", "--patience", "180")
    assert "erlang_a" in r.output and "abandon_rate" in r.output
    r = CliRunner().invoke(main, ["erlang", "--calls-per-hour", "100", "--aht", "300", "--patience", "-5"])
    assert r.exit_code == 1 and "--patience" in r.output
