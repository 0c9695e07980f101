"""Load and validate the TOML configuration, reporting every problem at once.

Each problem is one line naming the file, the key path and the reason, e.g.
`hotline.toml: store.url: unsupported scheme 'mysql' ...`. Secret values are
never echoed: pydantic's input values are left out of the messages.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.schema import HotlineConfig

ENV_VAR = "HOTLINE_CONFIG"

# Validators for sections owned by other packages: (data, source_text, filename) -> problems.
SectionValidator = Callable[[dict[str, Any], str, str], list[str]]


class ConfigError(Exception):
    """One or more problems; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: HotlineConfig
    path: Path | None
    source: str


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _reason(error: dict[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _line_of(source: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the last key of `loc` under its table header."""
    keys = [str(p) for p in loc if not isinstance(p, int)]
    if not keys:
        return None
    lines = source.splitlines()
    table = ".".join(keys[:-1])
    leaf = keys[-1]
    in_table = table == ""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            header = stripped.strip("[]").strip()
            in_table = header == table
            if header == ".".join(keys):
                return number
            continue
        if in_table and (stripped.startswith(leaf + " ") or stripped.startswith(leaf + "=")):
            return number
        if table == "" and stripped.startswith(".".join(keys) + " "):
            return number
    return None


def section_validators() -> dict[str, SectionValidator]:
    """Owners of free-form sections plug in here (imported lazily)."""
    from ivr.flow import validate_config_section as validate_ivr

    validators: dict[str, SectionValidator] = {"ivr": validate_ivr}
    try:
        from routing import validate_config_section  # type: ignore[attr-defined]
    except ImportError:
        pass
    else:
        validators["routing"] = validate_config_section
    return validators


def parse(source: str, filename: str) -> HotlineConfig:
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{filename}: {exc}"]) from None
    problems: list[str] = []
    config: HotlineConfig | None = None
    try:
        config = HotlineConfig.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            line = _line_of(source, tuple(error["loc"]))
            where = f"{filename}:{line}" if line else filename
            problems.append(f"{where}: {_key_path(tuple(error['loc']))}: {_reason(error)}")
    for section, validate in section_validators().items():
        if isinstance(data.get(section), dict) and data[section]:
            problems.extend(validate(data[section], source, filename))
    if problems or config is None:
        raise ConfigError(problems)
    return config


def resolve_path(path: str | os.PathLike[str] | None) -> Path | None:
    if path:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else None


def load(path: str | os.PathLike[str] | None = None) -> LoadedConfig:
    """The file given, else $HOTLINE_CONFIG, else the built-in defaults."""
    resolved = resolve_path(path)
    if resolved is None:
        return LoadedConfig(HotlineConfig(), None, "")
    try:
        source = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{resolved}: cannot read: {exc.strerror}"]) from None
    return LoadedConfig(parse(source, resolved.name), resolved, source)
