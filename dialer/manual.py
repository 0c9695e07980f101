"""Whether an agent's manual dial may go out (the desktop's "Dial a number"): the number
read (E.164), not on the global do-not-call list, and inside the calling window in
every time zone the number may be in (the campaigns' default window, 09:00-21:00
Monday to Saturday, the number's local time; a number whose zone cannot be told is
dialled by the window of none, so is allowed). The live loop asks this before it
reserves the agent; a refusal says why, in words the agent reads."""

from __future__ import annotations

from collections.abc import Collection

from dialer.campaign import CallingWindow, window_open
from dialer.leads import time_zones_for
from store.phones import InvalidPhone, normalize_phone
from store.port import DoNotCallList

WINDOW = CallingWindow()


class ManualDialRefused(ValueError):
    """The number may not be dialled now; the message says why."""


def _window_text(window: CallingWindow) -> str:
    return f"{window.start:%H:%M}-{window.end:%H:%M} {', '.join(window.days)}"


async def manual_number(
    dnc: DoNotCallList | None, number: str, now: float, window: CallingWindow = WINDOW, region: str = "US"
) -> str:
    """The number in E.164 if it may be dialled now, else ManualDialRefused."""
    try:
        e164 = normalize_phone(number, region)
    except InvalidPhone:
        raise ManualDialRefused(f"number: {number!r} is not a phone number") from None
    if dnc is not None and await dnc.dnc_blocked([e164], ""):
        raise ManualDialRefused(f"number: {e164} is on the do-not-call list")
    zones: Collection[str] = time_zones_for(e164)
    if zones and not window_open(window, zones, now):
        raise ManualDialRefused(
            f"number: {e164} is outside its calling window ({_window_text(window)}, local time in {', '.join(zones)})"
        )
    return e164
