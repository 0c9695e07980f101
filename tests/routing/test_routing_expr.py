"""The rule expression language: parsing, type checks, evaluation, anchors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from routing.expr import ExprError, compile_expr


def agent(**kw):
    base = {"id": "a1", "skills": {}, "languages": frozenset(), "team": "", "capacity": 1, "attrs": {}}
    base.update(kw)
    return SimpleNamespace(**base)


def call(**kw):
    base = {
        "priority": 0,
        "tier": "",
        "language": "",
        "queue": "q",
        "customer_id": "",
        "preferred": "",
        "skills": {},
        "attrs": {},
    }
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(
    "text, a, c, expected",
    [
        ("skills.billing >= 7", agent(skills={"billing": 7}), call(), True),
        ("skills.billing >= 7", agent(skills={"billing": 6}), call(), False),
        ("skills.billing >= 7", agent(skills={}), call(), False),
        (
            'skills.billing >= 5 and "es" in languages',
            agent(skills={"billing": 5}, languages=frozenset({"es"})),
            call(),
            True,
        ),
        (
            'skills.billing >= 5 and "es" in languages',
            agent(skills={"billing": 5}, languages=frozenset({"en"})),
            call(),
            False,
        ),
        ('languages has "es"', agent(languages=frozenset({"es"})), call(), True),
        ('"billing" in skills', agent(skills={"billing": 1}), call(), True),
        ('"billing" not in skills', agent(skills={"billing": 1}), call(), False),
        ('skills HAS "vip" OR team == "t1"', agent(team="t1"), call(), True),
        ('not (team == "t1")', agent(team="t1"), call(), False),
        ('team in ["t1", "t2"]', agent(team="t2"), call(), True),
        ("call.language in languages", agent(languages=frozenset({"fr"})), call(language="fr"), True),
        ("call.language in languages", agent(languages=frozenset({"fr"})), call(language="de"), False),
        ("skills.billing >= call.skills.billing", agent(skills={"billing": 3}), call(skills={"billing": 4}), False),
        ('attributes.site == "lyon"', agent(attrs={"site": "lyon"}), call(), True),
        ('attributes.site == "lyon"', agent(attrs={}), call(), False),
        ("attributes.level > 3", agent(attrs={"level": "high"}), call(), False),  # run-time type clash: false
        ("true", agent(), call(), True),
        ("skills.first-line >= 2", agent(skills={"first-line": 2}), call(), True),
        ('skills["second line"] >= 2', agent(skills={"second line": 3}), call(), True),
        ("agent_id == 'a1' and capacity >= 1", agent(), call(), True),
    ],
)
def test_agent_expressions_evaluate(text, a, c, expected):
    assert compile_expr(text, "agent").fn(a, c) is expected


@pytest.mark.parametrize(
    "text, c, expected",
    [
        ('tier == "gold" and language == "es"', call(tier="gold", language="es"), True),
        ('tier == "gold" and language == "es"', call(tier="gold", language="en"), False),
        ("priority >= 5", call(priority=5), True),
        ('"billing" in skills', call(skills={"billing": 3}), True),
        ("skills.billing > 3", call(skills={"billing": 3}), False),
        ("attributes.vip == true", call(attrs={"vip": True}), True),
        ('call.tier == "gold"', call(tier="gold"), True),
        ('preferred_agent != ""', call(preferred="a9"), True),
    ],
)
def test_call_expressions_evaluate(text, c, expected):
    assert compile_expr(text, "call").fn(None, c) is expected


@pytest.mark.parametrize(
    "text, context, message, offset",
    [
        ("skils.billing >= 5", "agent", "unknown attribute 'skils' (did you mean 'skills'?)", 0),
        ('skills.billing >= 5 and "es" in langs', "agent", "unknown attribute 'langs' (did you mean 'languages'?)", 32),
        ('skills.billing >= "7"', "agent", "type mismatch: '>=' compares numbers, got a string", 18),
        ("team == 3", "agent", "type mismatch: string == number", 5),
        ('"es" in team', "agent", "'in' needs a list or skills on the right, got a string", 8),
        ("skills.billing = 5", "agent", "'=' is not a comparison: use '=='", 15),
        ("skills.billing >= 5 and", "agent", "expected a value, found end of expression", 23),
        ("team", "agent", "the expression must be true or false, got a string", 0),
        ("skills.billing and true", "agent", "'and' needs a true/false value, got a number", 0),
        ('"unterminated', "agent", "unterminated string", 0),
        ("", "agent", "empty expression", 0),
        ("__import__('os').system('true')", "agent", "unexpected '('", 10),
        ("skills.billing >= 5 )", "agent", "unexpected ')'", 20),
        ("languages >= 2", "agent", "type mismatch: '>=' compares numbers, got a list", 0),
        ("tier == 'x'", "agent", "unknown attribute 'tier'", 0),  # call attributes need `call.` in agent expressions
        ("team == 'x'", "call", "unknown attribute 'team'", 0),
        ("skills", "agent", "the expression must be true or false, got a skills map", 0),
        ("call", "agent", "'call' needs an attribute, e.g. call.language", 0),
        ("skills.a.b >= 1", "agent", "'skills.a.b': too many parts", 0),
        ("team.x == 'y'", "agent", "'team' has no attribute 'x'", 0),
    ],
)
def test_errors_say_what_and_where(text, context, message, offset):
    with pytest.raises(ExprError) as info:
        compile_expr(text, context)
    assert info.value.message == message
    assert info.value.offset == offset


def test_known_skill_catalogue_catches_typos():
    with pytest.raises(ExprError) as info:
        compile_expr("skills.biling >= 3", "agent", frozenset({"billing", "sales"}))
    assert info.value.message == "unknown skill 'biling' (did you mean 'billing'?)"
    with pytest.raises(ExprError):
        compile_expr('"salez" in skills', "agent", frozenset({"billing", "sales"}))
    compile_expr("skills.sales >= 3", "agent", frozenset({"billing", "sales"}))


def test_anchors_are_the_skills_every_match_must_have():
    c = compile_expr('skills.billing >= 5 and "vip" in skills and 3 < skills.sales and team == "t"', "agent")
    assert c.anchors == {"billing": 5, "vip": 1, "sales": 4}
    assert not c.fully_anchored  # the team term still needs checking
    assert compile_expr("skills.billing >= 5 and skills.sales > 2.5", "agent").fully_anchored
    assert compile_expr("skills.billing >= 5 or skills.sales >= 5", "agent").anchors == {}
    assert compile_expr("skills.billing == 5", "agent").anchors == {"billing": 5}
    assert not compile_expr("skills.billing == 5", "agent").fully_anchored
    assert compile_expr("skills.billing >= 0", "agent").anchors == {}


def test_call_paths_and_first_skill_are_recorded():
    c = compile_expr("call.language in languages and skills.x >= call.skills.x", "agent")
    assert c.call_paths == (("language",), ("skills", "x"))
    assert c.first_skill == "x"
