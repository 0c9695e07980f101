"""The leader's task loop: written contacts (chat, e-mail, ...) routed by the live router.

Any server process opens a task with its `TaskDesk` (tasks/desk.py): the row is stored,
then a `TaskNote` goes out on the bus ("tasks"). This loop, in the leader only, keeps
the router in step with the open rows: a waiting task is queued (CallQueued with the
task's channel and its due time, under a router id of its own, `task:<id>[:<n>]`), the
router's Offer offers or assigns it (a compare-and-set on the row: waiting -> offered or
assigned, so a task is given to one agent once, whatever the leaders) and the agent's
desktop hears it on the bus; a
task closed, abandoned or transferred frees the agent's slot (CallEnded, and no
wrap-up: the desktop's close is the wrap-up) and a transferred one is queued again.

The bus only wakes the loop: every `poll_s` it also reads every open row, so a note lost
(a Redis reconnect, a leader elected after the note) delays a task by one poll at most,
and a restart (`restore`) takes back every open task from the store: a waiting one goes
back in line (oldest first), an offered or assigned one back to its agent's slot.
Nothing is offered to the PBX: a written task reaches the agent's desktop only.

Accept step: when the routing rules give the task's channel an accept time
(`rona.accept_s`), the Offer is written as "offered" (the agent's, on their desktop,
until their `task_accept`: tasks/desk.py `accept`, which writes "assigned"); the time
runs out (the row's offered_at plus that time, so a restarted leader keeps the offer and
its deadline) and the row goes back to "waiting" while the router takes the miss as a
call's RONA (the agent paused after `rona.max_misses`, the task not offered to them
again, back at the head of its line). Without an accept time the Offer is written
straight to "assigned", as before.

Event log: each step is logged once (events/: TaskQueued, TaskOffered, TaskAccepted,
TaskNotAccepted, TaskClosed, TaskAbandoned), by the leader, with a dedupe key made of
the task id and the row's own time of that step: a step logged again (after a restart,
by a second leader) is dropped by the store. A leader taking a row it did not route (at
start, from an earlier leader, or ended between two polls) logs the steps the row proves
(its opening, its last offer, its accept, that offer's ring-no-answer: the row's
`missed_by`) under those keys: an earlier leader killed before its log was written
leaves none of them out. A written task logs no Call* event and no
agent state: the voice reports never see it (reports/channels.py reads these).

Every poll also tells each waiting task's place in its queue on its topic (a TaskNote
"position", when it changed); the estimated wait is `TaskDesk.status`'s.

The consumer never waits for the store: the rows are read by the poll and the listener
outside it, and the writes (the offer, the assignment, putting back an offer that ran
out) run as tasks of their own whose result comes back through the inbox.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from cti.live_items import InLoop
from events import (
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallNotAnswered,
    CallOffered,
    CallQueued,
    Event,
    TaskAbandoned,
    TaskAccepted,
    TaskClosed,
    TaskNotAccepted,
    TaskOffered,
    TaskQueued,
    WrapUpEnded,
)
from routing import Escalated, FinalStep, Offer, Overflowed
from store.port import NotFound, TaskRows
from store.topics import TASK_CHANGES, TaskNote, subscribe, task_topic
from tasks.model import Task, line_order

if TYPE_CHECKING:
    from cti.live import LiveCenter

log = structlog.get_logger()

WRITE_TIMEOUT_S = 5.0
TRANSFER_AGENT_S = 300.0  # a task transferred to a named agent waits this long for them, then for the queue
# A new leader logs the ends of the tasks ended this long before it started: a takeover
# takes seconds; tasks closed on a web-only process while no leader ran for longer are
# not logged as ended (their opening, offer and accept are, when the leader saw them)
ENDED_LOOKBACK_S = 600.0
WAKING_KINDS = ("opened", "assigned", "transferred", "closed", "abandoned")


@dataclass(slots=True)
class _Held:
    """A task the router has: its router id, and where it stands there."""

    rid: str
    # "waiting" (queued); "offering" (the offer being written), "offered" (the row
    # says so: the agent's to accept until its deadline), "unoffering" (not accepted in
    # time: the row being put back); "assigning" (taken at once: the row being
    # written), "assigned"; "parked" (its agent is away: the row waits for them)
    state: str
    agent_id: str | None
    queue: str
    target: str | None
    generation: int
    channel: str = ""


class TaskRouting:
    """Inside the leader's live center: `owns`/`on_decision` for the router's decisions
    about tasks, `restore` at start, `run` (listener and poll) while leading."""

    def __init__(self, center: LiveCenter, store: TaskRows | None, *, poll_s: float = 2.0) -> None:
        self.center = center
        self.store = store
        self.poll_s = poll_s
        self._held: dict[str, _Held] = {}  # task id -> what the router has
        self._rids: dict[str, str] = {}  # router id -> task id
        self.assigned = 0  # tasks given to an agent by this loop (stats, tests)
        self.not_accepted = 0  # offers that ran out (the written tasks' RONA)
        self._offers: dict[str, float] = {}  # offered task id -> when its accept time runs out
        self._positions: dict[str, int] = {}  # waiting task id -> the place last told

    def owns(self, call_id: str) -> bool:
        return call_id in self._rids

    def held(self, task_id: str) -> str | None:
        """Where the task stands in this loop ("waiting", "assigned"...), None if unknown."""
        held = self._held.get(task_id)
        return held.state if held is not None else None

    # ------------------------------------------------------------ outside the consumer

    async def restore(self) -> int:
        """At start: every open row, as the loop's own (waiting ones queued oldest first),
        and the rows ended in the last `ENDED_LOOKBACK_S`, whose steps are logged if they
        are not yet (ended while no leader ran, or under a leader killed before its event
        log was written: `_log_ended`, each step once). Returns the open rows' count."""
        if self.store is None:
            return 0
        rows = await self.store.open_tasks()
        ended = await self.store.tasks_ended_since(self.center.now() - ENDED_LOOKBACK_S)
        self.center.submit(InLoop(functools.partial(self.sync, [*ended, *rows])))
        return len(rows)

    async def run(self) -> None:
        """Listen to the bus and poll the store, until cancelled (the leader's term)."""
        if self.store is None:
            return
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen())
            group.create_task(self._poll())

    async def _listen(self) -> None:
        while True:
            try:
                async with subscribe(self.center.bus, TASK_CHANGES) as inbox:
                    async for note in inbox:
                        if note.kind in WAKING_KINDS:
                            await self._read([note.task_id])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the bus went away: the poll keeps routing
                log.warning("task_listener_lost", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _poll(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                rows = await self.store.open_tasks()
                ended = [tid for tid in self._held if tid not in {t.task_id for t in rows}]
                ended_rows = [await self.store.get_task(tid) for tid in ended]
            except NotFound:
                continue
            except Exception as exc:  # noqa: BLE001 - the store is away: routing goes on with what it has
                log.warning("task_poll_failed", error=type(exc).__name__)
                continue
            self.center.submit(InLoop(functools.partial(self.sync, [*rows, *ended_rows])))
            await self._tell_positions(rows)

    async def _tell_positions(self, rows: list[Task]) -> None:
        """Each waiting task's place in its queue (1 = next: higher priority first, then
        the oldest), on the task's topic when it changed (the customer's page shows it)."""
        lines: dict[str, list[Task]] = {}
        for t in rows:
            if t.state == "waiting":
                lines.setdefault(t.queue, []).append(t)
        now_at: dict[str, int] = {}
        for line in lines.values():
            line.sort(key=line_order)
            now_at.update({t.task_id: n for n, t in enumerate(line, start=1)})
        for task_id, position in now_at.items():
            if self._positions.get(task_id) != position:
                note = TaskNote("position", task_id, position=position)
                try:
                    await task_topic(task_id).publish(self.center.bus, note)
                except Exception as exc:  # noqa: BLE001 - told again at the next change
                    log.warning("task_note_lost", task_id=task_id, error=type(exc).__name__)
                    continue
        self._positions = now_at

    async def _read(self, task_ids: list[str]) -> None:
        assert self.store is not None
        try:
            rows = [await self.store.get_task(tid) for tid in task_ids]
        except Exception as exc:  # noqa: BLE001 - the poll reads it again
            log.warning("task_read_failed", error=type(exc).__name__)
            return
        self.center.submit(InLoop(functools.partial(self.sync, rows)))

    # ------------------------------------------------------------ inside the consumer

    async def sync(self, rows: Iterable[Task]) -> None:
        """Bring the router in line with these rows (each as now stored)."""
        for task in sorted(rows, key=lambda t: (t.created_at, t.task_id)):
            try:
                await self._sync_one(task)
            except Exception:  # one bad row must not stop the others
                log.exception("task_sync_failed", task_id=task.task_id)

    async def _sync_one(self, task: Task) -> None:
        held = self._held.get(task.task_id)
        now = self.center.now()
        if not task.is_open:
            self._log_ended(task)
            if held is not None:
                await self._release(task.task_id, held, now, ended=True)
            return
        if held is None:
            if task.state == "waiting":
                if task.offered_at is not None:  # back in line after an offer an earlier leader made
                    self._log_row_steps(task)
                await self._queue(task, now, generation=0)
            elif task.state == "offered" and task.agent_id:  # offered by an earlier leader: the offer stands
                await self._adopt_offer(task, now)
            elif task.agent_id:  # assigned by an earlier leader: back in its agent's slot
                await self._adopt(task, now)
            return
        if task.state == "waiting":
            moved = (task.queue, task.target_agent) != (held.queue, held.target)
            if held.state in ("assigned", "parked", "offered") or moved:  # transferred: free the agent, queue again
                await self._release(task.task_id, held, now, ended=False)
                await self._queue(task, now, generation=held.generation + 1, from_agent=held.agent_id or "")
        elif held.state == "offered" and task.state == "assigned" and task.agent_id == held.agent_id:
            await self._accepted(task, held, now)
        elif held.state == "waiting" and task.agent_id:
            # offered or assigned by another process meanwhile (a leader before this one): take its word
            await self._release(task.task_id, held, now, ended=False)
            if task.state == "offered":
                await self._adopt_offer(task, now)
            else:
                await self._adopt(task, now)
        elif held.state == "parked" and task.agent_id and self._logged_in(task.agent_id):
            # its agent is back: the task takes its slot again
            await self._release(task.task_id, held, now, ended=False)
            await self._adopt(task, now)

    def _logged_in(self, agent_id: str) -> bool:
        return self.center.router.agent_state(agent_id) not in (None, "logged_out")

    def _log(self, event: Event, key: str) -> None:
        """Into the event log once: `key` is the task's step as its row dates it, so a
        second leader (or this one after a restart) logging it again is dropped."""
        self.center.eventlog.append(event, key=key)

    def _log_row_steps(self, task: Task) -> None:
        """The steps the row proves were taken, under the keys their leader logged them
        with (so dropped if logged already): its opening, its last offer (to the agent it
        names), its accept. A row this loop did not route (opened and ended between two
        polls; offered or taken under an earlier leader, killed before its event log was
        written) still has them in the log, once."""
        self._log_queued(replace(task, target_agent=None), task.created_at)  # (its opening: to no one)
        offered_to = task.agent_id or task.missed_by
        if task.offered_at is not None and offered_to:
            offered = TaskOffered(
                task.offered_at,
                task.task_id,
                task.channel,
                offered_to,
                task.queue,
                round(task.offered_at - task.created_at, 3),
                "from the task row",
            )
            self._log(offered, f"task:{task.task_id}:offered:{task.offered_at!r}")
        if task.offered_at is not None and task.missed_by:  # (its ring-no-answer: at the offer's deadline)
            at = task.offered_at + self.center.router.rules.rona.accept_for(task.channel)
            missed = TaskNotAccepted(at, task.task_id, task.channel, task.missed_by, task.queue)
            self._log(missed, f"task:{task.task_id}:rona:{task.offered_at!r}")
        if task.assigned_at is not None and task.agent_id:
            self._log_accepted(task)

    def _log_queued(self, task: Task, at: float, from_agent: str = "") -> None:
        """Its queueing at `at` (opened: its created_at; transferred: the row's time then)."""
        queued = TaskQueued(
            at,
            task.task_id,
            task.channel,
            task.queue,
            task.priority,
            task.due_at,
            task.customer_id or "",
            from_agent,
            task.target_agent or "",
        )
        self._log(queued, f"task:{task.task_id}:queued:{at!r}")

    def _log_ended(self, task: Task) -> None:
        """An ended row's steps this loop may not have logged (`_log_row_steps`), and its end."""
        self._log_row_steps(task)
        at = task.closed_at if task.closed_at is not None else task.updated_at
        key = f"task:{task.task_id}:ended"
        if task.state == "closed":
            by = task.outcome.removeprefix("closed by ")
            event: Event = TaskClosed(
                at,
                task.task_id,
                task.channel,
                task.agent_id or "",
                task.queue,
                by,
                task.disposition,
                task.first_response_at,
            )
        else:
            event = TaskAbandoned(at, task.task_id, task.channel, task.queue, task.outcome)
        self._log(event, key)

    def _log_accepted(self, task: Task) -> None:
        assert task.assigned_at is not None
        self._log(
            TaskAccepted(task.assigned_at, task.task_id, task.channel, task.agent_id or "", task.queue),
            f"task:{task.task_id}:accepted:{task.assigned_at!r}",
        )

    def _log_offered(self, task: Task, offer: Offer) -> None:
        at = task.offered_at if task.offered_at is not None else offer.at
        self._log(
            TaskOffered(
                at, task.task_id, task.channel, offer.agent_id, offer.queue, round(offer.wait_s, 3), offer.reason
            ),
            f"task:{task.task_id}:offered:{at!r}",
        )

    async def _queue(self, task: Task, now: float, generation: int, from_agent: str = "") -> None:
        rid = f"task:{task.task_id}" if generation == 0 else f"task:{task.task_id}:{generation}"
        attributes: dict[str, Any] = {**task.attrs, "channel": task.channel}
        if task.target_agent:
            attributes["preferred_agent"] = task.target_agent
            attributes["preferred_agent_s"] = TRANSFER_AGENT_S
        if task.due_at is not None:
            attributes["due_at"] = task.due_at  # the router offers the earliest due first
        self._link(task, rid, "waiting", None, generation)
        if task.offered_at is None:  # opened or transferred (not back from an offer that ran out)
            self._log_queued(task, task.updated_at, from_agent)
        event = CallQueued(
            at=now,
            call_id=rid,
            queue=task.queue,
            skills=dict(task.skills),
            priority=task.priority,
            customer_id=task.customer_id or "",
            attributes=attributes,
        )
        log.info("task_queued", task_id=task.task_id, channel=task.channel, queue=task.queue, rid=rid)
        await self.center.apply(self.center.router.handle(event, now), now)

    async def _adopt(self, task: Task, now: float) -> None:
        rid = f"task:{task.task_id}"
        self._link(task, rid, "assigned", task.agent_id, 0)
        router = self.center.router
        router.set_channel(rid, task.channel)
        decisions = router.handle(CallConnected(at=now, call_id=rid, agent_id=task.agent_id or "", queue=task.queue))
        if router.call_info(rid) is None:  # the agent is not logged in: the task stays theirs, off the router
            self._held[task.task_id].state = "parked"
            router.set_channel(rid, "voice")
        self._log_row_steps(task)
        log.info("task_adopted", task_id=task.task_id, agent_id=task.agent_id, held=self.held(task.task_id))
        await self.center.apply(decisions, now)

    async def _adopt_offer(self, task: Task, now: float) -> None:
        """An offered row (an earlier leader's offer): the agent is held for it until the
        row's own deadline (its offered_at plus the channel's accept time); an agent not
        logged in gets no slot, and the deadline puts the task back in line."""
        rid = f"task:{task.task_id}"
        self._link(task, rid, "offered", task.agent_id, 0)
        router = self.center.router
        router.set_channel(rid, task.channel)
        decisions = router.handle(CallOffered(at=now, call_id=rid, agent_id=task.agent_id or "", queue=task.queue))
        accept_s = router.rules.rona.accept_for(task.channel)
        offered_at = task.offered_at if task.offered_at is not None else now
        self._offers[task.task_id] = offered_at + accept_s
        self._log_row_steps(task)
        log.info("task_offer_adopted", task_id=task.task_id, agent_id=task.agent_id)
        await self.center.apply(decisions, now)

    def _link(self, task: Task, rid: str, state: str, agent_id: str | None, generation: int) -> None:
        self._offers.pop(task.task_id, None)
        self._held[task.task_id] = _Held(rid, state, agent_id, task.queue, task.target_agent, generation, task.channel)
        self._rids[rid] = task.task_id

    async def _release(self, task_id: str, held: _Held, now: float, *, ended: bool) -> None:
        """Take the task off the router (its agent's slot freed at once: no wrap-up)."""
        router = self.center.router
        self._rids.pop(held.rid, None)
        self._offers.pop(task_id, None)
        if ended:
            del self._held[task_id]
        decisions: list[Any] = []
        if held.state in ("assigned", "assigning") and held.agent_id:
            agent = held.agent_id
            before = router.agent_state(agent)
            decisions += router.handle(CallEnded(at=now, call_id=held.rid, hung_up_by="agent"), now)
            decisions += router.handle(WrapUpEnded(at=now, call_id=held.rid, agent_id=agent), now)
            # no wrap-up after a written task (its close was the wrap-up): the agent's state
            # goes from what it was to what it is now, with no wrap-up in between
            decisions = [d for d in decisions if not (isinstance(d, AgentStateChanged) and d.agent_id == agent)]
            after = router.agent_state(agent)
            if after is not None and after != before:
                info = router.agent_info(agent) or {}
                reason = str(info.get("pause_reason") or "") if after == "paused" else ""
                decisions.append(AgentStateChanged(at=now, agent_id=agent, state=after, reason=reason))
        elif held.state in ("waiting", "offering", "offered", "unoffering"):
            decisions += router.handle(CallAbandoned(at=now, call_id=held.rid, queue=held.queue), now)
        log.info("task_released", task_id=task_id, agent_id=held.agent_id, ended=ended)
        await self.center.apply(decisions, now)

    async def on_decision(self, decision: Any, now: float) -> None:
        """The router's decision about one of the loop's tasks."""
        task_id = self._rids.get(decision.call_id)
        held = self._held.get(task_id) if task_id is not None else None
        if task_id is None or held is None:
            return
        if isinstance(decision, Offer):
            # (from "offered": the router took it from an agent who logged out, and
            # offers it to another at once; the row moves from that agent's offer)
            row_state = "offered" if held.state == "offered" else "waiting"
            held.agent_id = decision.agent_id
            self._offers.pop(task_id, None)
            if self.center.router.rules.rona.accept_for(held.channel) > 0:
                held.state = "offering"
                self.center.spawn(self._offer(task_id, held.rid, decision, now, row_state), "task-offer")
            else:
                held.state = "assigning"
                self.center.spawn(self._assign(task_id, held.rid, decision, now, row_state), "task-assign")
        elif isinstance(decision, Overflowed):
            held.queue = decision.to_queue
            log.info("task_overflowed", task_id=task_id, to_queue=decision.to_queue)
        elif isinstance(decision, Escalated):
            log.info("task_escalated", task_id=task_id, reason=decision.reason)
        elif isinstance(decision, FinalStep):  # the router let it go: it waits on its row, off the router
            held.state = "parked"
            log.warning("task_final_step_ignored", task_id=task_id, action=decision.action)

    # ------------------------------------------------------------ offers and their accept

    def next_deadline(self) -> float | None:
        """When the first offer runs out (the center's loop wakes then)."""
        return min(self._offers.values(), default=None)

    async def on_time(self, now: float) -> None:
        """(inside the consumer) Offers not accepted in time: put back, to the next agent."""
        for task_id, deadline in list(self._offers.items()):
            if deadline > now:
                continue
            del self._offers[task_id]
            held = self._held.get(task_id)
            if held is not None and held.state == "offered":
                held.state = "unoffering"
                self.center.spawn(self._unoffer(task_id, held.rid, held.agent_id or ""), "task-unoffer")

    async def _write(self, task_id: str, change: Callable[[Task], Task | None], from_state: str) -> Task | None:
        """Compare-and-set the row (outside the consumer): the row written, or None."""
        assert self.store is not None
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                task = await self.store.get_task(task_id)
                new = change(task) if task.state == from_state else None
                if new is not None and await self.store.update_task(new, from_states=(from_state,)):
                    return new
        except Exception as exc:  # noqa: BLE001 - not written: the caller undoes, the poll reads it again
            log.warning("task_write_failed", task_id=task_id, error=type(exc).__name__)
        return None

    async def _offer(self, task_id: str, rid: str, offer: Offer, now: float, row_state: str) -> None:
        """Write the offer (waiting -> offered: the agent's to accept), then tell the desktops."""
        written = await self._write(
            task_id,
            lambda t: replace(
                t, state="offered", agent_id=offer.agent_id, offered_at=now, missed_by="", updated_at=now
            ),
            row_state,
        )
        self.center.submit(InLoop(functools.partial(self._offered, task_id, rid, offer, written)))
        if written is not None:
            await self._note(
                TaskNote("offered", task_id, agent_id=offer.agent_id, queue=offer.queue, channel=written.channel)
            )

    async def _offered(self, task_id: str, rid: str, offer: Offer, written: Task | None) -> None:
        held = self._held.get(task_id)
        if held is None or held.rid != rid or held.state != "offering":
            return  # released meanwhile (closed, transferred): the router dropped it already
        if written is None:
            await self._not_written(task_id, rid, offer)
            return
        held.state = "offered"
        accept_s = self.center.router.rules.rona.accept_for(written.channel)
        self._offers[task_id] = (written.offered_at or offer.at) + accept_s
        self._log_offered(written, offer)
        log.info("task_offered", task_id=task_id, agent_id=offer.agent_id, wait_s=round(offer.wait_s, 3))

    async def _accepted(self, task: Task, held: _Held, now: float) -> None:
        """The agent accepted (their desk wrote offered -> assigned): the task is theirs."""
        held.state = "assigned"
        self._offers.pop(task.task_id, None)
        self.assigned += 1
        self._log_accepted(task)
        log.info("task_accepted", task_id=task.task_id, agent_id=task.agent_id)
        connected = CallConnected(at=now, call_id=held.rid, agent_id=task.agent_id or "", queue=task.queue)
        await self.center.apply(self.center.router.handle(connected, now), now)

    async def _unoffer(self, task_id: str, rid: str, agent_id: str) -> None:
        """Not accepted in time: the row back to waiting (offered -> waiting; its
        offered_at kept: it is not queued anew), unless the agent accepted meanwhile."""
        now = self.center.now()
        written = await self._write(
            task_id,
            lambda t: (
                replace(t, state="waiting", agent_id=None, missed_by=agent_id, updated_at=now)
                if t.agent_id == agent_id
                else None
            ),
            "offered",
        )
        self.center.submit(InLoop(functools.partial(self._unoffered, task_id, rid, agent_id, written)))
        if written is not None:
            await self._note(TaskNote("not_accepted", task_id, agent_id=agent_id, queue=written.queue, reason="rona"))

    async def _unoffered(self, task_id: str, rid: str, agent_id: str, written: Task | None) -> None:
        held = self._held.get(task_id)
        if held is None or held.rid != rid or held.state != "unoffering":
            return
        now = self.center.now()
        if written is None:  # accepted (or ended) just in time: the row says which; else tried again
            held.state = "offered"
            self._offers[task_id] = now + self.poll_s
            self.center.spawn(self._read([task_id]), "task-read")
            return
        self.not_accepted += 1
        offered_at = written.offered_at if written.offered_at is not None else now
        self._log(
            TaskNotAccepted(now, task_id, written.channel, agent_id, held.queue),
            f"task:{task_id}:rona:{offered_at!r}",
        )
        log.info("task_not_accepted", task_id=task_id, agent_id=agent_id)
        router = self.center.router
        if router.call_info(rid) is None:  # its agent was away (an offer adopted at a restart): in line anew
            self._rids.pop(rid, None)
            await self._queue(written, now, generation=held.generation + 1)
            return
        held.state, held.agent_id = "waiting", None
        # the voice policy for a missed call: a miss (paused after rona.max_misses), not
        # offered to that agent again (rona.skip_missed_agent), back at the head of its line
        missed = CallNotAnswered(at=now, call_id=rid, agent_id=agent_id, queue=held.queue)
        await self.center.apply(router.handle(missed, now), now)

    async def _assign(self, task_id: str, rid: str, offer: Offer, now: float, row_state: str) -> None:
        """Taken at once (no accept step): write the assignment (waiting -> assigned),
        then tell the consumer and the desktops."""
        written = await self._write(
            task_id,
            lambda t: replace(
                t,
                state="assigned",
                agent_id=offer.agent_id,
                offered_at=now,
                assigned_at=now,
                missed_by="",
                updated_at=now,
            ),
            row_state,
        )
        self.center.submit(InLoop(functools.partial(self._assigned, task_id, rid, offer, written)))
        if written is not None:
            await self._note(
                TaskNote("assigned", task_id, agent_id=offer.agent_id, queue=offer.queue, channel=written.channel)
            )

    async def _note(self, note: TaskNote) -> None:
        try:
            await task_topic(note.task_id).publish(self.center.bus, note)
            await TASK_CHANGES.publish(self.center.bus, note)
        except Exception as exc:  # noqa: BLE001 - the desktop reads its tasks from the store too
            log.warning("task_note_lost", task_id=note.task_id, error=type(exc).__name__)

    async def _assigned(self, task_id: str, rid: str, offer: Offer, written: Task | None) -> None:
        now = self.center.now()
        held = self._held.get(task_id)
        router = self.center.router
        if held is None or held.rid != rid or held.state != "assigning":
            # released meanwhile (closed, transferred): the router dropped it already
            return
        if written is not None:
            held.state = "assigned"
            self.assigned += 1
            self._log_offered(written, offer)
            self._log_accepted(written)
            log.info("task_assigned", task_id=task_id, agent_id=offer.agent_id, wait_s=round(offer.wait_s, 3))
            connected = CallConnected(at=now, call_id=rid, agent_id=offer.agent_id, queue=offer.queue)
            await self.center.apply(router.handle(connected, now), now)
            return
        await self._not_written(task_id, rid, offer)

    async def _not_written(self, task_id: str, rid: str, offer: Offer) -> None:
        """The offer or assignment was not written (taken or ended elsewhere, or the
        store failed): the agent is freed; the next poll brings the row as it stands."""
        now = self.center.now()
        del self._held[task_id]
        self._rids.pop(rid, None)
        await self.center.apply(
            self.center.router.handle(CallAbandoned(at=now, call_id=rid, queue=offer.queue), now), now
        )


__all__ = ["TaskRouting"]
