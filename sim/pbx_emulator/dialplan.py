"""The contexts of asterisk-config/extensions.conf, as Python programs.

Each program runs on one channel (a task), emits `Newexten` for every application
like Asterisk does, and waits on the PBX's scaled clock. Priorities and
application data match the recorded dialplan so `Newexten`/`Status` look the same.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog

from sim.pbx_emulator.engine import (
    ANSWER_DELAY,
    ASTERISK_VERSION,
    Channel,
    ChannelGone,
    DialAttempt,
    Pbx,
    Queue,
    QueueEntry,
    QueueMember,
)

log = structlog.get_logger()

Program = Callable[[Pbx, Channel, int], Awaitable[None]]

MACHINE_BEEP_S = 2.0  # WaitForSilence: the end of a machine's greeting, then its beep

# Sound file lengths in samples at 8 kHz (what STREAM FILE reports as endpos).
SOUNDS = {"hello-world": 11360, "vm-goodbye": 7840, "vm-enter-num-to-call": 13600, "silence/3": 24000}
DEFAULT_SOUND = 8000


def cid_all(ch: Channel) -> str:
    return f'"{ch.cid_name}" <{ch.cid_num}>'


def _secs(ch: Channel, name: str, default: float) -> float:
    return ch.num_var(name, default)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


async def answer(p: Pbx, ch: Channel) -> None:
    if ch.state != 6:
        p.answer(ch)
        await p.sleep(ANSWER_DELAY)


async def moh(p: Pbx, ch: Channel, seconds: float) -> None:
    p.moh_start(ch)
    await p.sleep(seconds)
    p.moh_stop(ch)


def hangup_app(p: Pbx, ch: Channel, priority: int, cause: int | None) -> None:
    p.newexten(ch, priority, "Hangup", "" if cause is None else str(cause))
    p.emit("SoftHangupRequest", [*ch.block(), ("Cause", "16")])
    p.hangup(ch, 16 if cause is None else cause)
    raise ChannelGone(ch.name)


async def playback(p: Pbx, ch: Channel, name: str) -> None:
    await p.sleep(SOUNDS.get(name, DEFAULT_SOUND) / 8000.0)


# ---------------------------------------------------------------- inbound


async def inbound_1000(p: Pbx, ch: Channel, prio: int) -> None:
    # A Redirect may enter at a later priority (`inbound,1000,5` = back on hold).
    if prio <= 1:
        p.newexten(ch, 1, "NoOp", f"Inbound call from {cid_all(ch)}")
    if prio <= 2:
        p.newexten(ch, 2, "Answer")
        await answer(p, ch)
    if prio <= 3:
        p.newexten(ch, 3, "Set", f"__CC_CALLID={ch.uniqueid}")
        p.set_var(ch, "__CC_CALLID", ch.uniqueid)
    if prio <= 4:
        p.newexten(ch, 4, "Set", "__CC_SKILL=billing")
        p.set_var(ch, "__CC_SKILL", "billing")
    secs = _secs(ch, "HOLD_SECS", 60)
    p.newexten(ch, 5, "MusicOnHold", f"default,{_fmt(secs)}")
    await moh(p, ch, secs)
    p.newexten(ch, 6, "Set", "CC_RESULT=hold-timeout")
    p.set_var(ch, "CC_RESULT", "hold-timeout")
    hangup_app(p, ch, 7, 16)


async def inbound_1100(p: Pbx, ch: Channel, _prio: int) -> None:
    p.newexten(ch, 1, "NoOp", f"Queue call from {cid_all(ch)}")
    p.newexten(ch, 2, "Answer")
    await answer(p, ch)
    p.newexten(ch, 3, "Set", f"__CC_CALLID={ch.uniqueid}")
    p.set_var(ch, "__CC_CALLID", ch.uniqueid)
    p.newexten(ch, 4, "Set", "__CC_SKILL=support")
    p.set_var(ch, "__CC_SKILL", "support")
    maxwait = _secs(ch, "QUEUE_MAXWAIT", 60)
    p.newexten(ch, 5, "Queue", f"support,t,,,{_fmt(maxwait)}")
    status = await queue_app(p, ch, "support", maxwait)
    p.set_var(ch, "QUEUESTATUS", status)
    p.newexten(ch, 6, "NoOp", f"QUEUESTATUS={status}")
    hangup_app(p, ch, 7, None)


async def inbound_1500(p: Pbx, ch: Channel, _prio: int) -> None:
    p.newexten(ch, 1, "NoOp", f"IVR call from {cid_all(ch)}")
    p.newexten(ch, 2, "Set", f"__CC_CALLID={ch.uniqueid}")
    p.set_var(ch, "__CC_CALLID", ch.uniqueid)
    p.newexten(ch, 3, "AGI", f"agi://127.0.0.1:4573/ivr?menu=main,{ch.cid_num}")
    status = await agi_app(p, ch, "agi://127.0.0.1:4573/ivr?menu=main", [ch.cid_num])
    p.set_var(ch, "AGISTATUS", status)
    if ch.agi_goto is not None and status == "SUCCESS":
        # the AGI script moved the channel (SET CONTEXT/EXTENSION/PRIORITY)
        context, exten, prio = ch.agi_goto
        ch.agi_goto = None
        await goto(p, ch, context, exten, prio)
        return
    p.newexten(
        ch,
        4,
        "NoOp",
        f"AGISTATUS={status} IVR_CHOICE={ch.var('IVR_CHOICE')} CC_SKILL={ch.var('CC_SKILL')}",
    )
    p.newexten(ch, 5, "Playback", "vm-goodbye")
    await answer(p, ch)
    await playback(p, ch, "vm-goodbye")
    hangup_app(p, ch, 6, None)


# ---------------------------------------------------------------- agent-connect


async def agent_connect(p: Pbx, ch: Channel, _prio: int) -> None:
    exten = ch.exten
    p.newexten(ch, 1, "NoOp", f"Connecting {cid_all(ch)} to agent {exten}")
    p.newexten(ch, 2, "Set", f"CC_AGENT={exten}")
    p.set_var(ch, "CC_AGENT", exten)
    if re.fullmatch(r"10\d\d", exten):
        # SIP softphones are not emulated: the endpoint is unavailable.
        p.newexten(ch, 3, "Dial", f"SIP/agent{exten},20,tT")
        status = "CHANUNAVAIL"
    else:
        p.newexten(ch, 3, "Dial", f"Local/{exten}@agents,20,tT")
        status = await dial_and_bridge(p, ch, f"{exten}@agents", 20)
    p.set_var(ch, "DIALSTATUS", status)
    p.newexten(ch, 4, "NoOp", f"DIALSTATUS={status}")
    hangup_app(p, ch, 5, None)


async def dial_and_bridge(p: Pbx, ch: Channel, dest: str, timeout: float) -> str:
    """Dial(Local/dest) and bridge the leg the moment it answers (see DialAttempt.on_answer)."""
    waiter: asyncio.Future[str] = p.loop.create_future()
    joined: list[bool] = []

    def bridge_on_answer(one: Channel) -> None:
        def connect() -> None:
            if not one.dead and not ch.dead:
                joined.append(True)
                ch.bridge_waiter = waiter
                p.connect(ch, one)

        if one.dial_as_dest is not None:
            one.dial_as_dest.on_answer = connect

    status, _one = await p.dial_local(ch, dest, timeout, before_dial=bridge_on_answer)
    if status != "ANSWER" or not joined:
        return status
    await waiter
    return status


async def bridged(p: Pbx, ch: Channel, other: Channel) -> None:
    """Dial()'s caller bridged with the answered leg, until one of them leaves."""
    waiter: asyncio.Future[str] = p.loop.create_future()
    ch.bridge_waiter = waiter
    p.connect(ch, other)
    await waiter


