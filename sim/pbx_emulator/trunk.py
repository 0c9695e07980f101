"""A SIP trunk between two emulated PBXs (several Asterisks behind one Hotline).

What Asterisk does with the dialplan docs/asterisk.md gives ("Several Asterisks"):

- On PBX A, Hotline sets `HOTLINE_TRUNK_DIAL` on the waiting caller (e.g.
  `PJSIP/2001@pbx-b`) and redirects it to `hotline-trunk,2001,1`, which runs
  `Dial(${HOTLINE_TRUNK_DIAL},20,tT)`. A creates its outgoing trunk channel,
  `PJSIP/<endpoint>-<8 hex>` (the trunk endpoint is `pbx-b`), with the caller's
  Linkedid, and sends DialBegin.
- PBX B receives the call on its own trunk channel, `PJSIP/<A's endpoint name>-<8
  hex>`, a call of its own (B's Uniqueid and Linkedid), in context
  `hotline-trunk-in`, extension 2001, which Dials the agent as agent-connect does
  (`Local/2001@agents`). B answers its trunk leg when the agent answers; then A's
  Dial is answered (DialEnd ANSWER) and A bridges the caller with its trunk channel.
- A hang-up on either side hangs the other side's trunk channel up (cause 16).

`link(a, b, a_as, b_as)` joins two `Pbx` objects (one process): on A, dialling
`<tech>/<exten>@<b_as>` reaches B, whose trunk channels from A are named after `a_as`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from sim.pbx_emulator.dialplan import bridged
from sim.pbx_emulator.engine import Channel, DialAttempt, Pbx

TRUNK_IN_CONTEXT = "hotline-trunk-in"
_COUNTER = itertools.count(0x7000)  # trunk channel suffixes (distinct from Local's)


@dataclass(frozen=True, slots=True)
class Peer:
    """The PBX at the other end of a trunk, and the endpoint name it knows us by."""

    pbx: Pbx
    our_name: str


def link(a: Pbx, b: Pbx, a_as: str, b_as: str) -> None:
    """A trunk both ways: A dials `...@b_as` to reach B, B dials `...@a_as` to reach A."""
    a.trunks[b_as] = Peer(b, a_as)
    b.trunks[a_as] = Peer(a, b_as)


def parse_dial(dial: str) -> tuple[str, str, str] | None:
    """`PJSIP/2001@pbx-b` -> ("PJSIP", "2001", "pbx-b"); `SIP/pbx-b/2001` too; else None."""
    tech, _, rest = dial.partition("/")
    if not rest:
        return None
    if "@" in rest:
        exten, _, peer = rest.partition("@")
    else:
        peer, _, exten = rest.partition("/")
    return (tech, exten, peer) if exten and peer else None


def _trunk_channel(p: Pbx, tech: str, endpoint: str, linkedid: str | None, context: str, exten: str) -> Channel:
    uid = p.new_uniqueid()
    ch = Channel(
        f"{tech}/{endpoint}-{next(_COUNTER):08x}",
        uid,
        linkedid or uid,
        context,
        exten,
        state=0,
        created_at=p.now(),
        chanvars=p.channelvars,
    )
    p.channels[ch.name] = ch
    p._ledger_channel(ch, f"{exten}@{context}")
    p.emit("Newchannel", ch.block())
    return ch


def _on_hangup(ch: Channel, peer_pbx: Pbx, other: Callable[[], Channel | None]) -> None:
    """When `ch` hangs up, the trunk channel at the other end does too."""

    def gone() -> None:
        far = other()
        if far is not None and not far.dead:
            peer_pbx.hangup(far, 16)

    ch.on_hangup = gone


async def dial_trunk(p: Pbx, caller: Channel, dial: str, timeout: float) -> str:
    """Dial(`dial`) from `caller` over a trunk: the DIALSTATUS (the caller is bridged
    with the trunk channel until one side leaves, as Dial() does)."""
    parsed = parse_dial(dial)
    peer = p.trunks.get(parsed[2]) if parsed is not None else None
    if parsed is None or peer is None:
        return "CHANUNAVAIL"
    tech, exten, endpoint = parsed
    out = _trunk_channel(p, tech, endpoint, caller.linkedid, caller.context, exten)
    p.set_callerid(out, caller.cid_num, caller.cid_name)
    attempt = DialAttempt(caller, out, p.loop.create_future(), started_at=p.now())
    out.dial_as_dest = attempt
    out.cdr = False
    caller.dialing = attempt
    p.emit("DialBegin", caller.block() + out.block("Dest") + [("DialString", f"{exten}@{endpoint}")])
    far = peer.pbx
    inc = _trunk_channel(far, tech, peer.our_name, None, TRUNK_IN_CONTEXT, exten)
    far.set_callerid(inc, caller.cid_num, caller.cid_name)
    far.newstate(inc, 4)
    _on_hangup(out, far, lambda: inc)
    _on_hangup(inc, p, lambda: out)

    def answered() -> None:
        """B's agent answered: B's trunk leg is up, and so A's Dial."""
        if out.dead or attempt.outcome.done():
            return
        p.newstate(out, 6)
        p.emit("DialEnd", [*p._dial_blocks(attempt), ("DialStatus", "ANSWER")])
        attempt.outcome.set_result("ANSWER")

    def ringing() -> None:
        if not out.dead and not attempt.ringing:
            attempt.ringing = True
            p.newstate(out, 5)
            p.emit("DialState", [*p._dial_blocks(attempt), ("DialStatus", "RINGING")])

    inc.trunk_answered, inc.trunk_ringing = answered, ringing
    far.start_program(inc, TRUNK_IN_CONTEXT, exten, 1)
    status = await p.wait_outcome(attempt, timeout)
    caller.dialing = None
    if status == "TIMEOUT":
        p._cancel_dial(attempt, "NOANSWER", 0)
        return "NOANSWER"
    if status != "ANSWER":
        out.dial_as_dest = None
        if not out.dead:
            p.hangup(out, 0)
        return status
    out.dial_as_dest = None
    if out.dead or caller.dead:
        return status
    await bridged(p, caller, out)
    return status


async def trunk_in(p: Pbx, ch: Channel, exten: str, timeout: float) -> str:
    """B's side: Dial the agent; answer the trunk leg when the agent answers, then
    stay bridged with the agent until one side leaves."""

    def before_dial(_one: Channel) -> None:
        if ch.trunk_ringing is not None:
            ch.trunk_ringing()

    status, one = await p.dial_local(ch, f"{exten}@agents", timeout, before_dial=before_dial)
    if status != "ANSWER" or one.dead or ch.dead:
        return status
    p.answer(ch)
    if ch.trunk_answered is not None:
        ch.trunk_answered()
    await bridged(p, ch, one)
    return status
