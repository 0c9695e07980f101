"""The AMI side of the emulator: an asyncio TCP server speaking Asterisk 20's
manager protocol (banner, Login/Logoff, actions, responses, the event stream)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from cti.ami_codec import NULL_VALUE, AmiParser, Banner, MalformedBlock, Message, encode
from sim.pbx_emulator import dialplan
from sim.pbx_emulator.engine import (
    ASTERISK_VERSION,
    CHANVARS,
    CONFBRIDGE_ORDERS,
    Channel,
    DialAttempt,
    Ledger,
    NoSuchChannel,
    Pbx,
    QueueMember,
)
from sim.pbx_emulator.event_filters import EventFilters, FilterError

log = structlog.get_logger()

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


class AmiSession:
    def __init__(self, emu: PbxEmulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.emu = emu
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.events = True
        self.classes: frozenset[str] | None = None  # None = every class
        self.filters = EventFilters()  # the `Filter` action's (none: every event)
        self.closed = False
        self.peer = writer.get_extra_info("peername")

    def send(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, action: Message, headers: list[tuple[str, str]], response: str = "Success") -> None:
        out = [("Response", response)]
        if "ActionID" in action:
            out.append(("ActionID", action["ActionID"]))
        self.send(encode(out + headers))

    def error(self, action: Message, message: str) -> None:
        self.respond(action, [("Message", message)], "Error")

    def event(self, action: Message, name: str, headers: list[tuple[str, str]], aid_first: bool = False) -> None:
        """A list event answering an action (no Privilege/Timestamp; ActionID last,
        or right after Event as CoreShowChannel has it)."""
        aid = [("ActionID", action["ActionID"])] if "ActionID" in action else []
        if aid_first:
            self.send(encode([("Event", name), *aid, *headers]))
        else:
            self.send(encode([("Event", name), *headers, *aid]))

    def list_start(self, action: Message, message: str) -> None:
        self.respond(action, [("EventList", "start"), ("Message", message)])

    def list_complete(self, action: Message, name: str, count: int, extra: list[tuple[str, str]] | None = None) -> None:
        aid = [("ActionID", action["ActionID"])] if "ActionID" in action else []
        self.send(
            encode([("Event", name)] + aid + [("EventList", "Complete"), ("ListItems", str(count))] + (extra or []))
        )

    def set_mask(self, mask: str) -> None:
        """`Events:` of Login / the Events action: on, off, or a class list."""
        value = mask.strip().lower()
        if value in ("", "on", "yes", "true", "1", "all"):
            self.events, self.classes = True, None
        elif value in ("off", "no", "false", "0", "none"):
            self.events, self.classes = False, None
        else:
            self.events = True
            self.classes = frozenset(c.strip() for c in value.split(",") if c.strip())

    def wants(self, privilege: str) -> bool:
        if not self.events:
            return False
        if self.classes is None:
            return True
        return any(c in self.classes for c in privilege.split(",") if c != "all")

    def on_event(self, data: bytes) -> None:
        if not (self.authenticated and self.events):
            return
        if self.classes is not None:
            # "Event: X\r\nPrivilege: call,all\r\n..." (every broadcast event has it second)
            start = data.find(b"Privilege: ")
            end = data.find(b"\r\n", start)
            if start < 0 or not self.wants(data[start + 11 : end].decode()):
                return
        if self.filters.active and not self.filters.allows(data):
            return
        self.send(data)

    async def run(self) -> None:
        parser = AmiParser(expect_banner=False)
        self.send(BANNER)
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for item in parser.feed(data):
                    if isinstance(item, MalformedBlock):
                        log.warning("emulator_ami_malformed", peer=str(self.peer), reason=item.reason)
                        self.send(encode([("Response", "Error"), ("Message", "Missing action in request")]))
                        continue
                    if isinstance(item, Banner):
                        continue
                    await self.handle(item)
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.on_event in self.emu.pbx.sinks:
                self.emu.pbx.sinks.remove(self.on_event)
            self.writer.close()

    async def handle(self, msg: Message) -> None:
        name = msg.get("Action").lower()
        if name and name not in ("login", "ping", "filter"):
            self.emu.actions.append(msg)  # what the PBX was asked (tests read it; not the session's set-up)
        if not name:
            self.error(msg, "Missing action in request")
            return
        if name == "login":
            if msg.get("Username") == self.emu.ami_user and msg.get("Secret") == self.emu.ami_secret:
                self.authenticated = True
                self.set_mask(msg.get("Events", "on"))
                self.respond(msg, [("Message", "Authentication accepted")])
                if self.wants("system"):
                    self.send(
                        encode(
                            [
                                ("Event", "FullyBooted"),
                                ("Privilege", "system,all"),
                                ("Uptime", str(int(self.emu.pbx.now() - self.emu.pbx.started_at))),
                                ("LastReload", str(int(self.emu.pbx.now() - self.emu.pbx.started_at))),
                                ("Status", "Fully Booted"),
                            ]
                        )
                    )
                pbx = self.emu.pbx
                peer = self.peer if isinstance(self.peer, tuple) else ("127.0.0.1", 0)
                local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
                tv = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(pbx.now())) + ".000+0000"
                auth = encode(
                    [
                        ("Event", "SuccessfulAuth"),
                        ("Privilege", "security,all"),
                        ("Timestamp", f"{pbx.now():.6f}"),
                        ("EventTV", tv),
                        ("Severity", "Informational"),
                        ("Service", "AMI"),
                        ("EventVersion", "1"),
                        ("AccountID", self.emu.ami_user),
                        ("SessionID", f"0x{id(self):x}"),
                        ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                        ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"),
                        ("UsingPassword", "0"),
                        ("SessionTV", tv),
                    ]
                )
                pbx.sinks.append(self.on_event)
                pbx.broadcast(auth)  # every session sees a login (security class)
            else:
                log.warning("emulator_ami_auth_failed", peer=str(self.peer), user=msg.get("Username"))
                self.error(msg, "Authentication failed")
            return
        if name == "logoff":
            self.respond(msg, [("Message", "Thanks for all the fish.")], "Goodbye")
            await self.writer.drain()
            self.close()
            return
        if not self.authenticated:
            self.error(msg, "Permission denied")
            return
        handler = ACTIONS.get(name)
        if handler is None:
            self.error(msg, "Invalid/unknown command")
            return
        try:
            await handler(self, msg)
        except NoSuchChannel:
            self.error(msg, "No such channel")
        except (ValueError, KeyError) as exc:
            log.warning("emulator_ami_bad_action", action=name, error=str(exc))
            self.error(msg, f"Invalid {name}: {exc}")


# ---------------------------------------------------------------- actions


async def a_ping(s: AmiSession, m: Message) -> None:
    s.respond(m, [("Ping", "Pong"), ("Timestamp", f"{s.emu.pbx.now():.6f}")])


async def a_events(s: AmiSession, m: Message) -> None:
    s.set_mask(m.get("EventMask", "on"))
    s.respond(m, [("Events", "On" if s.events else "Off")])


async def a_filter(s: AmiSession, m: Message) -> None:
    """Filter: add an include or exclude filter to this session's events (manager.c's
    `action_filter`: only `Operation: Add`; `MatchCriteria` makes it an advanced one)."""
    if m.get("Operation").lower() != "add":
        s.error(m, "Unknown operation")
        return
    try:
        s.filters.add(m.get("MatchCriteria"), m.get("Filter"))
    except FilterError as exc:
        s.error(m, str(exc))
        return
    s.respond(m, [("Message", "Success")])


async def a_corestatus(s: AmiSession, m: Message) -> None:
    s.respond(
        m,
        [
            ("CoreStartupDate", "2026-11-22"),
            ("CoreStartupTime", "10:25:58"),
            ("CoreReloadDate", "2026-11-22"),
            ("CoreReloadTime", "10:25:58"),
            ("CoreCurrentCalls", str(len({c.linkedid for c in s.emu.pbx.channels.values()}))),
            ("CoreProcessedCalls", str(len(s.emu.pbx.ledger.calls))),
        ],
    )


async def a_coresettings(s: AmiSession, m: Message) -> None:
    s.respond(
        m,
        [
            ("AMIversion", "9.0.0"),
            ("AsteriskVersion", ASTERISK_VERSION),
            ("SystemName", ""),
            ("CoreMaxCalls", "0"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", ""),
            ("CoreRunGroup", ""),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "No"),
            ("SoundsSearchCustomDir", "No"),
        ],
    )


async def a_command(s: AmiSession, m: Message) -> None:
    cmd = m.get("Command").strip()
    if cmd == "core show version":
        out = f"Asterisk {ASTERISK_VERSION} (Hotline PBX emulator)"
    else:
        out = f"No such command '{cmd}' (type 'core show help {cmd}' for other possible commands)"
    s.respond(m, [("Message", "Command output follows"), ("Output", out)])


def _variables(m: Message) -> list[tuple[str, str]]:
    out = []
    for raw in m.get_all("Variable"):
        for part in raw.split(","):
            k, sep, v = part.partition("=")
            if sep and k.strip():
                out.append((k.strip(), v))
    return out


def _callerid(text: str) -> tuple[str, str]:
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].rpartition("<")
        return num.strip(), name.strip().strip('"')
    return (text, "") if text.replace("+", "").isdigit() else ("", text)


async def a_originate(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    channel = m.get("Channel")
    if not channel:
        s.error(m, "Channel not specified")
        return
    tech, _, rest = channel.partition("/")
    exten, _, ctx = rest.partition("@")
    ctx = ctx.split("/")[0]
    application = m.get("Application")
    try:
        timeout = float(m.get("Timeout") or 30000) / 1000.0
        priority = int(m.get("Priority") or 1)
    except ValueError as exc:
        s.error(m, f"Invalid Timeout/Priority: {exc}")
        return
    # only Local channels exist here; and the answered leg needs somewhere to go
    if tech.lower() != "local" or not exten or not ctx or not (application or (m.get("Exten") and m.get("Context"))):
        s.error(m, "Originate failed")
        return
    kwargs = {
        "channel": channel,
        "action_id": m.get("ActionID"),
        "context": m.get("Context"),
        "exten": m.get("Exten"),
        "priority": priority,
        "application": application,
        "data": m.get("Data"),
        "callerid": _callerid(m.get("CallerID")),
        "timeout": timeout,
        "variables": _variables(m),
    }
    is_async = m.get("Async").lower() in ("true", "yes", "1", "on")
    if is_async:
        s.respond(m, [("Message", "Originate successfully queued")])
        pbx.spawn(pbx.originate(**kwargs), name=f"originate:{m.get('ActionID')}")  # type: ignore[arg-type]
        return
    if not dialplan.exists(ctx, exten):
        # Asterisk answers at once; the doomed Local pair still shows up afterwards.
        s.error(m, "Originate failed")
        pbx.spawn(pbx.originate(send_event=False, **kwargs), name="originate-failed")  # type: ignore[arg-type]
        return
    ok = await pbx.originate(send_event=False, **kwargs)  # type: ignore[arg-type]
    if ok:
        s.respond(m, [("Message", "Originate successfully queued")])
    else:
        s.error(m, "Originate failed")


async def a_redirect(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    name = m.get("Channel")
    if not name:
        s.error(m, "Channel not specified")
        return
    try:
        ch = pbx.find(name)
    except NoSuchChannel:
        s.error(m, f"Channel does not exist: {name}")
        return
    extra = None
    if m.get("ExtraChannel"):
        try:
            extra = pbx.find(m.get("ExtraChannel"))
        except NoSuchChannel:
            s.error(m, f"ExtraChannel does not exist: {m.get('ExtraChannel')}")
            return
    context, exten = m.get("Context"), m.get("Exten")
    if not dialplan.exists(context, exten):
        s.error(m, "Extension does not exist.")
        return
    try:
        prio = int(m.get("Priority") or 1)
    except ValueError:
        s.error(m, "Invalid priority")
        return
    s.respond(m, [("Message", "Redirect successful")])
    pbx.ledger.redirects.append((ch.linkedid, context))
    pbx.redirect(ch, context, exten, prio)
    if extra is not None:
        pbx.redirect(
            extra, m.get("ExtraContext") or context, m.get("ExtraExten") or exten, int(m.get("ExtraPriority") or prio)
        )


async def a_hangup(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    ch = pbx.find(m.get("Channel"))
    try:
        cause = int(m.get("Cause") or 16)
    except ValueError:
        cause = 16
    s.respond(m, [("Message", "Channel Hungup")])
    pbx.soft_hangup(ch, cause)


def _bridge_peer(ch: Channel) -> Channel | None:
    if ch.bridge is None:
        return None
    others = [c for c in ch.bridge.channels if c is not ch]
    return others[0] if others else None


async def a_blindtransfer(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    ch = pbx.find(m.get("Channel"))
    context, exten = m.get("Context") or ch.context, m.get("Exten")
    peer = _bridge_peer(ch)
    if peer is None or not dialplan.exists(context, exten):
        s.error(m, "Transfer failed")
        return
    s.respond(m, [("Message", "Transfer succeeded")])
    bridge = ch.bridge
    assert bridge is not None
    pbx.emit("Unhold", ch.block())
    pbx.emit(
        "BlindTransfer",
        [
            ("Result", "Success"),
            *ch.block("Transferer"),
            *peer.block("Transferee"),
            *bridge.block(),
            ("IsExternal", "Yes"),
            ("Context", context),
            ("Extension", exten),
        ],
    )
    pbx.redirect(peer, context, exten, 1)


async def a_atxfer(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    ch = pbx.find(m.get("Channel"))
    context, exten = m.get("Context") or "agents", m.get("Exten")
    peer = _bridge_peer(ch)
    if peer is None or not dialplan.exists(context, exten):
        s.error(m, "Atxfer failed")
        return
    s.respond(m, [("Message", "Atxfer successfully queued")])
    pbx.spawn(_atxfer(pbx, ch, peer, context, exten), name=f"atxfer:{ch.name}")


async def _atxfer(pbx: Pbx, transferer: Channel, transferee: Channel, context: str, exten: str) -> None:
    """features.conf atxfer (*2): the DTMF, hold the transferee, consult the
    target in a new bridge; when the transferer hangs up, merge the bridges."""
    orig = transferer.bridge
    if orig is None:
        return
    for digit in "*2" + exten:
        if transferer.dead:
            return
        pbx.emit(
            "DTMFEnd",
            [*transferer.block(), ("Digit", digit), ("DurationMs", "0"), ("Direction", "Received")],
            "dtmf,all",
        )
        if digit == "2" and not transferee.moh:
            pbx.emit("Hold", transferer.block())
            pbx.moh_start(transferee)
        await pbx.sleep(0.1)
    if transferer.dead or orig not in (transferer.bridge,):
        return
    one, two = pbx.new_local_pair(f"{exten}@{context}", transferer.linkedid)
    for leg in (one, two):
        pbx.inherit_vars(transferer, leg)
    consult = pbx.bridge_create()
    pbx.set_callerid(two, transferer.cid_num, transferer.cid_name)
    pbx.local_bridge(one, two)
    attempt = DialAttempt(None, one, pbx.loop.create_future(), report_dial=True, started_at=pbx.now())
    one.dial_as_dest = attempt
    one.cdr = False
    pbx.start_program(two, two.context, two.exten, 1)
    pbx.indicate_ringing(two)  # the consultation leg rings at once (no DialBegin)
    pbx.bridge_enter(consult, one)
    orig.keep_alone = True
    pbx.bridge_leave(transferer)
    pbx.bridge_enter(consult, transferer)

    def merge(leaving: Channel) -> bool:
        consult.after_leave = None
        if leaving is one:
            # the target hung up during the consultation: back to the transferee
            if transferer in consult.channels:
                consult.channels.remove(transferer)
                transferer.bridge = None
                pbx.emit("BridgeLeave", consult.block() + transferer.block())
            pbx.emit("BridgeDestroy", consult.block())
            orig.keep_alone = False
            if not transferer.dead and transferee in orig.channels:
                pbx.bridge_enter(orig, transferer)
                pbx.emit("Unhold", transferer.block())
                pbx.moh_stop(transferee)
            elif not transferer.dead:
                pbx.hangup(transferer, 16)
            return True
        if leaving is not transferer:
            return False
        # the transferer hangs up: the target joins the transferee's bridge
        pbx.emit("BridgeMerge", orig.block("To") + consult.block("From"))
        if one in consult.channels:
            consult.channels.remove(one)
            one.bridge = None
            pbx.emit("BridgeLeave", consult.block() + one.block())
            orig.keep_alone = False
            pbx.bridge_enter(orig, one)
        pbx.moh_stop(transferee)
        pbx.emit(
            "AttendedTransfer",
            [
                ("Result", "Success"),
                *transferer.block("OrigTransferer"),
                *orig.block("Orig"),
                *transferer.block("SecondTransferer"),
                *consult.block("Second"),
                *transferee.block("Transferee"),
                *one.block("TransferTarget"),
                ("IsExternal", "No"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", orig.uniqueid),
            ],
        )
        if not consult.channels:
            pbx.emit("BridgeDestroy", consult.block())
        if transferee.dead or transferee not in orig.channels:
            pbx.hangup(one, 16)
        return True

    consult.after_leave = merge
    consult.keep_alone = True
    status = await pbx.wait_outcome(attempt, 15.0)
    one.dial_as_dest = None
    if status != "ANSWER" and not one.dead:
        # the target did not answer in atxfernoanswertimeout: back to the transferee;
        # Asterisk hangs the target up with cause 16 (not 19): attended-transfer-noanswer.ami
        one.dial_as_dest = None
        pbx.hangup(one, 16)  # leaves the consultation bridge: the hook restores the call


async def a_bridge(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    a = pbx.find(m.get("Channel1"))
    b = pbx.find(m.get("Channel2"))
    s.respond(m, [("Message", "Channels have been bridged")])
    for ch in (a, b):
        if ch.task is not None:
            ch.task.cancel()
            ch.task = None
        pbx.moh_stop(ch)
        if ch.bridge is not None:
            ch.bridge_waiter = None
            pbx.bridge_leave(ch)
    for ch in (a, b):
        if ch.state != 6:
            pbx.answer(ch)
    pbx.connect(a, b)


async def a_getvar(s: AmiSession, m: Message) -> None:
    name = m.get("Variable")
    if m.get("Channel"):
        ch = s.emu.pbx.find(m.get("Channel"))
        value = dialplan._expand(ch, "${" + name + "}") if "(" in name else ch.vars.get(name.lstrip("_"), "")
    else:
        value = ""
    s.respond(m, [("Variable", name), ("Value", value)])


async def a_setvar(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    if m.get("Channel"):
        ch = pbx.find(m.get("Channel"))
        pbx.set_var(ch, m.get("Variable"), m.get("Value"))
    s.respond(m, [("Message", "Variable Set")])


def _app(ch: Channel) -> tuple[str, str]:
    return ch.app or "AppDial2", ch.appdata or "(Outgoing Line)"


def _duration(pbx: Pbx, ch: Channel) -> int:
    return int(pbx.now() - ch.created_at)


async def a_coreshowchannels(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    s.list_start(m, "Channels will follow")
    chans = list(pbx.channels.values())
    for ch in chans:
        app, data = _app(ch)
        d = _duration(pbx, ch)
        s.event(
            m,
            "CoreShowChannel",
            [
                *ch.block(),
                ("Application", app),
                ("ApplicationData", data),
                ("Duration", f"{d // 3600:02d}:{d // 60 % 60:02d}:{d % 60:02d}"),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
            ],
            aid_first=True,
        )
    s.list_complete(m, "CoreShowChannelsComplete", len(chans))


async def a_status(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    if m.get("Channel"):
        chans = [pbx.find(m.get("Channel"))]
    else:
        chans = list(pbx.channels.values())
    wanted = [v.strip() for v in m.get("Variables").split(",") if v.strip()]
    s.list_start(m, "Channel status will follow")
    for ch in chans:
        app, data = _app(ch)
        headers = (
            ch.block()
            + [
                ("Type", "Local"),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.col_num),
                ("EffectiveConnectedLineName", ch.col_name),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                ("Application", app),
                ("Data", data),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(_duration(pbx, ch))),
            ]
            # a requested variable that is not set is `(null)` here (Asterisk prints the
            # NULL it gets), while ChanVariable and Getvar print it empty: status-null-vars.ami
            + [("Variable", f"{v}={ch.vars.get(v.lstrip('_'), NULL_VALUE)}") for v in wanted]
        )
        aid = [("ActionID", m["ActionID"])] if "ActionID" in m else []
        s.send(encode([("Event", "Status"), ("Privilege", "Call"), *headers, *aid]))
    s.list_complete(m, "StatusComplete", len(chans), [("Items", str(len(chans)))])


def _queues(s: AmiSession, m: Message):  # type: ignore[no-untyped-def]
    qs = s.emu.pbx.queues
    name = m.get("Queue")
    return [qs[name]] if name in qs else ([] if name else list(qs.values()))


async def a_queuesummary(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    s.list_start(m, "Queue summary will follow")
    qs = _queues(s, m)
    for q in qs:
        logged = len(q.members)
        avail = sum(1 for mm in q.members if not mm.paused and mm.status == 1)
        longest = max((int(pbx.now() - e.joined_at) for e in q.entries), default=0)
        s.event(
            m,
            "QueueSummary",
            [
                ("Queue", q.name),
                ("LoggedIn", str(logged)),
                ("Available", str(avail)),
                ("Callers", str(len(q.entries))),
                ("HoldTime", "0"),
                ("TalkTime", "0"),
                ("LongestHoldTime", str(longest)),
            ],
        )
    s.list_complete(m, "QueueSummaryComplete", len(qs))


async def a_queuestatus(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    s.list_start(m, "Queue status will follow")
    n = 0
    for q in _queues(s, m):
        s.event(
            m,
            "QueueParams",
            [
                ("Queue", q.name),
                ("Max", "0"),
                ("Strategy", q.strategy),
                ("Calls", str(len(q.entries))),
                ("Holdtime", "0"),
                ("TalkTime", "0"),
                ("Completed", str(q.completed)),
                ("Abandoned", str(q.abandoned)),
                ("ServiceLevel", "0"),
                ("ServicelevelPerf", "0.0"),
                ("ServicelevelPerf2", "0.0"),
                ("Weight", "0"),
            ],
        )
        n += 1
        for mm in q.members:
            headers = pbx.member_headers(q, mm, "Name")
            headers = [(("Location" if k == "Interface" else k), v) for k, v in headers if k != "Ringinuse"]
            s.event(m, "QueueMember", headers)
            n += 1
        for pos, e in enumerate(q.entries, 1):
            c = e.channel
            s.event(
                m,
                "QueueEntry",
                [
                    ("Queue", q.name),
                    ("Position", str(pos)),
                    ("Channel", c.name),
                    ("Uniqueid", c.uniqueid),
                    ("CallerIDNum", c.cid_num),
                    ("CallerIDName", c.cid_name),
                    ("ConnectedLineNum", c.col_num),
                    ("ConnectedLineName", c.col_name),
                    ("Wait", str(int(pbx.now() - e.joined_at))),
                    ("Priority", "0"),
                ],
            )
            n += 1
    s.list_complete(m, "QueueStatusComplete", n)


def _member(s: AmiSession, m: Message):  # type: ignore[no-untyped-def]
    q = s.emu.pbx.queues.get(m.get("Queue"))
    if q is None:
        return None, None
    for mm in q.members:
        if mm.interface == m.get("Interface"):
            return q, mm
    return q, None


async def a_queueadd(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    q, mm = _member(s, m)
    if q is None:
        s.error(m, "Unable to add interface to queue: No such queue")
        return
    if mm is not None:
        s.error(m, "Unable to add interface: Already there")
        return
    iface = m.get("Interface")
    if not iface:
        s.error(m, "'Interface' not specified.")
        return
    mm = QueueMember(
        iface,
        m.get("MemberName") or iface,
        paused=m.get("Paused").lower() in ("true", "1", "yes"),
        login_time=int(pbx.now()),
    )
    q.members.append(mm)
    s.respond(m, [("Message", "Added interface to queue")])
    pbx.emit("QueueMemberAdded", pbx.member_headers(q, mm), "agent,all")


async def a_queueremove(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    q, mm = _member(s, m)
    if q is None or mm is None:
        s.error(m, "Unable to remove interface: Not there")
        return
    q.members.remove(mm)
    s.respond(m, [("Message", "Removed interface from queue")])
    pbx.emit("QueueMemberRemoved", pbx.member_headers(q, mm), "agent,all")


async def a_queuepause(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    paused = m.get("Paused").lower() in ("true", "1", "yes")
    targets = []
    if m.get("Queue"):
        q, mm = _member(s, m)
        if mm is not None:
            targets.append((q, mm))
    else:
        targets = [(q, mm) for q in pbx.queues.values() for mm in q.members if mm.interface == m.get("Interface")]
    if not targets:
        s.error(m, "Interface not found")
        return
    s.respond(m, [("Message", "Interface paused successfully" if paused else "Interface unpaused successfully")])
    for q, mm in targets:
        mm.paused = paused
        mm.reason = m.get("Reason") if paused else ""
        mm.last_pause = int(pbx.now()) if paused else mm.last_pause
        pbx.emit("QueueMemberPause", pbx.member_headers(q, mm), "agent,all")


async def a_mixmonitor(s: AmiSession, m: Message) -> None:
    """mixmonitor-recording.ami: `Response: Success` (no MixMonitorID), then VarSet
    MIXMONITOR_FILENAME and MixMonitorStart; the emulator writes the WAV (recorder.py)."""
    pbx = s.emu.pbx
    ch = pbx.find(m.get("Channel"))
    if not m.get("File"):
        s.error(m, "No file specified")
        return
    s.respond(m, [])
    pbx.start_recording(ch, m.get("File"))


async def a_mixmonitormute(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    ch = pbx.find(m.get("Channel"))
    s.respond(m, [])
    pbx.mute_recording(ch, m.get("Direction") or "both", m.get("State").lower() in ("1", "true", "yes", "on"))


async def a_pausemonitor(s: AmiSession, m: Message) -> None:
    """Answered as recorded, with no event (it is Monitor()'s action, not MixMonitor's)."""
    s.emu.pbx.find(m.get("Channel"))
    s.respond(m, [("Message", "Paused monitoring of the channel")])


async def a_stopmixmonitor(s: AmiSession, m: Message) -> None:
    pbx = s.emu.pbx
    ch = pbx.find(m.get("Channel"))
    if ch.mixmonitor is None:
        s.error(m, "Could not stop MixMonitor")
        return
    s.respond(m, [])
    pbx.stop_recording(ch)


Action = Callable[[AmiSession, Message], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "ping": a_ping,
    "events": a_events,
    "filter": a_filter,
    "corestatus": a_corestatus,
    "coresettings": a_coresettings,
    "command": a_command,
    "originate": a_originate,
    "redirect": a_redirect,
    "hangup": a_hangup,
    "blindtransfer": a_blindtransfer,
    "atxfer": a_atxfer,
    "bridge": a_bridge,
    "getvar": a_getvar,
    "setvar": a_setvar,
    "coreshowchannels": a_coreshowchannels,
    "status": a_status,
    "queuesummary": a_queuesummary,
    "queuestatus": a_queuestatus,
    "queueadd": a_queueadd,
    "queueremove": a_queueremove,
    "queuepause": a_queuepause,
    "mixmonitor": a_mixmonitor,
    "mixmonitormute": a_mixmonitormute,
    "pausemonitor": a_pausemonitor,
    "stopmixmonitor": a_stopmixmonitor,
}


class PbxEmulator:
    """`emu = PbxEmulator("hotline", "secret", agi_url="agi://127.0.0.1:4573", speed=10)`;
    `await emu.start()`; connect to `emu.port`; `await emu.stop()`."""

    def __init__(
        self,
        ami_user: str,
        ami_secret: str,
        agi_url: str | None = None,
        speed: float = 1.0,
        channelvars: tuple[str, ...] = CHANVARS,
        confbridge_order: str = "recorded",
        epoch: float | None = None,
    ) -> None:
        """`epoch`: the emulated clock's start (epoch seconds; default now): two
        emulators given the same one number their channels alike (Uniqueid = start
        second and a counter), as two real Asterisks started together do.
        `channelvars`: manager.conf's channelvars (the `ChanVariable:` lines of
        channel events); the default is the recorded configuration's four.
        `confbridge_order`: "recorded" (standing-line-confbridge.ami's order of
        ConfBridge's and the bridge's events) or "reversed" (each pair swapped: the
        order varies between runs of a real Asterisk)."""
        if confbridge_order not in CONFBRIDGE_ORDERS:
            raise ValueError(f"confbridge_order must be one of {CONFBRIDGE_ORDERS}, not {confbridge_order!r}")
        self.channelvars = tuple(channelvars)
        self.confbridge_order = confbridge_order
        self.ami_user = ami_user
        self.ami_secret = ami_secret
        self.agi_url = agi_url
        self.speed = speed
        self.epoch = epoch
        # The actions received (not Login / Ping), oldest first, the last 10,000.
        self.actions: deque[Message] = deque(maxlen=10_000)
        self._pbx: Pbx | None = None
        self._server: asyncio.Server | None = None
        self.sessions: set[AmiSession] = set()
        self._session_tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.host = "127.0.0.1"

    @property
    def pbx(self) -> Pbx:
        if self._pbx is None:
            raise RuntimeError("PbxEmulator.start() has not been awaited")
        return self._pbx

    @property
    def ledger(self) -> Ledger:
        return self.pbx.ledger

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._pbx = Pbx(
            speed=self.speed,
            agi_url=self.agi_url,
            channelvars=self.channelvars,
            confbridge_order=self.confbridge_order,
            epoch=self.epoch,
        )
        self._server = await asyncio.start_server(self._accept, host, port)
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("pbx_emulator_started", host=host, port=self.port, speed=self.speed, agi_url=self.agi_url)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.get_running_loop().create_task(session.run(), name=f"ami-session:{session.peer}")
        self._session_tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._session_tasks.discard(t)
            self.sessions.discard(session)
            if not t.cancelled() and t.exception() is not None:
                log.error("emulator_ami_session_failed", error=repr(t.exception()))

        task.add_done_callback(done)

    async def drop_connections(self) -> None:
        """Cut every AMI connection (as a network failure would); calls go on."""
        for session in list(self.sessions):
            session.writer.transport.abort()
            session.close()
        log.info("pbx_emulator_dropped_connections")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self.sessions):
                session.writer.transport.abort()
                session.close()
            for task in list(self._session_tasks):
                task.cancel()
            if self._session_tasks:
                await asyncio.gather(*self._session_tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        if self._pbx is not None:
            await self._pbx.shutdown()