# ---------------------------------------------------------------- several PBXs (trunk.py)


async def hotline_trunk(p: Pbx, ch: Channel, _prio: int) -> None:
    """[hotline-trunk] (docs/asterisk.md): Dial(${HOTLINE_TRUNK_DIAL},20,tT), Hangup()."""
    from sim.pbx_emulator.trunk import dial_trunk

    dial = ch.var("HOTLINE_TRUNK_DIAL")
    p.newexten(ch, 1, "Dial", f"{dial},20,tT")
    status = await dial_trunk(p, ch, dial, 20)
    p.set_var(ch, "DIALSTATUS", status)
    hangup_app(p, ch, 2, None)


async def hotline_trunk_in(p: Pbx, ch: Channel, _prio: int) -> None:
    """[hotline-trunk-in] (docs/asterisk.md): another PBX's call for agent EXTEN:
    Dial(Local/${EXTEN}@agents,20,tT), Hangup()."""
    from sim.pbx_emulator.trunk import trunk_in

    p.newexten(ch, 1, "Dial", f"Local/{ch.exten}@agents,20,tT")
    status = await trunk_in(p, ch, ch.exten, 20)
    p.set_var(ch, "DIALSTATUS", status)
    hangup_app(p, ch, 2, None)


# ---------------------------------------------------------------- agents / customers


async def agent_phone(p: Pbx, ch: Channel, _prio: int) -> None:
    ring, talk = _secs(ch, "AGENT_RING", 1), _secs(ch, "AGENT_TALK", 8)
    await _phone(p, ch, f"Agent phone {ch.exten} ringing for {cid_all(ch)}", ring, talk)


async def supervisor_phone(p: Pbx, ch: Channel, _prio: int) -> None:
    """extensions-additions.conf 2090: rings 1 s, answers, stays SUP_TALK s (30)."""
    await _phone(p, ch, f"Supervisor phone {ch.exten} ringing for {cid_all(ch)}", 1, _secs(ch, "SUP_TALK", 30))


async def _phone(p: Pbx, ch: Channel, noop: str, ring: float, talk: float) -> None:
    """A phone of the agents context: NoOp, Ringing, Wait(ring), Answer, Wait(talk), Hangup(16)."""
    p.newexten(ch, 1, "NoOp", noop)
    p.newexten(ch, 2, "Ringing")
    p.indicate_ringing(ch)
    p.newexten(ch, 3, "Wait", _fmt(ring))
    await p.sleep(ring)
    p.newexten(ch, 4, "Answer")
    await answer(p, ch)
    p.newexten(ch, 5, "Wait", _fmt(talk))
    await p.sleep(talk)
    hangup_app(p, ch, 6, 16)


