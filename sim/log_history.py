"""A synthetic day of the event log (tests and benchmarks of a standby's takeover):
calls through the IVR to agents, abandons, voicemails, wrap-ups, pauses, a few calls
still waiting or talking at the end."""

from __future__ import annotations

import random
from collections.abc import Sequence

from events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    CallTransferred,
    Event,
    IvrStepped,
    WrapUpEnded,
)


def a_day(now: float, calls: int, agents: Sequence[str], seed: int = 7, prefix: str = "c") -> list[Event]:
    """A day of a contact center's log, ending at `now`, in time order (as the live
    loop logs it): some calls still waiting or talking at the end, some agents paused
    or logged out, a call id reused after it ended (a call-back's), some wrap-ups and
    IVR steps."""
    rng = random.Random(seed)
    start = now - 20 * 3600
    out: list[Event] = [AgentLoggedIn(at=start, agent_id=a) for a in agents]
    for n in range(calls):
        at = start + n * (20 * 3600 - 120) / calls
        call = f"{prefix}{n}"
        agent = rng.choice(agents)
        out += [CallArrived(at=at, call_id=call, caller=f"555{n:05d}"), IvrStepped(at=at + 1, call_id=call, node="m")]
        out.append(CallQueued(at=at + 2, call_id=call, queue="support", attributes={"language": rng.choice("ef")}))
        fate = rng.random()
        if n >= calls - 4:  # the last calls: still waiting, ringing, talking
            if fate < 0.5:
                continue
            out.append(CallOffered(at=at + 3, call_id=call, agent_id=agent, queue="support"))
            if fate < 0.75:
                continue
            out.append(CallConnected(at=at + 4, call_id=call, agent_id=agent, queue="support"))
            continue
        if fate < 0.15:
            out += [CallAbandoned(at=at + 30, call_id=call, queue="support"), CallEnded(at=at + 30, call_id=call)]
        elif fate < 0.2:
            out.append(CallTransferred(at=at + 60, call_id=call, mode="voicemail", from_agent="", target="vm"))
            out.append(CallEnded(at=at + 61, call_id=call))
        else:
            out.append(CallOffered(at=at + 3, call_id=call, agent_id=agent, queue="support"))
            out.append(CallConnected(at=at + 4, call_id=call, agent_id=agent, queue="support"))
            out.append(CallEnded(at=at + 60, call_id=call))
            out.append(WrapUpEnded(at=at + 70, call_id=call, agent_id=agent))
        if fate > 0.97:  # the same id comes back (a call-back of it) and ends again
            out += [CallQueued(at=at + 80, call_id=call, queue="support"), CallEnded(at=at + 90, call_id=call)]
        if n % 97 == 0:
            who = rng.choice(agents)
            out.append(AgentStateChanged(at=at + 5, agent_id=who, state=rng.choice(["paused", "available"])))
            if n % 291 == 0:
                out.append(AgentLoggedOut(at=at + 6, agent_id=rng.choice(agents)))
    return sorted(out, key=lambda event: event.at)
