"""The live outbound dialer: an asyncio shell around the pure `Pacer` and `CampaignBook`,
run by the live contact center (cti/live.py) on the PBX.

Everything that reads or changes state runs inside the `LiveCenter`'s one consumer
(`InLoop` items and its event listeners), so the dialer sees the router's agents as
they are, in order with inbound calls and agent commands:

- every pacing tick (`tick_s`, clock seconds) builds a `PacingSnapshot` from the
  campaign's agents (the users with the campaign's skill: ready, idle, busy since
  when), the dials in flight, the answered humans still waiting and the inbound
  calls waiting (blending: inbound goes first), asks the `Pacer` how many to dial,
  takes that many leads from the `CampaignBook` (calling windows, DNC at dial time)
  and originates `Local/<number>@customers` into `dialer-answered` with
  `CC_CAMPAIGN` / `CC_LEAD`, the campaign's caller ID and its no-answer timeout;
- `OriginateResulted` (reason 3 / 5 / 8 / 0) closes a dial as no_answer / busy /
  congestion / failed; an answered one waits for the dialplan's AMD verdict
  (`UserEvent: DialerAMD`): a MACHINE never reaches an agent (the campaign's message
  is played, or the call is hung up), a HUMAN is queued at once in the campaign's
  queue at top priority (`CallQueued` with the lead's customer record, so the desktop
  pops it) and the router offers it to the first free campaign agent;
- a human not offered to an agent within `connect_grace_s` (2 s) of the verdict is
  dropped: taken back from the router, `DialerDropped` logged, the drop message
  played, counted in the `DropBudget` and retried per the campaign's rules;
- a wallboard tile per campaign is kept in the bus state map `campaigns`.

Every promise is a row (store.port `DialerState`, `DoNotCallList`): at start the book
is rebuilt from the leads' stored states (`open_book`), and the CSV only adds the leads
the store does not know. A lead's state is written before the dialer acts on it: the
selected leads (dialing, the attempt counted) are written before they are dialled
(write-then-dial), and every result, connect and disposition as it happens. Before
every dial the selected numbers are checked against the durable do-not-call lists (so
a number added over the API or the CLI is honoured at the next dial); a "dnc"
disposition adds the number to the campaign's list, or the global one with
`dnc_scope = "global"`. The consumer waits for these writes (at most
`STORE_TIMEOUT_S`); when the store fails, the campaign stops dialling, keeps the rows
it could not write and writes them again every `STORE_RETRY_S`, outside the consumer.

Answering machines: with `amd_action = "message"` the originate sets
`CC_MACHINE_MESSAGE`, and Hotline's addition to `[dialer-answered]` (docs/asterisk.md)
waits for the beep, plays it and reports `UserEvent: DialerMachineMessage`; the
recorded dialplan, which lacks that addition, hangs the machine up at once. With
`amd_action = "hangup"` the machine is hung up (by the dialplan, and over AMI in case
the dialplan does not).

The 2 s are counted from the AMD verdict (the end of the customer's greeting, as the
regulators count them) to the redirect to the agent; with agents on a standing
channel (auto-answer) that redirect is the connect.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError

from cti.ami_codec import Message
from cti.bounded import raise_if_cancelled
from cti.call_control import CommandRefused
from cti.live import LiveCenter
from cti.live_items import DialVetoed, InLoop, PreviewDial
from cti.pbx import PbxError
from dialer.campaign import (
    CampaignBook,
    CampaignConfig,
    CampaignConfigError,
    LeadStatus,
    LiveKeys,
    Selection,
    _key_path,
)
from dialer.dnc import DoNotCall
from dialer.durable import PREVIEW, disposition_dnc, record_of, state_of
from dialer.leads import Lead, LeadImport, load_leads_csv
from dialer.outcomes import outcome_from_amd, outcome_from_originate
from dialer.pacing import Pacer, PacingSnapshot
from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    DialerAttempted,
    DialerDropped,
    DialerResulted,
    Event,
    OriginateResulted,
    WrapUpEnded,
)
from store.models import Customer, DncEntry
from store.port import DialerState, DoNotCallList
from store.topics import CAMPAIGN_TILES, CampaignTile

log = structlog.get_logger()
T = TypeVar("T")

LEAD_VARIABLE = "CC_LEAD"
CAMPAIGN_VARIABLE = "CC_CAMPAIGN"
MACHINE_MESSAGE_VARIABLE = "CC_MACHINE_MESSAGE"  # read by [dialer-answered]'s machine branch
BUSY_STATES = ("reserved", "on_call", "wrap_up")
INBOUND_RATE_WINDOW_S = 300.0
LOST_AFTER_S = 60.0  # a dial with no OriginateResponse this long after its timeout is closed as failed
STORE_TIMEOUT_S = 2.0  # the longest the consumer waits for a lead-state or do-not-call read/write
STORE_RETRY_S = 5.0  # after a failed one: no dialling; the unwritten rows are tried again this often


class StoreUnavailable(Exception):
    """A dialer read or write did not complete (failed or timed out)."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class LiveCampaign:
    config: CampaignConfig
    live: LiveKeys
    leads_path: Path | None  # None: no leads file (uploaded leads only)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def queue(self) -> str:
        return self.live.queue or f"campaign-{self.config.id}"


def parse_live_campaigns(
    section: Mapping[str, Any], base_dir: str | Path = ".", filename: str = "hotline.toml"
) -> list[LiveCampaign]:
    """`[campaigns.<name>]` tables: every problem as `file: campaigns.<name>.key: reason`."""
    problems: list[str] = []
    out: list[LiveCampaign] = []
    live_names = set(LiveKeys.model_fields)
    for name, table in section.items():
        where = f"campaigns.{name}"
        if isinstance(table, BaseModel):  # a CampaignSection validated at load (config.schema)
            table = table.model_dump()
        if not isinstance(table, Mapping):
            problems.append(f"{filename}: {where}: must be a table")
            continue
        live_part = {k: v for k, v in table.items() if k in live_names}
        rest = {k: v for k, v in table.items() if k not in live_names}
        rest.setdefault("id", name)
        if "leads" not in live_part:
            problems.append(f"{filename}: {where}.leads: required")
        try:
            keys = LiveKeys.model_validate(live_part)
        except ValidationError as exc:
            problems += _problems(exc, filename, where)
            keys = None
        try:
            config = CampaignConfig.model_validate(rest)
        except ValidationError as exc:
            problems += _problems(exc, filename, where)
            config = None
        if keys is None or config is None:
            continue
        if not keys.leads:
            out.append(LiveCampaign(config, keys, None))
            continue
        path = Path(keys.leads)
        out.append(LiveCampaign(config, keys, path if path.is_absolute() else Path(base_dir) / path))
    if problems:
        raise CampaignConfigError(problems)
    return out


