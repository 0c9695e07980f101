"""The customer chat's web side, on every process, with no login:

- `GET /chat/widget.js`: the script a company puts on its site
  (`<script src="https://hotline.example.com/chat/widget.js" data-queue="support" async>`);
  it adds a button that opens `/chat/` in a frame;
- `GET /chat/`: the chat page (also usable on its own); only Hotline and the sites in
  `[chat] allowed_origins` may frame it (CSP `frame-ancestors`);
- `GET /chat/ws`: the conversation (frames: `chat.protocol`). Same-origin only (the
  page is Hotline's own, framed), so no other site's script can talk on it.

A connection holds at most one conversation, identified by the random token it was
given (`started`); the task id is never asked from the customer, so a customer can
read no other conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from chat import protocol
from chat.agent_socket import setup as setup_agent_socket
from chat.config import ChatConfig
from chat.limits import AddressLimits, Gate
from chat.service import OVER, WAITING, ChatService, Refused
from cti.bounded import raise_if_cancelled
from cti.server import BUS, CONFIG, STORE
from store.chat_sessions import ChatSession
from store.port import NotFound
from store.topics import TaskNote, subscribe, task_topic
from tasks.desk import TaskEnded
from tasks.model import TaskMessage
from tasks.web import TASK_DESK
from web.app import CLOCK
from web.open_sockets import OpenSockets

log = structlog.get_logger()

CHAT = web.AppKey("chat_service", ChatService)
SOCKETS: web.AppKey[OpenSockets] = web.AppKey("chat_sockets")
OPEN_BY_ADDRESS: web.AppKey[Counter[str]] = web.AppKey("chat_open_by_address")
STATIC = Path(__file__).parent / "static"
STATUS_EVERY_S = 10.0  # a waiting customer's place re-read (the leader's "position" notes tell changes at once)
CATCH_UP_EVERY_S = 10.0  # a chat in progress: the store read for what the bus may have lost


def _config(app: web.Application) -> ChatConfig:
    return app[CONFIG].chat


async def widget_js(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC / "widget.js")
    response.content_type = "text/javascript"
    response.headers["Cache-Control"] = "public, max-age=300"
    # the company's page loads it from another origin: it must be allowed to
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css", "demo": "text/html"}


async def asset(request: web.Request) -> web.StreamResponse:
    """The page's script and style, and `/chat/demo` (a sample company page with the widget)."""
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    response = web.FileResponse(STATIC / ("demo.html" if name == "demo" else name))
    response.content_type = ASSETS[name]
    return response


async def page(request: web.Request) -> web.StreamResponse:
    config = _config(request.app)
    queue = request.query.get("queue") or config.default_queue
    if queue not in config.queues:
        queue = config.default_queue
    response = aiohttp_jinja2.render_template("chat.html", request, {"queue": queue, "max_text": config.max_text})
    ancestors = " ".join(["'self'", *config.allowed_origins])
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"connect-src 'self' ws: wss:; frame-ancestors {ancestors}"
    )
    # frame-ancestors decides (browsers ignore X-Frame-Options when it is present); an
    # old browser without CSP 2 keeps to same-origin framing
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


