"""A supervisor's commands about an agent (agents.commands `by == "supervisor"`:
monitor, stop_monitor), on the agents' own endpoint `POST /api/v1/agents/{id}/commands`.

Only a supervisor of the agent's team (checked before, by `require_agent_access`) or an
admin sends them, never the agent. Who monitors, and from which phone, is the sign-in's:
the body may not name them (400 naming the field); the phone is the supervisor's
`phone_endpoint` (400 naming `phone` when they have none).
"""

from __future__ import annotations

from aiohttp import web

from agents.commands import Command, Monitor, action_of
from cti.server import STORE
from store.port import NotFound
from web.app import api_error
from web.security import Identity


async def as_supervisor(request: web.Request, me: Identity, agent_id: str, cmd: Command) -> Command | web.Response:
    """The command with the supervisor (and their phone) filled in, or the error answer."""
    if me.role not in ("supervisor", "admin") or me.login == agent_id:
        return api_error(403, f"action: {action_of(type(cmd))} is for a supervisor of the agent's team or an admin")
    for field in ("supervisor", "phone"):
        if getattr(cmd, field, ""):
            return api_error(400, f"{field}: set from your sign-in, not sent")
    update: dict[str, str] = {"supervisor": me.login}
    if isinstance(cmd, Monitor):
        try:
            phone = (await request.app[STORE].get_user(me.login)).phone_endpoint
        except NotFound:
            phone = ""
        if not phone:
            return api_error(400, f"phone: {me.login!r} has no phone endpoint to listen on (set one on the user)")
        update["phone"] = phone
    return cmd.model_copy(update=update)