def _problems(exc: ValidationError, filename: str, where: str) -> list[str]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        reason = "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"])
        reason = "required" if error["type"] == "missing" else reason.removeprefix("Value error, ")
        problems.append(f"{filename}: {where}.{_key_path(tuple(error['loc']))}: {reason}")
    return problems


def _read_leads(campaign: LiveCampaign) -> tuple[LeadImport, list[str]]:
    if campaign.leads_path is None:
        return LeadImport((), ()), []
    try:
        imported = load_leads_csv(campaign.leads_path, campaign.config.default_region)
    except OSError as exc:
        problem = f"campaigns.{campaign.id}.leads: cannot read {campaign.leads_path}: {exc.strerror or exc}"
        raise CampaignConfigError([problem]) from None
    report = imported.report()
    if report:
        log.warning("campaign_leads_rejected", campaign=campaign.id, rejected=len(report), first=report[:5])
    return imported, report


def load_book(campaign: LiveCampaign, now: float, dnc: DoNotCall | None = None) -> tuple[CampaignBook, list[str]]:
    """The campaign's lead book from its CSV alone (nothing stored); returns it and the
    rejected-row report."""
    imported, report = _read_leads(campaign)
    book = CampaignBook(campaign.config, dnc)
    book.add_leads(imported.leads, now)
    return book, report


def _first_of_each(leads: Iterable[Lead]) -> list[Lead]:
    """The first lead of each id, in order (a CSV's, then the earliest upload's)."""
    first: dict[str, Lead] = {}
    for lead in leads:
        first.setdefault(lead.lead_id, lead)
    return list(first.values())


@dataclass(frozen=True, slots=True)
class OpenedBook:
    book: CampaignBook
    rejected: list[str]  # the CSV's rejected rows, one line each
    connected: dict[str, str]  # call id -> lead id: connected calls awaiting their disposition
    restored: int  # leads whose state came from the store
    added: int  # leads of the CSV the store did not know
    # preview call id -> (lead id, the agent it was offered to or ""): shown, not dialled
    previews: dict[str, tuple[str, str]] = field(default_factory=dict)


async def open_book(
    campaign: LiveCampaign,
    state: DialerState,
    now: float,
    dnc: DoNotCall | None = None,
    uploaded: Sequence[Lead] = (),
) -> OpenedBook:
    """The campaign's lead book as the store keeps it: each stored lead with its
    attempts, next try, status and disposition; the leads of the CSV the store does not
    know are added (and written) as new, then those `uploaded` from the admin page
    (dialer/uploads.py) the same way. A lead that was being dialled when the dialer
    stopped counts as a failed attempt now (`CampaignBook.restore`), written too; a
    lead shown to an agent in preview and not dialled is kept, to be shown again."""
    imported, report = _read_leads(campaign)
    book = CampaignBook(campaign.config, dnc)
    records = await state.lead_states(campaign.id)
    previews = {r.call_id: (r.lead_id, r.offered_to) for r in records if r.status == PREVIEW and r.call_id}
    book.restore((state_of(r) for r in records), now, previews={lead for lead, _ in previews.values()})
    new = _first_of_each(lead for lead in (*imported.leads, *uploaded) if lead.lead_id not in book.states)
    book.add_leads(new, now)
    if new:
        await state.add_lead_states(record_of(campaign.id, book.state(lead.lead_id), now) for lead in new)
    lost = [r.lead_id for r in records if r.status == LeadStatus.DIALING.value]
    if lost:
        await state.put_lead_states(record_of(campaign.id, book.state(i), now) for i in lost)
    connected = {r.call_id: r.lead_id for r in records if r.status == LeadStatus.CONNECTED.value and r.call_id}
    return OpenedBook(book, report, connected, len(records), len(new), previews)


def lead_customer_id(campaign: str, lead_id: str) -> str:
    return f"lead-{campaign}-{lead_id}"


def lead_customer(campaign: LiveCampaign, lead: Lead) -> Customer:
    """The lead as a customer record, for the agent's screen-pop."""
    name = " ".join(p for p in (lead.first_name, lead.last_name) if p) or f"Lead {lead.lead_id}"
    details = ", ".join(f"{k}: {v}" for k, v in lead.attributes.items() if v)
    return Customer(
        id=lead_customer_id(campaign.id, lead.lead_id),
        name=name,
        company=campaign.config.name or campaign.id,
        phones=(lead.phone,),
        attributes={"campaign": campaign.id, "lead_id": lead.lead_id, **dict(lead.attributes)},
        notes=f"Campaign {campaign.config.name or campaign.id}, lead {lead.lead_id}"
        + (f" ({details})" if details else ""),
    )


# ---------------------------------------------------------------- the runner


@dataclass(slots=True)
class _Attempt:
    originate_id: str
    lead: Lead
    number: str
    placed_at: float
    call_id: str = ""
    channel: str = ""
    answered_at: float | None = None
    human_at: float | None = None
    offered_at: float | None = None
    state: str = "ringing"  # ringing | amd | queued | connected | dropped | machine | done
    talk_at: float | None = None  # first bridged with the agent
    preview: bool = False  # preview mode: `preview` (queued) -> `previewing` (offered) -> ringing...
    offered_to: str = ""  # preview: the agent it is offered to (kept in the lead's row)


@dataclass(slots=True)
class DialerStats:
    dials: int = 0
    results: dict[str, int] = field(default_factory=dict)
    humans: int = 0
    connected: int = 0
    dropped: int = 0
    machine_messages: int = 0  # messages left on answering machines
    drop_messages: int = 0  # drop messages played to humans
    late_connects: int = 0  # offered after the grace (counted as drops in the budget)
    connect_delays: list[float] = field(default_factory=list)  # AMD verdict -> offered (clock s)
    # AMD verdict -> the customer bridged with the agent (CallConnected): the offer's
    # redirect plus the agent's phone ringing, or nothing more on a standing line
    talk_delays: list[float] = field(default_factory=list)
    last_decision: str = ""


