"""Events nobody reads are dropped before their headers are split (cti/ami_codec.py
`keep_event`): the busiest of a real Asterisk, VarSet, is most of its traffic."""

from __future__ import annotations

from pathlib import Path

from cti.ami_codec import AmiParser, Message

TRACE = Path(__file__).resolve().parents[1] / "fixtures" / "ami-traces" / "sip-inbound-answered.ami"


def names(items: list[object]) -> list[str]:
    return [i.get("Event") or i.get("Response") for i in items if isinstance(i, Message)]


def test_unread_events_are_dropped_and_the_rest_is_parsed_as_before() -> None:
    data = TRACE.read_bytes()
    everything = AmiParser(expect_banner=True).feed(data)
    kept = AmiParser(expect_banner=True, keep_event=lambda name: name != "VarSet")
    some = kept.feed(data)
    assert kept.skipped == names(everything).count("VarSet") > 40
    assert names(some) == [n for n in names(everything) if n != "VarSet"]
    assert [m.headers for m in some if isinstance(m, Message)] == [
        m.headers for m in everything if isinstance(m, Message) and m.get("Event") != "VarSet"
    ]


def test_an_event_answering_an_action_is_kept_whatever_its_name() -> None:
    parser = AmiParser(expect_banner=False, keep_event=lambda name: False)
    items = parser.feed(b"Event: Status\r\nActionID: 7\r\nChannel: PJSIP/a\r\n\r\nEvent: VarSet\r\nChannel: x\r\n\r\n")
    assert names(items) == ["Status"] and parser.skipped == 1
