"""Campaigns: configuration (validated once), calling windows, retry rules,
dispositions, lead recycling and the "next leads to dial" selector.

Pure and synchronous: every method that depends on time takes `now` (seconds
since the epoch, UTC) as an argument. The live dialer and tests drive the same
`CampaignBook`.

Lead life cycle
---------------
    pending --(selected)--> dialing --(outcome)--> pending (retry after a delay)
                                           |----> connected --(disposition)--> done / pending (callback, retry)
                                           |----> exhausted (max attempts) --(recycle after N h)--> pending
    pending --(DNC hit at dial time)--> blocked

The live dialer keeps each lead's state in the store (`store.port.DialerState`): it
`restore`s the stored states at start, and a lead it selected but could not dial after
all (the durable do-not-call list has it, or its state could not be written) is
`record_blocked` or `release`d without counting the attempt.
"""

from __future__ import annotations

import heapq
import itertools
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.checks import Located
from dialer.dnc import DoNotCall
from dialer.leads import Lead
from dialer.pacing import PacingConfig

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OUTCOMES = ("busy", "no_answer", "machine", "dropped", "congestion", "failed")
DISPOSITION_ACTIONS = ("final", "retry", "callback", "dnc")


class CampaignConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CallingWindow(_Section):
    """Local time of the lead: dial only from `start` to `end` on the allowed days."""

    start: time = time(9, 0)
    end: time = time(21, 0)
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if d not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {', '.join(bad)}; use {', '.join(DAYS)}")
        if not value:
            raise ValueError("at least one day is required")
        return value

    @model_validator(mode="after")
    def _order(self) -> CallingWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start (windows over midnight are not supported)")
        return self


class RetryRule(_Section):
    delay_minutes: float = Field(default=60.0, ge=0)
    retry: bool = True  # False: this outcome closes the lead


class RecycleRule(_Section):
    """Leads that used all their attempts on these outcomes come back after a rest."""

    outcomes: tuple[str, ...] = ("no_answer", "busy", "machine")
    after_hours: float = Field(default=72.0, gt=0)
    max_cycles: int = Field(default=0, ge=0)  # 0 = never recycle

    @field_validator("outcomes")
    @classmethod
    def _outcomes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [o for o in value if o not in OUTCOMES]
        if bad:
            raise ValueError(f"unknown outcome(s) {', '.join(bad)}; use {', '.join(OUTCOMES)}")
        return value


def _default_retry() -> dict[str, RetryRule]:
    return {
        "busy": RetryRule(delay_minutes=10),
        "no_answer": RetryRule(delay_minutes=60),
        "machine": RetryRule(delay_minutes=240),
        "dropped": RetryRule(delay_minutes=30),
        "congestion": RetryRule(delay_minutes=5),
        "failed": RetryRule(delay_minutes=30),
    }


def _default_dispositions() -> dict[str, str]:
    return {
        "sale": "final",
        "not_interested": "final",
        "wrong_number": "final",
        "callback": "callback",
        "no_decision": "retry",
        "do_not_call": "dnc",
    }


