"""`hotline config check` and the loader: every problem as `FILE:LINE: key.path: reason`."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config.loader import MAX_DEPTH, ConfigError, check_file, load, parse
from config.paths import REPO
from config.schema import HotlineConfig
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
    assert result.output.strip() == (
        f"{tmp_path / 'hotline.toml'}: ok (hotline: the main configuration, as `hotline serve --config` reads it)"
    )
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

# name -> (a table with one wrong line, marked `# wrong`; the problem reported for it).
# Without the marked line each table is valid. Every section of HotlineConfig has a row
# (a test below holds the table to the model), and so do the nested tables.
_LEADS = 'leads = "leads.csv"\n'
_IVR = '[ivr]\nstart = "n"\n[ivr.nodes.n]\n'
_NODES = {
    "menu": 'prompt = "p"\noptions = { "1" = "n" }\non_fail = "n"\n',
    "collect": 'prompt = "p"\nnext = "n"\non_fail = "n"\n',
    "self_service": 'prompt = "p"\nfield = "balance"\nnext = "n"\n',
    "queue": 'queue = "sales"\n',
    "callback": 'queue = "sales"\n',
    "voicemail": 'mailbox = "100"\n',
    "hangup": 'prompt = "bye"\n',
}
WRONG_KEYS: dict[str, tuple[str, str]] = {
    "server": ("[server]\nport = 8081\nportt = 1  # wrong\n", "3: server.portt: unknown key"),
    "store": ('[store]\nurl = "sqlite:///x.db"\npool = 1  # wrong\n', "3: store.pool: unknown key"),
    "bus": ('[bus]\nurl = "memory://"\nurll = "x"  # wrong\n', "3: bus.urll: unknown key"),
    "pbx": ("[pbx]\nenabled = false\nami_prt = 1  # wrong\n", "3: pbx.ami_prt: unknown key"),
    "log": ('[log]\nlevel = "info"\nlvl = "x"  # wrong\n', "3: log.lvl: unknown key"),
    "routing": (
        "[routing]\nversion = 3\nversoin = 3  # wrong\n",
        "3: routing.versoin: unknown key 'versoin' (did you mean 'version'?)",
    ),
    "routing.defaults": (
        "[routing.defaults]\nwrap_up_s = 5\nwrap_s = 1  # wrong\n",
        "3: routing.defaults.wrap_s: unknown key 'wrap_s' (did you mean 'wrap_up_s'?)",
    ),
    "routing.rona": (
        "[routing.rona]\nmax_misses = 0\nmax_miss = 1  # wrong\n",
        "3: routing.rona.max_miss: unknown key 'max_miss' (did you mean 'max_misses'?)",
    ),
    "routing.queues.X": (
        "[routing.queues.sales]\nwrap_up_s = 5\nwrapup_s = 1  # wrong\n",
        "3: routing.queues.sales.wrapup_s: unknown key 'wrapup_s' (did you mean 'wrap_up_s'?)",
    ),
    "routing.queues.X.targets[]": (
        '[[routing.queues.sales.targets]]\nexpression = "true"\ntimeout = 5  # wrong\n',
        "3: routing.queues.sales.targets[0].timeout: unknown key 'timeout' (did you mean 'timeout_s'?)",
    ),
    "routing.agents.X": (
        "[routing.agents.a1]\nwrap_up_s = 5\nwrap = 1  # wrong\n",
        "3: routing.agents.a1.wrap: unknown key 'wrap' (did you mean 'wrap_up_s'?)",
    ),
    "routing.pause_reasons.X": (
        '[routing.pause_reasons.rona]\nlabel = "Missed"\npayd = false  # wrong\n',
        "3: routing.pause_reasons.rona.payd: unknown key 'payd' (did you mean 'paid'?)",
    ),
    "ivr": (
        _IVR.replace("[ivr.nodes", 'strat = "x"  # wrong\n[ivr.nodes') + 'type = "hangup"\n',
        "3: ivr.strat: unknown key",
    ),
    "ivr.hours": (
        '[ivr]\nstart = "n"\nclosed_node = "n"\n[ivr.hours]\nopen = "08:00:00"\nopn = 1  # wrong\n'
        '[ivr.nodes.n]\ntype = "hangup"\n',
        "6: ivr.hours.opn: unknown key",
    ),
    **{
        f"ivr node {kind}": (
            f'{_IVR}type = "{kind}"\n{keys}bogus = 1  # wrong\n',
            f"{5 + keys.count(chr(10))}: ivr.nodes.n.bogus: unknown key",
        )
        for kind, keys in _NODES.items()
    },
    "campaigns.X": (
        f"[campaigns.spring]\n{_LEADS}modee = 'preview'  # wrong\n",
        "3: campaigns.spring.modee: unknown key",
    ),
    "campaigns.X.calling_window": (
        f"[campaigns.spring]\n{_LEADS}[campaigns.spring.calling_window]\nstart = 09:00:00\nstrt = 1  # wrong\n",
        "5: campaigns.spring.calling_window.strt: unknown key",
    ),
    "campaigns.X.retry.Y": (
        f"[campaigns.spring]\n{_LEADS}[campaigns.spring.retry.busy]\ndelay_minutes = 5\ndelay = 1  # wrong\n",
        "5: campaigns.spring.retry.busy.delay: unknown key",
    ),
    "campaigns.X.retry (outcome)": (
        f"[campaigns.spring]\n{_LEADS}[campaigns.spring.retry]\nbusy = {{ delay_minutes = 5 }}\n"
        "bussy = {}  # wrong\n",
        "5: campaigns.spring.retry.bussy: unknown outcome; use busy, no_answer, machine, dropped, congestion, failed",
    ),
    "campaigns.X.recycle": (
        f"[campaigns.spring]\n{_LEADS}[campaigns.spring.recycle]\nmax_cycles = 1\nafter = 1  # wrong\n",
        "5: campaigns.spring.recycle.after: unknown key",
    ),
    "campaigns.X.demo_behaviour": (
        f"[campaigns.spring]\n{_LEADS}[campaigns.spring.demo_behaviour]\nanswer = 0.5\nanswr = 0.5  # wrong\n",
        "5: campaigns.spring.demo_behaviour.answr: unknown outcome; use answer, busy, noanswer, congestion, machine",
    ),
    "crm": (
        '[crm]\nurl_template = "https://crm.example.com/?p={phone}"\ntimeout = 2  # wrong\n',
        "3: crm.timeout: unknown key",
    ),
    "crm.fields": (
        '[crm]\nurl_template = "https://crm.example.com/?p={phone}"\n'
        '[crm.fields]\nname = "full_name"\nnme = "x"  # wrong\n',
        "5: crm.fields.nme: unknown card field (known: id, name, company, tier, account_number, email, phones, notes)",
    ),
    "webhooks": (
        '[webhooks]\nallow_private = ["127.0.0.1"]\nretries = 3  # wrong\n',
        "3: webhooks.retries: unknown key",
    ),
    "recording": (
        '[recording]\nqueues = { billing = "all" }\nretention = 30  # wrong\n',
        "3: recording.retention: unknown key",
    ),
    "monitor": (
        "[monitor]\ntell_agent = { listen = true }\ntel_agent = 1  # wrong\n",
        "3: monitor.tel_agent: unknown key",
    ),
    "monitor.tell_agent": (
        "[monitor]\ntell_agent = { listen = true, eavesdrop = true }  # wrong\n",
        "2: monitor.tell_agent.eavesdrop: Input should be 'listen', 'whisper' or 'barge'",
    ),
    "mail": ('[mail]\nqueue = "support"\ndue_hour = 4  # wrong\n', "3: mail.due_hour: unknown key"),
    "mail.relay": (
        '[mail]\naddress = "s@example.com"\n[mail.relay]\nhost = "h"\nsecurty = "tls"  # wrong\n',
        "5: mail.relay.securty: unknown key",
    ),
    "chat": ('[chat]\nqueues = ["support"]\nallowed_origin = []  # wrong\n', "3: chat.allowed_origin: unknown key"),
    "queues": ('[queues.sales]\nlabel = "Sales"\nsl_targt = 0.8  # wrong\n', "3: queues.sales.sl_targt: unknown key"),
    "skills": ('[skills.billing]\nlabel = "Billing"\nlable = "x"  # wrong\n', "3: skills.billing.lable: unknown key"),
    "pause_reasons": (
        '[pause_reasons.lunch]\nlabel = "Lunch"\npayd = false  # wrong\n',
        "3: pause_reasons.lunch.payd: unknown key",
    ),
    "dispositions": (
        '[dispositions.sale]\nlabel = "Sale"\nrequires_note = true  # wrong\n',
        "3: dispositions.sale.requires_note: unknown key",
    ),
    "alert_rules": (
        '[alert_rules.pause]\nkind = "agent_state"\nstate = "paused"\nthreshold = 600\nthreshld = 60  # wrong\n',
        "5: alert_rules.pause.threshld: unknown key",
    ),
    "(top level)": ("[server]\nport = 1\n[sever]  # wrong\n", "3: sever: unknown key"),
}


@pytest.mark.parametrize("case", list(WRONG_KEYS))
def test_a_wrong_key_in_every_section_is_named_with_its_line(tmp_path: Path, case: str) -> None:
    (tmp_path / "leads.csv").write_text("phone\n+12125550100\n")
    text, problem = WRONG_KEYS[case]
    assert _problems(tmp_path, text) == [f"hotline.toml:{problem}"]
    # and without the wrong line the table is valid (the wrong key is the only problem)
    good = "".join(line for line in text.splitlines(keepends=True) if not line.endswith("# wrong\n"))
    assert good != text
    result = _run(tmp_path, good)
    assert result.exit_code == 0, (good, result.output)


def test_the_wrong_key_table_covers_every_section() -> None:
    sections = {case.split(".")[0].split(" ")[0] for case in WRONG_KEYS}
    assert set(HotlineConfig.model_fields) <= sections


def test_the_full_example_has_every_section() -> None:
    import tomllib

    data = tomllib.loads((REPO / "config" / "examples" / "hotline.toml").read_text(encoding="utf-8"))
    assert set(data) == set(HotlineConfig.model_fields)


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
    """The file's form of the admin sections is web.settings' rows, key for key, with
    the same types and bounds (web.settings cannot be imported by config.schema: it
    imports the store, which imports config.schema)."""
    from pydantic import TypeAdapter

    from config import schema
    from web import settings

    def properties(json_schema: dict[str, typing.Any]) -> dict[str, typing.Any]:
        drop = ("title", "default")
        return {k: {a: b for a, b in v.items() if a not in drop} for k, v in json_schema["properties"].items()}

    rows = {
        "queues": schema.QueueRow,
        "skills": schema.SkillRow,
        "pause_codes": schema.PauseCodeRow,
        "dispositions": schema.DispositionRow,
    }
    for section, row in rows.items():
        model = settings.SCHEMAS[section]
        assert set(typing.get_type_hints(row)) == set(model.model_fields), section
        assert properties(TypeAdapter(row).json_schema()) == properties(model.model_json_schema()), section
        for key, info in model.model_fields.items():
            if info.annotation is float:  # neither takes inf or nan
                for bad in (float("inf"), float("nan")):
                    assert not _valid(TypeAdapter(row), {key: bad}) and not _valid(model, {key: bad}), (section, key)
    assert schema.NAME_PATTERN == settings.NAME_PATTERN
    assert schema.HotlineConfig.model_fields.keys() >= set(settings.CONFIG_SECTION.values())


def _valid(validator: typing.Any, data: dict[str, typing.Any]) -> bool:
    from pydantic import ValidationError

    try:
        (validator.validate_python if hasattr(validator, "validate_python") else validator.model_validate)(data)
    except ValidationError:
        return False
    return True


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


@pytest.mark.parametrize(
    "url",
    ["postgresql://db:0/x", "postgresql://db:70000/x", "postgresql://db:http/x", "postgresql://[::1]:65536/x"],
)
def test_every_bad_url_port_is_rejected(tmp_path: Path, url: str) -> None:
    assert _problems(tmp_path, f'[store]\nurl = "{url}"\n') == [
        "hotline.toml:2: store.url: port must be a number from 1 to 65535"
    ]


def test_ports_0_and_70000_are_rejected(tmp_path: Path) -> None:
    text = "[pbx]\nami_port = 0\n[server]\nport = 70000\n"
    assert _problems(tmp_path, text) == [
        "hotline.toml:2: pbx.ami_port: Input should be greater than or equal to 1",
        "hotline.toml:4: server.port: Input should be less than or equal to 65535",
    ]
    assert _problems(tmp_path, '[pbx]\nagi_bind = "0.0.0.0:70000"\n') == [
        "hotline.toml:2: pbx.agi_bind: must be HOST:PORT, e.g. 127.0.0.1:4573"
    ]


def test_inf_and_nan_are_rejected(tmp_path: Path) -> None:
    text = (
        "[pbx]\nping_interval_s = nan\n"
        '[campaigns.c]\nleads = "leads.csv"\ndrop_windows_hours = [24, inf]\n'
        "[queues.q]\nsl_threshold_s = inf\n"
        "[routing.defaults]\nwrap_up_s = nan\n"
        '[crm]\nurl_template = "https://crm.example.com/?p={phone}"\ntimeout_s = nan\n'
        '[ivr]\nstart = "m"\n[ivr.nodes.m]\ntype = "collect"\nprompt = "p"\nnext = "m"\non_fail = "m"\n'
        "timeout_s = inf\n"
        "[campaigns.c.retry.busy]\ndelay_minutes = -inf\n"
    )
    (tmp_path / "leads.csv").write_text("phone\n")
    assert _problems(tmp_path, text) == [
        "hotline.toml:2: pbx.ping_interval_s: must be a finite number (not inf or nan)",
        "hotline.toml:5: campaigns.c.drop_windows_hours[1]: must be a finite number (not inf or nan)",
        "hotline.toml:7: queues.q.sl_threshold_s: must be a finite number (not inf or nan)",
        "hotline.toml:9: routing.defaults.wrap_up_s: must be a finite number",
        "hotline.toml:12: crm.timeout_s: must be a finite number (not inf or nan)",
        "hotline.toml:20: ivr.nodes.m.timeout_s: must be a finite number (not inf or nan)",
        "hotline.toml:22: campaigns.c.retry.busy.delay_minutes: must be a finite number (not inf or nan)",
    ]


def test_negative_timeouts_are_rejected(tmp_path: Path) -> None:
    text = (
        "[pbx]\naction_timeout_s = -1\n"
        '[crm]\nurl_template = "https://crm.example.com/?p={phone}"\ntimeout_s = -0.5\n'
        '[ivr]\nstart = "m"\n[ivr.nodes.m]\ntype = "menu"\nprompt = "p"\noptions = { "1" = "m" }\n'
        'on_fail = "m"\ntimeout_s = -5\n'
        '[routing.queues.q]\ntargets = [{ expression = "true", timeout_s = -3 }]\n'
        "[routing.rona]\nring_timeout_s = -1\n"
        '[campaigns.c]\nleads = "leads.csv"\nno_answer_timeout_s = -25\ntick_s = -1\n'
    )
    (tmp_path / "leads.csv").write_text("phone\n")
    assert _problems(tmp_path, text) == [
        "hotline.toml:2: pbx.action_timeout_s: Input should be greater than 0",
        "hotline.toml:5: crm.timeout_s: Input should be greater than 0",
        "hotline.toml:13: ivr.nodes.m.timeout_s: Input should be greater than 0",
        "hotline.toml:15: routing.queues.q.targets[0].timeout_s: must be > 0, got -3",
        "hotline.toml:17: routing.rona.ring_timeout_s: must be > 0, got -1",
        "hotline.toml:20: campaigns.c.no_answer_timeout_s: Input should be greater than or equal to 15",
        "hotline.toml:21: campaigns.c.tick_s: Input should be greater than 0",
    ]


def test_store_pool_bounds_are_in_order(tmp_path: Path) -> None:
    assert _problems(tmp_path, "[store]\npool_min = 5\npool_max = 2\n") == [
        "hotline.toml:2: store.pool_min: must be <= pool_max (2)"
    ]


def test_ivr_node_types_are_named_at_their_key(tmp_path: Path) -> None:
    text = (
        '[ivr]\nstart = "a"\n'
        '[ivr.nodes.a]\ntyp = "hangup"\n'
        '[ivr.nodes.b]\ntype = "hangupp"\n'
        '[ivr.nodes.c]\ntype = "queue"\n'  # a queue node without its queue
    )
    assert _problems(tmp_path, text) == [
        "hotline.toml:3: ivr.nodes.a.type: required",
        "hotline.toml:6: ivr.nodes.b.type: unknown type 'hangupp' (one of: 'menu', 'collect', 'self_service', "
        "'queue', 'callback', 'voicemail', 'hangup')",
        "hotline.toml:7: ivr.nodes.c.queue: required",
    ]


def test_ivr_holidays_are_dates(tmp_path: Path) -> None:
    text = (
        '[ivr]\nstart = "n"\nholidays = ["2026-12-25", 2027-01-01, "xmas", 2026-12-31T00:00:00]\n'
        '[ivr.nodes.n]\ntype = "hangup"\n'
    )
    assert _problems(tmp_path, text) == [
        "hotline.toml:3: ivr.holidays[2]: must be a date, YYYY-MM-DD, not 'xmas'",
        "hotline.toml:3: ivr.holidays[3]: must be a date, YYYY-MM-DD, not '2026-12-31 00:00:00'",
    ]
    good = text.replace(', "xmas", 2026-12-31T00:00:00', "")
    (tmp_path / "good.toml").write_text(good)
    ivr = load(tmp_path / "good.toml").config.ivr
    assert ivr is not None and ivr.holidays == ["2026-12-25", "2027-01-01"]


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
        ("x = " + "[" * 10_000 + "]" * 10_000, 3),
        ("x = " + "{ a = " * 10_000 + "1" + " }" * 10_000, 3),
        ("[" + ".".join(["a"] * 10_000) + "]", 3),
        (".".join(["a"] * 10_000) + " = 1", 3),
        ("\n".join("[" + ".".join(["a"] * n) + "]" for n in range(1, 70)), 2 + MAX_DEPTH + 1),
        ("a = [1.5, 2.5]\nb = " + "[" * 60 + "]" * 60 + "\n[" + ".".join(["b"] * 70) + "]", 5),
    ],
    ids=["arrays", "inline-tables", "dotted-table", "dotted-key", "table-after-table", "after-a-good-line"],
)
def test_absurd_nesting_is_a_problem_not_a_traceback(tmp_path: Path, body: str, line: int) -> None:
    assert _problems(tmp_path, f"[server]\nport = 1\n{body}\n") == [
        f"hotline.toml:{line}: (toml): nested more than {MAX_DEPTH} levels deep"
    ]


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    depth = MAX_DEPTH
    problems = _problems(tmp_path, "x = " + "[" * depth + "]" * depth + "\n")
    assert problems == ["hotline.toml:1: x: unknown key"]


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


def test_a_stray_rule_key_in_the_main_file_is_an_unknown_key(tmp_path: Path) -> None:
    """[defaults] meant as [routing.defaults]: the file is still the main configuration."""
    text = "[server]\nport = 8081\n[defaults]\nwrap_up_s = 5\n"
    assert _problems(tmp_path, text) == ["hotline.toml:3: defaults: unknown key"]


@pytest.mark.parametrize(
    ("example", "says"),
    [
        ("hotline.toml", "ok (hotline: the main configuration, as `hotline serve --config` reads it)"),
        ("routing.toml", "ok (routing: routing rules, as a scenario's `rules` and `hotline sim --rules` read them)"),
        (
            "campaign-spring-promo.toml",
            "ok (campaign: a standalone campaign, as `hotline sim dialer --campaign` reads it)",
        ),
        ("scenario-day.toml", "ok (scenario: a simulator scenario, as `hotline sim` reads it)"),
    ],
)
def test_the_check_says_what_the_file_is(example: str, says: str) -> None:
    path = REPO / "config" / "examples" / example
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert (result.exit_code, result.output.strip()) == (0, f"{path}: {says}")


# ---------------------------------------------------------------- start-up uses the same validation


def test_serve_exits_with_the_same_lines_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "hotline.toml").write_text("[crm]\nbogus = 1\n[store\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "hotline.toml")])
    assert result.exit_code == 2
    assert result.output.strip() == "hotline.toml:3: (toml): Expected ']' at the end of a table declaration (column 7)"
    (tmp_path / "hotline.toml").write_text("[crm]\nbogus = 1\n")
    result = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "hotline.toml")])
    assert (result.exit_code, result.output.strip()) == (2, "hotline.toml:2: crm.bogus: unknown key")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b'[server]\nhost = "caf\xe9"\n', "hotline.toml:2: (file): invalid UTF-8 (byte 0xe9 at column 12)"),
        (b"x = " + b"[" * 10_000 + b"]" * 10_000, f"hotline.toml:1: (toml): nested more than {MAX_DEPTH} levels deep"),
        (
            b"[pbx]\nping_interval_s = inf\n",
            "hotline.toml:2: pbx.ping_interval_s: must be a finite number (not inf or nan)",
        ),
        (b'[bus]\nurl = "redis://r:70000/0"\n', "hotline.toml:2: bus.url: port must be a number from 1 to 65535"),
        (
            b'[campaigns.c]\nleads = "gone.csv"\n',
            "hotline.toml:2: campaigns.c.leads: cannot read {dir}/gone.csv: No such file or directory",
        ),
    ],
    ids=["utf-8", "nesting", "inf", "port", "leads"],
)
@pytest.mark.parametrize("command", [["serve"], ["db", "migrate"], ["user", "list"]], ids=" ".join)
def test_commands_that_load_the_file_exit_2_with_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: bytes, problem: str, command: list[str]
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "hotline.toml").write_bytes(text)
    monkeypatch.chdir(tmp_path)  # the leads are looked for beside the file, not here
    (tmp_path / "gone.csv").write_text("phone\n")
    result = CliRunner().invoke(main, [*command, "--config", "conf/hotline.toml"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert (result.exit_code, result.output.strip()) == (2, problem.format(dir=tmp_path.resolve() / "conf"))


def test_environment_variable_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env.toml").write_text("[server]\nport = 9999\n")
    monkeypatch.setenv("HOTLINE_CONFIG", str(tmp_path / "env.toml"))
    assert load().config.server.port == 9999


def test_defaults_are_the_embedded_adapters() -> None:
    config = parse("", "empty.toml")
    assert config.store.kind == "sqlite" and str(config.store.sqlite_path()) == "var/hotline.sqlite3"
    assert config.bus.kind == "memory"
    assert config.ivr is None and config.crm is None and config.campaigns == {}


def test_an_alert_rule_is_checked_as_a_whole(tmp_path: Path) -> None:
    """The fields of a rule that are valid alone but not together are named (as the
    admin page's section would name them)."""
    text = '[queues.sales]\n\n[alert_rules.pause]\nkind = "agent_state"\nstate = "asleep"\n'
    [problem] = _problems(tmp_path, text)
    assert problem.startswith("hotline.toml:3: alert_rules: pause.state: one of available, reserved"), problem
    assert "pause.threshold: required for agent_state" in problem
