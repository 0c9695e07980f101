"""The agent and supervisor command contract: every action, its arguments, and the
kinds of call it applies to. Defined once here; the REST API validates with it, the
OpenAPI document and the desktop's button table are generated from it, and the live
loop's dispatch table is keyed by its types (a test keeps the four in line).

A command names the agent it acts for (`agent_id`, from the URL) and carries a
`request_id` (the reply's key): the client's own when it sends one (a retry with the
same id is applied once and answered with the first reply), else one the web makes.
Call controls name the call (`call_id`): the live loop refuses one for a call the agent
does not hold, and one that cannot apply to the kind of call (`CallKind`) with a clear
message.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# What the desktop can show; a standing line is a way the agent is reached, orthogonal
# to the kind (an inbound call on a standing line is "inbound", `on_line` true).
CallKind = Literal["inbound", "outbound", "callback", "preview"]
CALL_KINDS: tuple[CallKind, ...] = ("inbound", "outbound", "callback", "preview")
TransferKind = Literal["agent", "queue", "number"]
TRANSFER_KINDS: tuple[TransferKind, ...] = ("agent", "queue", "number")
ConsultKind = Literal["agent", "number"]  # who can be consulted first: not a queue (nobody answers it)
MonitorMode = Literal["listen", "whisper", "barge"]
MONITOR_MODES: tuple[MonitorMode, ...] = ("listen", "whisper", "barge")

CALL_ID = Field(min_length=1, max_length=200, description="the call the agent holds (from the screen-pop)")
TEXT_MAX = 4000
REQUEST_ID_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9._:-]*)?$"


class Command(BaseModel):
    """Base of every command: no field beyond those declared (a typo is an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    request_id: str = Field(
        default="",
        max_length=100,
        pattern=REQUEST_ID_PATTERN,
        description="the client's own id for this command (letters, digits, . _ : -): sent again with the same"
        " id, it is applied once and answered with its first reply; the server makes one when it is left out",
    )

    # Which kinds of call the action applies to (() = not a call control), and whether
    # it works while the agent is on a standing line.
    call_kinds: ClassVar[tuple[CallKind, ...]] = ()
    on_line: ClassVar[bool] = True
    # When the action applies to the call: "offered" (ringing / preview, not yet
    # talking), "connected" (talking or on hold), "consulting" (an attended transfer in
    # progress), "ended" (wrap-up) or "" (not a call control).
    call_phase: ClassVar[str] = ""
    label: ClassVar[str] = ""
    # Who sends it: "agent" (the desktop, for the agent themselves) or "supervisor" (a
    # supervisor or admin about the agent; the web sets who from the sign-in).
    by: ClassVar[str] = "agent"
    # The agent states (the router's: logged_out, available, reserved, on_call, wrap_up,
    # paused) in which the desktop offers an agent-state action; () = a call control.
    agent_states: ClassVar[tuple[str, ...]] = ()
    # A written task's action (a tab of the desktop, issue 18): applied by the web's task
    # desk (agents/task_tabs.py, tasks/desk.py) on any server, not sent to the live loop.
    on_task: ClassVar[bool] = False


class Login(Command):
    action: Literal["login"]
    label: ClassVar[str] = "Log in"
    agent_states: ClassVar[tuple[str, ...]] = ("logged_out",)


class Available(Command):
    action: Literal["available"]
    label: ClassVar[str] = "Go available"
    # (logged out: logs in too; in wrap-up: ends it without saving)
    agent_states: ClassVar[tuple[str, ...]] = ("logged_out", "paused", "wrap_up")


class Pause(Command):
    action: Literal["pause"]
    reason: str = Field(min_length=1, max_length=100, description="one of the configured pause codes")
    label: ClassVar[str] = "Pause"
    # (paused: another reason; not while a call rings or talks)
    agent_states: ClassVar[tuple[str, ...]] = ("logged_out", "available", "wrap_up", "paused")


class Logout(Command):
    action: Literal["logout"]
    label: ClassVar[str] = "Log out of queues"
    agent_states: ClassVar[tuple[str, ...]] = ("available", "wrap_up", "paused")


_TALKING: tuple[CallKind, ...] = ("inbound", "outbound", "callback", "preview")


class Hold(Command):
    action: Literal["hold"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    call_phase: ClassVar[str] = "connected"
    label: ClassVar[str] = "Hold"


class Resume(Command):
    action: Literal["resume"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    call_phase: ClassVar[str] = "connected"
    label: ClassVar[str] = "Resume"


class Hangup(Command):
    action: Literal["hangup"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    call_phase: ClassVar[str] = "connected"
    label: ClassVar[str] = "Hang up"


class BlindTransfer(Command):
    action: Literal["blind_transfer"]
    call_id: str = CALL_ID
    target_kind: TransferKind = "number"
    target: str = Field(min_length=1, max_length=100, description="an agent login, a queue name or a number")
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    call_phase: ClassVar[str] = "connected"
    label: ClassVar[str] = "Blind"


class AttendedTransfer(Command):
    """Consult the target first (the caller hears music), then complete or cancel.
    Needs the agent's own phone leg: not on a standing line (the agent's phone sits in
    a conference there, with no leg of the call's own to consult from)."""

    action: Literal["attended_transfer"]
    call_id: str = CALL_ID
    target_kind: ConsultKind = "agent"
    target: str = Field(min_length=1, max_length=100, description="an agent login or a number")
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    on_line: ClassVar[bool] = False
    call_phase: ClassVar[str] = "connected"
    label: ClassVar[str] = "Attended"


class CompleteTransfer(Command):
    action: Literal["complete_transfer"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    on_line: ClassVar[bool] = False
    call_phase: ClassVar[str] = "consulting"
    label: ClassVar[str] = "Complete"


class CancelTransfer(Command):
    action: Literal["cancel_transfer"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    on_line: ClassVar[bool] = False
    call_phase: ClassVar[str] = "consulting"
    label: ClassVar[str] = "Cancel"


class PreviewDial(Command):
    action: Literal["preview_dial"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = ("preview",)
    call_phase: ClassVar[str] = "offered"
    label: ClassVar[str] = "Dial"


class PreviewSkip(Command):
    action: Literal["preview_skip"]
    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = ("preview",)
    call_phase: ClassVar[str] = "offered"
    label: ClassVar[str] = "Skip"


class WrapUpDone(Command):
    """Ends the agent's wrap-up of a call early (the wrap-up form saves disposition and
    notes on the interaction and sends this)."""

    action: Literal["wrap_up_done"]
    call_id: str = CALL_ID
    disposition: str = Field(default="", max_length=100)
    notes: str = Field(default="", max_length=TEXT_MAX)
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    call_phase: ClassVar[str] = "ended"
    label: ClassVar[str] = "End wrap-up"


class _ConnectedCallControl(Command):
    """A control of a connected call of any kind, standing line or not."""

    call_id: str = CALL_ID
    call_kinds: ClassVar[tuple[CallKind, ...]] = _TALKING
    call_phase: ClassVar[str] = "connected"


class Record(_ConnectedCallControl):
    """Start recording the call (a queue or campaign whose policy is "on_demand")."""

    action: Literal["record"]
    label: ClassVar[str] = "Record"


class PauseRecording(_ConnectedCallControl):
    """Silence the recording (a card number read out) until resume_recording."""

    action: Literal["pause_recording"]
    label: ClassVar[str] = "Pause recording"


class ResumeRecording(_ConnectedCallControl):
    action: Literal["resume_recording"]
    label: ClassVar[str] = "Resume recording"


class ManualDial(Command):
    """Call a number for the agent (the desktop's "Dial a number"): the agent is reserved
    and the number dialled into their phone, as a call-back is. Refused, saying why, for
    a number on the do-not-call list or outside its calling window (dialer/manual.py),
    and while a call rings, talks or is wrapped up."""

    action: Literal["manual_dial"]
    number: str = Field(min_length=3, max_length=40, description="the number to call (E.164, or national)")
    customer_id: str = Field(default="", max_length=64, description="the customer called (from a search), if known")
    label: ClassVar[str] = "Dial"
    agent_states: ClassVar[tuple[str, ...]] = ("available", "paused")


SUPERVISOR = Field(
    default="",
    max_length=100,
    description="set by the server from the sign-in (the supervisor or admin who monitors), never sent",
)


class Monitor(Command):
    """A supervisor listens to, whispers to (coaches: the customer does not hear) or
    barges into the agent's current call from their own phone; sent again with another
    mode while monitoring, it switches. `POST /api/v1/agents/{agent_id}/monitor`."""

    action: Literal["monitor"]
    mode: MonitorMode = "listen"
    supervisor: str = SUPERVISOR
    phone: str = Field(default="", max_length=200, description="set by the server: the supervisor's phone endpoint")
    by: ClassVar[str] = "supervisor"
    label: ClassVar[str] = "Monitor"


class StopMonitor(Command):
    """The supervisor's phone stops spying on the agent's call (the call goes on).
    `DELETE /api/v1/agents/{agent_id}/monitor`."""

    action: Literal["stop_monitor"]
    supervisor: str = SUPERVISOR
    by: ClassVar[str] = "supervisor"
    label: ClassVar[str] = "Stop monitoring"


class ForcePause(Command):
    """A supervisor pauses the agent (with a pause code): no call is offered to them
    until they go available. Not while a call rings or talks (the loop refuses it: the
    call would be cut off from routing mid-way); in wrap-up it ends the wrap-up."""

    action: Literal["force_pause"]
    reason: str = Field(min_length=1, max_length=100, description="one of the configured pause codes")
    supervisor: str = SUPERVISOR
    by: ClassVar[str] = "supervisor"
    label: ClassVar[str] = "Force pause"
    agent_states: ClassVar[tuple[str, ...]] = ("available", "wrap_up", "paused")


class ForceLogout(Command):
    """A supervisor logs the agent out of the queues (not while a call rings or talks)."""

    action: Literal["force_logout"]
    supervisor: str = SUPERVISOR
    by: ClassVar[str] = "supervisor"
    label: ClassVar[str] = "Force logout"
    agent_states: ClassVar[tuple[str, ...]] = ("available", "wrap_up", "paused")


TASK_ID = Field(min_length=1, max_length=200, description="the written task (a tab of the desktop)")
TaskTransferKind = Literal["agent", "queue"]


class TaskAccept(Command):
    """Take a written task offered to the agent (the channel's accept time: routing rules
    `rona.accept_s`); not accepted in time, it goes to the next agent as a missed call."""

    action: Literal["task_accept"]
    task_id: str = TASK_ID
    on_task: ClassVar[bool] = True
    label: ClassVar[str] = "Accept"


class TaskReply(Command):
    """Answer the customer of a written task (chat, e-mail): the channel delivers it."""

    action: Literal["task_reply"]
    task_id: str = TASK_ID
    text: str = Field(min_length=1, max_length=TEXT_MAX)
    on_task: ClassVar[bool] = True
    label: ClassVar[str] = "Send"


class TaskTransfer(Command):
    """Hand a written task to another queue or a named agent (it is routed again)."""

    action: Literal["task_transfer"]
    task_id: str = TASK_ID
    target_kind: TaskTransferKind = "queue"
    target: str = Field(min_length=1, max_length=100, description="an agent login or a queue name")
    on_task: ClassVar[bool] = True
    label: ClassVar[str] = "Transfer"


class TaskClose(Command):
    """Close a written task with its wrap-up (a disposition of the admin's list, notes)."""

    action: Literal["task_close"]
    task_id: str = TASK_ID
    disposition: str = Field(min_length=1, max_length=100)
    notes: str = Field(default="", max_length=TEXT_MAX)
    on_task: ClassVar[bool] = True
    label: ClassVar[str] = "Close"


COMMAND_TYPES: tuple[type[Command], ...] = (
    Login,
    Available,
    Pause,
    Logout,
    Hold,
    Resume,
    Hangup,
    BlindTransfer,
    AttendedTransfer,
    CompleteTransfer,
    CancelTransfer,
    PreviewDial,
    PreviewSkip,
    WrapUpDone,
    Record,
    PauseRecording,
    ResumeRecording,
    Monitor,
    StopMonitor,
    ForcePause,
    ForceLogout,
    ManualDial,
    TaskAccept,
    TaskReply,
    TaskTransfer,
    TaskClose,
)

AnyCommand = Annotated[
    Login
    | Available
    | Pause
    | Logout
    | Hold
    | Resume
    | Hangup
    | BlindTransfer
    | AttendedTransfer
    | CompleteTransfer
    | CancelTransfer
    | PreviewDial
    | PreviewSkip
    | WrapUpDone
    | Record
    | PauseRecording
    | ResumeRecording
    | Monitor
    | StopMonitor
    | ForcePause
    | ForceLogout
    | ManualDial
    | TaskAccept
    | TaskReply
    | TaskTransfer
    | TaskClose,
    Field(discriminator="action"),
]
_ADAPTER: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


def action_of(kind: type[Command]) -> str:
    """The wire name of a command type (its `action` literal)."""
    annotation = kind.model_fields["action"].annotation
    return str(annotation.__args__[0])  # type: ignore[union-attr]  # Literal["..."]


ACTIONS: tuple[str, ...] = tuple(action_of(k) for k in COMMAND_TYPES)
BY_ACTION: dict[str, type[Command]] = {action_of(k): k for k in COMMAND_TYPES}
CALL_ACTIONS = frozenset(a for a, k in BY_ACTION.items() if k.call_kinds)
SUPERVISOR_ACTIONS = frozenset(a for a, k in BY_ACTION.items() if k.by == "supervisor")
TASK_ACTIONS = frozenset(a for a, k in BY_ACTION.items() if k.on_task)


class CommandError(ValueError):
    """A request that is not a valid command; the message names the field."""


def parse_command(body: Any) -> Command:
    """A request body -> its command (raises CommandError naming the field)."""
    if not isinstance(body, dict):
        raise CommandError("body: must be a JSON object with an 'action'")
    action = body.get("action")
    if not isinstance(action, str) or action not in BY_ACTION:
        raise CommandError(f"action: must be one of {', '.join(ACTIONS)}, not {action!r}")
    try:
        return _ADAPTER.validate_python(body)
    except ValidationError as exc:
        raise CommandError(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"][1:]] or ["body"]  # [0] is the union member's tag
        problems.append(f"{'.'.join(loc)}: {err['msg']}")
    return "; ".join(problems)


def applicability() -> dict[str, dict[str, Any]]:
    """The desktop's button table: for each action, the call kinds and phase it applies
    to and whether it works on a standing line (rendered into the page)."""
    return {
        action_of(k): {
            "label": k.label,
            "call_kinds": list(k.call_kinds),
            "call_phase": k.call_phase,
            "on_line": k.on_line,
            "by": k.by,
            "agent_states": list(k.agent_states),
            "on_task": k.on_task,
            "target_kinds": list(get_args(k.model_fields["target_kind"].annotation))
            if "target_kind" in k.model_fields
            else [],
        }
        for k in COMMAND_TYPES
    }


def json_schema() -> dict[str, Any]:
    """The OpenAPI schema of a command body (a oneOf on `action`), with its definitions
    under `$defs` rewritten to OpenAPI's components (`#/components/schemas/...`)."""
    return _ADAPTER.json_schema(ref_template="#/components/schemas/{model}")


def refusal(command: Command, kind: CallKind, on_line: bool) -> str:
    """Why `command` cannot apply to a call of `kind` (on a standing line or not), or ""."""
    action = action_of(type(command))
    if type(command).call_kinds and kind not in type(command).call_kinds:
        return f"{action} does not apply to a {kind} call"
    if on_line and not type(command).on_line:
        return f"{action} is not available on a standing line: use blind_transfer"
    return ""