class DialerRunner:
    """One campaign on the live center."""

    def __init__(
        self,
        center: LiveCenter,
        campaign: LiveCampaign,
        book: CampaignBook,
        agents: Iterable[str],
        *,
        variables_for: Callable[[Lead], Mapping[str, str]] | None = None,
        store: Any = None,
        pbx_ready: Callable[[], bool] = lambda: True,
        agent_skills: Mapping[str, Iterable[str]] | None = None,
        lead_states: DialerState | None = None,
        dnc_lists: DoNotCallList | None = None,
        connected: Mapping[str, str] | None = None,
        previews: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """`lead_states`: where each lead's state is written before the dialer acts on it;
        `dnc_lists`: the durable do-not-call lists checked before every dial (None: only
        the book's own); `connected`: call id -> lead id of calls connected before a
        restart, whose dispositions are still to come; `previews`: call id -> (lead id,
        agent) of leads shown in preview before a restart, not dialled (`open_book`):
        shown again, to that agent first, when `run()` starts."""
        self.center = center
        self.campaign = campaign
        self.book = book
        self.agents = tuple(agents)  # the campaign's agents (set_directory follows changes)
        self.variables_for = variables_for
        self.store = store
        self.pbx_ready = pbx_ready
        # which inbound queues the campaign's agents serve (queue named after a skill);
        # None: unknown, every inbound queue counts (conservative)
        self.agent_skills = {a: frozenset(v) for a, v in agent_skills.items()} if agent_skills is not None else None
        pacing = replace(campaign.config.pacing_config(), connect_grace_s=campaign.live.connect_grace_s)
        self.pacer = Pacer(pacing)
        self.stats = DialerStats()
        self._by_originate: dict[str, _Attempt] = {}
        self._by_call: dict[str, _Attempt] = {}
        self._connected_leads: dict[str, str] = dict(connected or {})  # call id -> lead id, until the disposition
        self._restored_previews = {k: v for k, v in (previews or {}).items() if v[0] in book.states}
        center.dials.keep_previews(self._restored_previews)  # restart recovery must not end them
        self.lead_states = lead_states
        self.dnc_lists = dnc_lists
        self._unsaved: set[str] = set()  # lead ids whose state is not written yet
        self._unsaved_dnc: list[DncEntry] = []
        self._write_lock = asyncio.Lock()
        self._store_down_until = 0.0  # loop time
        self._machines: set[str] = set()  # call ids of machines, to count the messages left
        self._busy_since: dict[str, float] = {}
        self._inbound_arrivals: deque[float] = deque()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        self.running = False
        self.paused = False  # by an admin (dialer/control.py): no new dial until started again
        # deleted by an admin (stopped first): no tile; its last dispositions still land
        self.deleted = False
        center.listeners.append(self.on_event)

    @property
    def clock(self) -> Callable[[], float]:
        return self.center.clock

    # ------------------------------------------------------------ start / stop

    def set_directory(self, users: Sequence[Any]) -> None:
        """The agent directory changed (the live loop, inside its consumer): the
        campaign dials for the agents who now have its skill."""
        self.agents = tuple(campaign_agents(self.campaign, users))
        if self.agent_skills is not None:
            self.agent_skills = {u.login: frozenset(u.skills or {}) for u in users}
        log.info("campaign_agents_changed", campaign=self.campaign.id, agents=len(self.agents))

    def reconfigure(self, campaign: LiveCampaign, users: Sequence[Any]) -> None:
        """An admin edited the campaign (dialer/definitions.py; inside the consumer):
        the next tick dials by the new settings. The leads, the calls in progress and
        the drop budget's history stay. The pacer starts learning again from its cold
        start when the edit changed what it learned from (`RELEARN_ON`); a new cap,
        windows or margin only re-aim it; any other edit keeps it as it is."""
        old = self.campaign
        self.campaign = campaign
        self.book.config = campaign.config
        for number in campaign.config.dnc:
            self.book.dnc.add(number, campaign.id)
        pacing = replace(campaign.config.pacing_config(), connect_grace_s=campaign.live.connect_grace_s)
        stale = relearn_keys(old, campaign)
        if stale or not self.pacer.retune(pacing):
            budget = self.pacer.budget  # (the regulators' counts are never forgotten)
            budget.retune(pacing.drop_cap, pacing.windows_s)
            self.pacer = Pacer(pacing)
            self.pacer.budget = budget
            log.info("pacer_relearns", campaign=campaign.id, changed=stale or ["pacing tunables"])
        if campaign.live.skill != old.live.skill:
            self.set_directory(users)
        log.info("campaign_reconfigured", campaign=campaign.id, mode=campaign.config.mode, skill=campaign.live.skill)

    async def prepare(self) -> None:
        """Write the leads' customer records (for the screen-pop), in one batch."""
        if self.store is None:
            return
        customers = [lead_customer(self.campaign, s.lead) for s in self.book.states.values()]
        try:
            await self.store.put_customers(customers)
        except Exception as exc:  # noqa: BLE001 - a bad row must not stop the campaign; the pop shows less
            log.warning("campaign_customers_not_written", campaign=self.campaign.id, error=str(exc)[:200])

    async def add_uploaded(self, leads: Sequence[Lead]) -> None:
        """Leads uploaded from the admin page while the campaign runs (inside the live
        loop's consumer): those the book has not are added, written, given a customer
        record, and dialled as any other."""
        now = self.clock()
        new = _first_of_each(lead for lead in leads if lead.lead_id not in self.book.states)
        if not new:
            return
        self.book.add_leads(new, now)
        if self.lead_states is not None:
            records = [record_of(self.campaign.id, self.book.state(lead.lead_id), now) for lead in new]
            await self._store_call(self.lead_states.add_lead_states(records))
        if self.store is not None:
            await self.store.put_customers([lead_customer(self.campaign, lead) for lead in new])
        log.info("campaign_leads_uploaded", campaign=self.campaign.id, added=len(new), leads=len(self.book.states))
        await self.publish_tile(now)

    async def run(self) -> None:
        """Pacing ticks until cancelled (owned by the server's cleanup context)."""
        self.running = True
        try:
            if self._restored_previews:
                shown: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self.center.submit(InLoop(functools.partial(self._show_again, shown)))
                await shown
            while True:
                if (self._unsaved or self._unsaved_dnc) and not self._store_down():
                    try:  # rows a failed write left behind, written here and not in the consumer
                        await self._flush()
                    except StoreUnavailable:
                        pass
                # a cancel that came as the flush's store write (asyncio.wait_for) ended
                # was swallowed: the tick below would wait for a consumer stopped with us
                raise_if_cancelled()
                done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self.center.submit(InLoop(functools.partial(self._tick_then, done)))
                await done
                await asyncio.sleep(self.campaign.live.tick_s / self.center.time_scale)
        finally:
            self.running = False
            for handle in self._timers:
                handle.cancel()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _show_again(self, done: asyncio.Future[None]) -> None:
        """(inside the consumer, at start) The previews shown before a restart, again
        with the same call ids, each to the agent who had it first."""
        try:
            now = self.clock()
            restored, self._restored_previews = self._restored_previews, {}
            for call_id, (lead_id, agent_id) in restored.items():
                await self._queue_preview(self.book.state(lead_id).lead, now, call_id=call_id, offered_to=agent_id)
            log.info("dialer_previews_restored", campaign=self.campaign.id, previews=len(restored))
        finally:
            if not done.done():
                done.set_result(None)

    async def _tick_then(self, done: asyncio.Future[None]) -> None:
        try:
            await self.tick()
        finally:
            if not done.done():
                done.set_result(None)

    # ------------------------------------------------------------ pacing (inside the consumer)

    def _voice_state(self, agent: str) -> str | None:
        """The agent's state for the pacer: None when it cannot take a call (logged out,
        paused, or its written contacts leave no room for one by its capacity: blended
        agents, routing/capacity.py), else available | reserved | on_call | wrap_up."""
        router = self.center.router
        state = router.agent_state(agent)
        if state in (None, "logged_out", "paused"):
            return None
        if state == "available" and not router.voice_fits(agent):
            return None
        return state

    def snapshot(self, now: float) -> PacingSnapshot:
        router = self.center.router
        ready = idle = 0
        busy: list[float] = []
        for agent in self.agents:
            state = self._voice_state(agent)
            if state is None:
                continue
            ready += 1
            if state == "available":
                idle += 1
            else:
                busy.append(max(0.0, now - self._busy_since.get(agent, now)))
        served: set[str] | None = None
        if self.agent_skills is not None:
            served = set()
            for agent in self.agents:
                if self._voice_state(agent) is not None:
                    served |= self.agent_skills.get(agent, frozenset())
        known_skills = set().union(*self.agent_skills.values()) if self.agent_skills else set()
        waiting = 0  # inbound calls (not chats, e-mails...) waiting that these agents may take: they go first
        for queue, count in router.voice_waiting().items():
            if queue == self.campaign.queue:
                continue
            if served is None or queue in served or queue not in known_skills:
                waiting += count
        while self._inbound_arrivals and self._inbound_arrivals[0] < now - INBOUND_RATE_WINDOW_S:
            self._inbound_arrivals.popleft()
        ringing = [now - a.placed_at for a in self._by_originate.values() if a.state == "ringing"]
        ringing += [now - a.placed_at for a in self._by_call.values() if a.state == "amd"]
        answered_waiting = sum(1 for a in self._by_call.values() if a.state == "queued")
        share = ready / max(1, self._logged_in_total())
        return PacingSnapshot(
            now=now,
            agents_ready=ready,
            agents_idle=idle,
            busy_elapsed=busy,
            ringing_elapsed=ringing,
            answered_waiting=answered_waiting,
            inbound_waiting=waiting if ready else 0,
            inbound_rate_per_s=len(self._inbound_arrivals) / INBOUND_RATE_WINDOW_S * share,
        )

    def _logged_in_total(self) -> int:
        snapshot_agents = self.center.router.snapshot()["agents"]
        return sum(v for k, v in snapshot_agents.items() if k not in ("logged_out", "paused"))

    async def tick(self) -> int:
        """One pacing decision; returns how many numbers were dialled."""
        now = self.clock()
        if not self.campaign.live.enabled:  # stopped: its calls in progress finish, shown on its tile
            if not self.deleted:
                await self._sweep(now)
                self.stats.last_decision = "stopped"
                await self.publish_tile(now)
            return 0
        if self.paused:  # an admin paused it (dialer/control.py): the calls in progress go on
            await self._sweep(now)
            self.stats.last_decision = "paused by an admin"
            await self.publish_tile(now)
            return 0
        await self._sweep(now)
        snap = self.snapshot(now)
        if not self.pbx_ready():  # an originate now could not be placed (or its fate known)
            self.stats.last_decision = "paused: PBX link down"
            await self.publish_tile(now, snap)
            return 0
        if self._store_down():  # a lead's state could not be written before its dial
            self.stats.last_decision = "paused: store unavailable"
            await self.publish_tile(now, snap)
            return 0
        if self.campaign.config.mode == "preview":
            dialled = await self._preview_tick(now, snap)
            await self.publish_tile(now, snap)
            return dialled
        decision = self.pacer.decide(snap, self.campaign.config.mode)
        self.stats.last_decision = f"{decision.mode}: {decision.reason}"
        dialled = 0
        if decision.dial > 0 and snap.agents_ready > 0:
            selection = self.book.next_leads(now, decision.dial)
            for lead in await self._cleared(selection, now):
                await self._dial(lead, now)
                dialled += 1
        await self.publish_tile(now, snap)
        return dialled

    async def _preview_tick(self, now: float, snap: PacingSnapshot) -> int:
        """Preview: one lead queued per idle agent (none dialled: the agent dials it
        from the desktop after reading the record); returns how many were queued."""
        waiting = sum(1 for a in self._by_call.values() if a.state == "preview")
        want = snap.agents_idle - waiting if snap.inbound_waiting == 0 else 0  # inbound first
        self.stats.last_decision = f"preview: {max(want, 0)} lead(s) to show"
        if want <= 0:
            return 0
        selection = self.book.next_leads(now, want)
        leads = await self._cleared(selection, now)
        for lead in leads:
            await self._queue_preview(lead, now)
        return len(leads)

    async def _queue_preview(self, lead: Lead, now: float, call_id: str = "", offered_to: str = "") -> None:
        """Show `lead` to the next agent: kept in its row as a preview (no attempt is
        lost to a restart before the agent dials); `call_id` and `offered_to`: a preview
        shown before a restart, again to the same agent first (as a promised call-back)."""
        live, config = self.campaign.live, self.campaign.config
        number = lead.phone.lstrip("+")
        attempt = _Attempt(uuid.uuid4().hex, lead, number, now, state="preview", preview=True)
        attempt.call_id = call_id or f"pv-{attempt.originate_id[:20]}"
        attempt.offered_to = offered_to
        self._by_call[attempt.call_id] = attempt
        await self._save(lead.lead_id)
        variables = self._variables(lead)
        dial = PreviewDial(
            endpoint=live.dial_pattern.format(number=number),
            originate_id=attempt.originate_id,
            timeout_s=config.no_answer_timeout_s,
            caller_id=config.caller_id,
            variables=variables,
            on_dial=functools.partial(self._preview_dialled, attempt),
            on_skip=functools.partial(self._preview_skipped, attempt),
        )
        queued = self._queued(attempt, now)
        if offered_to:
            promise = {"preferred_agent": offered_to, "preferred_agent_s": self.center.callbacks.agent_s}
            queued = replace(queued, attributes={**queued.attributes, **promise})
        await self.center.dials.queue_preview(queued, lead.phone, dial)

    def _variables(self, lead: Lead) -> dict[str, str]:
        """The originate's channel variables: the dialplan reads the campaign and lead,
        and plays the machine message itself when asked (no AMI race with its hangup)."""
        variables = {CAMPAIGN_VARIABLE: self.campaign.id, LEAD_VARIABLE: lead.lead_id}
        if self.campaign.config.amd_action == "message" and not self.campaign.config.mode == "preview":
            variables[MACHINE_MESSAGE_VARIABLE] = self.campaign.live.machine_message
        if self.variables_for is not None:
            variables.update(self.variables_for(lead))
        return variables

    async def _preview_dialled(self, attempt: _Attempt, now: float) -> None:
        """The agent pressed Dial: the do-not-call lists are read again first (a number
        added since the preview was shown is not dialled)."""
        if self.dnc_lists is not None:
            lead = attempt.lead
            try:
                listed = await self._store_call(self.dnc_lists.dnc_blocked([lead.phone], self.campaign.id))
            except StoreUnavailable:
                raise CommandRefused("the do-not-call lists cannot be read now; try again") from None
            if lead.phone in listed:
                attempt.state = "done"
                self._by_call.pop(attempt.call_id, None)
                self.book.record_blocked(lead.lead_id, now)
                log.info("dialer_dnc_blocked", campaign=self.campaign.id, lead_id=lead.lead_id, preview=True)
                await self._save(lead.lead_id)
                await self.center.record(
                    DialerResulted(
                        at=now,
                        call_id=attempt.call_id,
                        campaign=self.campaign.id,
                        lead_id=lead.lead_id,
                        result="dnc_blocked",
                    )
                )
                raise DialVetoed("the number is on a do-not-call list")
        attempt.state, attempt.placed_at = "ringing", now
        self._by_call.pop(attempt.call_id, None)
        if not await self._save(attempt.lead.lead_id):  # no longer a preview in its row before the dial
            attempt.state = "previewing"
            self._by_call[attempt.call_id] = attempt
            raise CommandRefused("the lead's state cannot be written now; try again")
        self._by_originate[attempt.originate_id] = attempt
        self.stats.dials += 1
        await self.center.record(
            DialerAttempted(
                at=now,
                call_id=attempt.originate_id,
                campaign=self.campaign.id,
                lead_id=attempt.lead.lead_id,
                number=attempt.lead.phone,
            )
        )

    async def _preview_skipped(self, attempt: _Attempt, now: float) -> None:
        attempt.state = "done"
        self._by_call.pop(attempt.call_id, None)
        self._count("skipped")
        self.book.record_skipped(attempt.lead.lead_id, now)
        await self._save(attempt.lead.lead_id)
        await self.center.record(
            DialerResulted(
                at=now,
                call_id=attempt.call_id,
                campaign=self.campaign.id,
                lead_id=attempt.lead.lead_id,
                result="skipped",
            )
        )

    async def _sweep(self, now: float) -> None:
        """Dials whose OriginateResponse never came (the AMI link dropped meanwhile): failed."""
        limit = self.campaign.config.no_answer_timeout_s + LOST_AFTER_S
        for attempt in [a for a in self._by_originate.values() if now - a.placed_at > limit]:
            del self._by_originate[attempt.originate_id]
            log.warning("dialer_result_lost", campaign=self.campaign.id, lead_id=attempt.lead.lead_id)
            await self._close(attempt, "failed", now)

    async def _dial(self, lead: Lead, now: float) -> None:
        live = self.campaign.live
        number = lead.phone.lstrip("+")
        attempt = _Attempt(uuid.uuid4().hex, lead, number, now)
        self._by_originate[attempt.originate_id] = attempt
        self.stats.dials += 1
        variables = self._variables(lead)
        await self.center.record(
            DialerAttempted(
                at=now, call_id=attempt.originate_id, campaign=self.campaign.id, lead_id=lead.lead_id, number=lead.phone
            )
        )
        caller_id = self.campaign.config.caller_id
        self._spawn(self._originate(attempt, live.dial_pattern.format(number=number), number, caller_id, variables))

    async def _originate(
        self, attempt: _Attempt, endpoint: str, number: str, caller_id: str, variables: Mapping[str, str]
    ) -> None:
        try:
            await self.center.pbx.originate(
                endpoint,
                context=self.campaign.live.answered_context,
                exten=number,
                caller_id=caller_id,
                variables=variables,
                timeout_s=self.campaign.config.no_answer_timeout_s,
                originate_id=attempt.originate_id,
            )
        except PbxError as exc:
            log.warning(
                "dialer_originate_failed", campaign=self.campaign.id, lead_id=attempt.lead.lead_id, error=str(exc)
            )

            async def failed() -> None:
                if self._by_originate.pop(attempt.originate_id, None) is not None:
                    await self._close(attempt, "failed", self.clock())

            self.center.submit(InLoop(failed))

    # ------------------------------------------------------------ results (inside the consumer)

    async def on_event(self, event: Event) -> None:
        """The center's listener: every event it logs, in order."""
        if isinstance(event, OriginateResulted):
            await self._on_originate_result(event)
        elif isinstance(event, CallOffered):
            attempt = self._by_call.get(event.call_id)
            if attempt is not None and attempt.state == "queued":
                await self._connected(attempt, event.at)
            elif attempt is not None and attempt.state in ("preview", "previewing"):
                attempt.state, attempt.offered_at, attempt.offered_to = "previewing", event.at, event.agent_id
                await self._save(attempt.lead.lead_id)  # the agent it is promised to after a restart
        elif isinstance(event, (AgentStateChanged, AgentLoggedIn, AgentLoggedOut)):
            self._agent_changed(event)
        elif isinstance(event, CallQueued):
            if event.queue != self.campaign.queue and event.call_id not in self._by_call:
                self._inbound_arrivals.append(event.at)
        elif isinstance(event, CallNotAnswered):
            attempt = self._by_call.get(event.call_id)
            if attempt is not None and attempt.state == "connected":
                # the agent did not pick up: the human must not wait in the queue
                log.warning(
                    "dialer_agent_missed", campaign=self.campaign.id, call_id=event.call_id, agent_id=event.agent_id
                )
                await self.center.withdraw(event.call_id, event.at)
                self.pacer.budget.record_drop(event.at)
                await self._drop_message(attempt)
        elif isinstance(event, CallConnected):
            attempt = self._by_call.get(event.call_id)
            if attempt is not None and attempt.human_at is not None:
                if attempt.state == "connected" and attempt.talk_at is None:  # (not again after a hold)
                    attempt.talk_at = event.at
                    self.stats.talk_delays.append(event.at - attempt.human_at)
                log.info(
                    "dialer_connected",
                    campaign=self.campaign.id,
                    call_id=event.call_id,
                    agent_id=event.agent_id,
                    after_human_s=round(event.at - attempt.human_at, 3),
                )
        elif isinstance(event, WrapUpEnded):
            await self._disposition(event)
        elif isinstance(event, CallEnded):
            attempt = self._by_call.pop(event.call_id, None)
            if attempt is not None and attempt.state in ("amd", "queued"):
                # hung up before the AMD verdict or before the connect decision
                if attempt.state == "queued":
                    await self.center.withdraw(event.call_id, event.at)
                await self._close(attempt, "failed", event.at)

    async def _on_originate_result(self, event: OriginateResulted) -> None:
        attempt = self._by_originate.pop(event.originate_id, None)
        if attempt is None:
            return
        outcome = "answered" if event.success else outcome_from_originate(event.reason)
        if outcome != "answered":
            await self._close(attempt, outcome, event.at)
            return
        if attempt.preview:  # the customer is on the line; the dialplan rings the agent who dialled
            attempt.state, attempt.channel, attempt.answered_at = "connected", event.channel, event.at
            self._by_call[attempt.call_id] = attempt
            self.stats.connected += 1
            self._count("answered")
            await self.center.record(
                DialerResulted(
                    at=event.at,
                    call_id=attempt.call_id,
                    campaign=self.campaign.id,
                    lead_id=attempt.lead.lead_id,
                    result="answered",
                )
            )
            self.book.record_connected(attempt.lead.lead_id, event.at)
            self._connected_leads[attempt.call_id] = attempt.lead.lead_id
            await self._save(attempt.lead.lead_id)
            return
        attempt.call_id, attempt.channel, attempt.answered_at = event.call_id, event.channel, event.at
        attempt.state = "amd"
        self._by_call[event.call_id] = attempt

    def on_ami_message(self, message: Message) -> None:
        """AmiClient subscriber for `UserEvent`: the dialplan's AMD verdict, and its
        report that a machine got the campaign's message."""
        name = message.get("UserEvent")
        if name == "DialerMachineMessage":
            if message.get("Linkedid") in self._machines or message.get("Uniqueid") in self._machines:
                self.stats.machine_messages += 1
            return
        if name != "DialerAMD":
            return

        async def verdict() -> None:
            await self._on_amd(message)

        self.center.submit(InLoop(verdict))

    async def _on_amd(self, message: Message) -> None:
        now = self.clock()
        attempt = self._by_call.get(message.get("Linkedid")) or self._by_call.get(message.get("Uniqueid"))
        if attempt is None:  # the verdict before the OriginateResponse: find the dial by number
            number = message.get("Number")
            attempt = next((a for a in self._by_originate.values() if a.number == number), None)
            if attempt is None:
                return
            self._by_originate.pop(attempt.originate_id, None)
            attempt.call_id = message.get("Linkedid") or message.get("Uniqueid")
            attempt.channel, attempt.answered_at = message.get("Channel"), now
            self._by_call[attempt.call_id] = attempt
        if attempt.state != "amd":
            return
        verdict = outcome_from_amd(message.get("Status"))
        ring_s = (attempt.answered_at or now) - attempt.placed_at
        if verdict == "human":
            self.pacer.observe_dial_result(True, ring_s)
            attempt.human_at = now
            attempt.state = "queued"
            self.stats.humans += 1
            self._count("human")
            await self.center.record(
                DialerResulted(
                    at=now,
                    call_id=attempt.call_id,
                    campaign=self.campaign.id,
                    lead_id=attempt.lead.lead_id,
                    result="human",
                )
            )
            await self.center.queue_outbound(self._queued(attempt, now), attempt.channel)
            self._at(now + self.campaign.live.connect_grace_s, lambda: self._deadline(attempt))
        elif verdict == "machine":
            attempt.state = "machine"
            await self._close(attempt, "machine", now, ring_s)
            self._machines.add(attempt.call_id)
            if len(self._machines) > 10_000:
                self._machines.pop()
            if self.campaign.config.amd_action == "hangup" and attempt.channel:
                self._spawn(self._pbx(self.center.pbx.hangup(attempt.channel, 16), "machine-hangup", attempt))
            # "message": the dialplan waits for the beep and plays it (CC_MACHINE_MESSAGE)
        else:
            await self._close(attempt, verdict, now, ring_s)

    def _queued(self, attempt: _Attempt, now: float) -> CallQueued:
        """The call (or, in preview, the lead) for the router, with the lead's record."""
        lead = attempt.lead
        attributes: dict[str, Any] = {
            "campaign": self.campaign.id,
            "lead_id": lead.lead_id,
            "phone": lead.phone,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "direction": "outbound",
            "attempts": self.book.state(lead.lead_id).attempts,
        }
        attributes.update({k: v for k, v in lead.attributes.items() if k not in attributes})
        return CallQueued(
            at=now,
            call_id=attempt.call_id,
            queue=self.campaign.queue,
            skills={self.campaign.live.skill: 1},
            priority=self.campaign.live.priority,
            customer_id=lead_customer_id(self.campaign.id, lead.lead_id) if self.store is not None else "",
            attributes=attributes,
        )

    async def _connected(self, attempt: _Attempt, at: float) -> None:
        attempt.state = "connected"
        attempt.offered_at = at
        assert attempt.human_at is not None
        delay = at - attempt.human_at
        self.stats.connected += 1
        self.stats.connect_delays.append(delay)
        late = delay > self.campaign.live.connect_grace_s
        if late:
            # offered before the deadline check ran (a busy loop): the caller talks to the
            # agent, but the regulators count it as abandoned, and so does the budget
            self.stats.late_connects += 1
            log.warning(
                "dialer_connected_late", campaign=self.campaign.id, call_id=attempt.call_id, delay_s=round(delay, 3)
            )
        self.pacer.observe_live_answer(attempt.human_at, dropped=late)
        self.book.record_connected(attempt.lead.lead_id, at)
        self._connected_leads[attempt.call_id] = attempt.lead.lead_id
        await self._save(attempt.lead.lead_id)

    async def _deadline(self, attempt: _Attempt) -> None:
        if attempt.state != "queued":
            return
        now = self.clock()
        info = self.center.router.call_info(attempt.call_id)
        if info is not None and info["state"] in ("offered", "connected"):
            await self._connected(attempt, now)  # offered in this very instant
            return
        attempt.state = "dropped"
        self.stats.dropped += 1
        await self.center.withdraw(attempt.call_id, now)
        assert attempt.human_at is not None
        self.pacer.observe_live_answer(attempt.human_at, dropped=True)
        await self.center.record(
            DialerDropped(at=now, call_id=attempt.call_id, campaign=self.campaign.id, lead_id=attempt.lead.lead_id)
        )
        self.book.record_outcome(attempt.lead.lead_id, "dropped", now)
        await self._save(attempt.lead.lead_id)
        log.info(
            "dialer_dropped",
            campaign=self.campaign.id,
            call_id=attempt.call_id,
            lead_id=attempt.lead.lead_id,
            waited_s=round(now - attempt.human_at, 3),
        )
        await self._drop_message(attempt)

    async def _drop_message(self, attempt: _Attempt) -> None:
        attempt.state = "dropped"
        if attempt.channel:
            self._spawn(
                self._pbx(
                    self.center.pbx.play(attempt.channel, self.campaign.live.drop_message), "drop-message", attempt
                )
            )

    async def _close(self, attempt: _Attempt, outcome: str, now: float, ring_s: float | None = None) -> None:
        """A dial that will not reach an agent: its result, the lead's retry, the pacer."""
        self._count(outcome)
        attempt.state = "done"
        self.pacer.observe_dial_result(False, ring_s if ring_s is not None else now - attempt.placed_at)
        await self.center.record(
            DialerResulted(
                at=now,
                call_id=attempt.call_id or attempt.originate_id,
                campaign=self.campaign.id,
                lead_id=attempt.lead.lead_id,
                result=outcome,
            )
        )
        state = self.book.state(attempt.lead.lead_id)
        if state.status == LeadStatus.DIALING:
            self.book.record_outcome(attempt.lead.lead_id, outcome if outcome != "answered" else "failed", now)
            await self._save(attempt.lead.lead_id)

    async def _disposition(self, event: WrapUpEnded) -> None:
        lead_id = self._connected_leads.pop(event.call_id, None)
        if lead_id is None or not event.disposition:
            return
        try:
            state = self.book.record_disposition(lead_id, event.disposition, event.at)
        except ValueError as exc:  # unknown for the campaign, or a callback without a time
            log.warning("dialer_disposition_ignored", campaign=self.campaign.id, lead_id=lead_id, error=str(exc))
            return
        dnc: tuple[DncEntry, ...] = ()
        if self.campaign.config.dispositions.get(event.disposition) == "dnc":
            dnc = (disposition_dnc(state.lead.phone, self.book.dnc_list, event.at, event.agent_id, event.call_id),)
            log.info(
                "dialer_dnc_added", campaign=self.campaign.id, lead_id=lead_id, scope=self.campaign.config.dnc_scope
            )
        await self._save(lead_id, dnc=dnc)

    def _agent_changed(self, event: AgentStateChanged | AgentLoggedIn | AgentLoggedOut) -> None:
        agent = event.agent_id
        if agent not in self.agents:
            return
        if isinstance(event, AgentLoggedOut) or (isinstance(event, AgentStateChanged) and event.state == "paused"):
            self._busy_since.pop(agent, None)
            return
        state = event.state if isinstance(event, AgentStateChanged) else "available"
        if state in BUSY_STATES:
            self._busy_since.setdefault(agent, event.at)
        elif state == "available":
            since = self._busy_since.pop(agent, None)
            if since is not None:
                self.pacer.observe_handle_time(max(0.0, event.at - since))

    def _count(self, outcome: str) -> None:
        self.stats.results[outcome] = self.stats.results.get(outcome, 0) + 1

    # ------------------------------------------------------------ what the store keeps

    async def _cleared(self, selection: Selection, now: float) -> list[Lead]:
        """The selected leads that may be dialled now: those not on a durable do-not-call
        list, once their state (dialing, the attempt counted) is in the store. Leads on a
        list are blocked; when the store cannot say or write, none is dialled and each
        is pending again (the attempt not counted)."""
        leads = list(selection.leads)
        written = [lead.lead_id for lead in leads] + list(selection.blocked)
        if leads and self.dnc_lists is not None:
            try:
                listed = await self._store_call(
                    self.dnc_lists.dnc_blocked([lead.phone for lead in leads], self.campaign.id)
                )
            except StoreUnavailable:
                listed = None
            if listed is None:
                for lead in leads:
                    self.book.release(lead.lead_id, now, now)
                self._unsaved.update(selection.blocked)
                return []
            for lead in leads:
                if lead.phone in listed:
                    self.book.record_blocked(lead.lead_id, now)
                    log.info("dialer_dnc_blocked", campaign=self.campaign.id, lead_id=lead.lead_id)
            leads = [lead for lead in leads if lead.phone not in listed]
        if not await self._save(*written):
            for lead in leads:
                self.book.release(lead.lead_id, now, now)
            return []
        return leads

    async def _save(self, *lead_ids: str, dnc: Sequence[DncEntry] = ()) -> bool:
        """Write these leads' states (and any left unwritten before) and do-not-call
        entries; False when the store did not take them (kept, written again later)."""
        self._unsaved.update(lead_ids)
        self._unsaved_dnc.extend(dnc)
        if self.lead_states is None and self.dnc_lists is None:
            self._unsaved.clear()
            self._unsaved_dnc.clear()
            return True
        if self._store_down():
            return False
        try:
            await self._flush(lead_ids)
        except StoreUnavailable:
            return False
        return True

    async def _flush(self, lead_ids: Iterable[str] = ()) -> None:
        """One writer at a time, each writing the states as they are when it starts, so
        a later write is never overtaken by an earlier one."""
        async with self._write_lock:
            if self._store_down():
                raise StoreUnavailable("store unavailable")
            ids = self._unsaved | set(lead_ids)
            entries = list(self._unsaved_dnc)
            now = self.clock()
            calls = {lead: call for call, lead in self._connected_leads.items()}
            previews = {
                a.lead.lead_id: (a.call_id, a.offered_to)
                for a in self._by_call.values()
                if a.state in ("preview", "previewing")
            }
            records = [
                record_of(self.campaign.id, self.book.state(i), now, calls.get(i, ""), previews.get(i))
                for i in sorted(ids)
            ]
            if entries and self.dnc_lists is not None:
                await self._store_call(self.dnc_lists.add_dnc(entries))
            del self._unsaved_dnc[: len(entries)]
            if records and self.lead_states is not None:
                await self._store_call(self.lead_states.put_lead_states(records))
            self._unsaved -= ids

    async def _store_call(self, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, STORE_TIMEOUT_S)
        except Exception as exc:  # any failure of the store: stop dialling, retry later
            self._store_down_until = asyncio.get_running_loop().time() + STORE_RETRY_S
            log.warning("dialer_store_unavailable", campaign=self.campaign.id, error=type(exc).__name__)
            raise StoreUnavailable(type(exc).__name__) from exc

    def _store_down(self) -> bool:
        return asyncio.get_running_loop().time() < self._store_down_until

    # ------------------------------------------------------------ wallboard

    def tile(self, now: float) -> dict[str, Any]:
        config = self.campaign.config
        window = min(config.drop_windows_hours) * 3600.0
        answers, drops = self.pacer.budget.counts(now, window)
        in_flight = sum(1 for a in self._by_originate.values() if a.state == "ringing") + sum(
            1 for a in self._by_call.values() if a.state == "amd"
        )
        ready = sum(1 for a in self.agents if self._voice_state(a) is not None)
        state = "stopped" if not self.campaign.live.enabled else "paused" if self.paused else "running"
        return {
            "name": config.name or config.id,
            "mode": config.mode,
            "decision": self.stats.last_decision,
            "agents_ready": ready,
            "dialing": in_flight,
            "dial_level": round(in_flight / ready, 2) if ready else 0.0,
            "dials": self.stats.dials,
            "answered": self.stats.humans,
            "connected": self.stats.connected,
            "dropped": self.stats.dropped,
            "drop_rate": round(drops / answers, 4) if answers else 0.0,
            "drop_window_h": min(config.drop_windows_hours),
            "drop_cap": config.drop_cap,
            "leads_left": self.book.leads_left(),
            "at": now,
            "in_flight": self.in_flight(),
            "state": state,
        }

    def in_flight(self) -> int:
        """Calls not over: ringing, awaiting AMD or an agent, talking; previews shown."""
        live = ("amd", "queued", "connected", "preview", "previewing")
        return len(self._by_originate) + sum(1 for a in self._by_call.values() if a.state in live)

    async def retire(self) -> None:
        """Deleted by an admin (inside the consumer; stopped before): no tile any more.
        It keeps listening, so a disposition still to come reaches its lead's row."""
        self.deleted = True
        try:
            await CAMPAIGN_TILES.delete(self.center.bus, self.campaign.id)
        except Exception as exc:  # noqa: BLE001 - the wallboard is a view
            log.warning("campaign_tile_not_deleted", campaign=self.campaign.id, error=type(exc).__name__)
        log.info("campaign_deleted_live", campaign=self.campaign.id)

    async def publish_tile(self, now: float, snap: PacingSnapshot | None = None) -> None:
        try:
            await CAMPAIGN_TILES.set(self.center.bus, self.campaign.id, CampaignTile(**self.tile(now)))
        except Exception as exc:  # noqa: BLE001 - the wallboard is a view; dialing goes on
            log.warning("campaign_tile_failed", campaign=self.campaign.id, error=type(exc).__name__)

    # ------------------------------------------------------------ helpers

    def _at(self, when: float, fn: Callable[[], Any]) -> None:
        delay = max(0.0, when - self.clock()) / self.center.time_scale
        loop = asyncio.get_running_loop()
        self._timers = [h for h in self._timers if not h.cancelled() and h.when() > loop.time()]
        self._timers.append(loop.call_later(delay, lambda: self.center.submit(InLoop(fn))))

    async def _pbx(self, action: Any, name: str, attempt: _Attempt) -> None:
        try:
            await action
        except PbxError as exc:
            # e.g. the recorded dialplan's machine branch hangs up at once (see the module note)
            log.info("dialer_pbx_action_failed", action=name, call_id=attempt.call_id, error=str(exc))
            return
        if name == "drop-message":
            self.stats.drop_messages += 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# the campaign keys whose edit makes what the pacer learned (answer rate and times,
# handle times, the gain) stale: who is called and when, from which number, by whom,
# how long a dial rings, and how (the gain learns only in predictive); docs/campaigns.md
RELEARN_ON = (
    "mode",
    "skill",
    "queue",
    "caller_id",
    "calling_window",
    "no_answer_timeout_s",
    "connect_grace_s",
    "expected_answer_rate",
    "expected_aht_s",
)


def relearn_keys(old: LiveCampaign, new: LiveCampaign) -> list[str]:
    """The keys of `RELEARN_ON` that differ between two versions of a campaign."""
    before = {**old.config.model_dump(), **old.live.model_dump()}
    after = {**new.config.model_dump(), **new.live.model_dump()}
    return [key for key in RELEARN_ON if before.get(key) != after.get(key)]


def campaign_agents(campaign: LiveCampaign, users: Sequence[Any]) -> list[str]:
    """Logins of the agents with the campaign's skill."""
    return [u.login for u in users if campaign.live.skill in (u.skills or {})]


async def start_dialers(
    campaigns_section: Mapping[str, Any],
    center: LiveCenter,
    client: Any,
    store: Any,
    users: Sequence[Any],
    *,
    base_dir: str | Path = ".",
    pbx_ready: Callable[[], bool] = lambda: True,
) -> list[DialerRunner]:
    """The runners of the enabled `[campaigns.*]` (their `run()` is the caller's to start).
    Raises CampaignConfigError on a bad section."""
    return [
        await start_dialer(campaign, center, client, store, users, pbx_ready=pbx_ready)
        for campaign in parse_live_campaigns(campaigns_section, base_dir)
        if campaign.live.enabled
    ]


async def start_dialer(
    campaign: LiveCampaign,
    center: LiveCenter,
    client: Any,
    store: Any,
    users: Sequence[Any],
    *,
    pbx_ready: Callable[[], bool] = lambda: True,
) -> DialerRunner:
    """One campaign's runner, its leads as the store keeps them (its `run()` is the
    caller's to start); a campaign with no agent yet is started all the same (it dials
    once agents with its skill log in)."""
    agents = campaign_agents(campaign, users)
    rules = center.router.rules
    if campaign.queue not in rules.queues and getattr(rules, "default_queue", None):
        log.warning(
            "campaign_queue_not_in_routing",
            campaign=campaign.id,
            queue=campaign.queue,
            default_queue=rules.default_queue,
            hint=f"add [routing.queues.{campaign.queue}] targeting skills.{campaign.live.skill}",
        )
    if not agents:
        log.warning("campaign_without_agents", campaign=campaign.id, skill=campaign.live.skill)
    from dialer.uploads import uploaded_leads

    uploads = await uploaded_leads(store, campaign.id, campaign.config.default_region)
    opened = await open_book(campaign, store, center.clock(), uploaded=uploads)
    book, _rejected = opened.book, opened.rejected
    variables = demo_variables(campaign.live.demo_behaviour) if campaign.live.demo_behaviour else None
    runner = DialerRunner(
        center,
        campaign,
        book,
        agents,
        variables_for=variables,
        store=store,
        pbx_ready=pbx_ready,
        agent_skills={u.login: set(u.skills or {}) for u in users},
        lead_states=store,
        dnc_lists=store,
        connected=opened.connected,
        previews=opened.previews,
    )
    await runner.prepare()
    client.subscribe("UserEvent", runner.on_ami_message)
    center.directory.listeners.append(runner.set_directory)
    log.info(
        "campaign_loaded",
        campaign=campaign.id,
        leads=len(book.states),
        restored=opened.restored,
        added=opened.added,
        rejected=len(_rejected),
        agents=len(agents),
        mode=campaign.config.mode,
        queue=campaign.queue,
    )
    return runner


def demo_variables(behaviour: Mapping[str, float], seed: int = 0) -> Callable[[Lead], dict[str, str]]:
    """Emulator originate variables drawing each dial's fate from `behaviour`
    (answer / busy / noanswer / congestion / machine probabilities)."""
    import random

    rng = random.Random(seed)
    names = [k for k, v in behaviour.items() if v > 0]
    weights = [behaviour[k] for k in names]
    counter = itertools.count()

    def variables(lead: Lead) -> dict[str, str]:
        next(counter)
        fate = rng.choices(names, weights)[0] if names else "answer"
        out = {"CUST_RING": f"{rng.uniform(2, 8):.1f}", "__AGENT_RING": "0"}
        if fate == "machine":
            out.update(CUST_BEHAVIOUR="answer", CUST_AMD="MACHINE")
        else:
            out.update(CUST_BEHAVIOUR=fate, CUST_AMD="HUMAN")
        return out

    return variables


__all__ = [
    "DialerRunner",
    "DialerStats",
    "LiveCampaign",
    "LiveKeys",
    "campaign_agents",
    "demo_variables",
    "lead_customer",
    "lead_customer_id",
    "load_book",
    "open_book",
    "parse_live_campaigns",
    "relearn_keys",
    "start_dialer",
    "start_dialers",
]
