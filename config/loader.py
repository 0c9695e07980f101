"""Load and validate the TOML configuration once, reporting every problem at once.

Each problem is one line, `FILE:LINE: key.path: reason`, e.g.
`hotline.toml:12: store.url: unsupported scheme 'mysql' ...`: TOML syntax errors,
invalid UTF-8 and absurd nesting included (never a traceback). Secret values are
never echoed: pydantic's input values are left out of the messages. Lines come from
`routing.tomlpos.Locator`, the scanner the routing rules use.

`hotline config check` also recognises the other TOML files the project reads (see
`detect_kind`): standalone routing rules, a standalone campaign and simulator
scenarios, each checked by its owner and reported in the same form.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config.schema import HotlineConfig, LoadContext
from routing.tomlpos import Locator, PathT, render_path

ENV_VAR = "HOTLINE_CONFIG"
MAX_DEPTH = 64  # nested arrays / inline tables; tomllib recurses on each level

Kind = Literal["hotline", "routing", "campaign", "scenario"]
KINDS: tuple[Kind, ...] = ("hotline", "routing", "campaign", "scenario")
# Top-level keys only a standalone routing rules file has (config/examples/routing.toml).
_ROUTING_ONLY_KEYS = ("version", "default_queue", "defaults", "rona")
# Sections only the main configuration has (queues, skills, pause_reasons: both kinds).
_HOTLINE_ONLY_KEYS = tuple(sorted(set(HotlineConfig.model_fields) - {"queues", "skills", "pause_reasons"}))
# What `hotline config check` says a file is.
KIND_TITLES: dict[Kind, str] = {
    "hotline": "the main configuration, as `hotline serve --config` reads it",
    "routing": "routing rules, as a scenario's `rules` and `hotline sim --rules` read them",
    "campaign": "a standalone campaign, as `hotline sim dialer --campaign` reads it",
    "scenario": "a simulator scenario, as `hotline sim` reads it",
}


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


# ---------------------------------------------------------------- problems


class _Report:
    """Problems of one file, each placed at its line."""

    def __init__(self, filename: str, source: str) -> None:
        self.filename = filename
        self.source = source
        self._locator: Locator | None = None
        self._found: list[tuple[int, str]] = []

    @property
    def locator(self) -> Locator:
        if self._locator is None:
            self._locator = Locator(self.source)
        return self._locator

    def line_of(self, path: PathT, *, at_key: bool = False) -> int | None:
        path = tuple(path)
        found = self.locator.find(path)
        if found is not None and found[0] == path:
            return found[1].key_line if at_key else found[1].value_line
        # a table only named through its sub-tables ([agents.a1] for `agents`)
        below = [spot.key_line for where, spot in self.locator.spots.items() if where[: len(path)] == path]
        if below:
            return min(below)
        return found[1].key_line if found is not None else None

    def add(self, line: int | None, key_path: str, reason: str) -> None:
        where = f"{self.filename}:{line}" if line else self.filename
        self._found.append((line or 0, f"{where}: {key_path or '(top level)'}: {reason}"))

    @property
    def problems(self) -> list[str]:
        """In the order of the file's lines (a stable sort: one line's problems keep theirs)."""
        return [text for _, text in sorted(self._found, key=lambda found: found[0])]

    def at(self, path: PathT, reason: str, *, at_key: bool = False) -> None:
        # a key's own problem (unknown, bad value) is on its line; a missing key's on its table's
        self.add(self.line_of(path, at_key=at_key) or (1 if self.source else None), render_path(path), reason)

    def validation_error(self, exc: ValidationError, data: Any, prefix: PathT = ()) -> None:
        for error in exc.errors(include_input=False, include_url=False):
            path = prefix + _data_path(data, error["loc"])
            located = getattr(error.get("ctx", {}).get("error"), "located", None)
            if isinstance(located, list) and located:
                for sub, reason in located:
                    self.at((*path, *sub), str(reason))
                continue
            if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
                # a tagged union (IVR nodes): the problem is the tag key's
                ctx = error.get("ctx", {})
                tag = str(ctx.get("discriminator", "type")).strip("'")
                if error["type"] == "union_tag_not_found":
                    self.at((*path, tag), "required")
                else:
                    self.at((*path, tag), f"unknown {tag} {ctx.get('tag')!r} (one of: {ctx.get('expected_tags')})")
                continue
            self.at(path, _reason(error), at_key=error["type"] == "extra_forbidden")


def _data_path(data: Any, loc: Sequence[str | int]) -> PathT:
    """pydantic's location as the file's key path: the names pydantic adds that are
    not keys of the data go (a tagged union's tag, e.g. `menu` for an IVR node whose
    type is menu; `function-after[...]`; `[key]` of a dict key's own error)."""
    out: list[str | int] = []
    cur = data
    tag_skipped: Any = None  # the mapping whose union tag was skipped
    for n, part in enumerate(loc):
        if (
            isinstance(cur, Mapping)
            and cur is not tag_skipped
            and n + 1 < len(loc)
            and isinstance(part, str)
            and cur.get("type") == part
        ):
            tag_skipped = cur  # a tag comes first, before the member's own keys
            continue
        if isinstance(cur, Mapping) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, Mapping) and isinstance(part, str) and not _is_tag(part):
            out.append(part)  # a missing key
            cur = None
    return tuple(out)


