"""AMI codec: the fast path must parse exactly like the original line-by-line parser,
in both builds (the `codec` fixture, tests/cti/conftest.py: Python and compiled)."""

from __future__ import annotations

from types import ModuleType

from ami_replay import TRACES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.ami_codec import BANNER_PREFIX, MAX_HEADERS, MAX_LINE_BYTES, Parsed

# the `codec` fixture is the same for every example: no state to reset between them
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


class ReferenceParser:
    """The original line-by-line parser (before the regex fast path), building the
    codec's own classes."""

    def __init__(self, codec: ModuleType, expect_banner: bool = True) -> None:
        self._codec = codec
        self._buffer = bytearray()
        self._expect_banner = expect_banner
        self._headers: list[tuple[str, str]] = []
        self._problem: str | None = None
        self._raw_lines: list[str] = []
        self._skipping_long_line = False

    def feed(self, data: bytes) -> list[Parsed]:
        self._buffer += data
        out: list[Parsed] = []
        buf = self._buffer
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            raw = bytes(buf[start:nl])
            start = nl + 1
            if self._skipping_long_line:
                self._skipping_long_line = False
                continue
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > MAX_LINE_BYTES:
                self._note_problem(f"header line of {len(raw)} bytes exceeds {MAX_LINE_BYTES}")
                continue
            self._line(raw.decode("utf-8", errors="replace"), out)
        del buf[:start]
        if len(buf) > MAX_LINE_BYTES:
            # An unterminated monster line: drop it now, skip the rest of it later.
            self._note_problem(f"header line exceeds {MAX_LINE_BYTES} bytes")
            buf.clear()
            self._skipping_long_line = True
        return out

    def _note_problem(self, reason: str) -> None:
        if self._problem is None:
            self._problem = reason
        self._raw_lines.append("<oversized line>")

    def _line(self, line: str, out: list[Parsed]) -> None:
        if self._expect_banner:
            self._expect_banner = False
            if line.startswith(BANNER_PREFIX):
                out.append(self._codec.Banner(line))
                return
        if line == "":
            if self._headers or self._problem:
                out.append(self._finish())
            return
        self._raw_lines.append(line)
        if len(self._headers) >= MAX_HEADERS:
            if self._problem is None:
                self._problem = f"more than {MAX_HEADERS} headers"
            return
        key, sep, value = line.partition(":")
        if not sep or not key or key != key.strip():
            if self._problem is None:
                self._problem = f"line {len(self._raw_lines)} is not 'Key: Value': {line[:80]!r}"
            return
        self._headers.append((key, value[1:] if value.startswith(" ") else value))

    def _finish(self) -> Parsed:
        result: Parsed
        if self._problem is not None:
            result = self._codec.MalformedBlock(self._problem, "\n".join(self._raw_lines)[:2000])
        else:
            result = self._codec.Message(self._headers)
        self._headers = []
        self._problem = None
        self._raw_lines = []
        return result


