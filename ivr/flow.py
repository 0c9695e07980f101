"""IVR flows as configuration: the `[ivr]` table, validated once.

A flow is a set of named nodes; each node says what to play or collect and where
to go next. Node types:

- `menu`: play a prompt, read one DTMF digit, go to the option's node; retries with an
  `invalid_prompt`, then `on_fail`.
- `collect`: read several digits (e.g. an account number) and check them against
  `min_digits`/`max_digits`/`pattern`; on success look the customer up by it when
  `lookup = "account"`.
- `self_service`: say a field of the customer's record (`field`, e.g. a balance) with
  say-digits, then go on.
- `queue`: hand the call to the router with skills, priority and language.
- `callback`: the caller keeps their place and is called back (virtual hold).
- `voicemail`, `hangup`: end of the flow.

Business hours and holidays send the caller to `closed_node` outside them.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.checks import Located

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DIGITS = set("0123456789*#")


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MenuNode(_Node):
    type: Literal["menu"]
    prompt: str
    options: dict[str, str]
    timeout_s: float = Field(5.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: str = "option-is-invalid"
    on_fail: str

    @field_validator("options")
    @classmethod
    def _digits(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len(key) != 1 or key not in DIGITS:
                raise ValueError(f"option {key!r} must be one DTMF digit (0-9, * or #)")
        if not value:
            raise ValueError("a menu needs at least one option")
        return value


class CollectNode(_Node):
    type: Literal["collect"]
    prompt: str
    min_digits: int = Field(1, ge=1)
    max_digits: int = Field(10, ge=1, le=32)
    pattern: str = ""
    timeout_s: float = Field(6.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    invalid_prompt: str = "invalid"
    lookup: Literal["account", "none"] = "none"
    store_as: str = "account_number"
    next: str
    on_fail: str

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits must be <= max_digits")
        return self


class SelfServiceNode(_Node):
    type: Literal["self_service"]
    prompt: str
    field: str
    unknown_prompt: str = "not-available"
    next: str


class QueueNode(_Node):
    type: Literal["queue"]
    queue: str
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    priority: int = Field(0, ge=0, le=9)
    language: str = ""


class CallbackNode(_Node):
    type: Literal["callback"]
    queue: str
    prompt: str = "callback-confirmed"
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)


class VoicemailNode(_Node):
    type: Literal["voicemail"]
    mailbox: str
    prompt: str = "vm-intro"


class HangupNode(_Node):
    type: Literal["hangup"]
    prompt: str = "goodbye"


Node = Annotated[
    MenuNode | CollectNode | SelfServiceNode | QueueNode | CallbackNode | VoicemailNode | HangupNode,
    Field(discriminator="type"),
]


class OpeningHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    days: list[str] = Field(default_factory=lambda: list(DAYS[:5]))
    open: time = time(8, 0)
    close: time = time(18, 0)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for day in value:
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
        return value


class IvrFlow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    start: str
    nodes: dict[str, Node]
    timezone: str = "UTC"
    hours: OpeningHours | None = None  # None: always open
    holidays: list[str] = Field(default_factory=list)  # ISO dates, local time
    closed_node: str = ""
    tier_priority: dict[str, Annotated[int, Field(ge=0, le=9)]] = Field(default_factory=lambda: {"vip": 9, "gold": 5})
    max_steps: int = Field(50, ge=1)

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        """ISO dates, as strings or TOML dates (a date that is not one would never match)."""
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        bad: list[tuple[tuple[str | int, ...], str]] = []
        for n, day in enumerate(value):
            try:
                out.append((day if type(day) is date else date.fromisoformat(day)).isoformat())
            except (TypeError, ValueError):
                bad.append(((n,), f"must be a date, YYYY-MM-DD, not {str(day)!r}"))
        if bad:
            raise Located(bad)
        return out

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _links(self) -> IvrFlow:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        names = set(self.nodes)
        if self.start not in names:
            problems.append((("start",), f"no node named {self.start!r}"))
        if self.closed_node and self.closed_node not in names:
            problems.append((("closed_node",), f"no node named {self.closed_node!r}"))
        if self.hours is not None and not self.closed_node:
            problems.append((("closed_node",), "required when hours are set"))
        for name, node in self.nodes.items():
            targets: dict[str, str] = {}
            if isinstance(node, MenuNode):
                targets = {f"options.{k}": v for k, v in node.options.items()} | {"on_fail": node.on_fail}
            elif isinstance(node, CollectNode):
                targets = {"next": node.next, "on_fail": node.on_fail}
            elif isinstance(node, SelfServiceNode):
                targets = {"next": node.next}
            for key, target in targets.items():
                if target not in names:
                    problems.append((("nodes", name, *key.split(".", 1)), f"no node named {target!r}"))
        if problems:
            raise FlowLinkError(problems)
        return self


class FlowLinkError(Located):
    """Nodes that name missing nodes; `located`: (key path under [ivr], reason) each,
    which config.loader reports at their lines."""


class IvrConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_flow(data: dict[str, Any], filename: str = "hotline.toml", prefix: str = "ivr") -> IvrFlow:
    """Validate an `[ivr]` table; errors name the file and the key path."""
    try:
        return IvrFlow.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = ".".join(
                str(p)
                for p in error["loc"]
                if not str(p).endswith("Node")
                and p not in ("menu", "collect", "self_service", "queue", "callback", "voicemail", "hangup")
            )
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            if not loc:  # cross-node checks name their own key paths
                problems.extend(f"{filename}: {prefix}.{m}" for m in message.split("; "))
                continue
            problems.append(f"{filename}: {prefix}{'.' + loc if loc else ''}: {message}")
        raise IvrConfigError(problems) from None


def validate_config_section(data: dict[str, Any], source: str, filename: str) -> list[str]:
    """Plug-in for `hotline config check` (see config.loader)."""
    try:
        parse_flow(data, filename)
    except IvrConfigError as exc:
        return exc.problems
    return []
