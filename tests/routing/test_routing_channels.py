"""Tasks of every channel through the one router (issue 18): per-channel capacity as
allowed combinations, per agent and per team, what may be combined, voice first where
configured, and the old single capacity untouched for agents without any."""

from __future__ import annotations

from typing import Any

import pytest

from events import AgentStateChanged, WrapUpEnded
from routing import AgentProfile, Escalated, Offer
from routing.capacity import CapacityError, fits, has_room, parse_capacity_rules
from routing.rules import RuleError, load_rules
from tests.routing.test_routing_scenarios import Harness

RULES = """
[defaults]
wrap_up_s = 0
[capacity.default]
combos = [{voice = 1}, {chat = 3}, {voice = 1, email = 2}]
[capacity.teams.digital]
combos = [{chat = 2, email = 1}]
[capacity.agents.vic]
combos = [{voice = 1, chat = 1}]
voice_first = true
[queues.support]
targets = [{ expression = "skills.support > 0" }]
"""


def offers(out: list[Any]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in out if isinstance(d, Offer)]


def task(h: Harness, at: float, call_id: str, channel: str, priority: int = 0) -> list[tuple[str, str]]:
    return offers(h.queue(at, call_id, "support", {"support": 1}, priority, channel=channel))


def harness(*profiles: AgentProfile, rules: str = RULES) -> Harness:
    h = Harness(rules, list(profiles))
    h.login(0, *(p.agent_id for p in profiles))
    return h


def test_the_combination_arithmetic() -> None:
    combos = ({"voice": 1}, {"chat": 3}, {"voice": 1, "email": 2})
    assert fits(combos, {}, "voice") and fits(combos, {}, "chat") and fits(combos, {}, "email")
    assert fits(combos, {"voice": 1}, "email") and not fits(combos, {"voice": 1}, "chat")
    assert fits(combos, {"chat": 2}, "chat") and not fits(combos, {"chat": 3}, "chat")
    assert not fits(combos, {"chat": 1}, "voice") and not fits(combos, {"voice": 1, "email": 2}, "email")
    assert not fits(combos, {}, "callback")  # a channel no combo names
    assert has_room(combos, {"voice": 1, "email": 1}) and not has_room(combos, {"voice": 1, "email": 2})


def test_up_to_three_chats_then_no_more_and_no_call_on_top() -> None:
    h = harness(AgentProfile("ann", {"support": 5}))
    assert task(h, 1, "t1", "chat") == [("t1", "ann")]
    h.talk(1.5, "t1", "ann")
    assert task(h, 2, "t2", "chat") == [("t2", "ann")]
    assert task(h, 3, "t3", "chat") == [("t3", "ann")]
    assert task(h, 4, "t4", "chat") == []  # three chats: full
    assert task(h, 5, "c1", "voice") == []  # no call with a chat open ({voice = 1} alone)
    assert h.router.agent_load("ann") == {"chat": 3}
    # a chat ends: the oldest waiting task that fits, the chat, not the call
    assert offers(h.end(6, "t1")) == [("t4", "ann")]


def test_an_agent_on_a_call_is_offered_email_but_not_chat() -> None:
    h = harness(AgentProfile("ann", {"support": 5}))
    assert task(h, 1, "c1", "voice") == [("c1", "ann")]
    h.talk(2, "c1", "ann")
    assert task(h, 3, "t1", "chat") == []  # {voice = 1} + chat: no combo allows it
    assert task(h, 4, "e1", "email") == [("e1", "ann")]
    assert task(h, 5, "e2", "email") == [("e2", "ann")]
    assert task(h, 6, "e3", "email") == []  # {voice = 1, email = 2}: full
    assert h.router.agent_load("ann") == {"voice": 1, "email": 2}
    # the shown state is the voice state: on the call (the e-mails ringing are not a call)
    assert h.router.agent_state("ann") == "on_call"


def test_written_tasks_never_change_the_agents_shown_state() -> None:
    """The logged agent states are the voice ones (the voice reports fold them): an
    agent offered, holding and ending chats stays available; a call beside them shows."""
    h = harness(
        AgentProfile("ann", {"support": 5}), rules=RULES.replace("{chat = 3}", "{chat = 3}, {voice = 1, chat = 1}")
    )
    out = h.queue(1, "t1", "support", {"support": 1}, channel="chat")
    out += h.talk(2, "t1", "ann")
    out += h.queue(3, "t2", "support", {"support": 1}, channel="chat")
    out += h.talk(4, "t2", "ann")
    assert [d for d in out if isinstance(d, AgentStateChanged)] == []
    assert h.router.agent_state("ann") == "available" and h.router.agent_load("ann") == {"chat": 2}
    out = h.end(5, "t1") + h.send(WrapUpEnded(at=5, call_id="t1", agent_id="ann")) + h.end(6, "t2")
    assert [d for d in out if isinstance(d, AgentStateChanged)] == []
    # a call beside a chat: reserved, on the call, available (no wrap-up in these rules), as ever
    h2 = harness(AgentProfile("bo", {"support": 5}), rules=RULES.replace("{chat = 3}", "{voice = 1, chat = 1}"))
    h2.queue(1, "t1", "support", {"support": 1}, channel="chat")
    h2.talk(1, "t1", "bo")
    out = h2.queue(2, "c1", "support", {"support": 1}, channel="voice") + h2.talk(3, "c1", "bo") + h2.end(4, "c1")
    assert [d.state for d in out if isinstance(d, AgentStateChanged)] == ["reserved", "on_call", "available"]