def _is_tag(part: str) -> bool:
    return part == "[key]" or "[" in part


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required"
    if error["type"] == "finite_number":
        return "must be a finite number (not inf or nan)"
    return str(error["msg"]).removeprefix("Value error, ")


# ---------------------------------------------------------------- reading TOML


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _decode(raw: bytes, report: _Report) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        report.add(line, "(file)", f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column})")
        return None


def too_deep(text: str) -> tuple[int, int] | None:
    """(line, depth) where arrays / inline tables nest deeper than MAX_DEPTH, or one
    dotted key or table header has more parts, found without recursion (tomllib
    would exhaust the stack on thousands of levels, and takes quadratic time over
    thousands of dotted parts)."""
    depth, dots, line, i, n = 0, 0, 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            dots = 0
        elif ch == "#":
            k = text.find("\n", i)
            i = n if k < 0 else k
            continue
        elif ch in "\"'":
            quote = text[i : i + 3] if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\" and ch == '"':
                    j += 1
                elif text[j] == "\n" and len(quote) == 1:
                    break
                j += 1
            line += text.count("\n", i, j)
            i = j + len(quote)
            continue
        elif ch in "[{":
            depth += 1
            dots = 0
            if depth > MAX_DEPTH:
                return line, depth
        elif ch in "]}":
            depth = max(0, depth - 1)
            dots = 0
        elif ch in "=,":
            dots = 0
        elif ch == ".":  # a dotted key's parts (a float has one dot)
            dots += 1
            if dots + 1 > MAX_DEPTH:
                return line, dots + 1
        i += 1
    return None


def _too_deep_path(data: Any) -> PathT | None:
    """The key path of a value nested deeper than MAX_DEPTH, found without recursion
    (dotted keys and table headers nest too, and tomllib reads those without recursing)."""
    stack: list[tuple[Any, PathT]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path
        if isinstance(value, dict):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*path, n)) for n, v in enumerate(value))
    return None


def _parse_toml(source: str, report: _Report) -> dict[str, Any] | None:
    deep = too_deep(source)
    if deep is not None:
        report.add(deep[0], "(toml)", f"nested more than {MAX_DEPTH} levels deep")
        return None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.search(message)
        if match:
            report.add(int(match.group(1)), "(toml)", f"{message[: match.start()]} (column {match.group(2)})")
        else:  # "(at end of document)"
            report.add(source.count("\n") + 1, "(toml)", message)
        return None
    except RecursionError:  # belt and braces: too_deep should have stopped it
        report.add(1, "(toml)", f"nested more than {MAX_DEPTH} levels deep")
        return None
    deep_path = _too_deep_path(data)
    if deep_path is not None:
        report.add(report.line_of(deep_path) or 1, "(toml)", f"nested more than {MAX_DEPTH} levels deep")
        return None
    return data


# ---------------------------------------------------------------- the main file


def validate_data(
    data: Mapping[str, Any], report: _Report, base_dir: Path | None, check_files: bool = True
) -> HotlineConfig | None:
    """Validate parsed data (every section); problems go to `report`."""
    context = LoadContext(base_dir, check_files) if base_dir is not None else None
    config: HotlineConfig | None = None
    try:
        config = HotlineConfig.model_validate(data, context=context)
    except ValidationError as exc:
        report.validation_error(exc, data)
    routing = data.get("routing")
    if isinstance(routing, dict) and routing:
        _check_routing(routing, report, ("routing",))
    return None if report.problems else config


def _check_routing(data: Any, report: _Report, prefix: PathT) -> None:
    from routing.rules import RuleError, rules_from_data

    try:
        rules_from_data(data, report.source, report.filename, prefix)
    except RuleError as exc:
        for problem in exc.problems:
            report.add(problem.line or report.line_of(prefix) or 1, problem.path, problem.reason)


