"""The mypyc build of the router (routing/native.py) is the same router: same
decisions as the Python module on random operations, same simulation event for
event; a missing or stale build is never used silently where it was asked for."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import routing.native as native
import routing.router as python_router
from routing import AgentProfile, load_rules
from sim.model import CallCenterModel
from sim.run import load_rules_text
from sim.scenario import load_scenario
from tests.routing.test_routing_properties import agent_profiles, run, steps

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def test_choices_name_the_builds():
    compiled = native.router_class("native")
    assert native.is_native(compiled) and compiled.__module__ == native.MODULE
    assert native.router_class("python") is python_router.Router
    assert not native.is_native(python_router.Router)


def test_unknown_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HOTLINE_ROUTER", "fast")
    with pytest.raises(native.NativeRouterError, match=r"HOTLINE_ROUTER='fast': must be one of auto, python, native"):
        native.router_class()


def test_a_stale_build_is_never_used(monkeypatch):
    """A build from other sources (router.py edited since) is refused: auto falls back
    to the Python router, `native` says what to run."""
    monkeypatch.setattr(native, "source_digest", lambda: "0" * 64)
    assert native.router_class("auto") is python_router.Router
    with pytest.raises(native.NativeRouterError, match=r"built from other sources.*make native"):
        native.router_class("native")


def test_the_digest_covers_the_modules_the_router_is_compiled_against():
    names = {p.relative_to(native.ROOT).as_posix() for p in native.DEPENDS}
    assert {"routing/router.py", "routing/rules.py", "routing/model.py", "events/__init__.py"} <= names


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(profiles=agent_profiles, ops=steps, seed=st.integers(0, 3))
def test_both_builds_make_the_same_decisions(profiles, ops, seed, monkeypatch):
    monkeypatch.setenv("HOTLINE_ROUTER", "python")
    by_python = run(profiles, ops, seed)
    monkeypatch.setenv("HOTLINE_ROUTER", "native")
    assert run(profiles, ops, seed) == by_python


def test_bad_fields_are_ignored_by_both_builds(router_build):
    """The compiled build trusts declared types unless told otherwise: events from the
    wire with wrong field types must still be logged and ignored, not raise."""
    from events import CallConnected, CallQueued

    router = native.router_class()(load_rules("[queues.q]\n"), seed=0)
    router.add_agent(AgentProfile("a", skills={"s": 3}))
    assert router.handle(CallQueued(at=1.0, call_id=7, queue=None, skills=[1], priority=None), 1.0) == []  # type: ignore[arg-type]
    assert router.handle(CallConnected(at=2.0, call_id=None, agent_id=3), 2.0) == []  # type: ignore[arg-type]
    assert router.handle(CallQueued(at=3.0, call_id="c1", queue=5, skills={"s": "x"}, attributes=[2]), 3.0) == []  # type: ignore[arg-type]


def test_the_simulator_runs_the_compiled_build_with_the_same_events(monkeypatch):
    monkeypatch.setenv("HOTLINE_ROUTER", "auto")
    sc = load_scenario(EXAMPLES / "scenario-day.toml")
    sc = dataclasses.replace(sc, duration_s=2 * 3600.0)
    rules = load_rules_text(sc.rules_text, sc.rules_filename)
    compiled = CallCenterModel(sc, rules)
    assert native.is_native(type(compiled.router))  # make test builds it: the simulator takes it
    compiled.run()
    python = CallCenterModel(sc, rules, router_factory=python_router.Router)
    python.run()
    assert len(compiled.events) > 10_000
    assert [repr(e) for e in compiled.events] == [repr(e) for e in python.events]


def test_make_rebuilds_when_any_compiled_source_changes():
    """The Makefile's native stamp depends on every source the digest covers (else
    `make test` would keep a stale build, which the simulator then ignores)."""
    makefile = (native.ROOT / "Makefile").read_text()
    rule = next(line for line in makefile.splitlines() if line.startswith("$(NATIVE_STAMP):"))
    prerequisites = set(rule.split(":", 1)[1].split())
    assert {p.relative_to(native.ROOT).as_posix() for p in native.DEPENDS} <= prerequisites
