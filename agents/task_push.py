"""Which desktops hear of a written task's change (issue 18), and what they are told.

The screen-pop hub (agents/hub.py) reads `TASK_CHANGES` beside the call events and
pushes `{"type": "task", "kind", "task_id"}` to the desktop websocket(s) of the agents a
note concerns; the desktop (web/static/agent_tasks.js) then reloads its tasks at once
instead of polling for them. The note says what changed, not the new state: the desktop
reads that from `GET /api/v1/agents/{agent}/tasks`, so a push lost or doubled costs one
reload and never shows a wrong transcript.

A note concerns the agent it names (`agent_id`: offered, assigned, a message on their
task, closed, abandoned, transferred to them) and, for a transfer, the agent it was
taken from (`reason`). "typing" goes over the tab's own socket (chat/agent_socket.py);
"opened" and "position" concern the queue, no agent yet.
"""

from __future__ import annotations

from typing import Any

from store.topics import TaskNote

NOT_PUSHED = frozenset({"typing", "opened", "position"})
RESYNC: dict[str, Any] = {"type": "task", "kind": "resync", "task_id": ""}
"""Sent to every desktop when the bus may have lost notes: each reloads its tasks."""


def desktop_push(note: TaskNote) -> tuple[frozenset[str], dict[str, Any]] | None:
    """The agents `note` concerns and the message their desktops get; None for none."""
    if note.kind in NOT_PUSHED:
        return None
    agents = {note.agent_id} if note.agent_id else set()
    if note.kind == "transferred" and note.reason:  # (the agent it was taken from)
        agents.add(note.reason)
    if not agents:
        return None
    return frozenset(agents), {"type": "task", "kind": note.kind, "task_id": note.task_id}
