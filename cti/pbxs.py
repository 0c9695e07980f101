"""Several Asterisks, one live loop: how a call, a channel and an agent leg name
their PBX.

Two Asterisks number their channels alike (`Uniqueid`/`Linkedid` is the PBX's start
time and a counter), so a call is keyed by (PBX, Linkedid). In the live loop that key
is one string: the first PBX's call ids are its Linkedids as they always were (the
event log, reports and recordings of a one-PBX site keep their ids, and adding a
second PBX changes none of them); another PBX's are `NAME:Linkedid`. Its channel
names and the call model's agent-leg names get the same `NAME:` prefix, so the loop's
bookkeeping (which channel to redirect, whose leg rang) cannot mix two PBXs, and an
action on a prefixed channel goes to that PBX with the prefix taken off
(cti/live_pbxs.py). A Linkedid, channel name or leg name never contains ':' before a
'/' (channels are `Tech/...`), and PBX names may not contain ':' (config/schema.py).

Pure functions: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from cti.ami_codec import Message

SEPARATOR = ":"
# Domain event fields that carry a PBX call id or a call-model agent-leg name.
_CALL_FIELDS = ("call_id",)
_LEG_FIELDS = ("agent_id", "from_agent", "target")
# Raw AMI headers the live loop reads that name a call or a channel.
_MESSAGE_IDS = ("Linkedid", "DestLinkedid", "Uniqueid", "DestUniqueid")
_MESSAGE_CHANNELS = ("Channel", "DestChannel")


class PbxNames:
    """The configured PBXs' names, the first one unprefixed."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        if not self.names:
            raise ValueError("at least one PBX")
        self.first = self.names[0]
        self._prefixes = {f"{name}{SEPARATOR}": name for name in self.names[1:]}

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def scoped(self, pbx: str, value: str) -> str:
        """`value` (a Linkedid, channel or leg name of `pbx`) as the live loop keys it."""
        if not value or pbx == self.first:
            return value
        return f"{pbx}{SEPARATOR}{value}"

    def split(self, value: str) -> tuple[str, str]:
        """(PBX, its own name for it) of a scoped id, channel or leg name."""
        head, sep, rest = value.partition(SEPARATOR)
        if sep and "/" not in head and f"{head}{SEPARATOR}" in self._prefixes:
            return head, rest
        return self.first, value

    def pbx_of(self, value: str) -> str:
        return self.split(value)[0]

    # ---------------------------------------------------------------- what a PBX reports

    def event(self, pbx: str, event: Any) -> Any:
        """A domain event of `pbx`'s call model, its call id and leg names scoped."""
        if pbx == self.first:
            return event
        changes: dict[str, str] = {}
        for name in (*_CALL_FIELDS, *_LEG_FIELDS):
            value = getattr(event, name, None)
            if isinstance(value, str) and value:
                changes[name] = self.scoped(pbx, value)
        return dataclasses.replace(event, **changes) if changes else event

    def message(self, pbx: str, message: Message) -> Message:
        """A raw AMI event of `pbx`, its ids and channel names scoped (a copy)."""
        if pbx == self.first:
            return message
        return Message(
            [
                (key, self.scoped(pbx, value) if key in _MESSAGE_IDS or key in _MESSAGE_CHANNELS else value)
                for key, value in message.headers
            ]
        )