class CampaignConfig(_Section):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = ""
    mode: Literal["preview", "progressive", "predictive"] = "predictive"
    default_region: str = Field(default="US", min_length=2, max_length=2)
    caller_id: str = ""
    amd_action: Literal["message", "hangup"] = "message"
    max_attempts: int = Field(default=5, ge=1, le=100)
    drop_cap: float = Field(default=0.03, gt=0, lt=1)
    drop_windows_hours: tuple[float, ...] = (720.0, 24.0)
    drop_margin: float = Field(default=0.05, ge=0, lt=1)
    expected_answer_rate: float = Field(default=0.3, gt=0, le=1)
    expected_aht_s: float = Field(default=180.0, gt=0)
    no_answer_timeout_s: float = Field(default=25.0, ge=15)  # US TSR: ring at least 15 s
    preview_skip_minutes: float = Field(default=60.0, ge=0)  # a lead the agent passed on comes back after
    calling_window: CallingWindow = CallingWindow()
    retry: dict[str, RetryRule] = Field(default_factory=_default_retry)
    recycle: RecycleRule = RecycleRule()
    dispositions: dict[str, str] = Field(default_factory=_default_dispositions)
    dnc: tuple[str, ...] = ()  # campaign do-not-call numbers
    # where a "dnc" disposition puts the number: this campaign's list or the global one
    dnc_scope: Literal["campaign", "global"] = "campaign"

    @field_validator("drop_windows_hours")
    @classmethod
    def _windows(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(h <= 0 for h in value):
            raise ValueError("at least one window, each > 0 hours")
        return value

    @field_validator("retry")
    @classmethod
    def _retry(cls, value: dict[str, RetryRule]) -> dict[str, RetryRule]:
        bad = [o for o in value if o not in OUTCOMES]
        if bad:
            use = ", ".join(OUTCOMES)
            raise Located(
                [((o,), f"unknown outcome; use {use}") for o in bad], f"unknown outcome(s) {', '.join(bad)}; use {use}"
            )
        return {**_default_retry(), **value}

    @field_validator("dispositions")
    @classmethod
    def _dispositions(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [(k, v) for k, v in value.items() if v not in DISPOSITION_ACTIONS]
        if bad:
            use = ", ".join(DISPOSITION_ACTIONS)
            raise Located(
                [((k,), f"unknown action {v!r}; use {use}") for k, v in bad],
                f"unknown action(s) {', '.join(f'{k}={v}' for k, v in bad)}; use {use}",
            )
        if not value:
            raise ValueError("at least one disposition is required")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return value.upper()

    def pacing_config(self) -> PacingConfig:
        return PacingConfig(
            drop_cap=self.drop_cap,
            windows_s=tuple(h * 3600.0 for h in self.drop_windows_hours),
            margin=self.drop_margin,
            no_answer_timeout_s=self.no_answer_timeout_s,
            prior_answer_rate=self.expected_answer_rate,
            prior_aht_s=self.expected_aht_s,
        )


DEMO_OUTCOMES = ("answer", "busy", "noanswer", "congestion", "machine")


class LiveKeys(_Section):
    """The keys of `[campaigns.<name>]` that only the live dialer uses; every other key
    is a `CampaignConfig` field."""

    # CSV path (relative to the config file's directory); "": none, the campaign's leads
    # are uploaded from the admin page (dialer/uploads.py)
    leads: str = ""
    enabled: bool = True
    queue: str = ""  # default: campaign-<id>
    skill: str = "outbound"  # agents with this skill work the campaign
    priority: int = Field(default=9, ge=0, le=9)
    dial_pattern: str = "Local/{number}@customers"  # {number}: the lead's E.164 digits
    answered_context: str = "dialer-answered"
    drop_message: str = "dialer-sorry"  # played to a dropped human (the regulators' message)
    machine_message: str = "dialer-message"  # left on an answering machine (amd_action = message)
    tick_s: float = Field(default=1.0, gt=0, le=60)
    connect_grace_s: float = Field(default=2.0, gt=0, le=10)
    # Emulator only: probabilities of answer / busy / noanswer / congestion / machine per dial
    demo_behaviour: dict[str, float] = Field(default_factory=dict)

    @field_validator("demo_behaviour")
    @classmethod
    def _demo_outcomes(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k in value if k not in DEMO_OUTCOMES]
        if bad:
            use = ", ".join(DEMO_OUTCOMES)
            raise Located([((k,), f"unknown outcome; use {use}") for k in bad], f"unknown outcome(s) {', '.join(bad)}")
        return value

    @field_validator("dial_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError("must contain {number}")
        return value

    @field_validator("leads")
    @classmethod
    def _leads_path(cls, value: str, info: ValidationInfo) -> str:
        """Relative to the configuration file when loaded from one (`config.schema.
        LoadContext`: base_dir, check_files), which also checks the file can be read."""
        base_dir = getattr(info.context, "base_dir", None)
        if base_dir is None or not value:
            return value
        path = Path(value).expanduser()
        path = path if path.is_absolute() else Path(base_dir) / path
        if getattr(info.context, "check_files", False):
            try:
                with path.open("rb") as f:
                    f.read(1)
            except OSError as exc:
                raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        return str(path)


class CampaignSection(LiveKeys, CampaignConfig):
    """One `[campaigns.<name>]` table of the main configuration: the campaign and the
    live dialer's keys (`dialer.live.parse_live_campaigns` splits them). The file names
    its leads (`leads = ""`: uploaded only)."""

    leads: str


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def parse_campaign(source: str, filename: str = "campaign.toml") -> CampaignConfig:
    """A `[campaign]` table from TOML text; every problem as `file: key.path: reason`."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignConfigError([f"{filename}: {exc}"]) from None
    section = data.get("campaign")
    if not isinstance(section, dict):
        raise CampaignConfigError([f"{filename}: campaign: required table [campaign]"])
    try:
        return CampaignConfig.model_validate(section)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            reason = "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"])
            reason = "required" if error["type"] == "missing" else reason.removeprefix("Value error, ")
            problems.append(f"{filename}: campaign.{_key_path(tuple(error['loc']))}: {reason}")
        raise CampaignConfigError(problems) from None


def load_campaign(path: str | Path) -> CampaignConfig:
    p = Path(path)
    return parse_campaign(p.read_text(encoding="utf-8"), p.name)


# ---------------------------------------------------------------- calling windows


def window_open(window: CallingWindow, zones: Iterable[str], now: float) -> bool:
    """True when `now` is inside the window in every one of the lead's zones."""
    for zone in zones:
        local = datetime.fromtimestamp(now, ZoneInfo(zone))
        if DAYS[local.weekday()] not in window.days:
            return False
        t = local.time().replace(tzinfo=None)
        if not (window.start <= t < window.end):
            return False
    return True


def next_window_open(window: CallingWindow, zones: tuple[str, ...], now: float, horizon_days: int = 8) -> float | None:
    """The first instant >= now when the window is open in every zone (None within the horizon)."""
    t = now
    limit = now + horizon_days * 86400.0
    for _ in range(8 * horizon_days * max(1, len(zones))):
        if t > limit:
            return None
        if window_open(window, zones, t):
            return t
        # jump to the next opening of the first closed zone
        for zone in zones:
            tz = ZoneInfo(zone)
            local = datetime.fromtimestamp(t, tz)
            if window_open(window, (zone,), t):
                continue
            candidate = None
            for d in range(0, 8):
                day = (local + timedelta(days=d)).date()
                opening = datetime.combine(day, window.start, tz)
                if DAYS[opening.weekday()] in window.days and opening.timestamp() > t:
                    candidate = opening.timestamp()
                    break
            if candidate is None:
                return None
            t = candidate
            break
    return None


# ---------------------------------------------------------------- the lead book


class LeadStatus(StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    CONNECTED = "connected"  # with an agent, waiting for the disposition
    DONE = "done"
    EXHAUSTED = "exhausted"
    BLOCKED = "blocked"  # on a do-not-call list at dial time
    NO_WINDOW = "no_window"  # the calling window never opens in all of the lead's zones


@dataclass(slots=True)
class LeadState:
    lead: Lead
    status: LeadStatus = LeadStatus.PENDING
    attempts: int = 0
    cycle: int = 0
    next_at: float = 0.0
    last_outcome: str = ""
    disposition: str = ""
    callback: bool = False  # scheduled by an agent's callback disposition (dialled first when due)
    history: list[tuple[float, str]] = field(default_factory=list)


class LeadNotFound(KeyError):
    pass


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Selection:
    leads: tuple[Lead, ...]
    blocked: tuple[str, ...]  # lead ids found on a DNC list while selecting
    deferred: int  # leads due but outside their calling window (rescheduled)


class CampaignBook:
    """The leads of one campaign and their dialing state."""

    def __init__(self, config: CampaignConfig, dnc: DoNotCall | None = None) -> None:
        self.config = config
        self.dnc = dnc if dnc is not None else DoNotCall(config.default_region)
        for number in config.dnc:
            self.dnc.add(number, config.id)
        self.states: dict[str, LeadState] = {}
        self._seq = itertools.count()
        # (next_at, -priority, seq, lead_id): leads waiting for their time
        self._heap: list[tuple[float, int, int, str]] = []
        # due leads: (0 for an agreed callback else 1, -priority, next_at, seq, lead_id)
        self._ready: list[tuple[int, int, float, int, str]] = []

    # ------------------------------------------------------------ loading
    def add_leads(self, leads: Iterable[Lead], now: float) -> list[str]:
        """Add leads (first import wins on duplicate ids); returns the ids skipped."""
        skipped = []
        for lead in leads:
            if lead.lead_id in self.states:
                skipped.append(lead.lead_id)
                continue
            state = LeadState(lead=lead, next_at=now)
            self.states[lead.lead_id] = state
            self._schedule(state, now)
        return skipped

    def _schedule(self, state: LeadState, at: float, callback: bool = False) -> None:
        state.status = LeadStatus.PENDING
        state.callback = callback
        state.next_at = at
        heapq.heappush(self._heap, (at, -state.lead.priority, next(self._seq), state.lead.lead_id))

    def state(self, lead_id: str) -> LeadState:
        try:
            return self.states[lead_id]
        except KeyError:
            raise LeadNotFound(lead_id) from None

    # ------------------------------------------------------------ selection
    def next_leads(self, now: float, count: int) -> Selection:
        """Up to `count` leads to dial now, marked `dialing`. Due leads outside their
        calling window are rescheduled to its next opening; leads on a DNC list (global
        or this campaign's, as they are now) are blocked and never dialled."""
        chosen: list[Lead] = []
        blocked: list[str] = []
        deferred = 0
        window = self.config.calling_window
        while self._heap and self._heap[0][0] <= now:
            at, prio, seq, lead_id = heapq.heappop(self._heap)
            state = self.states[lead_id]
            if state.status == LeadStatus.PENDING and state.next_at == at:
                heapq.heappush(self._ready, (0 if state.callback else 1, prio, at, seq, lead_id))
        while self._ready and len(chosen) < count:
            _cls, _prio, at, _seq, lead_id = heapq.heappop(self._ready)
            state = self.states[lead_id]
            if state.status != LeadStatus.PENDING or state.next_at != at:
                continue  # stale entry
            lead = state.lead
            if self.dnc.blocked(lead.phone, self.config.id):
                state.status = LeadStatus.BLOCKED
                state.history.append((now, "dnc_blocked"))
                blocked.append(lead_id)
                continue
            if not window_open(window, lead.time_zones, now):
                opening = next_window_open(window, lead.time_zones, now)
                if opening is None:
                    state.status = LeadStatus.NO_WINDOW
                    state.history.append((now, "no_window"))
                else:
                    self._schedule(state, opening, callback=state.callback)
                    deferred += 1
                continue
            state.status = LeadStatus.DIALING
            state.attempts += 1
            state.history.append((now, "dial"))
            chosen.append(lead)
        return Selection(tuple(chosen), tuple(blocked), deferred)

    def preview(self, now: float) -> Lead | None:
        """Preview mode: the next lead an agent would see (selected and marked dialing)."""
        selection = self.next_leads(now, 1)
        return selection.leads[0] if selection.leads else None

    # ------------------------------------------------------------ results
    def record_outcome(self, lead_id: str, outcome: str, now: float) -> LeadState:
        """A dial ended without reaching an agent: busy, no_answer, machine, dropped,
        congestion or failed. Applies the retry rule, max attempts and recycling."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use {', '.join(OUTCOMES)}")
        state = self.state(lead_id)
        if state.status != LeadStatus.DIALING:
            raise InvalidTransition(f"lead {lead_id}: outcome {outcome} while {state.status.value}")
        state.last_outcome = outcome
        state.history.append((now, outcome))
        rule = self.config.retry[outcome]
        if not rule.retry:
            state.status = LeadStatus.DONE
            return state
        self._retry_or_exhaust(state, now + rule.delay_minutes * 60.0, now)
        return state

    def record_skipped(self, lead_id: str, now: float) -> LeadState:
        """Preview mode: the agent passed on the lead without dialling. No attempt is
        counted; the lead comes back after `preview_skip_minutes`."""
        state = self.state(lead_id)
        if state.status != LeadStatus.DIALING:
            raise InvalidTransition(f"lead {lead_id}: skipped while {state.status.value}")
        state.attempts -= 1
        state.history.append((now, "skipped"))
        self._schedule(state, now + self.config.preview_skip_minutes * 60.0, callback=state.callback)
        return state

    def record_connected(self, lead_id: str, now: float) -> LeadState:
        state = self.state(lead_id)
        if state.status != LeadStatus.DIALING:
            raise InvalidTransition(f"lead {lead_id}: connected while {state.status.value}")
        state.status = LeadStatus.CONNECTED
        state.last_outcome = "human"
        state.history.append((now, "connected"))
        return state

    def record_disposition(
        self, lead_id: str, disposition: str, now: float, callback_at: float | None = None
    ) -> LeadState:
        """The agent's disposition after a connected call."""
        action = self.config.dispositions.get(disposition)
        if action is None:
            raise ValueError(
                f"unknown disposition {disposition!r} for campaign {self.config.id}; "
                f"use {', '.join(self.config.dispositions)}"
            )
        state = self.state(lead_id)
        if state.status != LeadStatus.CONNECTED:
            raise InvalidTransition(f"lead {lead_id}: disposition while {state.status.value}")
        state.disposition = disposition
        state.history.append((now, f"disposition:{disposition}"))
        if action == "final":
            state.status = LeadStatus.DONE
        elif action == "dnc":
            self.dnc.add(state.lead.phone, self.dnc_list)
            state.status = LeadStatus.DONE
        elif action == "callback":
            if callback_at is None or callback_at <= now:
                raise ValueError("callback disposition needs callback_at in the future")
            self._schedule(state, callback_at, callback=True)
        else:  # retry
            self._retry_or_exhaust(state, now + self.config.retry["no_answer"].delay_minutes * 60.0, now)
        return state

    @property
    def dnc_list(self) -> str | None:
        """The list a "dnc" disposition adds the number to (None: the global one)."""
        return None if self.config.dnc_scope == "global" else self.config.id

    def record_blocked(self, lead_id: str, now: float) -> LeadState:
        """A selected lead found on a do-not-call list before it was dialled (the durable
        list, read after the selection): blocked, the attempt not counted."""
        state = self.state(lead_id)
        if state.status != LeadStatus.DIALING:
            raise InvalidTransition(f"lead {lead_id}: blocked while {state.status.value}")
        state.attempts -= 1
        state.status = LeadStatus.BLOCKED
        state.history.append((now, "dnc_blocked"))
        return state

    def release(self, lead_id: str, now: float, at: float) -> LeadState:
        """A selected lead not dialled after all (its state could not be written first):
        pending again from `at`, the attempt not counted."""
        state = self.state(lead_id)
        if state.status != LeadStatus.DIALING:
            raise InvalidTransition(f"lead {lead_id}: released while {state.status.value}")
        state.attempts -= 1
        state.history.append((now, "released"))
        self._schedule(state, at, callback=state.callback)
        return state

    def restore(self, states: Iterable[LeadState], now: float, previews: Collection[str] = ()) -> list[str]:
        """Leads with the state the store kept for them (first wins on duplicate ids;
        returns the ids skipped). A pending lead waits for its next try; a lead that was
        being dialled when the dialer stopped lost its result: it counts as a `failed`
        attempt decided now (its retry is never earlier than that outcome's would
        have been), unless it is one of `previews` (shown to an agent, never dialled:
        it stays selected, to be shown again); a connected one waits for its disposition."""
        skipped = []
        for state in states:
            lead_id = state.lead.lead_id
            if lead_id in self.states:
                skipped.append(lead_id)
                continue
            self.states[lead_id] = state
            if state.status == LeadStatus.PENDING:
                self._schedule(state, state.next_at, callback=state.callback)
            elif state.status == LeadStatus.DIALING and lead_id in previews:
                state.history.append((now, "preview_restored"))
            elif state.status == LeadStatus.DIALING:
                state.history.append((now, "result_lost"))
                self.record_outcome(lead_id, "failed", now)
        return skipped

    def _retry_or_exhaust(self, state: LeadState, retry_at: float, now: float) -> None:
        if state.attempts < self.config.max_attempts:
            self._schedule(state, retry_at)
            return
        recycle = self.config.recycle
        if state.cycle < recycle.max_cycles and state.last_outcome in recycle.outcomes:
            state.cycle += 1
            state.attempts = 0
            state.history.append((now, f"recycled:{state.cycle}"))
            self._schedule(state, now + recycle.after_hours * 3600.0)
            return
        state.status = LeadStatus.EXHAUSTED

    # ------------------------------------------------------------ reporting
    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in LeadStatus}
        for state in self.states.values():
            out[state.status.value] += 1
        return out

    def leads_left(self) -> int:
        """Leads that may still be dialled (pending, dialing or waiting for a callback)."""
        return sum(1 for s in self.states.values() if s.status in (LeadStatus.PENDING, LeadStatus.DIALING))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Epoch seconds of a UTC wall time (handy for tests and examples)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
