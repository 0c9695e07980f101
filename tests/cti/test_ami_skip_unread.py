"""Events nobody reads are dropped before their headers are split (cti/ami_codec.py
`keep_event`): the busiest of a real Asterisk, VarSet, is most of its traffic. Both
builds (the `codec` fixture, tests/cti/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

TRACE = Path(__file__).resolve().parents[1] / "fixtures" / "ami-traces" / "sip-inbound-answered.ami"


def names(codec: ModuleType, items: list[object]) -> list[str]:
    return [i.get("Event") or i.get("Response") for i in items if isinstance(i, codec.Message)]


def test_unread_events_are_dropped_and_the_rest_is_parsed_as_before(codec: ModuleType) -> None:
    data = TRACE.read_bytes()
    everything = codec.AmiParser(expect_banner=True).feed(data)
    kept = codec.AmiParser(expect_banner=True, keep_event=lambda name: name != "VarSet")
    some = kept.feed(data)
    assert kept.skipped == names(codec, everything).count("VarSet") > 40
    assert names(codec, some) == [n for n in names(codec, everything) if n != "VarSet"]
    assert [m.headers for m in some if isinstance(m, codec.Message)] == [
        m.headers for m in everything if isinstance(m, codec.Message) and m.get("Event") != "VarSet"
    ]


def test_an_event_answering_an_action_is_kept_whatever_its_name(codec: ModuleType) -> None:
    parser = codec.AmiParser(expect_banner=False, keep_event=lambda name: False)
    items = parser.feed(b"Event: Status\r\nActionID: 7\r\nChannel: PJSIP/a\r\n\r\nEvent: VarSet\r\nChannel: x\r\n\r\n")
    assert names(codec, items) == ["Status"] and parser.skipped == 1
