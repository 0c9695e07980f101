"""FastAGI transport: a small asyncio server and the per-call session object.

Asterisk's dialplan `AGI(agi://host:port/script?args,arg1,...)` opens a TCP
connection, sends the `agi_*` header block (LF lines, ended by an empty line), then
waits for one command line at a time and answers each with one `200 result=...`
line (or `510`/`511`/`520`). When the caller hangs up during a network AGI,
Asterisk sends a lone `HANGUP` line and from then on answers `511` to commands that
need a live channel. This module turns all of that into:

    async def ivr(session: AgiSession) -> None:
        await session.answer()
        digits = await session.get_data("vm-enter-num-to-call", 6000, 1)

    server = AgiServer({"ivr": ivr})
    await server.start("127.0.0.1", 4573)

A hang-up raises `AgiHangup`; broken input raises `AgiProtocolError`; a command
that Asterisk rejects raises `AgiCommandError` (with its code and text); a reply
that does not come in time raises `AgiTimeout`. The server catches all of them per
connection and logs them: one bad caller never stops the server.

We do not use panoramisk's FastAGI server: it swallows handler exceptions and
cannot tell a hang-up from a broken connection (see CONVENTIONS "Known traps").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import structlog

log = structlog.get_logger()

MAX_LINE_BYTES = 8192
MAX_HEADER_LINES = 256
DEFAULT_COMMAND_TIMEOUT = 30.0
DEFAULT_HEADER_TIMEOUT = 10.0

_RESULT_RE = re.compile(r"^(?P<code>[0-9]{3}) result=(?P<result>-?[0-9]*)(?: \((?P<data>.*)\))?(?P<rest>.*)$")
_CODE_RE = re.compile(r"^[0-9]{3}(?:[ -]|$)")


class AgiError(Exception):
    """Base of every FastAGI failure."""


class AgiHangup(AgiError):
    """The channel hung up (a `HANGUP` line, `511`, `result=-1` or EOF)."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not FastAGI (says what and where)."""


class AgiCommandError(AgiError):
    """Asterisk rejected a command (`510` unknown command, `520` usage, ...)."""

    def __init__(self, code: int, message: str, command: str) -> None:
        super().__init__(f"{command!r} failed: {code} {message}")
        self.code = code
        self.message = message
        self.command = command


class AgiTimeout(AgiError):
    """No reply (or no header block) within the time limit."""


@dataclass(frozen=True, slots=True)
class AgiResult:
    """One parsed `200 result=N (data) extra` reply."""

    code: int
    result: int
    data: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    raw: str = ""


def parse_reply(line: str) -> AgiResult:
    """Parse one final reply line (the `520-` usage block is handled by the reader)."""
    m = _RESULT_RE.match(line)
    if not m:
        if _CODE_RE.match(line):
            raise AgiCommandError(int(line[:3]), line[4:].strip(), "")
        raise AgiProtocolError(f"reply is not '<code> result=...': {line[:80]!r}")
    extra: dict[str, str] = {}
    for token in m.group("rest").split():
        k, sep, v = token.partition("=")
        if sep:
            extra[k] = v
    result_text = m.group("result")
    return AgiResult(
        code=int(m.group("code")),
        result=int(result_text) if result_text not in ("", "-") else 0,
        data=m.group("data"),
        extra=extra,
        raw=line,
    )