def parse(source: str | bytes, filename: str, base_dir: Path | None = None) -> HotlineConfig:
    """The configuration from a file's text; ConfigError lists every problem.

    With `base_dir`, paths in the file (campaign leads) are resolved against it and
    must be readable."""
    report = _Report(filename, "")
    text = _decode(source, report) if isinstance(source, bytes) else source
    if text is None:
        raise ConfigError(report.problems)
    report.source = text
    data = _parse_toml(text, report)
    config = validate_data(data, report, base_dir) if data is not None else None
    if config is None:
        raise ConfigError(report.problems)
    return config


def resolve_path(path: str | os.PathLike[str] | None) -> Path | None:
    if path:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: (file): cannot read: {exc.strerror or exc}"]) from None


def load(path: str | os.PathLike[str] | None = None) -> LoadedConfig:
    """The file given, else $HOTLINE_CONFIG, else the built-in defaults."""
    resolved = resolve_path(path)
    if resolved is None:
        return LoadedConfig(HotlineConfig(), None, "")
    raw = _read(resolved)
    config = parse(raw, resolved.name, base_dir=resolved.resolve().parent)
    return LoadedConfig(config, resolved, raw.decode("utf-8"))


# ---------------------------------------------------------------- any project TOML file


def detect_kind(data: Mapping[str, Any]) -> Kind:
    """Which of the project's TOML files this is: a simulator scenario has
    `[simulation]`, a standalone campaign `[campaign]`, a standalone routing rules
    file top-level rule keys (version, default_queue, [defaults], [rona]) and none of
    the main configuration's own sections; anything else is the main configuration
    (where a stray rule key is then an unknown key, not a reason to read the whole
    file as rules)."""
    if "simulation" in data:
        return "scenario"
    if "campaign" in data:
        return "campaign"
    if any(key in data for key in _ROUTING_ONLY_KEYS) and not any(key in data for key in _HOTLINE_ONLY_KEYS):
        return "routing"
    return "hotline"


def check_file(path: str | os.PathLike[str], kind: Kind | None = None) -> Kind:
    """Validate any of the project's TOML files; returns its kind, else ConfigError."""
    p = Path(path)
    raw = _read(p)
    report = _Report(p.name, "")
    text = _decode(raw, report)
    if text is None:
        raise ConfigError(report.problems)
    report.source = text
    data = _parse_toml(text, report)
    if data is None:
        raise ConfigError(report.problems)
    kind = kind or detect_kind(data)
    _CHECKERS[kind](data, report, p.resolve().parent)
    if report.problems:
        raise ConfigError(report.problems)
    return kind


def _check_hotline(data: Mapping[str, Any], report: _Report, base_dir: Path) -> None:
    validate_data(data, report, base_dir)


def _check_routing_file(data: Mapping[str, Any], report: _Report, base_dir: Path) -> None:
    _check_routing(data, report, ())


def _check_campaign_file(data: Mapping[str, Any], report: _Report, base_dir: Path) -> None:
    from dialer.campaign import CampaignConfig

    section = data.get("campaign")
    if not isinstance(section, dict):
        report.at(("campaign",), "must be a table [campaign]")
        return
    extra = [key for key in data if key != "campaign"]
    for key in extra:
        report.at((key,), "unknown key (a campaign file has one [campaign] table)", at_key=True)
    try:
        CampaignConfig.model_validate(section, context=LoadContext(base_dir))
    except ValidationError as exc:
        report.validation_error(exc, section, ("campaign",))


_SCENARIO_PROBLEM = re.compile(r"^(?P<path>[^:]+?): (?P<reason>.*)$", re.S)


def _check_scenario(data: Mapping[str, Any], report: _Report, base_dir: Path) -> None:
    """The simulator's own parser (`hotline sim` reads these); it stops at its first
    problem, which is reported here at its line."""
    from sim.dists import ScenarioError
    from sim.scenario import parse_scenario

    try:
        parse_scenario(report.source, report.filename, base_dir=base_dir)
    except ScenarioError as exc:
        message = str(exc).removeprefix(f"{report.filename}: ")
        match = _SCENARIO_PROBLEM.match(message)
        if match is None or " " in match.group("path"):
            report.add(1, "(scenario)", message)
            return
        key_path = match.group("path")
        report.add(report.line_of(_split_path(key_path)) or 1, key_path, match.group("reason"))


def _split_path(text: str) -> PathT:
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


_CHECKERS: dict[Kind, Callable[[Mapping[str, Any], _Report, Path], None]] = {
    "hotline": _check_hotline,
    "routing": _check_routing_file,
    "campaign": _check_campaign_file,
    "scenario": _check_scenario,
}
