"""AMI connection on panoramisk 1.4: login, keepalive, actions, reconnect, resync.

The only module in Hotline that imports panoramisk. What we take from it and what we
replace, and why:

- `panoramisk.Manager` owns the socket (`loop.create_connection` with the running
  loop, passed explicitly), not the event dispatch: panoramisk matches every
  registered pattern by regex on every event; events go straight to one handler
  (`_on_any_event`), which dispatches by event name through a dict.
- The byte stream is parsed by `cti.ami_codec.AmiParser`, not by panoramisk's
  `AMIProtocol.data_received`: panoramisk decodes each `recv()` chunk on its own with
  `errors="ignore"` (a UTF-8 character split across two reads is silently dropped),
  folds repeated headers (ChanVariable...) into lists and re-splits the text per
  chunk. The codec decodes whole lines only (invalid bytes replaced), keeps header
  order and repeats, reports malformed blocks, and its fast path parses the recorded
  4 calls/s load capture 1.4-1.7x faster than panoramisk's parser (measured in one
  process, same moment); end to end see bench/bench_ami_ingest.py.
- Action/response correlation is ours: panoramisk keeps actions that were in flight
  when the connection dropped and re-sends them after the next FullyBooted
  (`awaiting_actions`), which would dial a customer twice. Here nothing is ever
  re-sent: an action in flight when the connection drops fails with
  `AmiDisconnected`; an action attempted while disconnected fails at once. An
  Originate carries a unique `CC_ORIGINATE_ID` channel variable (cti/pbx.py) so
  whether it happened can be checked after the reconnect.
- Keepalive: a `Ping` every `ping_interval_s`; no answer within `ping_timeout_s`
  closes the transport, which starts the reconnect.
- Reconnect with exponential backoff (`reconnect_min_s` doubling up to
  `reconnect_max_s`, reset after a successful login). While disconnected the live
  state is `stale`; after the next `FullyBooted` it is rebuilt from
  `CoreShowChannels` + `Status` (with the CC_* variables) through
  `CallModel.resync`, events arriving during the resync are held back and applied
  after the snapshot (those about channels that hung up meanwhile and that the
  snapshot does not list: before it), then `stale` clears.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from cti.ami_codec import AmiParser, Banner, MalformedBlock, Message, encode
from cti.call_model import CallModel
from events import Event

log = structlog.get_logger()

Headers = Sequence[tuple[str, str]] | Mapping[str, str]


class AmiError(Exception):
    """Asterisk answered `Response: Error` (or the action could not complete).
    `message` is Asterisk's `Message:` text."""

    def __init__(self, action: str, message: str, response: Message | None = None) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message
        self.response = response


class AmiDisconnected(AmiError):
    """Not connected, or the connection dropped while the action was in flight (it
    may or may not have run; it is never re-sent)."""


class AmiTimeout(AmiError):
    """No response within the action timeout."""


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str
    port: int
    username: str
    secret: str
    action_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 5.0
    boot_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    resync_variables: tuple[str, ...] = ("CC_ORIGINATE_ID", "CC_CALLID", "CC_SKILL", "CC_CAMPAIGN", "CC_AGENT")
    # Ask Asterisk (a `Filter` action at login) for the events read here only: about
    # half of a call's events (VarSet, Newexten, Cdr, NewConnectedLine...) are then
    # never formatted into this session nor sent, parsed and dropped here.
    event_filter: bool = True


def event_filter_pattern(names: Iterable[str]) -> str:
    """A legacy AMI filter (a POSIX extended regex on the event's text, which starts
    "Event: <name>\r\n") that lets these events through and no other."""
    return "^Event: (" + "|".join(sorted(names)) + ")[^A-Za-z0-9]"


@dataclass(frozen=True, slots=True)
class ListResult:
    """A list action's `Response` and the events it produced (up to `...Complete`)."""

    response: Message
    items: tuple[Message, ...]
    complete: Message | None = None


class _Pending:
    __slots__ = ("future", "is_list", "items", "name", "response")

    def __init__(self, name: str, future: asyncio.Future[Any], is_list: bool) -> None:
        self.name = name
        self.future = future
        self.is_list = is_list
        self.response: Message | None = None
        self.items: list[Message] = []