def quote(value: str) -> str:
    """An AGI argument in double quotes (`"` and `\\` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _arg(value: str | int) -> str:
    # Integers go bare, strings quoted: what Asterisk's own examples do, and what
    # keeps `SET VARIABLE IVR_CHOICE 2` / `SET VARIABLE CC_SKILL "support"` exact.
    if isinstance(value, int):
        return str(value)
    return quote(value)


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The `agi_*` header block, plus the script path and its query parameters."""

    headers: Mapping[str, str]
    script: str
    params: Mapping[str, str]
    args: tuple[str, ...]

    @property
    def channel(self) -> str:
        return self.headers.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    @property
    def callerid(self) -> str:
        return self.headers.get("agi_callerid", "")

    @property
    def calleridname(self) -> str:
        return self.headers.get("agi_calleridname", "")

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> AgiRequest:
        network_script = headers.get("agi_network_script", "")
        if not network_script and "agi_request" in headers:
            request = headers["agi_request"]
            network_script = request.split("://", 1)[-1].partition("/")[2]
        path, _, query = network_script.partition("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        args = []
        n = 1
        while f"agi_arg_{n}" in headers:
            args.append(headers[f"agi_arg_{n}"])
            n += 1
        return cls(headers=dict(headers), script=path.strip("/"), params=params, args=tuple(args))


async def read_headers(reader: asyncio.StreamReader, timeout: float = DEFAULT_HEADER_TIMEOUT) -> dict[str, str]:
    """Read the `agi_*` block up to its empty line."""
    headers: dict[str, str] = {}
    for n in range(1, MAX_HEADER_LINES + 2):
        if n > MAX_HEADER_LINES:
            raise AgiProtocolError(f"header block longer than {MAX_HEADER_LINES} lines")
        line = await _read_line(reader, timeout, where=f"header line {n}")
        if line is None:
            raise AgiHangup(f"connection closed in the header block (line {n})")
        if line == "":
            if not headers:
                raise AgiProtocolError("empty header block")
            return headers
        key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_") or " " in key:
            raise AgiProtocolError(f"header line {n} is not 'agi_name: value': {line[:80]!r}")
        headers[key] = value[1:] if value.startswith(" ") else value
    raise AgiProtocolError("unreachable")  # pragma: no cover


async def _read_line(reader: asyncio.StreamReader, timeout: float | None, where: str) -> str | None:
    """One LF-terminated line decoded as a whole (None at EOF)."""
    try:
        async with asyncio.timeout(timeout):
            raw = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise AgiHangup(f"connection closed mid-line at {where}: {exc.partial[:80]!r}") from None
        return None
    except asyncio.LimitOverrunError:
        raise AgiProtocolError(f"line longer than the stream limit at {where}") from None
    except TimeoutError:
        raise AgiTimeout(f"nothing received within {timeout}s at {where}") from None
    except ConnectionError as exc:
        raise AgiHangup(f"connection lost at {where}: {exc}") from None
    if len(raw) > MAX_LINE_BYTES:
        raise AgiProtocolError(f"line of {len(raw)} bytes at {where} exceeds {MAX_LINE_BYTES}")
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


class AgiSession:
    """One FastAGI conversation. Commands are sent one at a time, in order."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: AgiRequest,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.request = request
        self.command_timeout = command_timeout
        self.hung_up = False
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ transport

    async def command(self, line: str, timeout: float | None = None) -> AgiResult:
        """Send one raw command and return its parsed reply."""
        if "\n" in line or "\r" in line:
            raise ValueError(f"AGI command must be one line: {line!r}")
        async with self._lock:
            if self.hung_up:
                raise AgiHangup(f"channel already hung up before {line!r}")
            try:
                self.writer.write(line.encode("utf-8") + b"\n")
                await self.writer.drain()
            except ConnectionError as exc:
                self.hung_up = True
                raise AgiHangup(f"connection lost sending {line!r}: {exc}") from None
            limit = self.command_timeout if timeout is None else timeout
            while True:
                reply = await _read_line(self.reader, limit, where=f"reply to {line!r}")
                if reply is None:
                    self.hung_up = True
                    raise AgiHangup(f"connection closed waiting for the reply to {line!r}")
                if reply == "HANGUP":
                    # Asterisk announces the hang-up, then still answers the command.
                    self.hung_up = True
                    continue
                if reply == "":
                    continue
                if reply.startswith("520-"):
                    usage = [reply[4:]]
                    while True:
                        more = await _read_line(self.reader, limit, where=f"usage of {line!r}")
                        if more is None:
                            raise AgiHangup(f"connection closed in the usage text of {line!r}")
                        if more.startswith("520 "):
                            break
                        usage.append(more)
                    raise AgiCommandError(520, "\n".join(usage).strip(), line)
                break
            try:
                result = parse_reply(reply)
            except AgiCommandError as exc:
                if exc.code == 511:
                    self.hung_up = True
                    raise AgiHangup(f"{line!r}: {exc.message}") from None
                raise AgiCommandError(exc.code, exc.message, line) from None
            if result.code == 511:
                self.hung_up = True
                raise AgiHangup(f"{line!r}: {reply}")
            if result.code != 200:
                raise AgiCommandError(result.code, reply[4:], line)
            if result.result == -1:
                self.hung_up = True
                raise AgiHangup(f"{line!r} returned result=-1")
            return result

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass

    # ------------------------------------------------------------ commands

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def hangup(self, channel: str | None = None) -> None:
        await self.command("HANGUP" + (f" {channel}" if channel else ""))
        self.hung_up = True

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(f"VERBOSE {quote(message)} {level}")

    async def stream_file(self, name: str, escape_digits: str = "", offset: int | None = None) -> AgiResult:
        """Play a file; `result` is the ASCII code of the digit pressed (0 = none)."""
        cmd = f"STREAM FILE {name} {quote(escape_digits)}"
        if offset is not None:
            cmd += f" {offset}"
        return await self.command(cmd)

    async def get_data(self, prompt: str, timeout_ms: int | None = None, max_digits: int | None = None) -> str:
        """Play `prompt` and collect DTMF; returns the digits ('' if none).

        The reply waits for the caller, so the read timeout is the prompt timeout
        plus the session's command timeout."""
        cmd = f"GET DATA {prompt}"
        if timeout_ms is not None:
            cmd += f" {timeout_ms}"
            if max_digits is not None:
                cmd += f" {max_digits}"
        limit = self.command_timeout + (timeout_ms or 0) / 1000.0 * max(1, max_digits or 1)
        result = await self.command(cmd, timeout=limit)
        # `200 result=2` or `200 result= (timeout)`: the digits are the raw result text.
        text = result.raw.split("result=", 1)[1].split(" ", 1)[0]
        return text if text and all(c in "0123456789*#ABCD" for c in text) else ""

    async def say_digits(self, digits: str | int, escape_digits: str = "") -> AgiResult:
        return await self.command(f"SAY DIGITS {digits} {quote(escape_digits)}")

    async def set_variable(self, name: str, value: str | int) -> None:
        await self.command(f"SET VARIABLE {name} {_arg(value)}")

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set (`result=0`)."""
        result = await self.command(f"GET VARIABLE {name}")
        return result.data if result.result == 1 else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        cmd = f"GET FULL VARIABLE {quote(expression)}"
        if channel:
            cmd += f" {channel}"
        result = await self.command(cmd)
        return result.data if result.result == 1 else None

    async def exec(self, application: str, options: str = "") -> AgiResult:
        """Run a dialplan application; Asterisk returns -2 when it does not exist."""
        result = await self.command(f"EXEC {application} {quote(options)}")
        if result.result == -2:
            raise AgiCommandError(200, f"application {application} not found", f"EXEC {application}")
        return result

    async def channel_status(self) -> int:
        """Asterisk channel state (6 = up)."""
        return (await self.command("CHANNEL STATUS")).result


AgiHandler = Callable[[AgiSession], Awaitable[None]]


class AgiServer:
    """FastAGI server: routes each connection to the handler of its script path."""

    def __init__(
        self,
        handlers: Mapping[str, AgiHandler],
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        on_session_end: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_session_end(outcome, script)` is called after every connection with
        outcome "done", "hangup" or "failed" (metrics, tests)."""
        self.handlers = dict(handlers)
        self.on_session_end = on_session_end
        self.command_timeout = command_timeout
        self.header_timeout = header_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port: int = 0
        self.sessions_done = 0
        self.sessions_failed = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, limit=MAX_LINE_BYTES * 2)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("agi_server_started", host=host, port=self.port, scripts=sorted(self.handlers))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task per connection (owned by the server, cancelled by stop()):
        # cancelling start_server's callback task instead makes asyncio log an error.
        task = asyncio.get_running_loop().create_task(self.handle_connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        session: AgiSession | None = None
        outcome = "failed"
        try:
            headers = await read_headers(reader, self.header_timeout)
            request = AgiRequest.from_headers(headers)
            session = AgiSession(reader, writer, request, self.command_timeout)
            handler = self.handlers.get(request.script)
            if handler is None:
                log.warning("agi_unknown_script", script=request.script, channel=request.channel)
                self.sessions_failed += 1
                return
            log.info("agi_session_started", script=request.script, channel=request.channel, uniqueid=request.uniqueid)
            await handler(session)
            self.sessions_done += 1
            outcome = "done"
            log.info("agi_session_done", script=request.script, channel=request.channel)
        except AgiHangup as exc:
            self.sessions_done += 1
            outcome = "hangup"
            log.info("agi_caller_hung_up", channel=session.request.channel if session else "", detail=str(exc))
        except AgiError as exc:
            self.sessions_failed += 1
            log.warning("agi_session_failed", peer=str(peer), error=type(exc).__name__, detail=str(exc))
        except Exception:  # a bug in one IVR handler must not stop the server
            self.sessions_failed += 1
            log.exception("agi_handler_crashed", peer=str(peer))
        except asyncio.CancelledError:
            log.info("agi_session_cancelled", peer=str(peer))
            raise
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
            if self.on_session_end is not None:
                self.on_session_end(outcome, session.request.script if session else "")
