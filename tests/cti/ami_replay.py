"""A tiny AMI server for tests: replays a recorded `.ami` capture over a real socket.

For each action the client sends, the server answers with the recorded bytes:
- a recorded action (same order and `Action:` name as in the `.actions` file) gets
  everything recorded up to and including its `Response`, then every event recorded
  after it up to the next recorded response (so a whole call flow plays out);
  recorded ActionIDs are rewritten to the client's;
- actions the recording does not have (the adapter's own CoreShowChannels/Status
  resync and Ping) get a synthetic answer: `snapshot` lists when given, otherwise
  the channels alive in what was replayed so far (tracked from the events sent);
- a mismatching action gets `Response: Error` naming what was expected.
Every received action is kept in `received` for assertions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from config.paths import ami_traces_dir
from cti.ami_codec import AmiParser, Message, encode, parse_bytes

# tests/fixtures/ami-traces: recorded from Asterisk 20.20.1
TRACES = ami_traces_dir()
BANNER = b"Asterisk Call Manager/9.0.0\r\n"


@dataclass
class Recording:
    actions: list[Message]
    blocks: list[Message]

    @classmethod
    def load(cls, name: str) -> Recording:
        actions = [
            m
            for m in parse_bytes((TRACES / f"{name}.actions").read_bytes(), expect_banner=False)
            if isinstance(m, Message)
        ]
        blocks = [m for m in parse_bytes((TRACES / f"{name}.ami").read_bytes()) if isinstance(m, Message)]
        return cls(actions, blocks)

    def segments(self) -> list[list[Message]]:
        """segments[i]: what the server sends when the client sends action i."""
        response_at = {}
        for n, m in enumerate(self.blocks):
            if m.get("Response") and "Event" not in m and m.get("ActionID"):
                response_at.setdefault(m.get("ActionID"), n)
        out, start = [], 0
        positions = [response_at.get(a.get("ActionID"), -1) for a in self.actions]
        for i, pos in enumerate(positions):
            nxt = next((p for p in positions[i + 1 :] if p >= 0), len(self.blocks))
            if pos < 0:
                out.append([])
                continue
            out.append(self.blocks[start:nxt])
            start = nxt
        return out


@dataclass
class ReplayServer:
    recording: Recording | None = None
    snapshot: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)
    answer_pings: bool = True
    received: list[Message] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._cursor = 0
        self._segments = self.recording.segments() if self.recording else []
        self._ids: dict[str, str] = {}
        self._live: dict[str, dict[str, object]] = {}  # uniqueid -> channel state replayed so far
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop_connections(self) -> None:
        for w in self._writers:
            w.close()
        self._writers = []

    def push(self, headers: list[tuple[str, str]]) -> None:
        """Send an event to every connected client now."""
        for w in self._writers:
            w.write(encode(headers))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        writer.write(BANNER)
        parser = AmiParser(expect_banner=False)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for item in parser.feed(data):
                    if isinstance(item, Message):
                        self.received.append(item)
                        writer.write(self._answer(item))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def push_raw(self, data: bytes) -> None:
        for w in self._writers:
            w.write(data)

    def _answer(self, action: Message) -> bytes:
        name, aid = action.get("Action"), action.get("ActionID")
        rec = self.recording
        if rec is not None and self._cursor < len(self._segments):
            expected = rec.actions[self._cursor]
            if expected.get("Action") == name and not (name == "Login" and self._cursor > 0):
                self._ids[expected.get("ActionID")] = aid
                segment = self._segments[self._cursor]
                self._cursor += 1
                for m in segment:
                    self._track(m)
                return b"".join(
                    encode([(k, self._ids.get(v, v) if k == "ActionID" else v) for k, v in m.headers]) for m in segment
                )
        if name == "Login":
            return encode(
                [("Response", "Success"), ("ActionID", aid), ("Message", "Authentication accepted")]
            ) + encode([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")])
        if name == "Ping":
            if not self.answer_pings:
                return b""
            return encode([("Response", "Success"), ("ActionID", aid), ("Ping", "Pong"), ("Timestamp", "0")])
        if name == "Logoff":
            return encode([("Response", "Goodbye"), ("ActionID", aid), ("Message", "Thanks for all the fish.")])
        if name in ("CoreShowChannels", "Status"):
            rows = self.snapshot.get(name) if self.snapshot else self._rows(name)
            wanted = action.get("Variables").split(",")
            out = [
                encode([("Response", "Success"), ("ActionID", aid), ("EventList", "start"), ("Message", "will follow")])
            ]
            for row in rows:
                row = [(k, v) for k, v in row if k != "Variable" or v.split("=")[0] in wanted]
                out.append(
                    encode(
                        [
                            ("Event", "CoreShowChannel" if name == "CoreShowChannels" else "Status"),
                            ("ActionID", aid),
                            *row,
                        ]
                    )
                )
            done = "CoreShowChannelsComplete" if name == "CoreShowChannels" else "StatusComplete"
            out.append(
                encode([("Event", done), ("ActionID", aid), ("EventList", "Complete"), ("ListItems", str(len(rows)))])
            )
            return b"".join(out)
        wanted_name = (
            rec.actions[self._cursor].get("Action") if rec and self._cursor < len(self._segments) else "nothing"
        )
        return encode(
            [("Response", "Error"), ("ActionID", aid), ("Message", f"replay: expected {wanted_name}, got {name}")]
        )

    def _track(self, m: Message) -> None:
        """Follow channel state through the replayed events (for synthetic lists)."""
        uid, event = m.get("Uniqueid"), m.get("Event")
        if not uid or not event or not m.get("Channel"):
            return
        if event == "Hangup":
            self._live.pop(uid, None)
            return
        if event != "Newchannel" and uid not in self._live:
            return
        ch = self._live.setdefault(uid, {"bridge": "", "app": ""})
        for key in ("Channel", "ChannelStateDesc", "Context", "Exten", "CallerIDNum", "CallerIDName", "Linkedid"):
            if key in m:
                ch[key] = m.get(key)
        if m.get_all("ChanVariable"):
            ch["vars"] = m.get_all("ChanVariable")
        if event == "BridgeEnter":
            ch["bridge"] = m.get("BridgeUniqueid")
        elif event == "BridgeLeave":
            ch["bridge"] = ""
        elif event == "MusicOnHoldStart":
            ch["app"] = "MusicOnHold"
        elif event in ("MusicOnHoldStop", "QueueCallerLeave"):
            ch["app"] = ""
        elif event == "QueueCallerJoin":
            ch["app"] = "Queue"

    def _rows(self, name: str) -> list[list[tuple[str, str]]]:
        rows = []
        for uid, ch in self._live.items():
            row = [
                (k, str(ch[k]))
                for k in ("Channel", "ChannelStateDesc", "Context", "Exten", "CallerIDNum", "CallerIDName")
                if k in ch
            ]
            row += [("Uniqueid", uid), ("Linkedid", str(ch.get("Linkedid", uid)))]
            row += [("ChanVariable", v) for v in ch.get("vars", [])]  # type: ignore[union-attr]
            row += [
                ("Application", str(ch["app"])),
                ("BridgeId" if name == "CoreShowChannels" else "BridgeID", str(ch["bridge"])),
            ]
            rows.append(row)
        return rows
