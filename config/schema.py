"""The configuration schema: one TOML file, validated once at start-up.

`HotlineConfig` composes the models each section's owner exports:

- server, store, bus, pbx, log: `ServerConfig` ... `LogConfig` (here);
- `[routing]`: the rule language, validated with line and column and compiled by
  `routing.rules` (`rules_from_data`); kept here as its table;
- `[ivr]`: `ivr.flow.IvrFlow`;
- `[campaigns.NAME]`: `dialer.campaign.CampaignSection` (a `CampaignConfig` and the
  live dialer's `LiveKeys`);
- `[crm]`: `agents.crm.CrmConfig`;
- `[mail]`: `mail.config.MailConfig`;
- `[chat]`: `chat.config.ChatConfig` (the customer chat widget);
- `[queues.NAME]`, `[skills.NAME]`, `[pause_reasons.NAME]`, `[dispositions.NAME]`:
  `QueueRow`, `SkillRow`, `PauseCodeRow`, `DispositionRow` (here: the file's form of
  `web.settings`' admin rows, plain dicts at run time; a test holds the two together).

Every model forbids unknown keys and non-finite numbers. `config.loader` parses the
file, validates it once and reports every problem as `FILE:LINE: key.path: reason`;
an owner's validator that finds several problems below its field raises
`config.checks.Located` so that each is reported at its own line.
Validation context (`LoadContext`, passed by the loader) lets sections resolve paths
in the file relative to the file and check that they can be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from agents.crm import CrmConfig
from chat.config import ChatConfig
from config.checks import Located, check_port
from config.monitor import MonitorConfig
from config.recording import RecordingConfig
from config.webhooks import WebhooksConfig
from dialer.campaign import CallingWindow, CampaignSection
from ivr.flow import IvrFlow
from mail.config import MailConfig

STORE_SCHEMES = ("postgresql", "postgres", "sqlite")
BUS_SCHEMES = ("redis", "rediss", "memory")


# Names of admin rows (queues, skills, pause codes, dispositions): as web.settings has them.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RowName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What validation may know about the file (pydantic validation context).

    `base_dir`: the directory paths in the file are relative to; `check_files`: paths
    must name readable files (start-up and `hotline config check`)."""

    base_dir: Path
    check_files: bool = True


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _scheme(url: str, allowed: tuple[str, ...]) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in allowed:
        raise ValueError(f"unsupported scheme {scheme!r} (expected one of: {', '.join(allowed)})")
    check_port(url)
    return url


