"""The task desk in the web application: one `TaskDesk` per server process, for every
web part that opens or answers tasks (the agent desktop's tabs, the chat widget, the
e-mail listener, the web call-back form).

    from tasks.web import TASK_DESK
    desk = request.app[TASK_DESK]

`setup(app)` (web/__init__.py) builds it at start-up from the app's store, bus and clock;
a part that needs it at start-up itself (a listener) reads it in its own cleanup context
or startup hook, which run after this one when set up later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cti.server import BUS, STORE
from tasks.desk import TaskDesk
from web.app import CLOCK

TASK_DESK = web.AppKey("task_desk", TaskDesk)


def setup(app: web.Application) -> None:
    async def desk_ctx(app: web.Application) -> AsyncIterator[None]:
        app[TASK_DESK] = TaskDesk(app[STORE], app[BUS], app[CLOCK])
        yield

    app.cleanup_ctx.append(desk_ctx)


__all__ = ["TASK_DESK", "setup"]
