"""`hotline config check` and the loader: every problem as `FILE:LINE: key.path: reason`."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config.loader import MAX_DEPTH, ConfigError, check_file, load, parse
from config.paths import REPO
from cti.cli import main

GOOD = """
[server]
port = 8081
[store]
url = "postgresql://hotline:pw@127.0.0.1:5432/hotline"
[bus]
url = "redis://127.0.0.1:6379/0"
[pbx]
enabled = true
ami_secret = "hotline-secret"
agi_bind = "0.0.0.0:4573"
"""

BROKEN = """[store]
url = "mysql://root:topsecret@db/hotline"

[pbx]
ami_port = 70000
ami_secret = "hotline-secret"
agi_bind = "4573"

[serverr]
port = 1
"""


def _run(tmp_path: Path, text: str | bytes, name: str = "hotline.toml", *args: str) -> Result:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["config", "check", *args, str(path)])


def _problems(tmp_path: Path, text: str | bytes, name: str = "hotline.toml") -> list[str]:
    result = _run(tmp_path, text, name)
    assert result.exit_code == 2, result.output
    return result.output.strip().splitlines()


def test_valid_file_exits_zero(tmp_path: Path) -> None:
    result = _run(tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{tmp_path / 'hotline.toml'}: ok (hotline)"
    config = load(tmp_path / "hotline.toml").config
    assert config.store.kind == "postgresql" and config.bus.kind == "redis"
    assert config.pbx.ami_secret.get_secret_value() == "hotline-secret"


def test_broken_file_names_every_key_path_and_exits_2(tmp_path: Path) -> None:
    assert _problems(tmp_path, BROKEN) == [
        "hotline.toml:2: store.url: unsupported scheme 'mysql' (expected one of: postgresql, postgres, sqlite)",
        "hotline.toml:5: pbx.ami_port: Input should be less than or equal to 65535",
        "hotline.toml:7: pbx.agi_bind: must be HOST:PORT, e.g. 127.0.0.1:4573",
        "hotline.toml:9: serverr: unknown key",
    ]


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    result = _run(tmp_path, BROKEN)
    assert "topsecret" not in result.output and "hotline-secret" not in result.output
    text = BROKEN.replace("ami_port = 70000", 'ami_port = "x"').replace(
        'ami_secret = "hotline-secret"', "ami_secret = 5"
    )
    with pytest.raises(ConfigError) as err:
        parse(text, "h.toml")
    assert "topsecret" not in str(err.value)
    assert "h.toml:6: pbx.ami_secret: Input should be a valid string" in err.value.problems


# ---------------------------------------------------------------- a wrong key in every section

# section -> (a valid table for it, the line of the wrong key in the file below)
SECTIONS = {
    "server": "[server]\nport = 8081\nportt = 1\n",
    "store": '[store]\nurl = "sqlite:///x.db"\npool = 1\n',
    "bus": '[bus]\nurl = "memory://"\nurll = "x"\n',
    "pbx": "[pbx]\nenabled = false\nami_prt = 1\n",
    "log": '[log]\nlevel = "info"\nlvl = "x"\n',
    "routing": "[routing.defaults]\nwrap_up_s = 5\nwrap_s = 1\n",
    "ivr": '[ivr]\nstart = "bye"\nstrat = "x"\n[ivr.nodes.bye]\ntype = "hangup"\n',
    "ivr node": '[ivr]\nstart = "bye"\n[ivr.nodes.bye]\ntype = "hangup"\nprompt = "goodbye"\nprompts = "x"\n',
    "campaigns": '[campaigns.spring]\nleads = "leads.csv"\nmodee = "preview"\n',
    "campaign window": '[campaigns.spring]\nleads = "leads.csv"\n[campaigns.spring.calling_window]\nstrt = 1\n',
    "crm": '[crm]\nurl_template = "https://crm.example.com/?p={phone}"\ntimeout = 2\n',
    "queues": '[queues.sales]\nlabel = "Sales"\nsl_targt = 0.8\n',
    "skills": '[skills.billing]\nlabel = "Billing"\nlable = "x"\n',
    "pause_reasons": '[pause_reasons.lunch]\nlabel = "Lunch"\npayd = false\n',
    "dispositions": '[dispositions.sale]\nlabel = "Sale"\nrequires_note = true\n',
}
EXPECTED = {
    "server": "hotline.toml:3: server.portt: unknown key",
    "store": "hotline.toml:3: store.pool: unknown key",
    "bus": "hotline.toml:3: bus.urll: unknown key",
    "pbx": "hotline.toml:3: pbx.ami_prt: unknown key",
    "log": "hotline.toml:3: log.lvl: unknown key",
    "routing": "hotline.toml:3: routing.defaults.wrap_s: unknown key 'wrap_s' (did you mean 'wrap_up_s'?)",
    "ivr": "hotline.toml:3: ivr.strat: unknown key",
    "ivr node": "hotline.toml:6: ivr.nodes.bye.prompts: unknown key",
    "campaigns": "hotline.toml:3: campaigns.spring.modee: unknown key",
    "campaign window": "hotline.toml:4: campaigns.spring.calling_window.strt: unknown key",
    "crm": "hotline.toml:3: crm.timeout: unknown key",
    "queues": "hotline.toml:3: queues.sales.sl_targt: unknown key",
    "skills": "hotline.toml:3: skills.billing.lable: unknown key",
    "pause_reasons": "hotline.toml:3: pause_reasons.lunch.payd: unknown key",
    "dispositions": "hotline.toml:3: dispositions.sale.requires_note: unknown key",
}


@pytest.mark.parametrize("section", list(SECTIONS))
def test_a_wrong_key_in_every_section_is_named_with_its_line(tmp_path: Path, section: str) -> None:
    (tmp_path / "leads.csv").write_text("phone\n+12125550100\n")
    assert _problems(tmp_path, SECTIONS[section]) == [EXPECTED[section]]
    # and without the wrong key the section is valid
    good = "\n".join(line for line in SECTIONS[section].splitlines() if line.split(" =")[0] not in _WRONG)
    assert _run(tmp_path, good + "\n").exit_code == 0, good


_WRONG = {"portt", "pool", "urll", "ami_prt", "lvl", "wrap_s", "strat", "prompts", "modee", "timeout", "sl_targt"}
_WRONG |= {"lable", "payd", "requires_note", "[campaigns.spring.calling_window]", "strt"}


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = "[pbx]\nbogus = 1\n[crm]\nbogus = 2\n[queues.q]\nbogus = 3\n[campaigns.c]\nleads = 'x.csv'\nbogus = 4\n"
    problems = _problems(tmp_path, text)
    assert problems == [
        "hotline.toml:2: pbx.bogus: unknown key",
        "hotline.toml:4: crm.bogus: unknown key",
        "hotline.toml:6: queues.q.bogus: unknown key",
        f"hotline.toml:8: campaigns.c.leads: cannot read {tmp_path / 'x.csv'}: No such file or directory",
        "hotline.toml:9: campaigns.c.bogus: unknown key",
    ]


def test_a_section_nobody_reads_is_an_unknown_key_at_its_first_table(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[server]\nport = 1\n\n[agents.a17]\nwrap_up_s = 1\n") == [
        "hotline.toml:4: agents: unknown key"
    ]


def test_admin_rows_match_the_web_settings_models() -> None:
    """The file's form of the admin sections is web.settings' rows, key for key."""
    from config import schema
    from web import settings

    rows = {
        "queues": schema.QueueRow,
        "skills": schema.SkillRow,
        "pause_codes": schema.PauseCodeRow,
        "dispositions": schema.DispositionRow,
    }
    for section, row in rows.items():
        assert set(typing.get_type_hints(row)) == set(settings.SCHEMAS[section].model_fields), section
    assert schema.NAME_PATTERN == settings.NAME_PATTERN


def test_row_names_follow_the_admin_pattern(tmp_path: Path) -> None:
    assert _problems(tmp_path, '[queues."bad name"]\nlabel = "x"\n') == [
        "hotline.toml:1: queues.\"bad name\": String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'"
    ]


# ---------------------------------------------------------------- values


def test_url_ports_out_of_range_are_rejected(tmp_path: Path) -> None:
    text = (
        '[server]\npublic_url = "https://hotline.example.com:99999/"\n'
        '[store]\nurl = "postgresql://h:pw@db:70000/hotline"\n'
        '[bus]\nurl = "redis://127.0.0.1:0/0"\n'
        '[crm]\nurl_template = "https://crm:123456/c?p={phone}"\n'
    )
    assert _problems(tmp_path, text) == [
        "hotline.toml:2: server.public_url: port must be a number from 1 to 65535",
        "hotline.toml:4: store.url: port must be a number from 1 to 65535",
        "hotline.toml:6: bus.url: port must be a number from 1 to 65535",
        "hotline.toml:8: crm.url_template: port must be a number from 1 to 65535",
    ]


def test_inf_and_nan_are_rejected(tmp_path: Path) -> None:
    text = (
        "[pbx]\nping_interval_s = nan\n"
        '[campaigns.c]\nleads = "leads.csv"\ndrop_windows_hours = [24, inf]\n'
        "[queues.q]\nsl_threshold_s = inf\n"
        "[routing.defaults]\nwrap_up_s = nan\n"
    )
    (tmp_path / "leads.csv").write_text("phone\n")
    assert _problems(tmp_path, text) == [
        "hotline.toml:2: pbx.ping_interval_s: must be a finite number (not inf or nan)",
        "hotline.toml:5: campaigns.c.drop_windows_hours[1]: must be a finite number (not inf or nan)",
        "hotline.toml:7: queues.q.sl_threshold_s: must be a finite number (not inf or nan)",
        "hotline.toml:9: routing.defaults.wrap_up_s: must be a finite number",
    ]


def test_negative_timeouts_are_rejected(tmp_path: Path) -> None:
    text = (
        "[pbx]\naction_timeout_s = -1\n"
        '[crm]\nurl_template = "https://crm.example.com/?p={phone}"\ntimeout_s = -0.5\n'
        '[ivr]\nstart = "m"\n[ivr.nodes.m]\ntype = "menu"\nprompt = "p"\noptions = { "1" = "m" }\n'
        'on_fail = "m"\ntimeout_s = -5\n'
        '[routing.queues.q]\ntargets = [{ expression = "true", timeout_s = -3 }]\n'
    )
    assert _problems(tmp_path, text) == [
        "hotline.toml:2: pbx.action_timeout_s: Input should be greater than 0",
        "hotline.toml:5: crm.timeout_s: Input should be greater than 0",
        "hotline.toml:13: ivr.nodes.m.timeout_s: Input should be greater than 0",
        "hotline.toml:15: routing.queues.q.targets[0].timeout_s: must be > 0, got -3",
    ]


def test_ivr_links_are_reported_at_their_lines(tmp_path: Path) -> None:
    text = (
        '[ivr]\nstart = "main"\n[ivr.nodes.main]\ntype = "menu"\nprompt = "p"\n'
        'options = { "1" = "gone" }\non_fail = "nowhere"\n'
    )
    assert _problems(tmp_path, text) == [
        "hotline.toml:6: ivr.nodes.main.options.1: no node named 'gone'",
        "hotline.toml:7: ivr.nodes.main.on_fail: no node named 'nowhere'",
    ]


def test_an_unknown_standing_lines_mode_is_named(tmp_path: Path) -> None:
    assert _problems(tmp_path, '[pbx]\nenabled = true\nstanding_lines = "sometimes"\n') == [
        "hotline.toml:3: pbx.standing_lines: Input should be 'off', 'campaigns' or 'all'"
    ]


# ---------------------------------------------------------------- files that do not parse


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[server]\nport = 1\n[store\nurl = 1\n") == [
        "hotline.toml:3: (toml): Expected ']' at the end of a table declaration (column 7)"
    ]


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    assert _problems(tmp_path, b'[server]\nhost = "caf\xe9"\n') == [
        "hotline.toml:2: (file): invalid UTF-8 (byte 0xe9 at column 12)"
    ]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, 3),
        ("x = " + "{ a = " * 5000 + "1" + " }" * 5000, 3),
        ("[" + ".".join(["a"] * 5000) + "]", 1),
    ],
    ids=["arrays", "inline-tables", "dotted-tables"],
)
def test_absurd_nesting_is_a_problem_not_a_traceback(tmp_path: Path, body: str, line: int) -> None:
    assert _problems(tmp_path, f"[server]\nport = 1\n{body}\n") == [
        f"hotline.toml:{line}: (toml): nested more than {MAX_DEPTH} levels deep"
    ]


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["config", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert result.output.strip() == f"{tmp_path / 'nope.toml'}: (file): cannot read: No such file or directory"


# ---------------------------------------------------------------- paths in the file


def test_leads_resolve_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "leads.csv").write_text("phone\n+12125550100\n")
    (tmp_path / "conf" / "hotline.toml").write_text('[campaigns.spring]\nleads = "leads.csv"\n')
    monkeypatch.chdir(tmp_path)  # not where the file is
    config = load("conf/hotline.toml").config
    assert config.campaigns["spring"].leads == str((tmp_path / "conf" / "leads.csv").resolve())
    assert config.campaigns["spring"].id == "spring"

    from dialer.live import parse_live_campaigns  # the live dialer takes the validated tables

    [campaign] = parse_live_campaigns(config.campaigns)
    assert campaign.leads_path == tmp_path.resolve() / "conf" / "leads.csv" and campaign.live.skill == "outbound"


def test_an_unreadable_leads_file_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "leads.csv").mkdir()  # exists, cannot be read as a file
    problems = _problems(tmp_path, '[server]\nport = 1\n\n[campaigns.spring]\nname = "S"\nleads = "leads.csv"\n')
    assert len(problems) == 1
    assert problems[0].startswith(f"hotline.toml:6: campaigns.spring.leads: cannot read {tmp_path / 'leads.csv'}: ")


# ---------------------------------------------------------------- the examples and the other file kinds

EXAMPLES = sorted((REPO / "config" / "examples").glob("*.toml"))


def test_there_are_examples_of_every_kind() -> None:
    kinds = {check_file(path) for path in EXAMPLES}
    assert kinds == {"hotline", "routing", "campaign", "scenario"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_passes(example: Path) -> None:
    result = CliRunner().invoke(main, ["config", "check", str(example)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{example}: ok (")


def test_a_routing_rules_file_is_checked_as_one(tmp_path: Path) -> None:
    text = 'version = 2\n[defaults]\nstrategy = "longest_idle"\n[queues.q]\nwrap = 1\n'
    assert _problems(tmp_path, text, "rules.toml") == [
        "rules.toml:5: queues.q.wrap: unknown key 'wrap' (did you mean 'wrap_up_s'?)"
    ]


def test_a_campaign_file_is_checked_as_one(tmp_path: Path) -> None:
    text = '[campaign]\nid = "x"\nmax_attempts = 0\n[campaign.recycle]\nafter = 1\n'
    assert _problems(tmp_path, text, "campaign.toml") == [
        "campaign.toml:3: campaign.max_attempts: Input should be greater than or equal to 1",
        "campaign.toml:5: campaign.recycle.after: unknown key",
    ]


def test_a_scenario_file_is_checked_by_the_simulator_and_placed_at_its_line(tmp_path: Path) -> None:
    text = '[simulation]\nname = "x"\nduration_s = 60\nbogus = 1\n'
    [problem] = _problems(tmp_path, text, "scenario.toml")
    assert problem.startswith("scenario.toml:4: simulation.bogus: unknown key")


def test_the_kind_can_be_forced(tmp_path: Path) -> None:
    result = _run(tmp_path, 'version = 1\n[queues.q]\nlabel = "Q"\n', "x.toml", "--kind", "hotline")
    assert result.exit_code == 2
    assert result.output.strip() == "x.toml:1: version: unknown key"


# ---------------------------------------------------------------- start-up uses the same validation


def test_serve_exits_with_the_same_lines_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "hotline.toml").write_text("[crm]\nbogus = 1\n[store\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "hotline.toml")])
    assert result.exit_code == 2
    assert result.output.strip() == "hotline.toml:3: (toml): Expected ']' at the end of a table declaration (column 7)"
    (tmp_path / "hotline.toml").write_text("[crm]\nbogus = 1\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "hotline.toml")])
    assert (result.exit_code, result.output.strip()) == (2, "hotline.toml:2: crm.bogus: unknown key")


def test_environment_variable_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env.toml").write_text("[server]\nport = 9999\n")
    monkeypatch.setenv("HOTLINE_CONFIG", str(tmp_path / "env.toml"))
    assert load().config.server.port == 9999


def test_defaults_are_the_embedded_adapters() -> None:
    config = parse("", "empty.toml")
    assert config.store.kind == "sqlite" and str(config.store.sqlite_path()) == "var/hotline.sqlite3"
    assert config.bus.kind == "memory"
    assert config.ivr is None and config.crm is None and config.campaigns == {}
