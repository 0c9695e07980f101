"""The configuration schema: one TOML file, validated once at start-up.

Sections later issues fill in (queues, skills, routing, ivr, campaigns, ...) are
accepted as tables here and validated by their owners (see `config.loader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

STORE_SCHEMES = ("postgresql", "postgres", "sqlite")
BUS_SCHEMES = ("redis", "rediss", "memory")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _scheme(url: str, allowed: tuple[str, ...]) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in allowed:
        raise ValueError(f"unsupported scheme {scheme!r} (expected one of: {', '.join(allowed)})")
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
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = ""
    session_secret: SecretStr = SecretStr("")


class StoreConfig(Section):
    url: SecretStr = SecretStr("sqlite:///var/hotline.sqlite3")
    pool_min: int = Field(1, ge=0)
    pool_max: int = Field(10, ge=1)

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
    agi_bind: str = "127.0.0.1:4573"
    ping_interval_s: float = Field(10.0, gt=0)
    action_timeout_s: float = Field(5.0, gt=0)
    # How the IVR's call-backs (virtual hold) reach the customer; {number} = their digits.
    callback_dial: str = "Local/{number}@customers"
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


class HotlineConfig(BaseModel):
    """The whole file. Unknown top-level sections are errors (typos are caught)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    bus: BusConfig = BusConfig()
    pbx: PbxConfig = PbxConfig()
    log: LogConfig = LogConfig()
    # Sections owned by later parts; each owner validates its table.
    queues: dict[str, Any] = Field(default_factory=dict)
    skills: dict[str, Any] = Field(default_factory=dict)
    routing: dict[str, Any] = Field(default_factory=dict)
    ivr: dict[str, Any] = Field(default_factory=dict)
    campaigns: dict[str, Any] = Field(default_factory=dict)
    agents: dict[str, Any] = Field(default_factory=dict)
    dispositions: dict[str, Any] = Field(default_factory=dict)
    pause_reasons: dict[str, Any] = Field(default_factory=dict)
    crm: dict[str, Any] = Field(default_factory=dict)
    demo: dict[str, Any] = Field(default_factory=dict)
