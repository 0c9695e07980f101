"""The chat websocket's frames (JSON text), parsed and checked with no I/O.

Customer -> Hotline:

| frame                                             | when                                   |
|---------------------------------------------------|----------------------------------------|
| `{"type": "start", "name", "email", "queue"?}`    | the form is sent: a new conversation   |
| `{"type": "resume", "token"}`                     | a reloaded page picks its chat up      |
| `{"type": "say", "text"}`                         | a message                              |
| `{"type": "typing", "on": bool}`                  | the customer types / stops             |
| `{"type": "leave"}`                               | the customer ends the chat             |
| `{"type": "ping"}`                                | keep-alive                             |

Hotline -> customer: `started {token, chat}`, `resumed {chat, messages}`,
`status {state, position, wait_s}`, `assigned {agent}`, `message {seq, direction,
author, text, at}`, `typing {on}`, `ended {reason, message}`, `pong`, and
`error {message, field?, retry_after?}` (the connection stays open unless it says
`fatal`). Every text is plain text: the widget shows it with `textContent`, never as
HTML, and so does the desktop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from store.text import text_problem

MAX_FRAME_BYTES = 16 * 1024  # a larger frame closes the socket (1009), before it is parsed
NAME_MAX = 80
EMAIL_MAX = 254
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"'.]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


class FrameError(ValueError):
    """A frame Hotline refuses: `message` says what and which field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Start:
    name: str
    email: str
    queue: str


@dataclass(frozen=True, slots=True)
class Resume:
    token: str


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Typing:
    on: bool


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Frame = Start | Resume | Say | Typing | Leave | Ping


def clean_text(value: str) -> str:
    """Line ends made \\n, ends stripped. (Control characters are refused, not dropped.)"""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _text(body: dict[str, Any], field: str, limit: int, *, required: bool = True) -> str:
    value = body.get(field, "")
    if not isinstance(value, str):
        raise FrameError(f"{field}: must be text", field)
    problem = text_problem(value)
    if problem:
        raise FrameError(f"{field}: {problem}", field)
    value = clean_text(value)
    if required and not value:
        raise FrameError(f"{field}: must not be empty", field)
    if len(value) > limit:
        raise FrameError(f"{field}: at most {limit} characters (this one has {len(value)})", field)
    return value


def parse(raw: str, *, max_text: int, queues: list[str]) -> Frame:
    """The frame in `raw`, or FrameError naming what is wrong."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise FrameError("frame: must be a JSON object") from None
    if not isinstance(body, dict):
        raise FrameError("frame: must be a JSON object")
    kind = body.get("type")
    if kind == "say":
        return Say(_text(body, "text", max_text))
    if kind == "typing":
        on = body.get("on")
        if not isinstance(on, bool):
            raise FrameError("on: must be true or false", "on")
        return Typing(on)
    if kind == "ping":
        return Ping()
    if kind == "leave":
        return Leave()
    if kind == "start":
        name = " ".join(_text(body, "name", NAME_MAX).split())
        email = _text(body, "email", EMAIL_MAX).lower()
        if not _EMAIL.match(email):
            raise FrameError("email: must be an e-mail address such as ann@example.com", "email")
        queue = body.get("queue") or queues[0]
        if queue not in queues:
            raise FrameError(f"queue: must be one of {', '.join(queues)}", "queue")
        return Start(name, email, queue)
    if kind == "resume":
        token = body.get("token")
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise FrameError("token: not a chat token", "token")
        return Resume(token)
    known = "start, resume, say, typing, leave, ping"
    raise FrameError(f"type: must be one of {known}", "type")


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def error(message: str, *, field: str = "", retry_after: float | None = None, fatal: bool = False) -> str:
    body: dict[str, Any] = {"message": message}
    if field:
        body["field"] = field
    if retry_after is not None:
        body["retry_after"] = int(retry_after) + 1
    if fatal:
        body["fatal"] = True
    return frame("error", **body)
