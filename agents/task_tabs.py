"""The agent desktop's written contacts (issue 18): a tab per open task beside the call.

- `GET /api/v1/agents/{agent_id}/tasks`: the agent's open tasks (assigned to them), each
  with its transcript, its customer's card and their history across channels (calls and
  written tasks, latest first). The desktop polls it (web/static/agent_tasks.js).
  A task offered to them (state "offered") comes with `offer`: the channel's accept
  time (`accept_s`, the live routing rules' `rona.accept_s`, as the leader reads it) and
  the seconds left (`expires_in_s`: its `offered_at` plus that time, the leader's own
  deadline), for the desktop's countdown.
- The agent's actions on a tab are commands of the contract (agents/commands.py:
  `task_accept` (a task offered to them: state "offered"), `task_reply`,
  `task_transfer`, `task_close`, each `on_task`), posted to
  `POST /api/v1/agents/{agent_id}/commands` as the call controls are; agents/desktop.py
  hands them here, where the task desk (tasks/desk.py) applies them on this process:
  404 for an unknown task, 409 for one that is not the agent's (or ended), 400 naming the
  field (a disposition not in the admin's list). A reply is written as an outbound
  message (`add_message(direction="out")`) that the task's channel delivers; the same
  `request_id` again writes it once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web

from agents.commands import Command, TaskAccept, TaskClose, TaskReply, TaskTransfer, action_of
from agents.hub import customer_card, interaction_row
from cti.server import STORE
from routing.rules import RuleError, load_rules
from store.port import NotFound
from tasks.desk import NotOffered, TaskEnded, message_wire, task_wire
from tasks.model import Task
from tasks.web import TASK_DESK
from web.app import CLOCK, SETTINGS, api_error, require_agent_access

log = structlog.get_logger()

HISTORY = 10  # rows of the customer's history per tab


def task_history_row(t: Task) -> dict[str, Any]:
    """A written task as a history row (beside the calls' `interaction_row`)."""
    return {
        "id": t.task_id,
        "channel": t.channel,
        "started_at": t.created_at,
        "queue": t.queue,
        "agent_id": t.agent_id or "",
        "subject": t.subject,
        "outcome": t.state,
        "disposition": t.disposition,
        "notes": t.notes,
    }


async def tab(request: web.Request, task: Task) -> dict[str, Any]:
    """One tab: the task, its transcript, its customer and their history across channels."""
    store = request.app[STORE]
    desk = request.app[TASK_DESK]
    body: dict[str, Any] = {
        "task": task_wire(task),
        "messages": [message_wire(m) for m in await desk.messages(task.task_id)],
        "customer": None,
        "history": [],
    }
    if task.customer_id:
        try:
            body["customer"] = customer_card(await store.get_customer(task.customer_id), "builtin")
        except NotFound:
            pass
        calls = [
            {**interaction_row(i), "channel": "voice"}
            for i in await store.interactions_for_customer(task.customer_id, HISTORY)
        ]
        written = [task_history_row(t) for t in await store.tasks_for_customer(task.customer_id, HISTORY + 1)]
        rows = calls + [r for r in written if r["id"] != task.task_id]
        body["history"] = sorted(rows, key=lambda r: (-float(r["started_at"] or 0), r["id"]))[:HISTORY]
    return body


@functools.lru_cache(maxsize=4)
def accept_times(rules_text: str) -> Mapping[str, float]:
    """Each channel's accept time (`rona.accept_s`) in routing rules text (parsed once
    per version of the rules: the desktop reads its tasks at every push)."""
    try:
        return dict(load_rules(rules_text, "routing.toml").rona.accept_s)
    except RuleError:  # (validated before it was stored: the leader would not run them either)
        return {}


async def offer_of(request: web.Request, task: Task) -> dict[str, float] | None:
    """An offered task's accept time and the seconds left (None: no accept time known)."""
    accept_s = accept_times(str((await request.app[SETTINGS].live("routing")).data)).get(task.channel, 0.0)
    if not accept_s or task.offered_at is None:
        return None
    left = task.offered_at + accept_s - request.app[CLOCK]()
    return {"accept_s": accept_s, "expires_in_s": round(max(0.0, left), 1)}


async def agent_tasks(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    await require_agent_access(request, agent_id)
    # offered ones too (`task.state` "offered": the agent's to accept, `task_accept`)
    rows = [t for t in await request.app[STORE].open_tasks(agent_id) if t.state in ("offered", "assigned")]
    tabs = []
    for t in rows:
        body = await tab(request, t)
        if t.state == "offered":
            body["offer"] = await offer_of(request, t)
        tabs.append(body)
    return web.json_response({"agent_id": agent_id, "tasks": tabs})


async def apply_task_command(request: web.Request, agent_id: str, cmd: Command) -> web.Response:
    """A tab's action (`cmd.on_task`), applied by this process's task desk."""
    desk = request.app[TASK_DESK]
    action = action_of(type(cmd))
    task_id = str(getattr(cmd, "task_id", ""))
    try:
        task = await desk.get(task_id)
    except NotFound:
        return api_error(404, f"task_id: no task {task_id!r}")
    if isinstance(cmd, TaskAccept):
        try:
            await desk.accept(task_id, agent_id)
        except (TaskEnded, NotOffered) as exc:
            return api_error(409, f"task_id: {exc}", state=task.state, ok=False, request_id=cmd.request_id)
        log.info("task_command", agent_id=agent_id, action=action, task_id=task_id)
        return web.json_response({"request_id": cmd.request_id, "ok": True})
    if task.agent_id != agent_id or not task.is_open or task.state != "assigned":
        if isinstance(cmd, TaskClose) and task.agent_id == agent_id and task.state == "closed":
            return web.json_response({"request_id": cmd.request_id, "ok": True, "repeated": True})
        state = task.state if task.agent_id == agent_id else f"not {agent_id}'s"
        return api_error(
            409, f"task_id: task {task_id!r} is {state}", state=task.state, ok=False, request_id=cmd.request_id
        )
    try:
        if isinstance(cmd, TaskReply):
            message_id = f"{agent_id}:{cmd.request_id}" if cmd.request_id else None
            await desk.add_message(task_id, direction="out", author=agent_id, text=cmd.text, message_id=message_id)
        elif isinstance(cmd, TaskTransfer):
            if cmd.target_kind == "agent":
                try:
                    await request.app[STORE].get_user(cmd.target)
                except NotFound:
                    return api_error(400, f"target: no agent {cmd.target!r}")
                await desk.transfer(task_id, agent_id=cmd.target)
            else:
                await desk.transfer(task_id, queue=cmd.target)
        elif isinstance(cmd, TaskClose):
            dispositions = (await request.app[SETTINGS].live("dispositions")).data
            if cmd.disposition not in dispositions:
                return api_error(400, f"disposition: must be one of {', '.join(dispositions)}, not {cmd.disposition!r}")
            if dispositions[cmd.disposition].get("requires_notes") and not cmd.notes:
                return api_error(400, f"notes: required for disposition {cmd.disposition!r}")
            await desk.close(task_id, by=agent_id, disposition=cmd.disposition, notes=cmd.notes)
    except TaskEnded as exc:
        return api_error(409, f"task_id: {exc}", ok=False, request_id=cmd.request_id)
    except ValueError as exc:
        return api_error(400, str(exc))
    log.info("task_command", agent_id=agent_id, action=action, task_id=task_id)
    return web.json_response({"request_id": cmd.request_id, "ok": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/agents/{agent_id}/tasks", agent_tasks)


__all__ = ["apply_task_command", "setup", "tab", "task_history_row"]