async def agent_2099(p: Pbx, ch: Channel, _prio: int) -> None:
    p.newexten(ch, 1, "NoOp", "Agent phone 2099 ringing, nobody picks up")
    p.newexten(ch, 2, "Ringing")
    p.indicate_ringing(ch)
    p.newexten(ch, 3, "Wait", "120")
    await p.sleep(120)
    hangup_app(p, ch, 4, None)


CUSTOMER_BEHAVIOUR = {"5550001": "answer", "5550002": "busy", "5550003": "noanswer", "5550004": "congestion"}
AMD_RESULTS = {
    "HUMAN": ("HUMAN", "HUMAN-800-800", 2.6),
    "MACHINE": ("MACHINE", "LONGGREETING-1500-1500", 2.0),
}


async def customer(p: Pbx, ch: Channel, _prio: int) -> None:
    exten = ch.exten
    behaviour = CUSTOMER_BEHAVIOUR.get(exten) or ch.var("CUST_BEHAVIOUR", "answer").lower()
    recorded = exten in CUSTOMER_BEHAVIOUR
    if behaviour == "busy":
        p.newexten(ch, 1, "NoOp", f"Customer {exten} is busy")
        wait = 1 if recorded else _secs(ch, "CUST_RING", 1)
        p.newexten(ch, 2, "Wait", _fmt(wait))
        await p.sleep(wait)
        p.newexten(ch, 3, "Busy", "10")
        p.indicate_busy(ch, "BUSY", 17)
        await p.sleep(10)
        hangup_app(p, ch, 4, 17)
    if behaviour == "congestion":
        p.newexten(ch, 1, "NoOp", f"Customer {exten} congestion")
        p.newexten(ch, 2, "Congestion", "10")
        p.indicate_busy(ch, "CONGESTION", 34)
        await p.sleep(10)
        hangup_app(p, ch, 3, 34)
    if behaviour == "noanswer":
        p.newexten(ch, 1, "NoOp", f"Customer {exten} rings, no answer")
        p.newexten(ch, 2, "Ringing")
        p.indicate_ringing(ch)
        p.newexten(ch, 3, "Wait", "120")
        await p.sleep(120)
        hangup_app(p, ch, 4, None)
    # answer (5550001 or CUST_BEHAVIOUR=answer)
    ch.amd = AMD_RESULTS.get(ch.var("CUST_AMD", "HUMAN").upper(), AMD_RESULTS["HUMAN"])
    p.newexten(ch, 1, "NoOp", f"Customer {exten} ringing")
    p.newexten(ch, 2, "Ringing")
    p.indicate_ringing(ch)
    ring = 2 if recorded else _secs(ch, "CUST_RING", 2)
    p.newexten(ch, 3, "Wait", _fmt(ring))
    await p.sleep(ring)
    p.newexten(ch, 4, "Answer")
    await answer(p, ch)
    p.newexten(ch, 5, "Playback", "hello-world")
    await playback(p, ch, "hello-world")
    p.newexten(ch, 6, "Playback", "silence/3")
    await playback(p, ch, "silence/3")
    talk = _secs(ch, "CUST_TALK", 12)
    p.newexten(ch, 7, "Wait", _fmt(talk))
    await p.sleep(talk)
    hangup_app(p, ch, 8, 16)


# ---------------------------------------------------------------- dialer-answered


async def dialer_answered(p: Pbx, ch: Channel, _prio: int) -> None:
    exten = ch.exten
    p.newexten(ch, 1, "NoOp", f"Dialer: customer {exten} answered, campaign {ch.var('CC_CAMPAIGN')}")
    p.newexten(ch, 2, "Set", f"__CC_CALLID={ch.uniqueid}")
    p.set_var(ch, "__CC_CALLID", ch.uniqueid)
    p.newexten(ch, 3, "Set", f'CALLERID(all)="Customer {exten}" <{exten}>')
    p.set_callerid(ch, exten, f"Customer {exten}")
    p.newexten(ch, 4, "AMD")
    far = ch.partner
    status, cause, delay = far.amd if far is not None and far.amd else AMD_RESULTS["HUMAN"]
    await p.sleep(delay)
    p.set_var(ch, "AMDSTATUS", status)
    p.set_var(ch, "AMDCAUSE", cause)
    if ch.call is not None:
        ch.call.amd = status
    p.newexten(ch, 5, "UserEvent", f"DialerAMD,Status: {status},Cause: {cause},Number: {exten}")
    p.emit(
        "UserEvent",
        [*ch.block(), ("UserEvent", "DialerAMD"), ("Status", status), ("Cause", cause), ("Number", exten)],
        "user,all",
    )
    p.newexten(ch, 6, "GotoIf", f"{int(status == 'MACHINE')}?machine")
    if status == "MACHINE":
        message = ch.var("CC_MACHINE_MESSAGE")
        if message:  # Hotline's machine-message addition (docs/asterisk.md), not in the recording
            p.newexten(ch, 9, "GotoIf", "0?hangup")
            p.newexten(ch, 10, "WaitForSilence", "1500,1,20")
            await p.sleep(MACHINE_BEEP_S)
            p.newexten(ch, 11, "Playback", message)
            await playback(p, ch, message)
            p.newexten(ch, 12, "UserEvent", f"DialerMachineMessage,Number: {exten}")
            p.emit("UserEvent", [*ch.block(), ("UserEvent", "DialerMachineMessage"), ("Number", exten)], "user,all")
            hangup_app(p, ch, 13, 16)
        hangup_app(p, ch, 9, 16)
    p.newexten(ch, 7, "MusicOnHold", "default,30")
    await moh(p, ch, 30)
    hangup_app(p, ch, 8, None)


