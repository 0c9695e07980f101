"""Rule files: loading, validation messages with file, line/column, key path and reason."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from routing import RuleError, load_rules, validate_config_section
from routing.tomlpos import Locator

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "routing.toml"


def problems(text: str, filename: str = "routing.toml") -> list[str]:
    with pytest.raises(RuleError) as info:
        load_rules(text, filename)
    return [str(p) for p in info.value.problems]


def test_the_example_file_loads_with_every_feature():
    rules = load_rules(EXAMPLE.read_text(), str(EXAMPLE))
    assert rules.version == 7
    assert set(rules.queues) == {"billing", "sales", "retention", "general", "email"}
    assert [(t.until_due, t.priority) for t in rules.queues["email"].targets] == [(True, None), (False, 9)]
    billing = rules.queues["billing"]
    assert [f.name for f in billing.filters] == ["gold customers", "spanish"]
    assert billing.filters[0].targets[0].strategy == "preferred_agent"
    assert billing.filters[0].targets[1].priority == 7
    assert billing.overflow is not None and billing.overflow.to == "general"
    assert billing.ageing is not None and billing.ageing.max == 8
    assert rules.queues["sales"].final is not None and rules.queues["sales"].final.action == "callback"
    assert rules.rona.max_misses == 2 and rules.rona.pause_reason == "no_answer"
    assert rules.agents["a-trainee-01"].wrap_up_s == 60
    assert rules.pause_reasons["lunch"].paid is False
    assert rules.default_queue == "general"
    strategies = {t.strategy for q in rules.queues.values() for t in q.targets}
    strategies |= {t.strategy for q in rules.queues.values() for f in q.filters for t in f.targets}
    assert strategies >= {
        "most_skilled",
        "least_occupied",
        "round_robin",
        "fewest_calls",
        "random",
        "longest_idle",
        "preferred_agent",
    }


MAIN_CONFIG = """\
[server]
port = 8080

[routing]
skills = ["billing", "sales"]

[routing.queues.sales]
wrap_up_s = 10

[[routing.queues.sales.targets]]
expression = "skills.sales >= 7"
timeout_s = 20
[[routing.queues.sales.targets]]
    expression = 'skils.billing >= 5 and "es" in languages'
"""


def test_validate_config_section_names_file_path_line_and_column():
    data = tomllib.loads(MAIN_CONFIG)
    lines = validate_config_section(data["routing"], MAIN_CONFIG, "hotline.toml")
    assert lines == [
        "hotline.toml: routing.queues.sales.targets[1].expression: "
        "unknown attribute 'skils' (did you mean 'skills'?) (line 14, col 19)"
    ]
    assert MAIN_CONFIG.splitlines()[13][18:23] == "skils"


def test_validate_config_section_accepts_a_good_section():
    text = "[routing.queues.sales]\nwrap_up_s = 5\n"
    assert validate_config_section(tomllib.loads(text)["routing"], text, "hotline.toml") == []


def test_load_rules_reads_the_routing_table_of_the_main_file():
    good = MAIN_CONFIG.replace("skils.billing", "skills.billing")
    rules = load_rules(good, "hotline.toml")
    assert [t.expression.text for t in rules.queues["sales"].targets] == [
        "skills.sales >= 7",
        'skills.billing >= 5 and "es" in languages',
    ]
    with pytest.raises(RuleError) as info:
        load_rules(MAIN_CONFIG, "hotline.toml")
    assert str(info.value) == (
        "hotline.toml:14:19: routing.queues.sales.targets[1].expression: "
        "unknown attribute 'skils' (did you mean 'skills'?)"
    )


def test_every_problem_is_reported_with_its_position():
    text = """\
version = 0
[defaults]
stratgy = "random"
wrap_up_s = -5

[rona]
max_misses = 2
pause_reason = "smoke"

[queues.sales]
overflow = { to = "salez", after_s = 0 }
final = { action = "fax" }
ageing = { every_s = 60, max = 12 }
targets = [
  { expression = "skills.sales >= 7", timeout_s = 20 },
  { expression = "skills.sales >= 4" },
  { expression = "true", strategy = "fastest" },
]

[[queues.sales.filters]]
when = 'tier == 1'
targets = [{ strategy = "preferred_agent" }]

[queues.a]
overflow = { to = "b" }
[queues.b]
overflow = { to = "a" }
"""
    assert problems(text) == [
        "routing.toml:1:11: version: must be >= 1, got 0",
        "routing.toml:3:1: defaults.stratgy: unknown key 'stratgy' (did you mean 'strategy'?)",
        "routing.toml:4:13: defaults.wrap_up_s: must be >= 0, got -5",
        "routing.toml:8:16: rona.pause_reason: pause reason 'smoke' is not in pause_reasons "
        "(break, lunch, training, meeting, rona)",
        "routing.toml:13:32: queues.sales.ageing.max: must be <= 9, got 12",
        "routing.toml:11:38: queues.sales.overflow.after_s: must be > 0, got 0",
        "routing.toml:11:19: queues.sales.overflow.to: unknown queue 'salez' (did you mean 'sales'?)",
        "routing.toml:12:20: queues.sales.final.action: unknown value 'fax' (expected one of: callback, voicemail)",
        "routing.toml:16:3: queues.sales.targets[1]: no timeout_s, so the 1 target(s) after it can never be reached",
        "routing.toml:17:37: queues.sales.targets[2].strategy: unknown value 'fastest' (expected one of: "
        "longest_idle, least_occupied, fewest_calls, most_skilled, round_robin, random, preferred_agent)",
        "routing.toml:21:14: queues.sales.filters[0].when: type mismatch: string == number",
        "routing.toml:22:12: queues.sales.filters[0].targets[0]: strategy 'preferred_agent' needs timeout_s "
        "(how long to wait for the preferred agent)",
        "routing.toml:25:19: queues.a.overflow.to: overflow cycle: a -> b -> a",
    ]


def test_toml_syntax_errors_are_reported_not_raised_raw():
    with pytest.raises(RuleError) as info:
        load_rules("[queues.sales\n", "bad.toml")
    assert str(info.value).startswith("bad.toml: (toml): ")


def test_expression_columns_in_multiline_and_literal_strings():
    text = '[[queues.q.targets]]\nexpression = """\nskills.a >= 1 and\n  tema == "x"""\n'
    text = "[[queues.q.targets]]\nexpression = '''\nskills.a >= 1 and\n  tema == \"x\"'''\n"
    assert problems(text) == [
        "routing.toml:4:3: queues.q.targets[0].expression: unknown attribute 'tema' (did you mean 'team'?)"
    ]


