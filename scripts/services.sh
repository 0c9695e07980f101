#!/usr/bin/env bash
# Make PostgreSQL and Redis reachable for the tests and benchmarks; print their URLs
# as KEY=value lines on stdout (everything else goes to stderr).
#  1. use 127.0.0.1:5432 / 127.0.0.1:6379 when they answer;
#  2. else start private instances from the installed binaries under var/services/;
#  (HOTLINE_FORCE_PRIVATE=1 skips step 1, to exercise step 2.)
#  3. else, when root, install Debian's postgresql / redis-server first;
#  4. install Debian's dovecot-imapd when missing (the IMAP tests start their own).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR="$ROOT/var/services"
PG_PORT=${HOTLINE_PRIVATE_PG_PORT:-55432}
REDIS_PORT=${HOTLINE_PRIVATE_REDIS_PORT:-56379}
mkdir -p "$RUN_DIR"

say() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "cannot install $* (not root or no apt-get); install it and retry"; exit 1
  fi
  say "installing $* from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  apt-get install -y -qq "$@" >&2
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_postgres() {
  if [ -z "${HOTLINE_FORCE_PRIVATE:-}" ] && port_open 127.0.0.1 5432; then
    echo "HOTLINE_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/postgres"; return
  fi
  if port_open 127.0.0.1 "$PG_PORT"; then
    echo "HOTLINE_TEST_PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"; return
  fi
  local bindir; bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then apt_install postgresql; bindir=$(pg_bindir); fi
  local data="$RUN_DIR/pg" as_user=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$RUN_DIR" postgres
    as_user=(runuser -u postgres --)
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $data"
    mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres "$data" "$RUN_DIR"
    "${as_user[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >&2
  fi
  say "starting private PostgreSQL on 127.0.0.1:$PG_PORT"
  "${as_user[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-h 127.0.0.1 -p $PG_PORT -k $data" start >&2
  echo "HOTLINE_TEST_PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}

ensure_redis() {
  if [ -z "${HOTLINE_FORCE_PRIVATE:-}" ] && port_open 127.0.0.1 6379; then echo "HOTLINE_TEST_REDIS_URL=redis://127.0.0.1:6379/0"; return; fi
  if port_open 127.0.0.1 "$REDIS_PORT"; then echo "HOTLINE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"; return; fi
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting private Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$RUN_DIR" --daemonize yes --logfile "$RUN_DIR/redis.log" >&2
  for _ in $(seq 50); do port_open 127.0.0.1 "$REDIS_PORT" && break; sleep 0.1; done
  echo "HOTLINE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

# Dovecot for the IMAP poller's tests (tests/mail/imap_server.py starts a private
# instance per test module): the binary only, installed when missing.
ensure_dovecot() {
  command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || apt_install dovecot-imapd
}

ensure_postgres
ensure_redis
ensure_dovecot
