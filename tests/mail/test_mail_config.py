"""The `[mail]` section: defaults, and each problem at its file line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, parse


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse(text, "hotline.toml")
    return exc.value.problems


def test_a_valid_section_with_routes_and_service_levels(tmp_path: Path) -> None:
    config = parse(
        '[mail]\naddress = "Support@Example.com"\nlisten = "127.0.0.1:0"\nqueue = "support"\ndue_hours = 4\n'
        '[mail.routes]\n"Billing@example.com" = "billing"\n[mail.queue_due_hours]\nbilling = 8\n'
        '[mail.relay]\nhost = "127.0.0.1"\nport = 2526\n',
        "hotline.toml",
        base_dir=tmp_path,
    ).mail
    assert config.address == "support@example.com" and config.enabled
    assert config.queue_for(["someone@x.test", "billing@example.com"]) == "billing"
    assert config.queue_for(["other@example.com"]) == "support"
    assert (config.due_s("billing"), config.due_s("support")) == (8 * 3600, 4 * 3600)
    assert config.attachments_dir == tmp_path / "var/mail-attachments"


def test_defaults_receive_nothing() -> None:
    assert not parse("", "hotline.toml").mail.enabled


def test_each_problem_is_reported_at_its_line() -> None:
    found = problems(
        "[mail]\n"
        'listen = "nohostport"\n'
        'accept_domains = ["example.com", "not a domain"]\n'
        "max_message_bytes = 0\n"
        "[mail.routes]\n"
        '"not-an-address" = "billing"\n'
        "[mail.queue_due_hours]\n"
        "billing = -1\n"
        "[mail.relay]\n"
        'security = "ssl"\n'
        "colour = 1\n"
    )
    assert found == [
        "hotline.toml:2: mail.listen: must be HOST:PORT, e.g. 127.0.0.1:2525 (port 0 takes any free one)",
        "hotline.toml:3: mail.accept_domains[1]: must be a domain such as example.com, not 'not a domain'",
        "hotline.toml:4: mail.max_message_bytes: Input should be greater than or equal to 1000",
        "hotline.toml:6: mail.routes.not-an-address: the key must be an e-mail address such as billing@example.com",
        "hotline.toml:8: mail.queue_due_hours.billing: must be a number of hours > 0 (at most a year)",
        "hotline.toml:10: mail.relay.security: Input should be 'none', 'starttls' or 'tls'",
        "hotline.toml:11: mail.relay.colour: unknown key",
    ]


def test_an_imap_mailbox_needs_its_host_and_user() -> None:
    assert problems('[mail.imap]\nfolder = "INBOX"\n') == [
        "hotline.toml:1: mail.imap.host: required",
        "hotline.toml:1: mail.imap.username: required",
    ]


def test_replies_need_a_from_address() -> None:
    assert problems('[mail]\nlisten = "127.0.0.1:2525"\n[mail.relay]\nhost = "127.0.0.1"\n') == [
        "hotline.toml:1: mail.address: required with [mail.relay]: the From: of the agents' replies"
    ]


def test_serve_says_plainly_when_the_mail_port_is_taken(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from cti.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "hotline.toml"
        config.write_text(
            f'[server]\nport = 0\n[store]\nurl = "sqlite:///{tmp_path}/h.sqlite3"\n'
            f'[mail]\nlisten = "127.0.0.1:{port}"\n'
        )
        result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 1
    assert f"Error: mail.listen: cannot listen on 127.0.0.1:{port} (" in result.output
    assert "address already in use" in result.output.lower()
    assert "Traceback" not in result.output


def test_an_imap_ca_file_is_read_at_start_relative_to_the_file(tmp_path: Path) -> None:
    from tests.mail.certs import make_certs

    make_certs(tmp_path / "certs")
    imap = parse(
        '[mail.imap]\nhost = "imap.example.com"\nusername = "support"\nport = 143\nsecurity = "starttls"\n'
        'ca_file = "certs/ca.pem"\n',
        "hotline.toml",
        base_dir=tmp_path,
    ).mail.imap
    assert imap is not None and imap.ca_file == tmp_path / "certs/ca.pem" and imap.verify
    context = imap.tls_context()
    assert context is not None and context.check_hostname and len(context.get_ca_certs()) == 1
    (tmp_path / "not-pem.txt").write_text("hello")
    found = problems('[mail.imap]\nhost = "imap.example.com"\nusername = "support"\nca_file = "/nowhere/ca.pem"\n')
    assert found == ["hotline.toml:4: mail.imap.ca_file: no such file: '/nowhere/ca.pem'"]
    with pytest.raises(ConfigError) as exc:
        parse(f'[mail.imap]\nhost = "h"\nusername = "u"\nca_file = "{tmp_path}/not-pem.txt"\n', "hotline.toml")
    assert exc.value.problems[0].startswith("hotline.toml:4: mail.imap.ca_file: not a PEM file of CA certificates")


def test_imap_security_and_its_first_versions_ssl_key(tmp_path: Path) -> None:
    from tests.mail.certs import make_certs

    ca = make_certs(tmp_path).ca
    base = '[mail.imap]\nhost = "imap.example.com"\nusername = "support"\n'
    assert parse(base, "hotline.toml").mail.imap.security == "tls"  # type: ignore[union-attr]
    assert parse(base + "ssl = false\n", "hotline.toml").mail.imap.security == "none"  # type: ignore[union-attr]
    assert problems(base + 'ssl = true\nsecurity = "starttls"\n') == [
        "hotline.toml:4: mail.imap.ssl: give security (tls, starttls or none), not ssl as well"
    ]
    assert problems(base + 'security = "ssl"\n') == [
        "hotline.toml:4: mail.imap.security: Input should be 'none', 'starttls' or 'tls'"
    ]
    assert problems(base + f'security = "none"\nca_file = "{ca}"\n') == [
        'hotline.toml:5: mail.imap.ca_file: only with security = "tls" or "starttls"'
    ]