class Connection:
    """One customer's websocket: at most one conversation, forwarded both ways."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.app = request.app
        self.ws = ws
        self.service = request.app[CHAT]
        self.config = _config(request.app)
        self.address = request.remote or "?"
        self.gate = Gate(self.config.messages_per_minute)
        self.session: ChatSession | None = None
        self.ended = False
        self.seen: set[int] = set()
        self.names: dict[str, str] = {}  # an out message's author -> the name the customer sees
        self.told = ""  # the last state frame sent
        self.forwarder: asyncio.Task[None] | None = None

    async def send(self, text: str) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_str(text)

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if not self.gate.frame(self.service.clock()):
                    log.warning("chat_frames_flood", peer=self.address)
                    await self.send(protocol.error("Too many frames: this connection is closed.", fatal=True))
                    await self.ws.close(code=4429, message=b"too many frames")
                    break
                if msg.type != WSMsgType.TEXT:
                    await self.send(protocol.error("frame: must be JSON text"))
                    continue
                try:
                    frame = protocol.parse(msg.data, max_text=self.config.max_text, queues=self.config.queues)
                    await self.handle(frame)
                except protocol.FrameError as exc:
                    await self.send(protocol.error(str(exc), field=exc.field))
                except Refused as exc:
                    await self.send(protocol.error(str(exc), field=exc.field, retry_after=exc.retry_after))
                except TaskEnded:
                    await self.send(protocol.error("This chat has ended."))
                except Exception:  # (the store or bus away: logged, and the customer may try again)
                    log.exception("chat_frame_failed", peer=self.address)
                    await self.send(protocol.error("Sorry, something went wrong on our side: please try again."))
        finally:
            session, ended = self.session, self.ended
            await self.detach()
            if session is not None and not ended:
                await self.service.detached(session)  # a reload resumes; else the sweep ends it

    async def handle(self, frame: protocol.Frame) -> None:
        match frame:
            case protocol.Ping():
                await self.send(protocol.frame("pong"))
            case protocol.Start() | protocol.Resume() if self.session is not None and not self.ended:
                raise protocol.FrameError("type: this connection already has a chat", "type")
            case protocol.Start():
                await self.detach()  # (a chat that ended on this page: a new one)
                opened = await self.service.start(frame, self.address)
                self.session = opened.session
                await self.send(protocol.frame("started", token=opened.token, chat=self.describe()))
                self.attach()
            case protocol.Resume():
                await self.detach()
                self.session = await self.service.resume(frame.token)
                history = [self.message_json(m) for m in await self.service.messages(self.session)]
                for m in history:
                    if m["direction"] == "out":
                        m["author"] = await self.author_name(m["author"])
                self.seen.update(m["seq"] for m in history)
                await self.send(protocol.frame("resumed", chat=self.describe(), messages=history))
                self.attach()
            case _ if self.session is None or self.ended:
                raise protocol.FrameError("type: start or resume a chat first", "type")
            case protocol.Say():
                member = secrets.token_hex(8)
                wait = self.gate.message(self.service.clock(), member)
                if wait > 0:
                    raise Refused(f"You are sending messages too fast: wait {int(wait) + 1} s.", wait)
                message = await self.service.say(self.session, frame.text, self.address, member)
                await self.deliver(self.message_json(message))
            case protocol.Typing():
                # a hint that lasts a few seconds on the desktop: only "typing now" is told
                if frame.on and self.gate.typing(self.service.clock()):
                    await self.service.desk.typing(self.session.task_id, "customer")
            case protocol.Leave():
                self.ended = True
                await self.service.leave(self.session, "customer_left")
                await self.send(protocol.frame("ended", reason="left", message="You ended the chat."))

    def describe(self) -> dict[str, Any]:
        assert self.session is not None
        return {"name": self.session.name, "queue": self.session.queue}

    @staticmethod
    def message_json(m: TaskMessage) -> dict[str, Any]:
        return {"seq": m.seq, "direction": m.direction, "author": m.author, "text": m.text, "at": m.at}

    async def deliver(self, message: dict[str, Any]) -> None:
        """A message once (it comes back on the bus as well)."""
        if message["direction"] == "note" or message["seq"] in self.seen:
            return
        self.seen.add(message["seq"])
        if message["direction"] == "out":  # an agent's login is theirs: the customer sees their name
            message = {**message, "author": await self.author_name(str(message["author"]))}
        await self.send(protocol.frame("message", **message))

    async def author_name(self, author: str) -> str:
        if author not in self.names:
            try:
                self.names[author] = (await self.app[STORE].get_user(author)).display_name or author
            except NotFound:  # not a login: a name already
                self.names[author] = author
        return self.names[author]

    async def detach(self) -> None:
        """Forget an ended chat (its news stop)."""
        if self.forwarder is not None:
            self.forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.forwarder
        self.forwarder, self.session, self.ended, self.told = None, None, False, ""
        self.seen.clear()

    def attach(self) -> None:
        """From now on the task's news reach the page (first: its state now)."""
        assert self.session is not None
        self.forwarder = asyncio.create_task(self.forward(self.session), name="chat-forward")

    async def agent_name(self, agent_id: str | None) -> str:
        if not agent_id:
            return "An agent"
        try:
            return (await self.app[STORE].get_user(agent_id)).display_name or "An agent"
        except NotFound:
            return "An agent"

    async def send_status(self) -> str:
        """The task's state now, told to the customer; returns it."""
        assert self.session is not None
        try:
            status = await self.service.status(self.session)
        except NotFound:
            return "waiting"
        told = ""
        if status.state in WAITING:
            wait_s = None if status.wait_s is None else round(status.wait_s)
            told = protocol.frame("status", state="waiting", position=status.position, wait_s=wait_s)
        elif status.state == "assigned":
            told = protocol.frame("assigned", agent=await self.agent_name(status.agent_id))
        if told and told != self.told:  # (said once: the poll and the notes may repeat it)
            self.told = told
            await self.send(told)
        if status.state in OVER:
            await self.over(status.state)
        return status.state

    async def over(self, state: str) -> None:
        assert self.session is not None
        if self.ended:
            return
        self.ended = True
        await self.service.ended_by_desk(self.session, state)
        text = "The agent ended the chat." if state == "closed" else "The chat has ended."
        await self.send(protocol.frame("ended", reason=state, message=text))

    async def forward(self, session: ChatSession) -> None:
        """The task's bus topic to the customer (agent messages, typing, assignment,
        the end), the position while waiting, and a catch-up from the store now and
        then (a note lost on the bus: a Redis reconnect, the moment before subscribing)."""
        try:
            async with subscribe(self.app[BUS], task_topic(session.task_id)) as inbox:
                state = await self.catch_up()
                while not self.ended:
                    # a cancel that came with a note (asyncio.wait_for, below) was
                    # swallowed: `detach` waits for this task, so it ends here
                    raise_if_cancelled()
                    try:
                        every = STATUS_EVERY_S if state in WAITING else CATCH_UP_EVERY_S
                        note = await asyncio.wait_for(inbox.get(), every)
                    except TimeoutError:
                        state = await self.catch_up()
                        continue
                    state = await self.on_note(note, state)
        except Exception:  # (the bus or store away: the page reconnects and resumes)
            log.exception("chat_forward_failed", task_id=session.task_id)
            await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"try again")

    async def catch_up(self) -> str:
        """Messages stored since the last one shown, then the state."""
        assert self.session is not None
        after = max(self.seen, default=0)
        for m in await self.service.messages(self.session, after_seq=after):
            await self.deliver(self.message_json(m))
        return await self.send_status()

    async def on_note(self, note: TaskNote, state: str) -> str:
        if note.kind == "message" and note.message is not None:
            await self.deliver({k: note.message.get(k) for k in ("seq", "direction", "author", "text", "at")})
            return state
        if note.kind == "typing":
            if note.who != "customer":  # the agent types: the page shows it for a few seconds
                await self.send(protocol.frame("typing", on=True))
            return state
        if note.kind in ("opened", "offered"):
            return state
        # assigned, transferred, position, closed, abandoned: the desk's state decides
        return await self.send_status()