# ---------------------------------------------------------------- caller-phone


async def caller_wait(p: Pbx, ch: Channel, _prio: int) -> None:
    patience = _secs(ch, "PATIENCE", 120)
    p.newexten(ch, 1, "Wait", _fmt(patience))
    await p.sleep(patience)
    hangup_app(p, ch, 2, 16)


async def caller_dtmf(p: Pbx, ch: Channel, _prio: int) -> None:
    delay = _secs(ch, "DTMF_DELAY", 3)
    p.newexten(ch, 1, "Wait", _fmt(delay))
    await p.sleep(delay)
    digits = ch.var("DTMF_DIGITS")
    p.newexten(ch, 2, "SendDTMF", f"{digits},250")
    for digit in digits:
        far = ch.partner
        for who, direction in ((ch, "Sent"), (far, "Received")):
            if who is not None and not who.dead:
                p.emit("DTMFBegin", [*who.block(), ("Digit", digit), ("Direction", direction)], "dtmf,all")
        await p.sleep(0.25)
        for who, direction in ((ch, "Sent"), (far, "Received")):
            if who is not None and not who.dead:
                p.emit(
                    "DTMFEnd",
                    [*who.block(), ("Digit", digit), ("DurationMs", "250"), ("Direction", direction)],
                    "dtmf,all",
                )
        if far is not None and not far.dead:
            far.dtmf.put_nowait(digit)
    # The recorded dialplan stays 30 s; a PATIENCE variable (emulator extension,
    # set by sim.traffic for every caller) overrides it.
    stay = _secs(ch, "PATIENCE", 30)
    p.newexten(ch, 3, "Wait", _fmt(stay))
    await p.sleep(stay)
    hangup_app(p, ch, 4, None)


# ---------------------------------------------------------------- hold (emulator extension)


async def hold(p: Pbx, ch: Channel, _prio: int) -> None:
    p.newexten(ch, 1, "Answer")
    await answer(p, ch)
    secs = _secs(ch, "HOLD_SECS", 3600)
    p.newexten(ch, 2, "MusicOnHold", f"default,{_fmt(secs)}")
    await moh(p, ch, secs)
    hangup_app(p, ch, 3, None)


async def hotline_voicemail(p: Pbx, ch: Channel, _prio: int) -> None:
    """ivr.agi_driver's voicemail hand-off: the greeting, a short message, hang up."""
    p.newexten(ch, 1, "Playback", "vm-intro")
    await answer(p, ch)
    await playback(p, ch, "vm-intro")
    p.newexten(ch, 2, "Wait", "5")
    await p.sleep(5)
    hangup_app(p, ch, 3, None)


async def hotline_play(p: Pbx, ch: Channel, _prio: int) -> None:
    """[hotline-play] s,1,Playback(${HOTLINE_PLAYBACK}) / Hangup(): the context
    cti.pbx's play() redirects to (not in the recorded dialplan)."""
    name = ch.var("HOTLINE_PLAYBACK")
    p.newexten(ch, 1, "Playback", name)
    await answer(p, ch)
    await playback(p, ch, name)
    hangup_app(p, ch, 2, None)


# ---------------------------------------------------------------- standing agent lines (Hotline addition)

# confbridge.conf of the addition:
#   [hotline_line]   type=bridge
#   [hotline_agent]  type=user, marked=yes, quiet=yes
#   [hotline_caller] type=user, quiet=yes, wait_marked=yes, end_marked=yes
# user profile -> (marked, end_marked); wait_marked needs no state here: a user
# waiting for the marked user is in the bridge already and just hears music.
CONFBRIDGE_USER_PROFILES = {"hotline_agent": (True, False), "hotline_caller": (False, True)}


async def confbridge_app(p: Pbx, ch: Channel, name: str, user_profile: str) -> str:
    """ConfBridge(name,,user_profile): join the conference and stay until removed
    (end_marked: returns "ENDMARKED", the dialplan goes on). A hang-up or an AMI
    Redirect cancels the program; the channel leaves the conference either way."""
    if ch.dead:
        raise ChannelGone(ch.name)
    if ch.state != 6:
        p.answer(ch)  # ConfBridge answers an unanswered channel itself
    marked, end_marked = CONFBRIDGE_USER_PROFILES.get(user_profile, (False, False))
    waiter: asyncio.Future[str] = p.loop.create_future()
    ch.bridge_waiter = waiter
    p.conference_join(ch, name, marked=marked, end_marked=end_marked)
    return await waiter  # (the conference sets CONFBRIDGE_RESULT when it removes the user)


