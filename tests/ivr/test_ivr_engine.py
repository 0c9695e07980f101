"""The IVR engine walks configured flows exactly; the driver only runs its commands."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr.engine import Collect, IvrOutcome, Lookup, Play, SayDigits, Stepped, run
from ivr.flow import IvrConfigError, parse_flow

EXAMPLE = Path(__file__).parents[2] / "config" / "examples" / "ivr.toml"
FLOW = parse_flow(tomllib.loads(EXAMPLE.read_text())["ivr"], "ivr.toml")
NY = ZoneInfo("America/New_York")
TUESDAY_NOON = datetime(2026, 11, 24, 12, 0, tzinfo=NY).timestamp()

ALICE = {
    "id": "C1",
    "tier": "vip",
    "account_number": "10000001",
    "attributes": {"balance_cents": 12345, "language": "es"},
}
BOB = {"id": "C2", "tier": "standard", "account_number": "10000002", "attributes": {}}


def drive(gen, digits: list[str], phone_book: dict[str, Any], accounts: dict[str, Any]):
    """Answer the engine's commands like a caller pressing `digits` in order."""
    transcript: list[Any] = []
    keys = iter(digits)
    result: Any = None
    try:
        command = next(gen)
        while True:
            transcript.append(command)
            if isinstance(command, Collect):
                result = next(keys, "")
            elif isinstance(command, Lookup):
                result = (phone_book if command.by == "phone" else accounts).get(command.value)
            else:
                result = None
            command = gen.send(result)
    except StopIteration as stop:
        return stop.value, transcript


def test_known_vip_caller_choosing_sales_gets_vip_priority_and_language() -> None:
    outcome, transcript = drive(run(FLOW, "+14155550100", TUESDAY_NOON), ["4"], {"+14155550100": ALICE}, {})
    assert outcome == IvrOutcome(
        action="queue",
        queue="sales",
        skills={"sales": 1},
        priority=9,
        language="es",
        customer_id="C1",
        attributes={"ivr_path": ["main", "sales"], "ivr_choices": ["4"], "tier": "vip"},
    )
    assert transcript[0] == Lookup("phone", "+14155550100")
    assert Stepped("main", "4") in transcript


def test_unknown_caller_identified_by_account_number() -> None:
    outcome, transcript = drive(run(FLOW, "5559999", TUESDAY_NOON), ["1", "10000002"], {}, {"10000002": BOB})
    assert (outcome.queue, outcome.customer_id, outcome.priority) == ("billing", "C2", 2)
    assert outcome.attributes["account_number"] == "10000002"
    assert Lookup("account", "10000002") in transcript


def test_wrong_account_retries_then_falls_through() -> None:
    outcome, transcript = drive(run(FLOW, "", TUESDAY_NOON), ["1", "123", "99999999", "88888888"], {}, {})
    assert outcome.queue == "billing" and outcome.customer_id == ""
    assert transcript.count(Play("invalid")) == 2
    assert Stepped("account", "failed") in transcript


def test_menu_retries_on_invalid_and_timeout_then_on_fail() -> None:
    outcome, transcript = drive(run(FLOW, "", TUESDAY_NOON), ["7", "", "8"], {}, {})
    assert outcome.queue == "support"
    assert transcript.count(Play("option-is-invalid")) == 2
    assert Stepped("main", "failed") in transcript


def test_self_service_balance_says_digits_and_returns_to_menu() -> None:
    outcome, transcript = drive(run(FLOW, "", TUESDAY_NOON), ["3", "10000001", "2"], {}, {"10000001": ALICE})
    assert SayDigits("12345") in transcript
    assert outcome.queue == "support" and outcome.customer_id == "C1" and outcome.priority == 9
    assert outcome.attributes["ivr_path"] == ["main", "balance_account", "balance", "main", "support"]


def test_callback_request_keeps_the_queue() -> None:
    outcome, _ = drive(run(FLOW, "", TUESDAY_NOON), ["9"], {}, {})
    assert (outcome.action, outcome.queue, outcome.attributes["callback"]) == ("callback", "support", True)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 24, 21, 0, tzinfo=NY),  # Tuesday after closing
        datetime(2026, 11, 28, 12, 0, tzinfo=NY),  # Saturday
        datetime(2026, 12, 25, 12, 0, tzinfo=NY),  # holiday (a Friday)
    ],
)
def test_outside_business_hours_goes_to_voicemail(when: datetime) -> None:
    outcome, transcript = drive(run(FLOW, "", when.timestamp()), [], {}, {})
    assert (outcome.action, outcome.mailbox) == ("voicemail", "support")
    assert transcript[0] == Stepped("hours", "closed")


def test_loops_are_bounded() -> None:
    flow = parse_flow(
        {
            "start": "a",
            "max_steps": 5,
            "nodes": {"a": {"type": "self_service", "prompt": "p", "field": "x", "next": "a"}},
        }
    )
    outcome, transcript = drive(run(flow, "", 0), [], {}, {})
    assert outcome.action == "hangup" and Stepped("a", "loop-limit") in transcript


def test_flow_validation_names_key_paths() -> None:
    with pytest.raises(IvrConfigError) as err:
        parse_flow(
            {
                "start": "main",
                "hours": {"days": ["funday"]},
                "nodes": {
                    "main": {"type": "menu", "prompt": "p", "options": {"1": "nowhere"}, "on_fail": "main"},
                    "acct": {
                        "type": "collect",
                        "prompt": "p",
                        "min_digits": 9,
                        "max_digits": 4,
                        "next": "main",
                        "on_fail": "main",
                        "pattern": "(",
                    },
                },
            },
            "hotline.toml",
        )
    problems = "\n".join(err.value.problems)
    assert "hotline.toml: ivr.hours.days: Value error" not in problems
    assert "ivr.hours.days: unknown day 'funday'" in problems
    assert "ivr.nodes.acct.pattern: invalid regular expression" in problems