class _Protocol(AMIProtocol):
    """panoramisk's protocol with the codec parser and our correlation."""

    def __init__(self, client: AmiClient) -> None:
        super().__init__()
        self.client = client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        client = self.client
        super().connection_made(transport)  # resets a few panoramisk attributes
        self.client = client
        # the wanted names' set itself (kept up to date by `subscribe`): a C-level
        # membership test per event instead of two Python calls
        self.parser = AmiParser(expect_banner=True, keep_event=client._wanted.__contains__)

    def data_received(self, data: bytes) -> None:
        on_item = self.client._on_item
        for item in self.parser.feed(data):
            on_item(item)

    def write(self, data: bytes) -> None:
        self.transport.write(data)


class _Manager(Manager):
    """panoramisk Manager without its auto-login, blind pinger, fixed-delay reconnect
    and action re-sending; AmiClient drives those."""

    def __init__(self, client: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self._client = client
        # panoramisk registers its own 'FullyBooted' handler, which re-sends actions
        # that were in flight when the connection dropped: never for us. No pattern
        # is registered: AmiClient hands every event to its own handler.
        self.patterns: list[tuple[str, re.Pattern[str]]] = []  # panoramisk's (pattern, compiled) pairs
        self.callbacks.clear()

    def connect(self, run_forever: bool = False, on_startup: Any = None, on_shutdown: Any = None) -> asyncio.Task[Any]:
        coro = asyncio.wait_for(
            self.loop.create_connection(self.config["protocol_factory"], self.config["host"], self.config["port"]),
            timeout=self._client.settings.connect_timeout_s,
        )
        task = self.loop.create_task(coro)
        task.add_done_callback(self.connection_made)
        return task

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            return
        exc = f.exception()
        if exc is not None:
            self._client._connect_failed(exc)
            return
        _transport, protocol = f.result()
        self.protocol = protocol
        protocol.factory = self
        protocol.log = self.log
        self._connected = True
        self._client._connection_made(protocol)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        self._client._connection_lost(exc)

    def ping(self) -> None:  # our keepalive checks the answer; panoramisk's does not
        return None


class AmiClient:
    """One AMI session to one Asterisk, feeding a CallModel.

    `on_events` receives the domain events (lists, in stream order). Raw AMI events
    can be observed by name with `subscribe("UserEvent", handler)`. `on_resync`, when
    given, receives each resync's events instead (called even when there are none, once
    the model holds the PBX's channels): restart recovery acts around them.
    """

    def __init__(
        self,
        settings: AmiSettings,
        model: CallModel,
        on_events: Callable[[list[Event]], None] | None = None,
        clock: Callable[[], float] = time.time,
        on_stale: Callable[[bool], None] | None = None,
        on_resync: Callable[[list[Event]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self._on_events = on_events or (lambda events: None)
        self._on_resync = on_resync
        self._on_stale = on_stale
        self._clock = clock
        self._subscribers: dict[str, list[Callable[[Message], None]]] = {}
        # the unsolicited events read here (the call model's, a subscriber's, the boot
        # wait's); the parser drops the others unparsed, testing this set itself
        self._wanted: set[str] = {*model.event_names(), "FullyBooted"}
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._prefix = f"hl-{uuid.uuid4().hex[:8]}-"
        self._protocol: _Protocol | None = None
        self._manager: _Manager | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconnect_handle: asyncio.TimerHandle | None = None
        self._attempt = 0
        self._closing = False
        self._logged_in = False
        self._filtered: frozenset[str] | None = None  # the event names this session's filter lets through
        self._filter_refused = False  # the last session's Filter was refused
        self._booted: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None
        self._resync_buffer: list[Message] | None = None
        self._stale = True
        self.connections = 0
        self.resyncs = 0
        self.malformed = 0
        self.events_received = 0
        self._skipped_before = 0  # events_skipped on the connections before this one
        self.banner = ""

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start connecting (returns at once; see `wait_ready`)."""
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._manager = _Manager(
            self,
            loop=self._loop,
            host=self.settings.host,
            port=self.settings.port,
            protocol_factory=lambda: _Protocol(self),
            ping_delay=10**9,
            reconnect_timeout=0,
        )
        self._manager.connect()

    async def wait_ready(self, timeout: float) -> None:
        """Wait until logged in and resynced (raises TimeoutError)."""
        assert self._ready is not None, "start() first"
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    @property
    def stale(self) -> bool:
        """True while the live state may be out of date (not connected, or
        connected but not yet resynced)."""
        return self._stale

    def _set_stale(self, stale: bool) -> None:
        if stale == self._stale:
            return
        self._stale = stale
        if self._on_stale is not None:
            try:
                self._on_stale(stale)
            except Exception:
                log.exception("stale_consumer_failed")

    @property
    def connected(self) -> bool:
        return self._protocol is not None and self._logged_in

    async def close(self) -> None:
        self._closing = True
        if self._reconnect_handle is not None:
            self._reconnect_handle.cancel()
        if self.connected:
            try:
                await self.send({"Action": "Logoff"}, timeout=2.0)
            except AmiError:
                pass
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._protocol is not None:
            self._protocol.transport.close()
        self._fail_pending("client closed")

    def abort(self) -> None:
        """Cut the link as a killed process would: no Logoff, no reconnect (tests)."""
        self._closing = True
        if self._protocol is not None:
            self._protocol.transport.abort()

    def subscribe(self, event_name: str, handler: Callable[[Message], None]) -> None:
        self._subscribers.setdefault(event_name, []).append(handler)
        self._wanted.add(event_name)
        if self._filtered is not None and event_name not in self._filtered:
            # the session's filter predates this name: one more include (filters add up)
            self._filtered = self._filtered | {event_name}
            self._spawn(self._add_event_filter(frozenset({event_name})), "ami-filter")

    @property
    def event_filter_state(self) -> str:
        """For /healthz: "on" (Asterisk sends the events read only), "refused" (it sends
        every event: the user lacks `system` write permission?), "off" (configured so),
        "" (not logged in)."""
        if not self.settings.event_filter:
            return "off"
        return "on" if self._filtered is not None else "refused" if self._filter_refused else ""

    def wanted_events(self) -> frozenset[str]:
        """The unsolicited events read here: the model's, the subscribers', FullyBooted."""
        return self.model.event_names() | frozenset(self._subscribers) | {"FullyBooted"}

    @property
    def events_skipped(self) -> int:
        """Events dropped unparsed (nobody reads them), over every connection so far."""
        return self._skipped_before + (self._protocol.parser.skipped if self._protocol is not None else 0)

    # ------------------------------------------------------------ actions

    def next_action_id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    async def send(self, action: Headers, timeout: float | None = None, action_id: str | None = None) -> Message:
        """Send one action and return its `Response` (raises AmiError on `Error`)."""
        result = await self._send(action, False, timeout, action_id)
        assert isinstance(result, Message)
        return result

    async def send_list(self, action: Headers, timeout: float | None = None) -> ListResult:
        """Send a list action (CoreShowChannels, Status, QueueStatus...) and collect
        its events up to the `...Complete` one."""
        result = await self._send(action, True, timeout, None)
        assert isinstance(result, ListResult)
        return result

    async def _send(self, action: Headers, is_list: bool, timeout: float | None, action_id: str | None) -> Any:
        headers = list(action.items()) if isinstance(action, Mapping) else list(action)
        name = next((v for k, v in headers if k == "Action"), "")
        if not name:
            raise AmiError("?", "action without an 'Action' header")
        protocol = self._protocol
        if protocol is None or (not self._logged_in and name != "Login"):
            raise AmiDisconnected(name, "not connected to the AMI")
        action_id = action_id or self.next_action_id()
        headers = [(k, v) for k, v in headers if k != "ActionID"]
        headers.insert(1, ("ActionID", action_id))
        assert self._loop is not None
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[action_id] = _Pending(name, future, is_list)
        protocol.write(encode(headers))
        try:
            async with asyncio.timeout(timeout or self.settings.action_timeout_s):
                return await future
        except TimeoutError:
            raise AmiTimeout(name, "no response in time") from None
        finally:
            self._pending.pop(action_id, None)

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(AmiDisconnected(p.name, why))

    # ------------------------------------------------------------ incoming

    def _on_item(self, item: Message | MalformedBlock | Banner) -> None:
        if isinstance(item, Message):
            headers = item.headers
            if headers and headers[0][0] == "Response":
                self._on_response(item)
                return
            if self._pending:
                action_id = item.get("ActionID")
                if action_id:
                    p = self._pending.get(action_id)
                    if p is not None and p.is_list:
                        self._on_list_item(p, item)
                        return
            if self._manager is not None:
                # straight to the one handler: panoramisk's dispatch matched a
                # pattern, tagged the event and tested the result for a coroutine per event
                self._on_any_event(self._manager, item)
        elif isinstance(item, MalformedBlock):
            self.malformed += 1
            log.warning("ami_block_malformed", reason=item.reason, raw=item.raw[:200])
        else:
            self.banner = item.text
            log.info("ami_banner", banner=item.text)

    def _on_response(self, msg: Message) -> None:
        action_id = msg.get("ActionID")
        p = self._pending.get(action_id) if action_id else None
        if p is None or p.future.done():
            if msg.get("Response") not in ("Success", "Goodbye"):
                log.warning(
                    "ami_response_unmatched",
                    action_id=action_id,
                    response=msg.get("Response"),
                    message=msg.get("Message"),
                )
            return
        if msg.get("Response") == "Error":
            p.future.set_exception(AmiError(p.name, msg.get("Message", "error"), msg))
            return
        if p.is_list and msg.get("EventList").lower() == "start":
            p.response = msg
            return
        if p.is_list:
            p.future.set_result(ListResult(msg, ()))
        else:
            p.future.set_result(msg)

    def _on_list_item(self, p: _Pending, msg: Message) -> None:
        name = msg.get("Event")
        if name.endswith("Complete") or msg.get("EventList").lower() == "complete":
            if not p.future.done():
                p.future.set_result(ListResult(p.response or Message([]), tuple(p.items), msg))
        else:
            p.items.append(msg)

    def _on_any_event(self, manager: Manager, msg: Message) -> None:
        """The single event handler: dispatch by event name through a dict."""
        self.events_received += 1
        headers = msg.headers
        if not headers:
            return
        name = headers[0][1] if headers[0][0] == "Event" else msg.get("Event")
        subscribers = self._subscribers.get(name)
        if subscribers:
            for handler in subscribers:
                try:
                    handler(msg)
                except Exception:
                    log.exception("ami_subscriber_failed", ami_event=name)
        if name == "FullyBooted" and self._booted is not None:
            self._booted.set()
        if self._resync_buffer is not None:
            self._resync_buffer.append(msg)
            return
        events = self.model.feed(msg, self._clock())
        if events:
            self._deliver(events)

    def _deliver(self, events: list[Event]) -> None:
        try:
            self._on_events(events)
        except Exception:
            log.exception("domain_event_consumer_failed", count=len(events))

    # ------------------------------------------------------------ connection

    def _connection_made(self, protocol: _Protocol) -> None:
        if self._closing:
            protocol.transport.close()
            return
        self._protocol = protocol
        self.connections += 1
        log.info("ami_connected", host=self.settings.host, port=self.settings.port, connection=self.connections)
        self._spawn(self._session(protocol), "ami-session")

    def _connect_failed(self, exc: BaseException) -> None:
        log.warning("ami_connect_failed", host=self.settings.host, port=self.settings.port, error=repr(exc))
        self._schedule_reconnect()

    def _connection_lost(self, exc: BaseException | None) -> None:
        was_logged_in = self._logged_in
        if self._protocol is not None:
            self._skipped_before += self._protocol.parser.skipped
        self._protocol = None
        self._logged_in = False
        self._filtered = None
        self._set_stale(True)
        self._resync_buffer = None
        if self._ready is not None:
            self._ready.clear()
        self._fail_pending("AMI connection lost; the action may or may not have run and is not re-sent")
        for task in list(self._tasks):
            task.cancel()
        if self._closing:
            log.info("ami_closed")
            return
        log.warning("ami_connection_lost", error=repr(exc) if exc else "", was_logged_in=was_logged_in)
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._closing or self._loop is None or self._manager is None:
            return
        delay = min(self.settings.reconnect_max_s, self.settings.reconnect_min_s * (2**self._attempt))
        self._attempt += 1
        log.info("ami_reconnect_scheduled", delay_s=delay, attempt=self._attempt)
        manager = self._manager
        self._reconnect_handle = self._loop.call_later(delay, manager.connect)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ami_task_failed", task=task.get_name(), error=repr(task.exception()))

    def _drop(self, protocol: _Protocol, why: str) -> None:
        if self._protocol is protocol:
            log.warning("ami_dropping_connection", reason=why)
            protocol.transport.close()

    async def _session(self, protocol: _Protocol) -> None:
        self._booted = asyncio.Event()
        try:
            response = await self.send(
                [
                    ("Action", "Login"),
                    ("Username", self.settings.username),
                    ("Secret", self.settings.secret),
                    ("Events", "on"),
                ]
            )
        except AmiError as exc:
            log.error("ami_login_failed", message=exc.message)
            self._drop(protocol, "login failed")
            return
        self._logged_in = True
        log.info("ami_logged_in", message=response.get("Message"))
        if self.settings.event_filter:
            self._filtered, self._filter_refused = self.wanted_events(), False
            await self._add_event_filter(self._filtered)
            if self._protocol is not protocol:
                return  # (dropped: the filter was not answered)
        try:
            async with asyncio.timeout(self.settings.boot_timeout_s):
                await self._booted.wait()
        except TimeoutError:
            log.warning("ami_no_fully_booted", timeout_s=self.settings.boot_timeout_s)
        try:
            await self.resync()
        except AmiError as exc:
            log.error("ami_resync_failed", message=exc.message)
            self._drop(protocol, "resync failed")
            return
        self._attempt = 0
        assert self._ready is not None
        self._ready.set()
        while not self._closing:
            await asyncio.sleep(self.settings.ping_interval_s)
            try:
                await self.send({"Action": "Ping"}, timeout=self.settings.ping_timeout_s)
            except AmiTimeout:
                self._drop(protocol, "ping timeout")
                return

    async def _add_event_filter(self, names: frozenset[str]) -> None:
        """One legacy regex include filter (every Asterisk since 1.8 takes it, in one
        round trip, all or nothing) for these event names. Refused (no `system` write
        permission, say), every event keeps coming and the parser drops the unread. Not
        answered, whether Asterisk took it is unknown (and a filter cannot be taken
        back): the session is dropped, and the next one asks again."""
        protocol = self._protocol
        try:
            await self.send([("Action", "Filter"), ("Operation", "Add"), ("Filter", event_filter_pattern(names))])
        except (AmiTimeout, AmiDisconnected) as exc:
            if protocol is not None:
                self._drop(protocol, f"event filter not answered: {exc.message}")
        except AmiError as exc:
            if self._filtered is not None and not names >= self._filtered:
                # a later name refused while the first filter holds: its events would
                # never come on this session
                log.error("ami_event_filter_refused", message=exc.message, events=sorted(names))
                if protocol is not None:
                    self._drop(protocol, "event filter refused for a name subscribed later")
                return
            self._filtered, self._filter_refused = None, True
            log.warning("ami_event_filter_refused", message=exc.message, hint="every event is sent and parsed")

    async def resync(self) -> None:
        """Rebuild the model's live state from CoreShowChannels + Status."""
        self._resync_buffer = []
        try:
            channels = await self.send_list({"Action": "CoreShowChannels"})
            status = await self.send_list(
                [("Action", "Status"), ("Variables", ",".join(self.settings.resync_variables))]
            )
            buffered, self._resync_buffer = self._resync_buffer, None
            events = self.model.resync(list(channels.items) + list(status.items), self._clock(), held=buffered)
        finally:
            self._resync_buffer = None
        self._set_stale(False)
        self.resyncs += 1
        log.info("ami_resynced", channels=len(channels.items), calls=self.model.call_count, events=len(events))
        if self._on_resync is not None:
            try:
                self._on_resync(events)
            except Exception:
                log.exception("resync_consumer_failed", count=len(events))
        elif events:
            self._deliver(events)
