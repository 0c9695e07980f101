#!/usr/bin/env bash
# Build the simulator's compiled router (routing/native.py) and the live server's
# compiled AMI codec (cti/ami_native.py), with mypyc. It needs a C
# compiler and the Python headers: when they are missing, install them (as root with
# apt-get), as scripts/services.sh does for PostgreSQL and Redis.
set -euo pipefail
PY=${1:-.venv/bin/python}
say() { echo "native.sh: $*" >&2; }
have_headers() {
  "$PY" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)'
}
if ! command -v cc >/dev/null 2>&1 || ! have_headers; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "a C compiler and the Python headers are needed (Debian/Ubuntu: apt-get install gcc python3-dev); install them and retry"
    exit 1
  fi
  ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  say "installing gcc and the Python $ver headers"
  apt-get update -qq >&2 || true
  apt-get install -y -qq gcc "python$ver-dev" >&2 || apt-get install -y -qq gcc python3-dev >&2
fi
"$PY" -m routing.native build
exec "$PY" -m cti.ami_native build
