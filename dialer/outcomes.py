"""Dial outcomes from what Asterisk reports (pure): the OriginateResponse `Reason`
and the dialplan's AMD result (`UserEvent: DialerAMD`, `Status:` HUMAN / MACHINE /
NOTSURE / HANGUP, as in tests/fixtures/ami-traces/outbound-*.ami).

The live dialer (dialer/live.py) feeds these into `CampaignBook.record_outcome`, the
`Pacer` and `DialerResulted` events; the simulator uses the same outcome names.
"""

from __future__ import annotations

# OriginateResponse Reason codes (Asterisk's AST_CONTROL_* values as reported by AMI)
REASON_OUTCOMES = {
    0: "failed",  # no such channel / driver failure
    1: "failed",  # hung up before ringing
    3: "no_answer",  # ring timeout
    4: "answered",  # then AMD says human or machine
    5: "busy",
    8: "congestion",
}

# How an uncertain AMD verdict is treated: as a human, so the person is connected to an
# agent (a "not sure" sent to the machine path would be a false positive, which Ofcom
# counts as a drop).
AMD_OUTCOMES = {
    "HUMAN": "human",
    "NOTSURE": "human",
    "MACHINE": "machine",
    "HANGUP": "failed",  # the callee hung up during detection
}


def outcome_from_originate(reason: int | str) -> str:
    """`answered`, `no_answer`, `busy`, `congestion` or `failed` for an OriginateResponse Reason."""
    try:
        code = int(reason)
    except (TypeError, ValueError):
        return "failed"
    return REASON_OUTCOMES.get(code, "failed")


def outcome_from_amd(status: str) -> str:
    """`human`, `machine` or `failed` for the AMD status of an answered call."""
    return AMD_OUTCOMES.get(status.strip().upper(), "human")