async def hotline_agent_line(p: Pbx, ch: Channel, _prio: int) -> None:
    """
    ; An agent's standing line: Hotline originates the agent's phone (Channel=<phone endpoint>,
    ; e.g. Local/2001@agents) into this context, exten = the agent's extension; the phone stays
    ; in a one-agent conference between calls.
    [hotline-agent-line]
    exten => _X.,1,Answer()
     same => n,ConfBridge(hotline-agent-${EXTEN},hotline_line,hotline_agent)
     same => n,Hangup()

    confbridge.conf: [hotline_line] type=bridge; [hotline_agent] type=user, marked=yes,
    quiet=yes. The agent is the marked user: leaving ends the conference (the callers,
    end_marked, are removed and their dialplan goes on to Hangup()).
    """
    p.newexten(ch, 1, "Answer")
    await answer(p, ch)
    data = f"hotline-agent-{ch.exten},hotline_line,hotline_agent"
    p.newexten(ch, 2, "ConfBridge", data)
    await confbridge_app(p, ch, f"hotline-agent-{ch.exten}", "hotline_agent")
    hangup_app(p, ch, 3, None)


async def hotline_agent_join(p: Pbx, ch: Channel, _prio: int) -> None:
    """
    ; Where Hotline redirects a caller (or originates a call-back / answered dialer leg) to
    ; reach an agent whose line is up: the caller joins the agent's conference at once.
    [hotline-agent-join]
    exten => _X.,1,ConfBridge(hotline-agent-${EXTEN},hotline_line,hotline_caller)
     same => n,Hangup()

    confbridge.conf: [hotline_caller] type=user, quiet=yes, wait_marked=yes, end_marked=yes:
    a caller joining before the agent waits (in the bridge, hearing music) for the agent;
    when the agent leaves, the caller is removed and goes on to Hangup(). A caller leaving
    (hang-up, or a Redirect elsewhere) leaves the agent in the conference.
    """
    data = f"hotline-agent-{ch.exten},hotline_line,hotline_caller"
    p.newexten(ch, 1, "ConfBridge", data)
    await confbridge_app(p, ch, f"hotline-agent-{ch.exten}", "hotline_caller")
    hangup_app(p, ch, 2, None)


# ---------------------------------------------------------------- app_queue


async def queue_app(p: Pbx, ch: Channel, name: str, maxwait: float) -> str:
    q = p.queues.setdefault(name, Queue(name))
    entry = QueueEntry(q, ch, p.now(), len(q.entries) + 1)
    q.entries.append(entry)
    ch.queue_entry = entry
    p.emit(
        "QueueCallerJoin",
        [*ch.block(), ("Queue", q.name), ("Position", str(len(q.entries))), ("Count", str(len(q.entries)))],
        "agent,all",
    )
    p.moh_start(ch)
    deadline = p.now() + maxwait
    while p.now() < deadline:
        if q.entries and q.entries[0] is not entry:
            await p.sleep(0.5)
            continue
        tried = False
        for member in list(q.members):
            if member not in q.members or member.paused or member.status != 1:
                continue
            tried = True
            result = await _ring_member(p, ch, q, member, entry)
            if result == "CONNECTED":
                return "COMPLETED"
            await p.sleep(q.retry)
            if p.now() >= deadline:
                break
        if not tried:
            await p.sleep(1.0)
    p.moh_stop(ch)
    p._queue_leave(entry)
    return "TIMEOUT"


