"""Dial outcomes read from the recorded Asterisk traces (tests/fixtures/ami-traces/outbound-*)."""

import pytest

from config.paths import ami_traces_dir
from cti.ami_codec import messages
from dialer.outcomes import outcome_from_amd, outcome_from_originate

TRACES = ami_traces_dir()


def _outcome(trace: str) -> str:
    data = (TRACES / trace).read_bytes()
    outcome = ""
    for msg in messages(data):
        if msg.event == "OriginateResponse":
            outcome = outcome_from_originate(msg.get("Reason"))
        elif msg.event == "UserEvent" and msg.get("UserEvent") == "DialerAMD":
            assert outcome == "answered"
            outcome = outcome_from_amd(msg.get("Status"))
    return outcome


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        ("outbound-answered.ami", "human"),
        ("outbound-busy.ami", "busy"),
        ("outbound-noanswer.ami", "no_answer"),
        ("outbound-congestion.ami", "congestion"),
        ("sip-outbound-answered.ami", "human"),
        ("sip-outbound-busy.ami", "busy"),
        ("sip-outbound-noanswer.ami", "no_answer"),
        ("sip-outbound-congestion.ami", "congestion"),
    ],
)
def test_outcomes_of_the_recorded_originates(trace: str, expected: str) -> None:
    if not (TRACES / trace).exists():
        pytest.skip(f"{trace} not present")
    assert _outcome(trace) == expected


def test_amd_and_reason_edge_cases() -> None:
    assert outcome_from_amd("MACHINE") == "machine"
    assert outcome_from_amd("notsure") == "human"  # uncertain: connect rather than risk a false positive
    assert outcome_from_amd("HANGUP") == "failed"
    assert outcome_from_originate("garbage") == "failed"
    assert outcome_from_originate(0) == "failed"
    assert outcome_from_originate("4") == "answered"
