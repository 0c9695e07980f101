"""Admin-edited settings: queues (targets), skills, pause codes, dispositions, wallboard
alert rules (JSON documents) and routing rules (TOML text), each versioned in the store.

The live value of a section is its latest stored version, else the configuration
file's table (`[queues]`, `[skills]`, `[pause_reasons]`, `[dispositions]`,
`[alert_rules]`), else the built-in defaults. Every change is validated here, stored as
a new version (atomic, optimistic: the caller names the version it edited) and
announced on the bus channel `config-changes` as {"section", "version"} so other
processes and the live loop reload.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.loader import MAX_DEPTH, too_deep
from config.schema import HotlineConfig
from config.toml_text import dumps
from reports.alerts import DEFAULT_RULES, rule_problems
from reports.kpi import KpiConfig
from reports.kpi_fold import AGENT_STATES
from store.bus import Bus
from store.sql import SqlStore
from store.topics import CONFIG_CHANGES, ConfigChanged

log = structlog.get_logger()

RULES_MAX_CHARS = 512 * 1024
CONFIG_FILE = "hotline.toml"  # how version 0 is labelled when the configuration file supplies it
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class QueueSettings(_Row):
    label: str = ""
    sl_target: float = Field(0.8, ge=0, le=1)  # share answered within the threshold
    sl_threshold_s: float = Field(20.0, ge=0)
    abandon_target: float = Field(0.05, ge=0, le=1)  # at most
    asa_target_s: float = Field(30.0, ge=0)  # at most
    aht_target_s: float = Field(300.0, ge=0)  # at most
    occupancy_target: float = Field(0.85, ge=0, le=1)
    transfer_target: float = Field(0.1, ge=0, le=1)


class SkillSettings(_Row):
    label: str = ""


class PauseCode(_Row):
    label: str = ""
    paid: bool = True


class Disposition(_Row):
    label: str = ""
    requires_notes: bool = False
    schedules_callback: bool = False


class AlertRule(_Row):
    """A wallboard alert rule (reports/alerts.py says what each kind watches)."""

    kind: Literal["service_level", "waiting", "abandon_rate", "agent_state"]
    scope: str = "all"  # all, queue:NAME or team:NAME
    # service_level / abandon_rate: a share (0-1); waiting / agent_state: seconds.
    # None: the queue's own target (queues only)
    threshold: float | None = Field(None, ge=0)
    window_min: int | None = Field(None, ge=1, le=KpiConfig().window_s // 60)  # service_level's "last N minutes"
    state: Literal["", *AGENT_STATES] = ""  # type: ignore[valid-type]  # agent_state: the state watched

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        import re

        if not value:  # an empty cell of the admin page's table
            return "all"
        if not re.match(r"^(all|(queue|team):[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$", value):
            raise ValueError("all, queue:NAME or team:NAME")
        return value

    @field_validator("threshold", "window_min", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        """The admin page's table sends an empty cell as ""."""
        return None if value == "" else value

    def problems(self) -> dict[str, str]:
        """What the fields are valid alone but wrong together: field -> reason."""
        return rule_problems(self.model_dump())


SCHEMAS: dict[str, type[_Row]] = {
    "queues": QueueSettings,
    "skills": SkillSettings,
    "pause_codes": PauseCode,
    "dispositions": Disposition,
    "alert_rules": AlertRule,
}
CONFIG_SECTION = {
    "queues": "queues",
    "skills": "skills",
    "pause_codes": "pause_reasons",
    "dispositions": "dispositions",
    "alert_rules": "alert_rules",
}

DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "queues": {q: {"label": q.capitalize()} for q in ("billing", "support", "sales")},
    "skills": {s: {"label": s.capitalize()} for s in ("billing", "support", "sales", "spanish")},
    "pause_codes": {
        "break": {"label": "Break", "paid": True},
        "lunch": {"label": "Lunch", "paid": False},
        "training": {"label": "Training", "paid": True},
        "meeting": {"label": "Meeting", "paid": True},
    },
    "dispositions": {
        "resolved": {"label": "Resolved"},
        "follow-up": {"label": "Follow-up needed", "requires_notes": True},
        "escalated": {"label": "Escalated", "requires_notes": True},
        "sale": {"label": "Sale"},
        "no-sale": {"label": "No sale"},
        "callback": {"label": "Callback scheduled", "schedules_callback": True},
        "wrong-number": {"label": "Wrong number"},
    },
    "alert_rules": DEFAULT_RULES,
}