def test_waiting_tasks_with_a_due_time_are_offered_earliest_due_first() -> None:
    """An e-mail stands in line by its due time (attribute due_at): the later one that
    arrived first waits behind the one due sooner; its wait still counts from arrival."""
    one_email = RULES.replace("[{voice = 1}, {chat = 3}, {voice = 1, email = 2}]", "[{email = 1}]")
    h = harness(AgentProfile("ann", {"support": 5}), rules=one_email)
    h.send(AgentStateChanged(at=0.5, agent_id="ann", state="paused", reason="break"))
    assert offers(h.queue(1, "e-late", "support", {"support": 1}, channel="email", due_at=1 + 86400.0)) == []
    assert offers(h.queue(2, "e-soon", "support", {"support": 1}, channel="email", due_at=2 + 3600.0)) == []
    assert offers(h.queue(3, "e-none", "support", {"support": 1}, channel="email")) == []  # no due: from its arrival
    out = h.send(AgentStateChanged(at=10, agent_id="ann", state="available"))
    [offer] = [d for d in out if isinstance(d, Offer)]
    assert (offer.call_id, offer.wait_s) == ("e-none", 7)
    h.talk(11, "e-none", "ann")
    assert offers(h.end(12, "e-none") + h.send(WrapUpEnded(at=12, call_id="e-none", agent_id="ann"))) == [
        ("e-soon", "ann")
    ]


def test_team_and_agent_capacities_win_over_the_default_and_a_profile_over_all() -> None:
    h = harness(
        AgentProfile("dee", {"support": 5}, team="digital"),  # {chat = 2, email = 1}: no voice at all
        AgentProfile("vic", {"support": 5}, team="digital"),  # its own {voice = 1, chat = 1}
        AgentProfile("pat", {"support": 5}, team="digital", channels=({"callback": 1},)),
    )
    assert task(h, 1, "c1", "voice") == [("c1", "vic")]
    assert task(h, 2, "c2", "voice") == []  # dee takes no calls, vic is on one, pat only call-backs
    assert task(h, 3, "b1", "callback") == [("b1", "pat")]
    assert task(h, 4, "t1", "chat") == [("t1", "dee")]  # longest idle of dee and vic: dee
    assert task(h, 5, "t2", "chat") == [("t2", "vic")]  # vic: a call and a chat
    assert task(h, 6, "t3", "chat") == [("t3", "dee")]
    assert task(h, 7, "t4", "chat") == []


def test_voice_first_takes_a_waiting_call_before_an_older_higher_priority_chat() -> None:
    h = harness(AgentProfile("vic", {"support": 5}, team="digital"))
    assert task(h, 1, "c1", "voice") == [("c1", "vic")]
    h.talk(1, "c1", "vic")
    assert task(h, 2, "t1", "chat", priority=9) == [("t1", "vic")]  # a call and a chat: allowed
    h.talk(2, "t1", "vic")
    assert task(h, 3, "t2", "chat", priority=9) == []
    assert task(h, 4, "c2", "voice") == []
    # the call ends: the waiting call goes first, though the chat is older and urgent
    assert offers(h.end(5, "c1")) == [("c2", "vic")]


@pytest.mark.parametrize(("voice_first", "next_offer"), [(True, "c2"), (False, "t2")])
def test_a_freed_slot_that_fits_both_goes_by_voice_first_else_by_priority(voice_first: bool, next_offer: str) -> None:
    eve = AgentProfile("eve", {"support": 5}, channels=({"voice": 1}, {"chat": 1}), voice_first=voice_first)
    h = harness(eve)
    assert task(h, 1, "t1", "chat") == [("t1", "eve")]
    h.talk(1, "t1", "eve")
    assert task(h, 2, "t2", "chat", priority=9) == []
    assert task(h, 3, "c2", "voice") == []
    assert offers(h.end(4, "t1")) == [(next_offer, "eve")]


def test_agents_without_capacity_rules_keep_one_contact_of_any_channel() -> None:
    rules = (
        RULES.split("[capacity.default]")[0] + '[queues.support]\ntargets = [{ expression = "skills.support > 0" }]\n'
    )
    h = harness(AgentProfile("old", {"support": 5}), rules=rules)
    assert task(h, 1, "t1", "chat") == [("t1", "old")]
    assert task(h, 2, "c1", "voice") == []
    h.talk(3, "t1", "old")
    assert offers(h.end(4, "t1")) == [("c1", "old")]


