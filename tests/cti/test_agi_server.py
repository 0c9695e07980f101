"""FastAGI server: replay the recorded Asterisk side, hang-ups, garbage, timeouts."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.agi import (
    AgiCommandError,
    AgiHangup,
    AgiProtocolError,
    AgiRequest,
    AgiServer,
    AgiSession,
    AgiTimeout,
    parse_reply,
)
from sim.pbx_emulator.replay import recorded_ivr, trace_path

RECORDED_IN = trace_path("fastagi-ivr", ".agi").read_bytes()
RECORDED_SENT = trace_path("fastagi-ivr", ".agi-sent").read_bytes()
HEADER_BLOCK, _, RECORDED_REPLIES = RECORDED_IN.partition(b"\n\n")
HEADER_BLOCK += b"\n\n"


class FakeAsterisk:
    """Plays Asterisk's side of one FastAGI connection: the header block, then one
    scripted reply per command line; records every byte the server sent."""

    def __init__(self, port: int, header: bytes, replies: list[bytes]) -> None:
        self.port = port
        self.header = header
        self.replies = list(replies)
        self.sent = bytearray()
        self.commands: list[str] = []

    async def run(self, after_replies: bytes | None = None) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(self.header)
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                break
            self.sent.extend(line)
            self.commands.append(line.decode().rstrip("\n"))
            if self.replies:
                writer.write(self.replies.pop(0))
                await writer.drain()
            elif after_replies is not None:
                writer.write(after_replies)
                await writer.drain()
                after_replies = None
            else:
                break
        writer.close()
        return bytes(self.sent)


class Outcomes:
    """Session outcomes reported by the server, awaitable without polling."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def __call__(self, outcome: str, script: str) -> None:
        self.queue.put_nowait((outcome, script))

    async def next(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.queue.get(), 5)


async def serve(handlers, **kw) -> tuple[AgiServer, Outcomes]:  # type: ignore[no-untyped-def]
    outcomes = Outcomes()
    server = AgiServer(handlers, on_session_end=outcomes, **kw)
    await server.start("127.0.0.1", 0)
    return server, outcomes


async def test_replaying_the_recorded_ivr_sends_the_recorded_bytes() -> None:
    server, outcomes = await serve({"ivr": recorded_ivr})
    try:
        replies = [line + b"\n" for line in RECORDED_REPLIES.split(b"\n") if line]
        fake = FakeAsterisk(server.port, HEADER_BLOCK, replies)
        sent = await asyncio.wait_for(fake.run(), 5)
        assert sent == RECORDED_SENT
        assert await outcomes.next() == ("done", "ivr")
    finally:
        await asyncio.wait_for(server.stop(), 5)


async def test_request_headers_are_parsed() -> None:
    seen: list[AgiRequest] = []

    async def handler(session: AgiSession) -> None:
        seen.append(session.request)

    server, _outcomes = await serve({"ivr": handler})
    try:
        await asyncio.wait_for(FakeAsterisk(server.port, HEADER_BLOCK, []).run(), 5)
    finally:
        await asyncio.wait_for(server.stop(), 5)
    req = seen[0]
    assert req.script == "ivr"
    assert req.params == {"menu": "main"}
    assert req.args == ("5555678",)
    assert req.channel == "Local/1500@inbound-00000019;2"
    assert req.uniqueid == "1795343333.51"
    assert req.calleridname == "Grace"
    assert req.headers["agi_accountcode"] == ""


