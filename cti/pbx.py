"""PBX actions port (what routing, the dialer and the agent desktop ask of the PBX)
and its AMI implementation.

Every action returns a typed result or raises a typed `PbxError` carrying Asterisk's
`Message:` text. Nothing is retried or re-sent behind the caller's back: an
Originate/Redirect whose connection dropped raises `PbxUnavailable`; for Originate,
`find_originate(originate_id)` tells whether it happened (each Originate carries a
unique `CC_ORIGINATE_ID` channel variable).

Dialplan assumptions (defaults follow tests/fixtures/ami-traces/asterisk-config/):
- hold = Redirect of the customer channel to `HoldTarget` (default
  `inbound,1000,5`: the `MusicOnHold()` line of the inbound context, after setting
  `HOLD_SECS` so the hold does not time out); resume = Redirect to
  `agent-connect,<agent>,1`. With agents reached by `Dial()`, leaving the bridge
  ends the agent leg, so resuming rings the agent again.
- play = Setvar `HOTLINE_PLAYBACK=<recording>` + Redirect to `PlayTarget` (default
  `hotline-play,s,1`). That context is not in the recorded dialplan; add:
      [hotline-play]
      exten => s,1,Playback(${HOTLINE_PLAYBACK})
       same => n,Hangup()
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cti.ami import AmiClient, AmiDisconnected, AmiError, AmiTimeout
from cti.ami_codec import Message, variable_value

ORIGINATE_ID_VARIABLE = "CC_ORIGINATE_ID"


# ---------------------------------------------------------------- errors


class PbxError(Exception):
    """An action failed. `message` is Asterisk's own text when it gave one."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action} failed: {message}")
        self.action = action
        self.message = message


class PbxUnavailable(PbxError):
    """Not connected, or the connection dropped mid-action (outcome unknown)."""


class PbxTimeout(PbxError):
    """No answer from the PBX in time (outcome unknown)."""


class ChannelNotFound(PbxError):
    """Asterisk: `No such channel`."""


class OriginateFailed(PbxError):
    """Asterisk refused the Originate (e.g. `Originate failed`)."""


class InvalidRequest(PbxError):
    """Rejected before sending (bad arguments)."""


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class OriginateQueued:
    """The PBX accepted an async Originate; the outcome arrives later as an
    `OriginateResulted` domain event with the same `originate_id`."""

    originate_id: str
    action_id: str


@dataclass(frozen=True, slots=True)
class ActionDone:
    action: str
    message: str


@dataclass(frozen=True, slots=True)
class VariableValue:
    channel: str
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Target:
    context: str
    exten: str
    priority: int = 1
    # The PBX the target is on when it is an agent ("": the channel's own): an agent of
    # another PBX is reached through the channel's PBX's trunk (cti/live_pbxs.py).
    pbx: str = ""


# ---------------------------------------------------------------- the port


class PbxActions(Protocol):
    async def originate(
        self,
        endpoint: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str = "",
        caller_id: str = "",
        variables: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        originate_id: str | None = None,
    ) -> OriginateQueued: ...

    async def find_originate(self, originate_id: str) -> list[str]: ...

    async def redirect(
        self, channel: str, target: Target, *, extra_channel: str | None = None, extra_target: Target | None = None
    ) -> ActionDone: ...

    async def hangup(self, channel: str, cause: int = 16) -> ActionDone: ...

    async def blind_transfer(self, channel: str, context: str, exten: str) -> ActionDone: ...

    async def attended_transfer(self, channel: str, exten: str, context: str | None = None) -> ActionDone: ...

    async def hold(self, channel: str) -> ActionDone: ...

    async def resume(self, channel: str, agent_exten: str) -> ActionDone: ...

    async def getvar(self, channel: str, name: str) -> VariableValue: ...

    async def setvar(self, channel: str, name: str, value: str) -> ActionDone: ...

    async def bridge(self, channel1: str, channel2: str, *, tone: bool = False) -> ActionDone: ...

    async def play(self, channel: str, recording: str) -> ActionDone: ...

    async def record(self, channel: str, path: str) -> ActionDone: ...

    async def mute_recording(self, channel: str, muted: bool) -> ActionDone: ...

    async def stop_recording(self, channel: str) -> ActionDone: ...