async def chat_ws(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=protocol.MAX_FRAME_BYTES)
    await ws.prepare(request)
    address = request.remote or "?"
    open_here = request.app[OPEN_BY_ADDRESS]
    if open_here[address] >= _config(request.app).address_connections:
        log.warning("chat_connections_limited", peer=address)
        await ws.send_str(protocol.error("Too many chat windows open from your address.", fatal=True))
        await ws.close(code=4429, message=b"too many connections")
        return ws
    if not await request.app[SOCKETS].add(ws):  # (the server is stopping)
        return ws
    open_here[address] += 1
    try:
        await Connection(request, ws).run()
    finally:
        request.app[SOCKETS].discard(ws)
        open_here[address] -= 1
        if not open_here[address]:
            del open_here[address]
    return ws


def setup(app: web.Application) -> None:
    """Routes, and the service with its sweep (once the store, bus and desk are open)."""

    async def service(app: web.Application) -> Any:
        config = _config(app)
        desk = app[TASK_DESK]  # (tasks.web's cleanup context runs before this one)
        # (the app's clock read at each call: a test may move it)
        app[CHAT] = ChatService(config, app[STORE], desk, AddressLimits(config, app[BUS]), clock=lambda: app[CLOCK]())
        sweep = asyncio.create_task(app[CHAT].sweep(), name="chat-sweep")
        try:
            yield
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep

    app[SOCKETS] = OpenSockets()
    app[OPEN_BY_ADDRESS] = Counter()
    app.cleanup_ctx.append(service)
    app.on_shutdown.append(app[SOCKETS].close_all)  # (the page reconnects, to another process, and resumes its chat)
    app.router.add_get("/chat/widget.js", widget_js)
    app.router.add_get("/chat/", page)
    app.router.add_get("/chat/ws", chat_ws)
    app.router.add_get("/chat/{name}", asset)
    setup_agent_socket(app)  # the desktop's side of the hints (chat/agent_socket.py)
