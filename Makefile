# The two commands that set everything up: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NATIVE_STAMP := $(VENV)/.native-stamp
SERVICES_ENV := var/services.env
LOCK := requirements.lock
# two workers: the suite mostly waits on sockets and subprocesses (tests/conftest.py groups
# the load-and-kill tests on one of them)
PYTEST_ARGS ?= -n 2

.PHONY: demo test bench services browser venv native clean soak lock lint

venv: $(STAMP)

## Everything comes from the lock (pinned, with hashes); the project itself goes in
## editable without dependencies, built with the locked setuptools (no unpinned build env).
$(STAMP): $(LOCK) pyproject.toml scripts/python.sh
	@mkdir -p var
	@test -x $(PY) || "$$(scripts/python.sh)" -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## Regenerate requirements.lock from pyproject.toml (runtime + test extra, with hashes):
## run it after changing the dependencies; `make lock LOCK_ARGS=--upgrade` moves every pin
## to the newest release allowed.
LOCK_ARGS ?=
lock:
	@test -x $(PY) || "$$(scripts/python.sh)" -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check pip-tools
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --extra test --strip-extras \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o $(LOCK) pyproject.toml

## Static gates: ruff (lint and format) and mypy (configured in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## The router compiled with mypyc, for the simulator (routing/native.py), and the AMI
## codec, for the live server (cti/ami_native.py): rebuilt when their sources change (a
## stale build is never used: the Python module runs instead).
native: $(NATIVE_STAMP)

$(NATIVE_STAMP): $(STAMP) config/native_build.py routing/native.py routing/router.py routing/model.py routing/capacity.py routing/rules.py routing/expr.py routing/tomlpos.py events/__init__.py cti/ami_native.py cti/ami_codec.py scripts/native.sh
	scripts/native.sh $(PY)
	@touch $(NATIVE_STAMP)

## Run Hotline on the embedded defaults (SQLite, in-process bus): no PostgreSQL or Redis needed.
demo: $(STAMP)
	$(VENV)/bin/hotline demo

## Make sure PostgreSQL and Redis answer (start private ones if needed) and write their URLs.
services:
	@mkdir -p var
	@scripts/services.sh > $(SERVICES_ENV)
	@cat $(SERVICES_ENV)

browser:
	@scripts/browser.sh

## Install what is needed, pass the static gates (lint: ruff and mypy at zero) and run the
## whole test suite against real PostgreSQL and Redis.
test: $(STAMP) $(NATIVE_STAMP) lint services browser
	set -a && source $(SERVICES_ENV) && set +a && $(PY) -m pytest $(PYTEST_ARGS)

## Benchmarks: print figures and write JSON under bench/results/.
bench: $(STAMP) $(NATIVE_STAMP) services
	@mkdir -p bench/results
	set -a && source $(SERVICES_ENV) && set +a && for b in bench/bench_*.py; do \
		echo "== $$b"; $(PY) $$b $(BENCH_ARGS) || exit 1; done

## Long fault runs of the live loop on the emulator (PostgreSQL store): load, AMI drops, kill/restart.
SOAK_MINUTES ?= 3
soak: $(STAMP) services
	@mkdir -p bench/results
	set -a && source $(SERVICES_ENV) && set +a && $(PY) -m sim.soak --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .hypothesis