def redact_url(url: str) -> str:
    """The URL without its password, safe for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


class ServerConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # a port to bind: 0 takes any free one (tests)
    public_url: str = ""
    session_secret: SecretStr = SecretStr("")
    session_idle_s: float = Field(2 * 3600.0, gt=0)  # signed out after this long without a request
    session_max_s: float = Field(12 * 3600.0, gt=0)  # and this long after the login, whatever the activity
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"  # cti/event_loop.py
    gc_pace: bool = True  # cti/gc_pacer.py: long-lived objects frozen out of the collector's walks
    gc_full_at: str = Field("04:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # the daily full collection (HH:MM)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return check_port(value)


class StoreConfig(Section):
    url: SecretStr = SecretStr("sqlite:///var/hotline.sqlite3")
    pool_min: int = Field(1, ge=0)
    pool_max: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _pool(self) -> StoreConfig:
        if self.pool_min > self.pool_max:
            raise Located([(("pool_min",), f"must be <= pool_max ({self.pool_max})")])
        return self

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        _scheme(value.get_secret_value(), STORE_SCHEMES)
        return value

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.get_secret_value().startswith("sqlite") else "postgresql"

    def sqlite_path(self) -> Path:
        """`sqlite:///relative/path` or `sqlite:////absolute/path`."""
        raw = self.url.get_secret_value().removeprefix("sqlite://")
        return Path(raw[1:] if raw.startswith("/") else raw)


class BusConfig(Section):
    url: SecretStr = SecretStr("memory://")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        _scheme(value.get_secret_value(), BUS_SCHEMES)
        return value

    @property
    def kind(self) -> str:
        return "memory" if self.url.get_secret_value().startswith("memory") else "redis"


# A PBX's name: in call ids (`NAME:Linkedid`, cti/pbxs.py) and channel names, so no ':'.
PBX_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
# Keys of the whole live loop, not of one PBX: read from the first [[pbx]] entry only.
PROCESS_WIDE_PBX_KEYS = (
    "enabled",
    "callback_dial",
    "callback_attempts",
    "callback_retry_s",
    "callback_poll_s",
    "callback_agent_s",
    "callback_variables",
    "manual_dial_window",
    "command_ttl_s",
    "lease_s",
    "standing_lines",
    "line_variables",
)


class PbxConfig(Section):
    """One Asterisk (`[pbx]`, or each `[[pbx]]` entry: several Asterisks, one router).

    `name` keys its calls (cti/pbxs.py); agents name their PBX (`User.pbx`, default the
    first). `trunk_dial` is how this PBX dials an agent of another PBX ({exten}: the
    agent's extension, {pbx}: that PBX's name), used when `cross_pbx = "trunk"`; with
    "same_pbx" (the default) this PBX's calls go to its own agents only."""

    name: Annotated[str, StringConstraints(pattern=PBX_NAME_PATTERN)] = "default"
    enabled: bool = False
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "hotline"
    ami_secret: SecretStr = SecretStr("")
    agi_bind: str = "127.0.0.1:4573"  # HOST:PORT to bind; port 0 takes any free one (tests)
    ping_interval_s: float = Field(10.0, gt=0)
    action_timeout_s: float = Field(5.0, gt=0)
    # Ask Asterisk for the events Hotline reads only (an AMI `Filter` at login, which
    # needs the AMI user's `system` write permission; refused, every event is sent).
    ami_event_filter: bool = True
    # How the IVR's call-backs (virtual hold) reach the customer; {number} = their digits.
    callback_dial: str = "Local/{number}@customers"
    # A call-back the customer does not answer is dialled again `callback_retry_s` later,
    # `callback_attempts` dials in all (cti/live_callbacks.py).
    callback_attempts: int = Field(3, ge=1, le=20)
    callback_retry_s: float = Field(600.0, gt=0, allow_inf_nan=False)
    callback_poll_s: float = Field(5.0, gt=0, allow_inf_nan=False)  # how often due call-backs are looked for
    # A call-back an agent promised (scheduled in their wrap-up) is offered to that agent
    # alone for this long, then to its queue (0: to the queue at once, unless the routing
    # rules have a preferred_agent target).
    callback_agent_s: float = Field(120.0, ge=0, allow_inf_nan=False)
    # Originate variables for each call-back's dial (e.g. an account code for the CDRs).
    callback_variables: dict[str, str] = Field(default_factory=dict)
    # An agent command sent while the live loop is down (kept by the web, cti/live_commands.py)
    # is applied when the loop is back if it waited at most this long; an older one is
    # refused ("expired": the agent sends it again, knowing what happened since).
    command_ttl_s: float = Field(60.0, gt=0, le=86_400, allow_inf_nan=False)
    # Of several `hotline serve` sharing the store, the holder of the leader lease runs
    # the live loop (cti/leadership.py); a leader that cannot renew it for this long
    # stops acting, and a standby takes over (it claims every third of it).
    lease_s: float = Field(3.0, ge=0.3, le=60, allow_inf_nan=False)
    # Standing agent lines (docs/asterisk.md): each logged-in agent's phone is kept in its
    # own conference and callers join it with no ring. "off"; "campaigns": agents with
    # the skill of an enabled campaign; "all": every agent. Needs the dialplan additions.
    standing_lines: Literal["off", "campaigns", "all"] = "off"
    # Originate variables for the line call (e.g. what a test phone needs to stay up).
    line_variables: dict[str, str] = Field(default_factory=dict)
    # Several Asterisks (docs/deployment.md): how this PBX reaches another PBX's agent
    # (e.g. "PJSIP/{exten}@{pbx}": a trunk endpoint per PBX), and whether its calls may.
    trunk_dial: str = ""
    cross_pbx: Literal["same_pbx", "trunk"] = "same_pbx"

    @field_validator("trunk_dial")
    @classmethod
    def _check_trunk_dial(cls, value: str) -> str:
        if value and ("{exten}" not in value or "/" not in value):
            raise ValueError("must be a dial string with {exten}, e.g. 'PJSIP/{exten}@{pbx}'")
        try:
            value.format(exten="1", pbx="p")
        except (KeyError, IndexError, ValueError):
            raise ValueError("only {exten} and {pbx} may be filled in") from None
        return value

    @model_validator(mode="after")
    def _trunk_needed(self) -> PbxConfig:
        if self.cross_pbx == "trunk" and not self.trunk_dial:
            raise Located([(("trunk_dial",), 'required with cross_pbx = "trunk"')])
        return self

    # An agent's manual dial (the desktop) goes out only inside this window, the number's
    # local time (dialer/manual.py), and never to a number on the do-not-call list.
    manual_dial_window: CallingWindow = CallingWindow()

    @field_validator("callback_dial")
    @classmethod
    def _check_dial(cls, value: str) -> str:
        if "{number}" not in value or "/" not in value:
            raise ValueError("must be a dial string with {number}, e.g. 'PJSIP/{number}@trunk'")
        return value

    @field_validator("agi_bind")
    @classmethod
    def _check_bind(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:4573")
        return value


def _entry_problems(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """One [[pbx]] entry's validation errors as (key path, reason), as the loader words them."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
        located = getattr(error.get("ctx", {}).get("error"), "located", None)
        if isinstance(located, list) and located:
            out += [((*prefix, *loc, *sub), str(reason)) for sub, reason in located]
            continue
        kind = error["type"]
        reason = {"extra_forbidden": "unknown key", "missing": "required"}.get(kind, "")
        if kind == "finite_number":
            reason = "must be a finite number (not inf or nan)"
        out.append(((*prefix, *loc), reason or str(error["msg"]).removeprefix("Value error, ")))
    return out


def pbx_entries(raw: list[Any], context: Any) -> tuple[PbxConfig, ...]:
    """`[[pbx]]` entries, validated; Located lists every problem at its key."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    entries: list[PbxConfig] = []
    if not raw:
        raise Located([(("pbx",), "needs at least one [[pbx]] entry")])
    seen: dict[str, int] = {}
    agi: dict[str, int] = {}
    ami: dict[tuple[str, int], int] = {}
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            problems.append(((n,), "must be a table [[pbx]]"))
            continue
        if "name" not in entry:
            problems.append(((n, "name"), "required (each [[pbx]] names its PBX)"))
        if n > 0:
            problems += [
                ((n, key), "set it on the first [[pbx]] only (the whole live loop's)")
                for key in PROCESS_WIDE_PBX_KEYS
                if key in entry
            ]
        try:
            pbx = PbxConfig.model_validate(entry, context=context)
        except ValidationError as exc:
            problems += _entry_problems(exc, (n,))
            continue
        entries.append(pbx)
        if pbx.name in seen:
            problems.append(((n, "name"), f"{pbx.name!r} is pbx[{seen[pbx.name]}]'s name already"))
        seen.setdefault(pbx.name, n)
        if not pbx.agi_bind.endswith(":0"):
            if pbx.agi_bind in agi:
                problems.append(((n, "agi_bind"), f"pbx[{agi[pbx.agi_bind]}] binds {pbx.agi_bind} already"))
            agi.setdefault(pbx.agi_bind, n)
        where = (pbx.ami_host, pbx.ami_port)
        if where in ami:
            key = "ami_host" if "ami_host" in entry and "ami_port" not in entry else "ami_port"
            problems.append(((n, key), f"pbx[{ami[where]}] uses the AMI at {where[0]}:{where[1]} already"))
        ami.setdefault(where, n)
    if problems:
        raise Located([(("pbx", *path), reason) for path, reason in problems])
    first = entries[0]
    # the process-wide keys of the first entry hold for all (a later one may not set them)
    wide = {key: getattr(first, key) for key in PROCESS_WIDE_PBX_KEYS}
    return (first, *(pbx.model_copy(update=wide) for pbx in entries[1:]))


class LogConfig(Section):
    level: str = "info"
    format: str = "text"  # text | json

    @field_validator("format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("must be 'text' or 'json'")
        return value

    @field_validator("level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()


# ---------------------------------------------------------------- admin rows
# The file's form of the admin sections (web/settings.py normalises and versions them;
# the admin UI edits them). Plain dicts at run time: web.settings reads them as such.

_ROW_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)
Share = Annotated[float, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(ge=0)]


@with_config(_ROW_CONFIG)
class QueueRow(TypedDict):
    label: NotRequired[str]
    sl_target: NotRequired[Share]
    sl_threshold_s: NotRequired[Seconds]
    abandon_target: NotRequired[Share]
    asa_target_s: NotRequired[Seconds]
    aht_target_s: NotRequired[Seconds]
    occupancy_target: NotRequired[Share]
    transfer_target: NotRequired[Share]


@with_config(_ROW_CONFIG)
class SkillRow(TypedDict):
    label: NotRequired[str]


@with_config(_ROW_CONFIG)
class PauseCodeRow(TypedDict):
    label: NotRequired[str]
    paid: NotRequired[bool]


@with_config(_ROW_CONFIG)
class DispositionRow(TypedDict):
    label: NotRequired[str]
    requires_notes: NotRequired[bool]
    schedules_callback: NotRequired[bool]


@with_config(_ROW_CONFIG)
class AlertRuleRow(TypedDict):
    """A wallboard alert rule (`[alert_rules.NAME]`); web/settings.py checks the fields
    together (reports/alerts.py says what each kind watches)."""

    kind: Literal["service_level", "waiting", "abandon_rate", "agent_state"]
    scope: NotRequired[str]
    threshold: NotRequired[float]
    window_min: NotRequired[int]
    state: NotRequired[str]


class HotlineConfig(BaseModel):
    """The whole file. Unknown sections and keys are errors (typos are caught)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    bus: BusConfig = BusConfig()
    pbx: PbxConfig = PbxConfig()
    log: LogConfig = LogConfig()
    # The rule language (expressions, targets, overflow graph): routing.rules validates
    # it with line and column and compiles it (`rules_from_data`); kept as its table.
    routing: dict[str, Any] = Field(default_factory=dict)
    ivr: IvrFlow | None = None
    campaigns: dict[str, CampaignSection] = Field(default_factory=dict)
    crm: CrmConfig | None = None
    recording: RecordingConfig = RecordingConfig()
    monitor: MonitorConfig = MonitorConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    mail: MailConfig = MailConfig()  # e-mail in and out (mail/config.py)
    chat: ChatConfig = ChatConfig()
    queues: dict[RowName, QueueRow] = Field(default_factory=dict)
    skills: dict[RowName, SkillRow] = Field(default_factory=dict)
    pause_reasons: dict[RowName, PauseCodeRow] = Field(default_factory=dict)
    dispositions: dict[RowName, DispositionRow] = Field(default_factory=dict)
    alert_rules: dict[RowName, AlertRuleRow] = Field(default_factory=dict)  # (built-in rules when none)

    _pbxs: tuple[PbxConfig, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _several_pbxs(
        cls, data: Any, handler: ModelWrapValidatorHandler[HotlineConfig], info: ValidationInfo
    ) -> HotlineConfig:
        """`[[pbx]]` (several Asterisks) or `[pbx]` (one, named "default"): `pbx` is the
        first, `pbxs` all of them."""
        entries: tuple[PbxConfig, ...] | None = None
        if isinstance(data, dict) and isinstance(data.get("pbx"), list):
            entries = pbx_entries(data["pbx"], info.context)
            data = {**data, "pbx": entries[0]}
        model = handler(data)
        model._pbxs = entries if entries is not None else (model.pbx,)
        return model

    @property
    def pbxs(self) -> tuple[PbxConfig, ...]:
        """Every PBX, the first (`pbx`) first."""
        return self._pbxs or (self.pbx,)

    @field_validator("alert_rules")
    @classmethod
    def _alert_rules(cls, value: dict[str, AlertRuleRow]) -> dict[str, AlertRuleRow]:
        """The fields of a rule checked together (as the admin page's are)."""
        from reports.alerts import rule_problems

        problems = [f"{name}.{f}: {why}" for name, row in value.items() for f, why in rule_problems(row).items()]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("campaigns", mode="before")
    @classmethod
    def _campaign_ids(cls, value: object) -> object:
        """A campaign's id is its table's name unless the table says otherwise."""
        if isinstance(value, dict):
            return {name: {"id": name, **table} if isinstance(table, dict) else table for name, table in value.items()}
        return value