# ---------------------------------------------------------------- AMI adapter


def _check(name: str, value: str) -> str:
    if not value or any(c in value for c in "\r\n"):
        raise InvalidRequest(name, f"invalid value {value!r} (empty or contains a line break)")
    return value


class AmiPbx:
    """`PbxActions` over an `AmiClient`."""

    def __init__(
        self,
        client: AmiClient,
        *,
        hold_target: Target = Target("inbound", "1000", 5),
        hold_max_s: int = 3600,
        agent_connect_context: str = "agent-connect",
        play_target: Target = Target("hotline-play", "s", 1),
        action_timeout_s: float | None = None,
        fence: Callable[[], str | None] | None = None,
    ) -> None:
        self.client = client
        # None while this process may act; else why not (cti/leadership.py: a deposed
        # leader's action is refused here, before anything reaches the PBX)
        self.fence = fence
        self.hold_target = hold_target
        self.hold_max_s = hold_max_s
        self.agent_connect_context = agent_connect_context
        self.play_target = play_target
        self.action_timeout_s = action_timeout_s

    async def _do(self, headers: list[tuple[str, str]], action_id: str | None = None) -> Message:
        name = headers[0][1]
        refused = self.fence() if self.fence is not None else None
        if refused is not None:
            raise PbxUnavailable(name, refused)
        try:
            return await self.client.send(headers, timeout=self.action_timeout_s, action_id=action_id)
        except AmiDisconnected as exc:
            raise PbxUnavailable(name, exc.message) from exc
        except AmiTimeout as exc:
            raise PbxTimeout(name, exc.message) from exc
        except AmiError as exc:
            if exc.message.lower() == "no such channel":
                raise ChannelNotFound(name, exc.message) from exc
            if name == "Originate":
                raise OriginateFailed(name, exc.message) from exc
            raise PbxError(name, exc.message) from exc

    async def _simple(self, headers: list[tuple[str, str]]) -> ActionDone:
        response = await self._do(headers)
        return ActionDone(headers[0][1], response.get("Message"))

    async def originate(
        self,
        endpoint: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str = "",
        caller_id: str = "",
        variables: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        originate_id: str | None = None,
    ) -> OriginateQueued:
        """Async Originate; the result comes as an `OriginateResulted` event."""
        _check("Originate", endpoint)
        if (application is None) == (context is None or exten is None):
            raise InvalidRequest("Originate", "give either context+exten or application")
        if timeout_s <= 0:
            raise InvalidRequest("Originate", f"timeout_s must be > 0, got {timeout_s}")
        originate_id = originate_id or uuid.uuid4().hex
        headers: list[tuple[str, str]] = [("Action", "Originate"), ("Channel", endpoint)]
        if application is not None:
            headers += [("Application", _check("Originate", application)), ("Data", data)]
        else:
            headers += [
                ("Context", _check("Originate", context or "")),
                ("Exten", _check("Originate", exten or "")),
                ("Priority", str(priority)),
            ]
        if caller_id:
            headers.append(("CallerID", caller_id))
        headers += [("Timeout", str(int(timeout_s * 1000))), ("Async", "true")]
        for name, value in (variables or {}).items():
            headers.append(("Variable", f"{_check('Originate', name)}={value}"))
        headers.append(("Variable", f"{ORIGINATE_ID_VARIABLE}={originate_id}"))
        action_id = self.client.next_action_id()
        self.client.model.register_originate(action_id, originate_id)
        await self._do(headers, action_id=action_id)
        return OriginateQueued(originate_id, action_id)

    async def find_originate(self, originate_id: str) -> list[str]:
        """Channels alive now that carry this originate id (empty: not found among
        live channels: it failed, already ended, or never happened)."""
        try:
            result = await self.client.send_list(
                [("Action", "Status"), ("Variables", ORIGINATE_ID_VARIABLE)], timeout=self.action_timeout_s
            )
        except AmiDisconnected as exc:
            raise PbxUnavailable("Status", exc.message) from exc
        except AmiTimeout as exc:
            raise PbxTimeout("Status", exc.message) from exc
        except AmiError as exc:
            raise PbxError("Status", exc.message) from exc
        found = []
        for item in result.items:
            if item.variables("Variable").get(ORIGINATE_ID_VARIABLE) == originate_id:
                found.append(item.get("Channel"))
        return found

    async def redirect(
        self, channel: str, target: Target, *, extra_channel: str | None = None, extra_target: Target | None = None
    ) -> ActionDone:
        headers = [
            ("Action", "Redirect"),
            ("Channel", _check("Redirect", channel)),
            ("Context", target.context),
            ("Exten", target.exten),
            ("Priority", str(target.priority)),
        ]
        if extra_channel:
            extra = extra_target or target
            headers += [
                ("ExtraChannel", _check("Redirect", extra_channel)),
                ("ExtraContext", extra.context),
                ("ExtraExten", extra.exten),
                ("ExtraPriority", str(extra.priority)),
            ]
        return await self._simple(headers)

    async def hangup(self, channel: str, cause: int = 16) -> ActionDone:
        return await self._simple(
            [("Action", "Hangup"), ("Channel", _check("Hangup", channel)), ("Cause", str(int(cause)))]
        )

    async def blind_transfer(self, channel: str, context: str, exten: str) -> ActionDone:
        return await self._simple(
            [
                ("Action", "BlindTransfer"),
                ("Channel", _check("BlindTransfer", channel)),
                ("Context", context),
                ("Exten", _check("BlindTransfer", exten)),
            ]
        )

    async def attended_transfer(self, channel: str, exten: str, context: str | None = None) -> ActionDone:
        headers = [("Action", "Atxfer"), ("Channel", _check("Atxfer", channel)), ("Exten", _check("Atxfer", exten))]
        if context:
            headers.append(("Context", context))
        return await self._simple(headers)

    async def hold(self, channel: str) -> ActionDone:
        await self.setvar(channel, "HOLD_SECS", str(self.hold_max_s))
        return await self.redirect(channel, self.hold_target)

    async def resume(self, channel: str, agent_exten: str) -> ActionDone:
        return await self.redirect(channel, Target(self.agent_connect_context, agent_exten, 1))

    async def getvar(self, channel: str, name: str) -> VariableValue:
        response = await self._do(
            [("Action", "Getvar"), ("Channel", _check("Getvar", channel)), ("Variable", _check("Getvar", name))]
        )
        return VariableValue(channel, name, variable_value(response.get("Value")))  # "(null)": unset

    async def setvar(self, channel: str, name: str, value: str) -> ActionDone:
        if "\r" in value or "\n" in value:
            raise InvalidRequest("Setvar", "value contains a line break")
        return await self._simple(
            [
                ("Action", "Setvar"),
                ("Channel", _check("Setvar", channel)),
                ("Variable", _check("Setvar", name)),
                ("Value", value),
            ]
        )

    async def bridge(self, channel1: str, channel2: str, *, tone: bool = False) -> ActionDone:
        return await self._simple(
            [
                ("Action", "Bridge"),
                ("Channel1", _check("Bridge", channel1)),
                ("Channel2", _check("Bridge", channel2)),
                ("Tone", "yes" if tone else "no"),
            ]
        )

    async def play(self, channel: str, recording: str) -> ActionDone:
        await self.setvar(channel, "HOTLINE_PLAYBACK", _check("Play", recording))
        return await self.redirect(channel, self.play_target)

    async def record(self, channel: str, path: str) -> ActionDone:
        """MixMonitor the channel into `path` (a .wav) while it is bridged (`b`), as
        mixmonitor-recording.ami; it follows the channel across bridges (transfers)."""
        return await self._simple(
            [
                ("Action", "MixMonitor"),
                ("Channel", _check("MixMonitor", channel)),
                ("File", _check("MixMonitor", path)),
                ("Options", "b"),
            ]
        )

    async def mute_recording(self, channel: str, muted: bool) -> ActionDone:
        """Both directions silent in the file (a card number read out), or back."""
        return await self._simple(
            [
                ("Action", "MixMonitorMute"),
                ("Channel", _check("MixMonitorMute", channel)),
                ("Direction", "both"),
                ("State", "1" if muted else "0"),
            ]
        )

    async def stop_recording(self, channel: str) -> ActionDone:
        return await self._simple([("Action", "StopMixMonitor"), ("Channel", _check("StopMixMonitor", channel))])
