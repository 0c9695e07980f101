"""The chat websocket's frames: what is accepted, and what is refused with the field
named (never a traceback)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from chat.config import ChatConfig
from chat.limits import Gate
from chat.protocol import FrameError, Leave, Ping, Resume, Say, Start, Typing, parse

QUEUES = ["support", "sales"]


def p(body: object, max_text: int = 50) -> object:
    return parse(json.dumps(body), max_text=max_text, queues=QUEUES)


def test_the_frames_a_customer_sends() -> None:
    assert p({"type": "start", "name": "  Ann   O'Neil ", "email": "Ann@Example.COM"}) == Start(
        "Ann O'Neil", "ann@example.com", "support"
    )
    assert p({"type": "start", "name": "Bo", "email": "b@x.io", "queue": "sales"}) == Start("Bo", "b@x.io", "sales")
    assert p({"type": "resume", "token": "A" * 43}) == Resume("A" * 43)
    assert p({"type": "say", "text": " hi\r\nthere "}) == Say("hi\nthere")
    # HTML is text like any other: kept as typed, shown as text
    assert p({"type": "say", "text": "<img src=x onerror=alert(1)>"}) == Say("<img src=x onerror=alert(1)>")
    assert p({"type": "typing", "on": True}) == Typing(True)
    assert p({"type": "leave"}) == Leave()
    assert p({"type": "ping"}) == Ping()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "frame: must be a JSON object"),
        ([1, 2], "frame: must be a JSON object"),
        ({"type": "shout"}, "type: must be one of start, resume, say, typing, leave, ping"),
        ({"type": "say", "text": ""}, "text: must not be empty"),
        ({"type": "say", "text": "   "}, "text: must not be empty"),
        ({"type": "say", "text": 5}, "text: must be text"),
        ({"type": "say", "text": "x" * 51}, "text: at most 50 characters (this one has 51)"),
        ({"type": "say", "text": "a\x00b"}, "text: contains a NUL character"),
        ({"type": "say", "text": "a\x07b"}, "text: contains a control character"),
        ({"type": "typing", "on": "yes"}, "on: must be true or false"),
        ({"type": "start", "name": "", "email": "a@b.co"}, "name: must not be empty"),
        ({"type": "start", "name": "A" * 81, "email": "a@b.co"}, "name: at most 80 characters (this one has 81)"),
        ({"type": "start", "name": "Ann", "email": "ann"}, "email: must be an e-mail address such as ann@example.com"),
        ({"type": "start", "name": "Ann", "email": "<a@b.co>"}, "email: must be an e-mail address"),
        (
            {"type": "start", "name": "Ann", "email": "a@b.co", "queue": "billing"},
            "queue: must be one of support, sales",
        ),
        ({"type": "resume", "token": "short"}, "token: not a chat token"),
        ({"type": "resume", "token": "A" * 42 + "/"}, "token: not a chat token"),
    ],
)
def test_a_bad_frame_says_what_is_wrong(body: object, message: str) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(FrameError) as caught:
        parse(raw, max_text=50, queues=QUEUES)
    assert str(caught.value).startswith(message)
    assert caught.value.field == message.split(":")[0] or caught.value.field == ""


def test_the_connection_gate_counts_messages_and_throttles_typing() -> None:
    gate = Gate(per_minute=3)
    assert [gate.message(10.0 + i, f"m{i}") for i in range(3)] == [0.0, 0.0, 0.0]
    assert gate.message(13.0, "m3") == pytest.approx(57.0)
    assert gate.message(70.5, "m4") == 0.0  # the first left the window
    assert gate.typing(1.0) and not gate.typing(1.5) and gate.typing(2.0)


def test_the_config_checks_origins_and_queues() -> None:
    config = ChatConfig(allowed_origins=["https://WWW.Example.com", "http://localhost:8000/"])
    assert config.allowed_origins == ["https://www.example.com", "http://localhost:8000"]
    assert config.default_queue == "support"
    for bad in ("www.example.com", "https://example.com/path", "https://*.example.com", "javascript:alert(1)"):
        with pytest.raises(ValidationError, match="origin"):
            ChatConfig(allowed_origins=[bad])
    with pytest.raises(ValidationError, match="named twice"):
        ChatConfig(queues=["a", "a"])
    with pytest.raises(ValidationError):
        ChatConfig(queues=[])
