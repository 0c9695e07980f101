"""`hotline config check` and the loader: every problem named by file, key path and reason."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from config.loader import ConfigError, load, parse
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


def _run(tmp_path: Path, text: str, name: str = "hotline.toml"):
    path = tmp_path / name
    path.write_text(text)
    return CliRunner().invoke(main, ["config", "check", str(path)])


def test_valid_file_exits_zero(tmp_path: Path) -> None:
    result = _run(tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    config = load(tmp_path / "hotline.toml").config
    assert config.store.kind == "postgresql" and config.bus.kind == "redis"
    assert config.pbx.ami_secret.get_secret_value() == "hotline-secret"


def test_broken_file_names_every_key_path_and_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, BROKEN)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
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
    try:
        parse(text, "h.toml")
    except ConfigError as exc:
        assert "topsecret" not in str(exc)
        assert any(p.startswith("h.toml:6: pbx.ami_secret:") for p in exc.problems)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "[store\nurl = 1\n")
    assert result.exit_code == 2
    assert result.output.startswith("hotline.toml: ") and "line 1" in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["config", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_environment_variable_selects_the_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "env.toml").write_text("[server]\nport = 9999\n")
    monkeypatch.setenv("HOTLINE_CONFIG", str(tmp_path / "env.toml"))
    assert load().config.server.port == 9999


def test_defaults_are_the_embedded_adapters() -> None:
    config = parse("", "empty.toml")
    assert config.store.kind == "sqlite" and str(config.store.sqlite_path()) == "var/hotline.sqlite3"
    assert config.bus.kind == "memory"


def test_ivr_section_problems_are_reported(tmp_path: Path) -> None:
    text = '[ivr]\nstart = "main"\n[ivr.nodes.main]\ntype = "menu"\nprompt = "p"\noptions = { "1" = "gone" }\non_fail = "main"\n'
    result = _run(tmp_path, text)
    assert result.exit_code == 2
    assert result.output.strip() == "hotline.toml: ivr.nodes.main.options.1: no node named 'gone'"


def test_an_unknown_standing_lines_mode_is_named(tmp_path: Path) -> None:
    result = _run(tmp_path, '[pbx]\nenabled = true\nstanding_lines = "sometimes"\n')
    assert result.exit_code == 2
    assert result.output.strip() == "hotline.toml:3: pbx.standing_lines: Input should be 'off', 'campaigns' or 'all'"