def test_wrong_types_are_named():
    assert problems('[queues.q]\nwrap_up_s = "ten"\n') == [
        "routing.toml:2:13: queues.q.wrap_up_s: must be a number, got string 'ten'"
    ]
    assert problems("queues = 3\n") == ["routing.toml:1:10: queues: must be a table, got integer 3"]
    assert problems("[queues.q]\ntargets = []\n") == [
        "routing.toml:2:11: queues.q.targets: must be a non-empty array of targets "
        "([[...targets]] or targets = [{...}])"
    ]
    assert problems("[[queues.q.targets]]\nexpression = 7\n") == [
        "routing.toml:2:14: queues.q.targets[0].expression: must be an expression string, got integer 7"
    ]


def test_rules_reject_preferred_agent_as_a_default():
    assert problems('[defaults]\nstrategy = "preferred_agent"\n') == [
        "routing.toml:2:12: defaults.strategy: preferred_agent needs a timeout: set it on a target, not as the default"
    ]


def test_locator_maps_nested_paths():
    text = """\
a = 1  # comment
"quoted key".b = "x"
[t]
inner = { x = [1, { y = "z" }], w = 2 }
[[arr]]
k = 1
[[arr]]
k = 2
[[arr.sub]]
m = '''multi
line'''
n = 3
"""
    loc = Locator(text)
    assert loc.spots[("a",)].value_line == 1 and loc.spots[("a",)].value_col == 5
    assert loc.spots[("quoted key", "b")].value_col == 18
    assert (loc.spots[("t", "inner", "x", 1, "y")].value_line, loc.spots[("t", "inner", "x", 1, "y")].value_col) == (
        4,
        25,
    )
    assert loc.spots[("t", "inner", "w")].value_col == 37
    assert loc.spots[("arr", 1, "k")].value_line == 8
    assert loc.spots[("arr", 1, "sub", 0, "m")].value_line == 10
    assert loc.spots[("arr", 1, "sub", 0, "n")].value_line == 12
    assert loc.find(("arr", 1, "sub", 0, "missing"))[0] == ("arr", 1, "sub", 0)


def test_pause_reasons_must_hold_the_rona_reason():
    assert problems("pause_reasons = ['lunch']\n") == [
        "routing.toml:1:17: pause_reasons: must include 'rona' (the default rona.pause_reason), "
        "or set rona.pause_reason to one of them"
    ]
    load_rules("pause_reasons = ['lunch']\n[rona]\nmax_misses = 0\n")


def test_written_tasks_accept_time_per_channel():
    rules = load_rules("[rona]\naccept_s = { chat = 30, email = 600.5 }\n")
    assert (rules.rona.accept_for("chat"), rules.rona.accept_for("email"), rules.rona.accept_for("callback")) == (
        30.0,
        600.5,
        0.0,
    )
    assert load_rules("").rona.accept_for("chat") == 0.0  # none: taken at once, as before
    assert problems("[rona]\naccept_s = { chat = -1, voice = 5 }\n") == [
        "routing.toml:2:25: rona.accept_s.voice: unknown key 'voice' (expected one of: chat, email, callback)",
        "routing.toml:2:21: rona.accept_s.chat: must be >= 0, got -1",
    ]


def test_the_example_nests_under_routing_in_the_main_file():
    import re

    text = EXAMPLE.read_text()
    nested = "[server]\nport = 8080\n\n[routing]\n" + re.sub(
        r"^(\s*)\[(\[?)([^\]\[]+)\]", lambda m: f"{m.group(1)}[{m.group(2)}routing.{m.group(3)}]", text, flags=re.M
    )
    data = tomllib.loads(nested)
    assert validate_config_section(data["routing"], nested, "hotline.toml") == []
    assert set(load_rules(nested, "hotline.toml").queues) == {"billing", "sales", "retention", "general", "email"}
    broken = nested.replace('expression = "skills.billing >= 4"', 'expression = "skills.billing >= 4 and tem == 1"')
    (line,) = validate_config_section(tomllib.loads(broken)["routing"], broken, "hotline.toml")
    number = next(i for i, row in enumerate(broken.splitlines(), 1) if "tem == 1" in row)
    assert line == (
        "hotline.toml: routing.queues.billing.targets[1].expression: unknown attribute 'tem' "
        f"(did you mean 'team'?) (line {number}, col 39)"
    )