class SettingsError(ValueError):
    """Validation problems, one line each: `section.key.path: reason`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_section(section: str, data: Any) -> dict[str, dict[str, Any]]:
    """The normalised document, or SettingsError naming every bad key."""
    import re

    schema = SCHEMAS.get(section)
    if schema is None:
        raise SettingsError([f"{section}: unknown section (one of {', '.join(SCHEMAS)})"])
    if not isinstance(data, dict):
        raise SettingsError([f"{section}: must be an object of name -> settings"])
    problems: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    for name, row in data.items():
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            problems.append(f"{section}.{name}: name must be 1-64 letters, digits, '_', '.', '-'")
            continue
        if not isinstance(row, dict):
            problems.append(f"{section}.{name}: must be an object")
            continue
        try:
            model = schema.model_validate(row)
            if isinstance(model, AlertRule):
                problems += [f"{section}.{name}.{f}: {reason}" for f, reason in model.problems().items()]
            out[name] = model.model_dump()
        except ValidationError as exc:
            for err in exc.errors(include_input=False, include_url=False):
                where = ".".join(str(p) for p in err["loc"])
                reason = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
                problems.append(f"{section}.{name}.{where}: {reason}")
    if problems:
        raise SettingsError(problems)
    return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Live:
    section: str
    version: int  # 0: nothing stored yet (configuration file or defaults)
    data: Any  # dict for JSON sections, str (TOML) for routing
    author: str = ""
    created_at: float = 0.0
    origin: str = ""  # version 0: "hotline.toml" (the configuration file's) or "defaults"


class SettingsService:
    """Reads and versions the admin sections. Reads are cached for `ttl_s` per process;
    a change announced on the bus (or made here) drops the cache."""

    def __init__(
        self,
        store: SqlStore,
        bus: Bus,
        config: HotlineConfig,
        clock: Callable[[], float] = time.time,
        ttl_s: float = 2.0,
    ) -> None:
        self._store = store
        self._bus = bus
        self._config = config
        self._clock = clock
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Live]] = {}

    def file_rules(self) -> str:
        """The configuration file's `[routing]` table as rules text ("" when it has none):
        what runs while no version was ever applied, and what "restore version 0" brings back."""
        return dumps(self._config.routing) if self._config.routing else ""

    def file_text(self, section: str) -> str:
        """A text section's version 0: the configuration file's rules or IVR flow."""
        if section == "ivr":
            from ivr.text import flow_text

            return flow_text(self._config.ivr)
        return self.file_rules()

    def _origin(self, section: str) -> str:
        from_file = (
            getattr(self._config, section)
            if section in TEXT_SECTIONS
            else getattr(self._config, CONFIG_SECTION[section], None)
        )
        return CONFIG_FILE if from_file else "defaults"

    def _fallback(self, section: str) -> Any:
        if section in TEXT_SECTIONS:
            return self.file_text(section)
        from_config = getattr(self._config, CONFIG_SECTION[section], None)
        if from_config:
            try:
                return validate_section(section, dict(from_config))
            except SettingsError as exc:
                log.warning("settings_config_section_invalid", section=section, problems=exc.problems)
        return validate_section(section, DEFAULTS[section])

    async def live(self, section: str) -> Live:
        if section not in TEXT_SECTIONS and section not in SCHEMAS:
            raise SettingsError([f"{section}: unknown section"])
        now = self._clock()
        hit = self._cache.get(section)
        if hit and now - hit[0] < self._ttl_s:
            return hit[1]
        stored = await self._store.get_settings_version(section)
        if stored is None:
            live = Live(section, 0, self._fallback(section), origin=self._origin(section))
        else:
            data = stored.body if section in TEXT_SECTIONS else json.loads(stored.body)
            live = Live(section, stored.version, data, stored.author, stored.created_at)
        self._cache[section] = (now, live)
        return live

    def forget(self, section: str | None = None) -> None:
        if section is None:
            self._cache.clear()
        else:
            self._cache.pop(section, None)

    async def apply(self, section: str, data: Any, author: str, base_version: int | None, comment: str = "") -> Live:
        """Validate and store a new version; Conflict (store.port) when `base_version`
        is not the live one any more."""
        if section in TEXT_SECTIONS:
            if not isinstance(data, str):
                raise SettingsError([f"{section}: must be TOML text"])
            problems = text_problems(section, data)
            if problems:
                raise SettingsError([p["message"] for p in problems])
            body = data
        else:
            data = validate_section(section, data)
            body = json.dumps(data, sort_keys=True)
        stored = await self._store.put_settings_version(
            section, body, author=author, comment=comment, expected_version=base_version, at=self._clock()
        )
        self.forget(section)
        try:  # stored: the other processes' caches expire within ttl_s when the bus is away
            await CONFIG_CHANGES.publish(self._bus, ConfigChanged(section, author=author, version=stored.version))
        except Exception as exc:  # noqa: BLE001 - any bus failure: the version is stored either way
            log.warning("settings_change_not_announced", section=section, error=type(exc).__name__)
        log.info("settings_applied", section=section, version=stored.version, author=author)
        return Live(section, stored.version, data, author, stored.created_at)


# ---------------------------------------------------------------- routing rules


def routing_available() -> bool:
    return _rules_api() is not None


def _rules_api() -> tuple[Any, Any] | None:
    try:
        from routing import RuleError, load_rules  # type: ignore[attr-defined]
    except ImportError:
        try:
            from routing.rules import RuleError, load_rules
        except ImportError:
            return None
    return load_rules, RuleError


def _problem(reason: str, message: str, line: int | None = None) -> dict[str, Any]:
    return {"line": line, "col": None, "path": "", "reason": reason, "message": message}


def validate_rules(text: str, filename: str = "routing.toml") -> list[dict[str, Any]]:
    """Problems as {"line", "col", "path", "reason", "message"} (empty: valid). When the
    routing package is not installed, one problem says so (nothing is applied blind).
    Absurd nesting or length is a problem found before the TOML parser recurses."""
    api = _rules_api()
    if api is None:
        reason = "routing rules validator not available"
        return [_problem(reason, f"{reason} (routing package missing)")]
    load_rules, rule_error = api
    deep = too_deep(text)
    if deep is not None:
        reason = f"nested more than {MAX_DEPTH} levels deep"
        return [_problem(reason, f"{filename}:{deep[0]}: {reason}", deep[0])]
    if len(text) > RULES_MAX_CHARS:
        reason = f"longer than {RULES_MAX_CHARS} characters"
        return [_problem(reason, f"{filename}: {reason}")]
    try:
        load_rules(text, filename)
    except RecursionError:  # belt and braces: too_deep should have stopped it
        reason = f"nested more than {MAX_DEPTH} levels deep"
        return [_problem(reason, f"{filename}: {reason}")]
    except rule_error as exc:
        out = []
        for p in getattr(exc, "problems", [exc]):
            out.append(
                {
                    "line": getattr(p, "line", None),
                    "col": getattr(p, "col", None),
                    "path": getattr(p, "path", ""),
                    "reason": getattr(p, "reason", str(p)),
                    "message": str(p),
                }
            )
        return out
    return []


TEXT_SECTIONS = ("routing", "ivr")  # versioned as TOML text; the others as JSON documents


def text_problems(section: str, text: str) -> list[dict[str, Any]]:
    """A text section's validation: the routing rules' or the IVR flow's problems."""
    if section == "ivr":
        from ivr.text import problems_of

        return problems_of(text)
    return validate_rules(text)


def rules_are_empty(text: str) -> bool:
    """True when valid rules name no queue: applying them sends every call to "any agent
    with the call's skills" (no targets, overflow or wrap-up of their own)."""
    api = _rules_api()
    if api is None or validate_rules(text):
        return False
    load_rules, _ = api
    return not load_rules(text, "routing.toml").queues


def diff_text(old: str, new: str, old_label: str = "live", new_label: str = "edited") -> str:
    return "".join(
        difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_label, new_label)
    )