def test_wrap_up_holds_the_channel_slot_until_it_ends() -> None:
    rules = RULES.replace("wrap_up_s = 0", "wrap_up_s = 30")
    h = harness(AgentProfile("ann", {"support": 5}), rules=rules)
    task(h, 1, "t1", "chat")
    h.talk(2, "t1", "ann")
    h.end(3, "t1")
    assert h.router.agent_load("ann") == {"chat": 1}
    assert task(h, 4, "c1", "voice") == []  # wrapping up a chat: no call yet
    assert offers(h.send(WrapUpEnded(at=5, agent_id="ann", call_id="t1"))) == [("c1", "ann")]
    assert h.router.agent_load("ann") == {"voice": 1}


def test_swapping_rules_changes_capacities_at_once() -> None:
    h = harness(AgentProfile("ann", {"support": 5}))
    task(h, 1, "c1", "voice")
    h.talk(1, "c1", "ann")
    assert task(h, 2, "t1", "chat") == []
    more = load_rules(RULES.replace("{voice = 1, email = 2}", "{voice = 1, email = 2, chat = 1}"))
    assert offers(h.router.swap_rules(more, 3)) == [("t1", "ann")]


def test_a_transfer_to_a_named_agent_respects_their_capacity() -> None:
    h = harness(AgentProfile("ann", {"support": 5}), AgentProfile("bob", {"support": 5}))
    task(h, 1, "c1", "voice")  # ann
    h.talk(1, "c1", "ann")
    out = h.queue(2, "t1", "support", {"support": 1}, channel="chat", preferred_agent="ann", preferred_agent_s=60)
    assert offers(out) == []  # ann is on a call: a chat does not fit; it waits for her
    assert offers(h.end(3, "c1")) == [("t1", "ann")]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[capacity.default]\ncombos = []", "capacity.default.combos: must be a non-empty list"),
        ("[capacity.default]\ncombos = [{fax = 1}]", "capacity.default.combos[0].fax: unknown channel"),
        ("[capacity.teams.x]\ncombos = [{chat = 0}]", "capacity.teams.x.combos[0].chat: must be an integer 1-50"),
        ("[capacity.default]\ncombos = [{chat = 1}]\nvoice_first = 1", "capacity.default.voice_first: must be"),
        ("[capacity]\nmax = 3", "capacity.max: unknown key"),
    ],
)
def test_bad_capacity_rules_name_the_key_and_the_line(toml: str, message: str) -> None:
    with pytest.raises(RuleError) as err:
        load_rules(toml + '\n[queues.q]\ntargets = [{ expression = "true" }]\n')
    assert message in str(err.value) and "routing.toml:" in str(err.value)
    with pytest.raises(CapacityError):
        import tomllib

        parse_capacity_rules(tomllib.loads(toml)["capacity"])


UNTIL_DUE = """
[defaults]
wrap_up_s = 0
[capacity.default]
combos = [{voice = 1}, {email = 1}]
[[queues.email.targets]]
name = "in time"
expression = "skills.support > 0"
until_due = true
[[queues.email.targets]]
name = "overdue"
expression = "skills.support > 0"
priority = 9
"""


def test_a_task_past_its_due_time_moves_to_the_next_target_and_ahead_of_higher_priority() -> None:
    """`until_due`: the target ends at the task's due time (attribute due_at), so the
    next target's priority puts it ahead; a task queued already overdue escalates at
    once, and one without a due time stays at the first target."""
    h = harness(AgentProfile("ann", {"support": 5}), rules=UNTIL_DUE)
    h.send(AgentStateChanged(at=0.5, agent_id="ann", state="paused", reason="break"))
    assert h.queue(1, "vip", "email", {"support": 1}, 5, channel="email", due_at=86400.0) == []
    assert h.queue(2, "plain", "email", {"support": 1}, 0, channel="email") == []
    assert h.queue(3, "late", "email", {"support": 1}, 0, channel="email", due_at=100.0) == []
    assert h.router.next_deadline() == 100.0
    [escalated] = [d for d in h.tick(100) if isinstance(d, Escalated)]
    assert escalated.call_id == "late" and escalated.target_index == 1
    assert "target 1 'in time' ran to the task's due time; now target 2 'overdue'" in escalated.reason
    queued = h.queue(101, "older", "email", {"support": 1}, 0, channel="email", due_at=50.0)
    [old] = [d for d in queued if isinstance(d, Escalated)]
    assert old.call_id == "older" and "ran to the task's due time" in old.reason
    # the overdue ones first (priority 9), the earliest due first; then the vip's 5
    taken = []
    out = h.send(AgentStateChanged(at=200, agent_id="ann", state="available"))
    for at in (201, 203, 205):
        [(call_id, _)] = offers(out)
        taken.append(call_id)
        h.talk(at, call_id, "ann")
        out = h.end(at + 1, call_id) + h.send(WrapUpEnded(at=at + 1, call_id=call_id, agent_id="ann"))
    assert taken == ["older", "late", "vip"]


def test_until_due_must_be_a_boolean_and_lets_the_targets_after_it_be_reached() -> None:
    assert load_rules(UNTIL_DUE).queues["email"].targets[0].until_due
    with pytest.raises(RuleError, match=r"targets\[0\]\.until_due"):
        load_rules(UNTIL_DUE.replace("until_due = true", 'until_due = "yes"'))