async def _ring_member(p: Pbx, ch: Channel, q: Queue, member: QueueMember, entry: QueueEntry) -> str:
    exten_ctx = member.interface.partition("/")[2]

    def called(one: Channel) -> None:
        p.emit(
            "AgentCalled",
            ch.block()
            + one.block("Dest")
            + [("Queue", q.name), ("Interface", member.interface), ("MemberName", member.name)],
            "agent,all",
        )
        p.member_status(q, member, 2)

    started = p.now()
    try:
        status, one = await _queue_dial(p, ch, exten_ctx, q.timeout, called, q, member)
    except asyncio.CancelledError:  # the caller hung up or was redirected while it rang
        p.member_status(q, member, 1)
        raise
    if status != "ANSWER" or one.dead:
        p.member_status(q, member, 1)
        return status
    p.moh_stop(ch)
    hold_time = int(p.now() - entry.joined_at)
    p._queue_leave(entry)
    p.emit(
        "AgentConnect",
        ch.block()
        + one.block("Dest")
        + [
            ("Queue", q.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
            ("HoldTime", str(hold_time)),
            ("RingTime", str(int(p.now() - started))),
        ],
        "agent,all",
    )
    member.in_call = 1
    waiter: asyncio.Future[str] = p.loop.create_future()
    ch.bridge_waiter = waiter
    bridge = p.connect(ch, one)
    connected_at = p.now()

    def complete(leaving: Channel) -> None:
        member.in_call = 0
        member.calls_taken += 1
        member.last_call = int(p.now())
        q.completed += 1
        p.emit(
            "AgentComplete",
            ch.block()
            + one.block("Dest")
            + [
                ("Queue", q.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("HoldTime", str(hold_time)),
                ("TalkTime", str(int(p.now() - connected_at))),
                ("Reason", "agent" if leaving is one else "caller"),
            ],
            "agent,all",
        )
        p.member_status(q, member, 1)

    bridge.before_leave = complete
    await waiter
    return "CONNECTED"


async def _queue_dial(
    p: Pbx,
    ch: Channel,
    dest: str,
    timeout: float,
    called: Callable[[Channel], None],
    q: Queue,
    member: QueueMember,
) -> tuple[str, Channel]:
    # Like Pbx.dial_local, but app_queue reports a ring-no-answer its own way.
    one, two = p.new_local_pair(dest, ch.linkedid)
    for half in (one, two):
        p.inherit_vars(ch, half)
    p.set_callerid(one, ch.cid_num, ch.cid_name)
    p.set_callerid(two, ch.cid_num, ch.cid_name)
    p.local_bridge(one, two)
    attempt = DialAttempt(ch, one, p.loop.create_future(), started_at=p.now())
    one.dial_as_dest = attempt
    one.cdr = False
    leg = [one.name, ch.app, ch.appdata, False]
    ch.cdr_legs.append(leg)
    ch.dialing = attempt
    called(one)
    p.emit("DialBegin", ch.block() + one.block("Dest") + [("DialString", dest)])
    p.start_program(two, two.context, two.exten, 1)
    status = await p.wait_outcome(attempt, timeout)
    leg[3] = status == "ANSWER"
    ch.dialing = None
    one.dial_as_dest = None
    if status == "TIMEOUT":
        p.emit(
            "AgentRingNoAnswer",
            ch.block()
            + one.block("Dest")
            + [
                ("Queue", q.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("RingTime", str(int(timeout * 1000))),
            ],
            "agent,all",
        )
        p.emit("DialEnd", ch.block() + one.block("Dest") + [("DialStatus", "NOANSWER")])
        p.emit("DialEnd", ch.block() + one.block("Dest") + [("DialStatus", "CANCEL")])
        p.hangup(one, 0)
        return "NOANSWER", one
    if status != "ANSWER" and not one.dead:
        p.hangup(one, 0)
    return status, one


# ---------------------------------------------------------------- AGI


async def agi_app(p: Pbx, ch: Channel, dialplan_url: str, args: list[str]) -> str:
    """AGI(agi://...): run the FastAGI conversation in its own task so that a
    hang-up (which cancels this program) still lets it send `HANGUP` / `511`."""
    if not p.agi_url:
        log.warning("emulator_agi_not_configured", channel=ch.name)
        return "FAILURE"
    session = p.spawn(_agi_session(p, ch, dialplan_url, args), name=f"agi:{ch.name}")
    return await asyncio.shield(session)


async def _agi_session(p: Pbx, ch: Channel, dialplan_url: str, args: list[str]) -> str:
    target = urlsplit(p.agi_url or "")
    script = dialplan_url.split("://", 1)[1].partition("/")[2]
    base_path = target.path.strip("/")
    if base_path:
        script = base_path
    host, port = target.hostname or "127.0.0.1", target.port or 4573
    request = f"agi://{host}:{port}/{script}"
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        log.warning("emulator_agi_connect_failed", url=request, error=str(exc))
        return "FAILURE"
    ch.agi_hangup = asyncio.Event()
    headers = [
        ("agi_network", "yes"),
        ("agi_network_script", script),
        ("agi_request", request),
        ("agi_channel", ch.name),
        ("agi_language", "en"),
        ("agi_type", "Local"),
        ("agi_uniqueid", ch.uniqueid),
        ("agi_version", ASTERISK_VERSION),
        ("agi_callerid", ch.cid_num),
        ("agi_calleridname", ch.cid_name),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", "unknown"),
        ("agi_rdnis", "unknown"),
        ("agi_context", ch.context),
        ("agi_extension", ch.exten),
        ("agi_priority", str(ch.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""),
        ("agi_threadid", str(id(ch))),
    ] + [(f"agi_arg_{i}", a) for i, a in enumerate(args, 1)]
    writer.write("".join(f"{k}: {v}\n" for k, v in headers).encode() + b"\n")
    sent_hangup = False
    status = "SUCCESS"
    idle = 60 / p.speed + 5  # how long the server may think between commands
    try:
        while True:
            await writer.drain()
            read = asyncio.ensure_future(reader.readline())
            hung = None if sent_hangup else asyncio.ensure_future(ch.agi_hangup.wait())
            waits = {read} if hung is None else {read, hung}
            done, _ = await asyncio.wait(waits, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            if hung is not None:
                if hung in done and not sent_hangup:
                    writer.write(b"HANGUP\n")  # Asterisk tells a network AGI at once
                    sent_hangup = True
                else:
                    hung.cancel()
            if read not in done:
                if hung is None or hung not in done:
                    read.cancel()
                    break
                line = await asyncio.wait_for(read, idle)
            else:
                line = read.result()
            if not line:
                break
            command = line.decode("utf-8", errors="replace").strip()
            if not command:
                continue
            reply = await _agi_command(p, ch, command)
            if ch.dead and not sent_hangup:
                writer.write(b"HANGUP\n")
                sent_hangup = True
            writer.write(reply.encode() + b"\n")
    except (TimeoutError, ConnectionError) as exc:
        log.info("emulator_agi_closed", channel=ch.name, detail=repr(exc))
    finally:
        writer.close()
        ch.agi_hangup = None
    return "HANGUP" if ch.dead else status


async def _pause(p: Pbx, ch: Channel, seconds: float) -> bool:
    """Sleep on the PBX clock; False if the channel hung up meanwhile."""
    return await _until_hangup(p, ch, p.sleep(seconds)) is not _HUNG


_HUNG = object()


async def _until_hangup(p: Pbx, ch: Channel, coro):  # type: ignore[no-untyped-def]
    work = asyncio.ensure_future(coro)
    if ch.dead or ch.agi_hangup is None:
        if ch.dead:
            work.cancel()
            return _HUNG
        return await work
    hung = asyncio.ensure_future(ch.agi_hangup.wait())
    done, _ = await asyncio.wait({work, hung}, return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        hung.cancel()
        return work.result()
    work.cancel()
    return _HUNG


async def goto(p: Pbx, ch: Channel, context: str, exten: str, priority: int) -> None:
    """Continue this channel's dialplan elsewhere (inside its own program task)."""
    program = lookup(context, exten)
    ch.context, ch.exten, ch.priority = context, exten, priority
    if program is None:
        log.info("emulator_no_such_extension", channel=ch.name, context=context, exten=exten)
        p.hangup(ch, 0)
        raise ChannelGone(ch.name)
    await program(p, ch, priority)


def _split_args(text: str) -> list[str]:
    out: list[str] = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', text):
        out.append(m.group(1).replace('\\"', '"').replace("\\\\", "\\") if m.group(1) is not None else m.group(2))
    return out


def _expand(ch: Channel, expr: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "CALLERID(name)":
            return ch.cid_name
        if name == "CALLERID(num)":
            return ch.cid_num
        if name == "CALLERID(all)":
            return cid_all(ch)
        if name == "UNIQUEID":
            return ch.uniqueid
        if name in ("CHANNEL", "CHANNEL(name)"):
            return ch.name
        if name == "CHANNEL(linkedid)":
            return ch.linkedid
        if name == "CHANNEL(uniqueid)":
            return ch.uniqueid
        if name == "CHANNEL(state)":
            return {6: "Up", 4: "Ring", 5: "Ringing"}.get(ch.state, "Down")
        return ch.vars.get(name, "")

    return re.sub(r"\$\{([^}]*)\}", one, expr)


async def _agi_command(p: Pbx, ch: Channel, command: str) -> str:
    words = _split_args(command)
    upper = [w.upper() for w in words]
    dead_ok = upper[:2] in (["GET", "VARIABLE"], ["SET", "VARIABLE"], ["GET", "FULL"]) or upper[:1] == ["VERBOSE"]
    if ch.dead and not dead_ok:
        return "511 Command Not Permitted on a dead channel or intercept routine"
    cid = next(p.agi_command_id)
    p.emit("AGIExecStart", [*ch.block(), ("CommandId", str(cid)), ("Command", command)], "agi,all")
    code, result = 200, "result=0"
    if upper[:1] == ["ANSWER"]:
        if ch.state != 6:
            p.answer(ch)
            if not await _pause(p, ch, ANSWER_DELAY):
                result = "result=-1"
    elif upper[:1] == ["VERBOSE"]:
        result = "result=1"
    elif upper[:2] == ["GET", "VARIABLE"] and len(words) >= 3:
        value = _expand(ch, "${" + words[2] + "}") if "(" in words[2] else ch.vars.get(words[2])
        result = f"result=1 ({value})" if value is not None else "result=0"
    elif upper[:3] == ["GET", "FULL", "VARIABLE"] and len(words) >= 4:
        result = f"result=1 ({_expand(ch, words[3])})"
    elif upper[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
        p.set_var(ch, words[2], words[3])
        result = "result=1"
    elif upper[:2] == ["STREAM", "FILE"] and len(words) >= 3:
        samples = SOUNDS.get(words[2], DEFAULT_SOUND)
        ok = await _pause(p, ch, samples / 8000.0)
        result = f"result=0 endpos={samples}" if ok else "result=-1 endpos=0"
    elif upper[:2] == ["GET", "DATA"] and len(words) >= 3:
        timeout = float(words[3]) / 1000.0 if len(words) > 3 else 5.0
        max_digits = int(words[4]) if len(words) > 4 else 1024
        digits = ""
        timed_out = False
        hung_up = False
        while len(digits) < max_digits:
            try:
                digit = await _until_hangup(p, ch, asyncio.wait_for(ch.dtmf.get(), (timeout + 1.0) / p.speed))
            except TimeoutError:
                timed_out = True
                break
            if digit is _HUNG:
                hung_up = True
                break
            if digit == "#":
                break
            digits += digit
        result = "result=-1" if hung_up else f"result={digits}" + (" (timeout)" if timed_out else "")
    elif upper[:2] == ["SAY", "DIGITS"] and len(words) >= 3:
        result = "result=0" if await _pause(p, ch, 0.6 * len(words[2])) else "result=-1"
    elif upper[:2] in (["SET", "CONTEXT"], ["SET", "EXTENSION"], ["SET", "PRIORITY"]) and len(words) >= 3:
        context, exten, prio = ch.agi_goto or (ch.context, ch.exten, ch.priority)
        if upper[1] == "CONTEXT":
            context = words[2]
        elif upper[1] == "EXTENSION":
            exten = words[2]
        else:
            prio = int(words[2]) if words[2].isdigit() else 1
        ch.agi_goto = (context, exten, prio)
        result = "result=0"
    elif upper[:2] == ["CHANNEL", "STATUS"]:
        result = f"result={ch.state}"
    elif upper[:1] == ["EXEC"] and len(words) >= 2:
        result = "result=0"
    elif upper[:1] == ["HANGUP"]:
        p.hangup(ch, 16)
        result = "result=1"
    else:
        p.emit(
            "AGIExecEnd",
            [
                *ch.block(),
                ("CommandId", str(cid)),
                ("Command", command),
                ("ResultCode", "510"),
                ("Result", "Invalid or unknown command"),
            ],
            "agi,all",
        )
        return "510 Invalid or unknown command"
    p.emit(
        "AGIExecEnd",
        [*ch.block(), ("CommandId", str(cid)), ("Command", command), ("ResultCode", str(code)), ("Result", "Success")],
        "agi,all",
    )
    return f"{code} {result}"


# ---------------------------------------------------------------- applications for Originate Application=


async def run_application(p: Pbx, ch: Channel, app: str, data: str) -> None:
    try:
        p.newexten(ch, 1, app, data)
        name = app.lower()
        if name == "wait":
            await p.sleep(float(data or 1))
        elif name == "musiconhold":
            parts = data.split(",")
            await moh(p, ch, float(parts[1]) if len(parts) > 1 and parts[1] else 3600)
        elif name == "playback":
            await playback(p, ch, data)
        elif name == "hangup":
            pass
        elif name == "chanspy":
            await chanspy(p, ch, data)
        else:
            await p.sleep(3600)
        p.hangup(ch, 16)
    except (ChannelGone, asyncio.CancelledError):
        return


async def chanspy(p: Pbx, ch: Channel, data: str) -> None:
    """ChanSpy(<channel name prefix>,<options>): spy on the first live channel whose
    name starts with the prefix (waiting for one, as `q` ChanSpy does), until that
    channel leaves its bridge or hangs up; the mode (w whisper, B barge, else listen)
    is kept on the spyer for tests to check."""
    prefix, _, options = data.partition(",")
    while True:
        spyee = next((c for c in p.channels.values() if c.name.startswith(prefix) and c is not ch), None)
        if spyee is not None and not spyee.dead:
            break
        await p.sleep(1)
    p.spy_start(ch, spyee, options)
    assert ch.spy_done is not None
    await ch.spy_done.wait()


# ---------------------------------------------------------------- lookup

_TABLE: list[tuple[str, str, Program]] = [
    ("inbound", r"1000", inbound_1000),
    ("inbound", r"1100", inbound_1100),
    ("inbound", r"1500", inbound_1500),
    ("agent-connect", r"(20|10)\d\d|3\d{4}", agent_connect),
    ("agents", r"2099", agent_2099),
    ("agents", r"2090", supervisor_phone),
    ("agents", r"20\d\d", agent_phone),
    ("agents", r"3\d{4}", agent_phone),  # 30000-39999: the scale benchmark's 10,000 phones
    ("customers", r"\d+", customer),
    ("dialer-answered", r"\d+", dialer_answered),
    ("caller-phone", r"wait", caller_wait),
    ("caller-phone", r"dtmf", caller_dtmf),
    ("hold", r".+", hold),
    ("hotline-play", r"s", hotline_play),
    # Where ivr.agi_driver parks a call for the router (SET CONTEXT hotline-queue): the
    # same music-until-redirected as `hold` (see docs/asterisk.md for the real dialplan).
    ("hotline-queue", r".+", hold),
    ("hotline-voicemail", r".+", hotline_voicemail),
    # Hotline's standing agent lines (ConfBridge; docs/asterisk.md): `_X.` = a digit, then 1+ chars
    ("hotline-agent-line", r"\d.+", hotline_agent_line),
    ("hotline-agent-join", r"\d.+", hotline_agent_join),
    # Several PBXs: a caller sent to another PBX's agent, and that PBX's side (trunk.py)
    ("hotline-trunk", r"\d+", hotline_trunk),
    ("hotline-trunk-in", r"\d+", hotline_trunk_in),
]


def lookup(context: str, exten: str) -> Program | None:
    for ctx, pattern, program in _TABLE:
        if ctx == context and re.fullmatch(pattern, exten):
            return program
    return None


def exists(context: str, exten: str) -> bool:
    return lookup(context, exten) is not None