def _norm(codec: ModuleType, items: list[Parsed]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for x in items:
        assert type(x).__module__ == codec.Message.__module__  # every item from the one build
        if isinstance(x, codec.Message):
            out.append(("m", x.headers))
        elif isinstance(x, codec.MalformedBlock):
            out.append(("x", (x.reason, x.raw)))
        else:
            out.append(("b", x.text))
    return out


def _run(codec: ModuleType, parser: object, data: bytes, cuts: list[int]) -> list[tuple[str, object]]:
    out: list[Parsed] = []
    pos = 0
    for c in cuts:
        out += parser.feed(data[pos : pos + c])  # type: ignore[attr-defined]
        pos += c
    out += parser.feed(data[pos:])  # type: ignore[attr-defined]
    out += parser.feed(b"\r\n")  # type: ignore[attr-defined]
    return _norm(codec, out)


_PIECES = st.sampled_from(
    [
        b"Event: Newchannel\r\n",
        b"Channel: SIP/a-1\r\n",
        b"Key:value\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"no colon here\r\n",
        b" Lead: space\r\n",
        b"Trail : x\r\n",
        b":empty key\r\n",
        b"\xe2\x82",
        b"\xac",
        b"\xff\xfe",
        "caf\u00e9: \u00e9t\u00e9\r\n".encode(),
        b"Asterisk Call Manager/9.0.0\r\n",
        b"A: b\n\n",
        b"V: a\rb\r\n",
        b"x" * 3000,
        b"y" * (MAX_LINE_BYTES + 5),
        b"K: " + b"z" * 2100 + b"\r\n",
    ]
) | st.binary(max_size=20)


@settings(max_examples=400, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.lists(_PIECES, max_size=40), st.lists(st.integers(1, 400), max_size=15))
def test_fast_path_matches_reference_parser(codec: ModuleType, pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    assert _run(codec, codec.AmiParser(), data, cuts) == _run(codec, ReferenceParser(codec), data, cuts)


@settings(max_examples=100, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.binary(max_size=4000), st.lists(st.integers(1, 500), max_size=10))
def test_fast_path_matches_reference_on_random_bytes(codec: ModuleType, data: bytes, cuts: list[int]) -> None:
    assert _run(codec, codec.AmiParser(), data, cuts) == _run(codec, ReferenceParser(codec), data, cuts)


def test_every_trace_parses_identically_in_any_chunking(codec: ModuleType) -> None:
    for path in sorted(TRACES.glob("*.ami")):
        data = path.read_bytes()
        for size in (13, 1000, 65536):
            cuts = [size] * (len(data) // size)
            fast = _run(codec, codec.AmiParser(), data, cuts)
            assert fast == _run(codec, ReferenceParser(codec), data, cuts), (path.name, size)


def test_utf8_split_across_reads_is_decoded_whole(codec: ModuleType) -> None:
    data = "Event: NewCallerid\r\nCallerIDName: Jos\u00e9 \u20ac\r\n\r\n".encode()
    p = codec.AmiParser(expect_banner=False)
    out: list[Parsed] = []
    for i in range(len(data)):
        out += p.feed(data[i : i + 1])
    assert len(out) == 1 and isinstance(out[0], codec.Message)
    assert out[0].get("CallerIDName") == "Jos\u00e9 \u20ac"


def test_invalid_utf8_is_replaced_not_fatal(codec: ModuleType) -> None:
    p = codec.AmiParser(expect_banner=False)
    [m] = p.feed(b"Event: X\r\nName: a\xffb\r\n\r\n")
    assert isinstance(m, codec.Message) and m.get("Name") == "a\ufffdb"


def test_bad_input_gives_malformed_blocks_with_reasons(codec: ModuleType) -> None:
    p = codec.AmiParser()
    out = p.feed(b"Asterisk Call Manager/9.0.0\r\ngarbage line\r\nA: b\r\n\r\n")
    assert isinstance(out[0], codec.Banner) and out[0].text.startswith(BANNER_PREFIX)
    assert isinstance(out[1], codec.MalformedBlock) and "not 'Key: Value'" in out[1].reason
    out = p.feed(b"A: " + b"x" * (MAX_LINE_BYTES + 10))
    out += p.feed(b"more\r\nB: c\r\n\r\nEvent: Fine\r\n\r\n")
    assert isinstance(out[0], codec.MalformedBlock) and "exceeds" in out[0].reason
    assert isinstance(out[1], codec.Message) and out[1].event == "Fine"
    many = b"".join(b"K%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    [bad] = p.feed(many)
    assert isinstance(bad, codec.MalformedBlock) and "more than" in bad.reason


def test_encode_round_trip_and_repeated_headers(codec: ModuleType) -> None:
    raw = codec.encode([("Event", "Newchannel"), ("ChanVariable", "CC_SKILL=billing"), ("ChanVariable", "CC_AGENT=")])
    [m] = codec.AmiParser(expect_banner=False).feed(raw)
    assert isinstance(m, codec.Message)
    assert m.variables() == {"CC_SKILL": "billing", "CC_AGENT": ""}
    assert codec.encode({"Action": "Setvar", "Value": "a\r\nb"}).count(b"\r\n") == 3


def test_status_variable_null_means_unset(codec: ModuleType) -> None:
    """Asterisk's Status prints a requested variable that is not set as `NAME=(null)`
    (status-null-vars.ami); events print it `NAME=`. Both read as ""."""
    data = (TRACES / "status-null-vars.ami").read_bytes()
    [phone, inbound] = [m for m in codec.messages(data) if m.event == "Status" and m.get("ActionID").endswith("-03")]
    assert "CC_SKILL=(null)" in phone.get_all("Variable")  # the recording says (null)...
    assert phone.variables("Variable") == {  # ...which reads as unset
        "CC_SKILL": "",
        "CC_CALLID": "",
        "CC_CAMPAIGN": "",
        "CC_ORIGINATE_ID": "5f0c9e2a7b3d4e61a8c2d94b17e05f3a",
    }
    assert inbound.variables("Variable")["CC_SKILL"] == "billing"
    assert phone.variables()["CC_SKILL"] == ""  # its ChanVariable: CC_SKILL= (empty)


def test_message_factory_is_used_on_both_paths(codec: ModuleType) -> None:
    class Tagged(codec.Message):  # a Python subclass: the compiled Message allows it
        __slots__ = ("tag",)

    p = codec.AmiParser(expect_banner=False, message_factory=Tagged)
    out = p.feed(b"Event: A\r\n\r\nEvent: B\nX: 1\n\n")
    assert [type(m) for m in out] == [Tagged, Tagged]
    out[0].tag = "set"
    assert isinstance(out[1], codec.Message) and out[1].get("X") == "1" and out[0].tag == "set"
