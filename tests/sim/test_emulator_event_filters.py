"""The emulator's AMI event filters follow Asterisk 20's manager.c (`Filter` action,
`should_send_event`): legacy regex filters with "!" excludes, advanced MatchCriteria
ones, how includes and excludes combine, and the errors Asterisk answers."""

from __future__ import annotations

import pytest

from cti.ami_codec import encode
from sim.pbx_emulator import PbxEmulator
from sim.pbx_emulator.event_filters import EventFilters, FilterError
from tests.sim.test_emulator_ami import SECRET, USER, connect, emu, ev, originate  # noqa: F401  (fixture)


def event(name: str, **headers: str) -> bytes:
    return encode([("Event", name), ("Privilege", "call,all"), *headers.items()])


NEWCHANNEL = event("Newchannel", Channel="Local/1000@inbound-00000001;2", Context="inbound")
HANGUP = event("Hangup", Channel="SIP/carrier-00000002", Cause="16")
VARSET = event("VarSet", Channel="Local/1000@inbound-00000001;2", Variable="CC_SKILL", Value="billing")


def sent(filters: EventFilters) -> list[str]:
    return [
        name
        for name, data in (("Newchannel", NEWCHANNEL), ("Hangup", HANGUP), ("VarSet", VARSET))
        if filters.allows(data)
    ]


def test_no_filter_sends_everything_and_legacy_includes_send_what_one_matches() -> None:
    f = EventFilters()
    assert sent(f) == ["Newchannel", "Hangup", "VarSet"]
    f.add("", "^Event: (Hangup|Newchannel)[^A-Za-z0-9]")
    assert sent(f) == ["Newchannel", "Hangup"]
    f.add("", "Variable: CC_")  # includes add up: any one that matches
    assert sent(f) == ["Newchannel", "Hangup", "VarSet"]


def test_legacy_excludes_alone_send_what_none_matches_and_with_includes_come_last() -> None:
    f = EventFilters()
    f.add("", "!Event: VarSet")
    assert sent(f) == ["Newchannel", "Hangup"]
    f.add("", "Channel: Local/")  # include, then exclude: Local channels but no VarSet
    assert sent(f) == ["Newchannel"]


def test_advanced_filters_by_name_header_and_method() -> None:
    f = EventFilters()
    f.add("name(Hangup)", "")
    assert sent(f) == ["Hangup"]
    g = EventFilters()
    g.add("header(Channel),method(starts_with)", "Local/")
    g.add("action(exclude),name(VarSet)", "")
    assert sent(g) == ["Newchannel"]
    h = EventFilters()
    h.add("name(Hangup),header(Cause),method(exact)", "17")
    assert sent(h) == []
    h.add("name(Hangup),header(Cause:),method(regex)", "^1[0-9]$")
    assert sent(h) == ["Hangup"]
    posix = EventFilters()
    posix.add("", "^Event: Hangup[[:cntrl:]]")  # POSIX classes read as Asterisk's regcomp does
    assert sent(posix) == ["Hangup"]


@pytest.mark.parametrize(
    ("criteria", "pattern", "answer"),
    [
        ("", "", "formatted incorrectly"),  # a legacy filter needs a pattern
        ("", "Event: (Hangup", "did not compile"),
        ("name(Hangup),method(exact)", "", "formatted incorrectly"),  # a method needs a pattern
        ("name(Hangup)", "Hangup", "formatted incorrectly"),  # method none takes no pattern
        ("colour(red)", "", "formatted incorrectly"),
        ("action(maybe),name(Hangup)", "", "formatted incorrectly"),
    ],
)
def test_filters_asterisk_refuses_are_refused_with_its_answer(criteria: str, pattern: str, answer: str) -> None:
    f = EventFilters()
    with pytest.raises(FilterError, match=answer):
        f.add(criteria, pattern)
    assert not f.active  # nothing half-added


async def test_a_session_filter_over_ami_applies_to_that_session_only(emu: PbxEmulator) -> None:  # noqa: F811
    full, hangups = await connect(emu), await connect(emu)
    try:
        resp = await hangups.action(
            "Filter", [("Operation", "Add"), ("Filter", "^Event: (Hangup|OriginateResponse)[^A-Za-z0-9]")]
        )
        assert (resp.response, resp["Message"]) == ("Success", "Success")
        bad = await hangups.action("Filter", [("Operation", "Delete"), ("Filter", "x")])
        assert (bad.response, bad["Message"]) == ("Error", "Unknown operation")
        bad = await hangups.action("Filter", [("Operation", "Add"), ("Filter", "(")])
        assert bad.response == "Error" and "did not compile" in bad["Message"]
        n = len(hangups.messages)
        await hangups.action("Originate", originate("Local/1000@inbound", "caller-phone", "wait", "PATIENCE=1"))
        await hangups.wait_for(ev("Hangup", Cause="16"), start=n)
        await full.wait_for(lambda m: len(full.events("Hangup")) == 2)
        # the call's last event received: everything sent to this session before it was too
        await hangups.wait_for(lambda m: len(hangups.events("Hangup")) == 2)
        names = {m.event for m in hangups.messages[n:] if m.event}
        assert names <= {"Hangup", "OriginateResponse"}, names
        assert full.events("Newchannel") and full.events("VarSet")  # the other session unfiltered
        assert not [a for a in emu.actions if a.get("Action") == "Filter"]  # session set-up, not a PBX order
    finally:
        await full.close()
        await hangups.close()
