"""A private Dovecot IMAP server for the tests (Debian's dovecot-imapd, installed by
scripts/services.sh): its own configuration, port, mailbox and user under a temporary
directory, stopped afterwards. Needs root (Dovecot switches to its own users).

Plain (ssl = no) by default; with `tls` (tests/mail/certs.py) ssl = required: IMAPS on
`tls_port`, STARTTLS on `port` (Dovecot counts 127.0.0.1 as secure: a plain login
there is still taken)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.mail.certs import Certs

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


@dataclass(frozen=True)
class Imap:
    host: str
    port: int
    username: str
    password: str
    tls_port: int | None = None  # IMAPS (TLS from the first byte), with `tls` only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tls(certs: Certs | None) -> str:
    if certs is None:
        return "ssl = no\n"
    dh = "ssl_dh = </usr/share/dovecot/dh.pem\n" if Path("/usr/share/dovecot/dh.pem").exists() else ""
    return f"""ssl = required
ssl_cert = <{certs.cert}
ssl_key = <{certs.key}
{dh}"""


def _config(root: Path, port: int, certs: Certs | None = None, tls_port: int = 0) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
instance_name = hotline-test-{port}
protocols = imap
listen = 127.0.0.1
{_tls(certs)}shutdown_clients = yes
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""


@contextmanager
def dovecot(tls: Certs | None = None) -> Iterator[Imap]:
    """(Under a directory of its own: pytest's are closed to Dovecot's users.)"""
    with tempfile.TemporaryDirectory(prefix="hotline-dovecot-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        yield from _serve(root, tls)


def _serve(root: Path, certs: Certs | None) -> Iterator[Imap]:
    port = _free_port()
    tls_port = _free_port() if certs is not None else 0
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.chown(root / "mail", "dovecot", "dovecot")
    (root / "users").write_text("support:{PLAIN}secret\n")
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, certs, tls_port))
    subprocess.run([DOVECOT, "-c", str(conf)], check=True, timeout=10)
    try:
        for listening in (port, tls_port) if tls_port else (port,):
            _until_listening(listening)
        yield Imap("127.0.0.1", port, "support", "secret", tls_port or None)
    finally:
        _stop(root / "run" / "master.pid")


def _until_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _stop(pid_file: Path) -> None:
    """SIGTERM to the master, then wait until it is gone (doveadm stop takes seconds)."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.02)