@pytest.mark.parametrize(
    "script",
    [
        [b"200 result=0\n", b"HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n"],
        [b"200 result=0\n", b"HANGUP\n200 result=-1 endpos=0\n"],
        [b"200 result=0\n", b"200 result=-1\n"],
        [b"200 result=0\n"],  # then EOF mid-session
    ],
    ids=["HANGUP-then-511", "HANGUP-then-result=-1", "result=-1", "eof"],
)
async def test_caller_hanging_up_mid_session_raises_agihangup(script: list[bytes]) -> None:
    outcome: list[BaseException] = []

    async def handler(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.stream_file("hello-world")
            await session.get_data("vm-enter-num-to-call", 6000, 1)
        except AgiHangup as exc:
            outcome.append(exc)
            raise

    server, outcomes = await serve({"ivr": handler}, command_timeout=2)
    try:
        await asyncio.wait_for(FakeAsterisk(server.port, HEADER_BLOCK, script).run(), 5)
        assert await outcomes.next() == ("hangup", "ivr")
    finally:
        await asyncio.wait_for(server.stop(), 5)
    assert len(outcome) == 1 and isinstance(outcome[0], AgiHangup)
    assert server.sessions_failed == 0


async def test_hangup_line_before_a_successful_reply_marks_the_session() -> None:
    states: list[bool] = []

    async def handler(session: AgiSession) -> None:
        await session.set_variable("X", 1)  # answered after HANGUP: still a reply
        states.append(session.hung_up)
        with pytest.raises(AgiHangup):
            await session.answer()  # no further command once hung up

    server, outcomes = await serve({"ivr": handler})
    try:
        await asyncio.wait_for(FakeAsterisk(server.port, HEADER_BLOCK, [b"HANGUP\n200 result=1\n"]).run(), 5)
        assert await outcomes.next() == ("done", "ivr")
    finally:
        await asyncio.wait_for(server.stop(), 5)
    assert states == [True]


@pytest.mark.parametrize(
    "header",
    [
        b"this is not agi\n\n",
        b"\n",
        b"agi_network yes\n\n",
        b"\xff\xfe\x00garbage" * 10 + b"\n\n",
    ],
)
async def test_garbage_header_is_a_logged_protocol_error_and_the_server_survives(header: bytes) -> None:
    calls: list[str] = []

    async def handler(session: AgiSession) -> None:
        calls.append(session.request.script)

    server, outcomes = await serve({"ivr": handler})
    try:
        await asyncio.wait_for(FakeAsterisk(server.port, header, []).run(), 5)
        assert (await outcomes.next())[0] == "failed"
        await asyncio.wait_for(FakeAsterisk(server.port, HEADER_BLOCK, []).run(), 5)
        assert await outcomes.next() == ("done", "ivr")
    finally:
        await asyncio.wait_for(server.stop(), 5)
    assert calls == ["ivr"]


async def test_garbage_reply_and_rejected_commands_raise_typed_errors() -> None:
    errors: list[BaseException] = []

    async def handler(session: AgiSession) -> None:
        for cmd in ("BOGUS", "STREAM FILE", "ANSWER"):
            try:
                await session.command(cmd)
            except (AgiCommandError, AgiProtocolError) as exc:
                errors.append(exc)

    replies = [
        b"510 Invalid or unknown command\n",
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b"Usage: STREAM FILE <filename>\n520 End of proper usage.\n",
        b"banana\n",
    ]
    server, outcomes = await serve({"ivr": handler})
    try:
        await asyncio.wait_for(FakeAsterisk(server.port, HEADER_BLOCK, replies).run(), 5)
        assert await outcomes.next() == ("done", "ivr")
    finally:
        await asyncio.wait_for(server.stop(), 5)
    assert [type(e) for e in errors] == [AgiCommandError, AgiCommandError, AgiProtocolError]
    assert errors[0].code == 510 and errors[0].command == "BOGUS"  # type: ignore[attr-defined]
    assert errors[1].code == 520 and "Usage: STREAM FILE" in errors[1].message  # type: ignore[attr-defined]


async def test_a_reply_that_never_comes_times_out() -> None:
    errors: list[BaseException] = []

    async def handler(session: AgiSession) -> None:
        try:
            await session.answer()
        except AgiTimeout as exc:
            errors.append(exc)

    server, outcomes = await serve({"ivr": handler}, command_timeout=0.2)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(HEADER_BLOCK)
        assert await asyncio.wait_for(reader.readline(), 5) == b"ANSWER\n"
        assert await outcomes.next() == ("done", "ivr")
        writer.close()
    finally:
        await asyncio.wait_for(server.stop(), 5)
    assert isinstance(errors[0], AgiTimeout)


async def test_unknown_script_and_crashing_handler_do_not_stop_the_server() -> None:
    async def broken(session: AgiSession) -> None:
        raise RuntimeError("bug in an IVR")

    server, outcomes = await serve({"broken": broken})
    try:
        await asyncio.wait_for(FakeAsterisk(server.port, HEADER_BLOCK, []).run(), 5)  # script "ivr": unknown
        header = HEADER_BLOCK.replace(b"ivr?menu=main", b"broken")
        await asyncio.wait_for(FakeAsterisk(server.port, header, []).run(), 5)
        assert await outcomes.next() == ("failed", "ivr")
        assert await outcomes.next() == ("failed", "broken")
    finally:
        await asyncio.wait_for(server.stop(), 5)


def test_parse_reply_forms() -> None:
    assert parse_reply("200 result=1 (1795343333.51)").data == "1795343333.51"
    r = parse_reply("200 result=0 endpos=11360")
    assert r.result == 0 and r.extra == {"endpos": "11360"}
    assert parse_reply("200 result=1 (Grace <5555678>)").data == "Grace <5555678>"
    assert parse_reply("200 result= (timeout)").data == "timeout"
    with pytest.raises(AgiProtocolError):
        parse_reply("hello")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parse_reply_never_crashes_untyped(line: str) -> None:
    try:
        parse_reply(line)
    except (AgiProtocolError, AgiCommandError):
        pass


async def test_oversized_header_line_is_a_protocol_error() -> None:
    server, outcomes = await serve({"ivr": recorded_ivr})
    try:
        header = b"agi_network: yes\nagi_request: " + b"x" * 40000 + b"\n\n"
        await asyncio.wait_for(FakeAsterisk(server.port, header, []).run(), 5)
        assert (await outcomes.next())[0] == "failed"
    finally:
        await asyncio.wait_for(server.stop(), 5)
