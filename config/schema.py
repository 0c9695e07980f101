"""The configuration schema: one TOML file, validated once at start-up.

`HotlineConfig` composes the models each section's owner exports:

- server, store, bus, pbx, log: `ServerConfig` ... `LogConfig` (here);
- `[routing]`: the rule language, validated with line and column and compiled by
  `routing.rules` (`rules_from_data`); kept here as its table;
- `[ivr]`: `ivr.flow.IvrFlow`;
- `[campaigns.NAME]`: `dialer.campaign.CampaignSection` (a `CampaignConfig` and the
  live dialer's `LiveKeys`);
- `[crm]`: `agents.crm.CrmConfig`;
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
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from agents.crm import CrmConfig
from chat.config import ChatConfig
from config.checks import Located, check_port
from config.recording import RecordingConfig
from dialer.campaign import CampaignSection
from ivr.flow import IvrFlow

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


class PbxConfig(Section):
    enabled: bool = False
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "hotline"
    ami_secret: SecretStr = SecretStr("")
    agi_bind: str = "127.0.0.1:4573"  # HOST:PORT to bind; port 0 takes any free one (tests)
    ping_interval_s: float = Field(10.0, gt=0)
    action_timeout_s: float = Field(5.0, gt=0)
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
    chat: ChatConfig = ChatConfig()
    queues: dict[RowName, QueueRow] = Field(default_factory=dict)
    skills: dict[RowName, SkillRow] = Field(default_factory=dict)
    pause_reasons: dict[RowName, PauseCodeRow] = Field(default_factory=dict)
    dispositions: dict[RowName, DispositionRow] = Field(default_factory=dict)

    @field_validator("campaigns", mode="before")
    @classmethod
    def _campaign_ids(cls, value: object) -> object:
        """A campaign's id is its table's name unless the table says otherwise."""
        if isinstance(value, dict):
            return {name: {"id": name, **table} if isinstance(table, dict) else table for name, table in value.items()}
        return value
