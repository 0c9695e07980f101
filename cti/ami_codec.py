"""AMI wire format: CRLF lines of `Key: Value`, a message ends at an empty line.

Pure and incremental, shared by the call model's trace replay, the PBX emulator and
benchmarks. Bytes are decoded only on whole lines (invalid UTF-8 replaced), so a
multi-byte character split across two reads is never mangled. A block that breaks
the format is returned as a `MalformedBlock` with the reason, never raised.

The text above the "end of the compiled module" line (END_OF_COMPILED) is also compiled with mypyc (`make native`,
cti/ami_native.py); when that build is current, the names of this module are the
compiled module's (HOTLINE_AMI_CODEC chooses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar, TypeVar

_C = TypeVar("_C")

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # installed with mypy; only the compiled build reads the decorator

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_C], _C]:
        return lambda cls: cls


MAX_LINE_BYTES = 8192
MAX_HEADERS = 512
BANNER_PREFIX = "Asterisk Call Manager/"
# How Asterisk's `Status` prints a requested channel variable that is not set
# (`Variable: CC_SKILL=(null)`); events' `ChanVariable:` and `Getvar` print it empty.
NULL_VALUE = "(null)"


def variable_value(value: str) -> str:
    """A channel variable's value as AMI reports it, "" when it is not set."""
    return "" if value == NULL_VALUE else value


@mypyc_attr(allow_interpreted_subclasses=True)  # an AmiParser's message_factory may subclass it
class Message:
    """One AMI message. Headers keep their order and repeats (ChanVariable...).

    What `@dataclass(slots=True)` made of it, written out: compiled, a dataclass's
    `__init__` stays the interpreted function `dataclasses` generates, one Python
    frame per message parsed (0.25 against 0.08 us)."""

    __slots__ = ("headers",)
    __match_args__: ClassVar[tuple[str, ...]] = ("headers",)

    def __init__(self, headers: list[tuple[str, str]] | None = None) -> None:
        self.headers: list[tuple[str, str]] = [] if headers is None else headers

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Message)
        return self.headers == other.headers

    __hash__ = None  # type: ignore[assignment]  # (mutable, compared by value: as the dataclass)

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}(headers={self.headers!r})"

    def get(self, key: str, default: str = "") -> str:
        for k, v in self.headers:
            if k == key:
                return v
        return default

    def __getitem__(self, key: str) -> str:
        for k, v in self.headers:
            if k == key:
                return v
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self.headers)

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.headers if k == key]

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")

    def variables(self, prefix: str = "ChanVariable") -> dict[str, str]:
        """Channel variables from `ChanVariable: NAME=value` lines (also the legacy
        `ChanVariable(<channel>): NAME=value` spelling of OriginateResponse, and
        `Status`'s `Variable:` lines with prefix="Variable"). An unset variable is ""
        (`Status` says `NAME=(null)`)."""
        result: dict[str, str] = {}
        for k, v in self.headers:
            if k == prefix or (k.startswith(prefix + "(") and k.endswith(")")):
                name, _, value = v.partition("=")
                result[name] = variable_value(value)
        return result

    def as_dict(self) -> dict[str, str]:
        """First value of each header (what most consumers want)."""
        result: dict[str, str] = {}
        for k, v in self.headers:
            result.setdefault(k, v)
        return result


@dataclass(frozen=True, slots=True)
class MalformedBlock:
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Banner:
    text: str


Parsed = Message | MalformedBlock | Banner


def encode(headers: list[tuple[str, str]] | dict[str, str]) -> bytes:
    """Serialise one message (CRLF, terminated by an empty line)."""
    items = headers.items() if isinstance(headers, dict) else headers
    out = []
    for k, v in items:
        value = str(v).replace("\r", " ").replace("\n", " ")
        out.append(f"{k}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")


_SAFE_CHARS = MAX_LINE_BYTES // 4  # a line this short (in chars) cannot exceed the byte limit


def _split_block(block: str) -> list[tuple[str, str]] | None:
    """Headers of a block of CRLF-separated lines if every line has the plain
    `Key: Value` form (first colon followed by a space, key non-empty without
    surrounding whitespace) within the size limits; None otherwise, and the caller
    falls back to the line-by-line parser, which has the exact rules."""
    # One pass of find and slices over the block: no list of lines, no partition
    # 3-tuple per line (one tuple a header), each key the one object already seen. An
    # event comes with the same header names in the same order each time: where the
    # names its layout had last time are found again, in place, the key is neither
    # sliced, hashed nor looked up (a fifth less time on the live server's events).
    headers: list[tuple[str, str]] = []
    known = _KNOWN_KEYS
    size = len(block)
    check_long = size > _SAFE_CHARS
    layout: list[tuple[str, str]] | None = None
    same = False  # every line so far where the layout said
    event = ""
    count = 0
    start = 0
    while True:
        end = block.find("\r\n", start)
        if end < 0:
            end = size
        colon = -1
        key = ""
        if layout is not None and count < len(layout):
            key, prefix = layout[count]  # (a name checked before, and "name: ")
            if block.find(prefix, start, start + len(prefix)) == start:
                colon = start + len(key)
        if colon < 0:
            same = False
            colon = block.find(": ", start, end)
            if colon < 0:
                return None
            key = block[start:colon]
            seen = known.get(key)
            if seen is None:
                if not key or ":" in key or key != key.strip():
                    return None
                if len(known) < _KNOWN_KEYS_MAX:
                    known[key] = key
            else:
                key = seen
        if count >= MAX_HEADERS:
            return None
        if check_long and end - start > _SAFE_CHARS and len(block[start:end].encode("utf-8")) > MAX_LINE_BYTES:
            return None
        value = block[colon + 2 : end]
        headers.append((key, value))
        if count == 0 and key == "Event":
            event = value
            layout = _LAYOUTS.get(value)
            same = layout is not None
        count += 1
        if end == size:
            break
        start = end + 2
    if event and not (same and layout is not None and len(layout) == count):
        if len(_LAYOUTS) < _KNOWN_KEYS_MAX or event in _LAYOUTS:
            _LAYOUTS[event] = [(k, k + ": ") for k, _ in headers]
    return headers


# Header names already checked by `_split_block` (AMI uses a few hundred), each to the
# first object seen with that text; and each event's header names as last seen (with
# ": "), for the next one. Bounded so a peer sending random names cannot grow them
# without limit.
_KNOWN_KEYS: dict[str, str] = {}
_LAYOUTS: dict[str, list[tuple[str, str]]] = {}
_KNOWN_KEYS_MAX = 4096


class AmiParser:
    """Feed bytes as they arrive; get whole messages back.

    Two paths with identical results (a hypothesis test compares them):
    - fast: the complete lines of a chunk are decoded in one go (strict UTF-8, so the
      bytes were valid and decoding whole lines at once equals decoding line by line),
      split into blocks on CRLF CRLF and each block split with str methods;
    - line by line: anything unusual (banner, invalid UTF-8, LF-only line ends, lone
      CR, oversized lines, too many headers, malformed lines) goes through the
      original per-line state machine, which decodes each whole line with
      `errors="replace"`.
    """

    def __init__(
        self,
        expect_banner: bool = True,
        message_factory: type[Message] | None = None,
        keep_event: Callable[[str], bool] | None = None,
    ) -> None:
        # `keep_event(name)`: False drops an unsolicited event before its headers are
        # split (a real Asterisk sends ~60 VarSet per call that nobody reads); events
        # answering an action (with an ActionID) are always kept
        self._keep_event = keep_event
        self.skipped = 0
        self._buffer = bytearray()
        self._expect_banner = expect_banner
        self._headers: list[tuple[str, str]] = []
        self._problem: str | None = None
        self._raw_lines: list[str] = []
        self._skipping_long_line = False
        self._carry = ""  # decoded complete lines (CRLF-terminated) of an unfinished block
        self._factory = message_factory or Message

    def _clean(self) -> bool:
        return not (
            self._expect_banner
            or self._skipping_long_line
            or self._headers
            or self._problem is not None
            or self._raw_lines
        )

    def feed(self, data: bytes) -> list[Parsed]:
        self._buffer += data
        out: list[Parsed] = []
        if not self._clean():
            self._slow(out, until_clean=True)
        buf = self._buffer
        if self._clean():
            cut = buf.rfind(b"\n")
            if cut >= 0:
                segment = bytes(buf[: cut + 1])
                try:
                    text = segment.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                if text is not None and text.count("\n") == text.count("\r\n"):
                    del buf[: cut + 1]
                    blocks = (self._carry + text).split("\r\n\r\n")
                    self._carry = blocks.pop()
                    for block in blocks:
                        self._block(block, out)
                    if self._carry.count("\r\n") > MAX_HEADERS:
                        self._flush_carry(out)
                else:
                    self._flush_carry(out)
                    self._slow(out, until_clean=False)
        else:
            self._slow(out, until_clean=False)
        if len(buf) > MAX_LINE_BYTES:
            # An unterminated monster line: drop it now, skip the rest of it later.
            self._flush_carry(out)
            self._note_problem(f"header line exceeds {MAX_LINE_BYTES} bytes")
            buf.clear()
            self._skipping_long_line = True
        return out

    def _block(self, block: str, out: list[Parsed]) -> None:
        while block.startswith("\r\n"):
            block = block[2:]
        if not block:
            return
        keep = self._keep_event
        if keep is not None and block.startswith("Event: "):
            end = block.find("\r\n")
            if not keep(block[7:end] if end > 0 else block[7:]) and "\r\nActionID: " not in block:
                self.skipped += 1
                return
        headers = _split_block(block)
        if headers is None:
            # Unusual block: the line-by-line path gives the exact result.
            self._buffer[:0] = (block + "\r\n\r\n").encode("utf-8")
            self._slow(out, until_clean=True)
            return
        out.append(self._factory(headers))

    def _flush_carry(self, out: list[Parsed]) -> None:
        """Hand decoded lines of an unfinished block back to the line-by-line path."""
        if self._carry:
            self._buffer[:0] = self._carry.encode("utf-8")
            self._carry = ""
            self._slow(out, until_clean=False, limit=None)

    def _slow(self, out: list[Parsed], until_clean: bool, limit: int | None = None) -> None:
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
            else:
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                if len(raw) > MAX_LINE_BYTES:
                    self._note_problem(f"header line of {len(raw)} bytes exceeds {MAX_LINE_BYTES}")
                else:
                    self._line(raw.decode("utf-8", errors="replace"), out)
            if until_clean and self._clean():
                break
        del buf[:start]

    def _note_problem(self, reason: str) -> None:
        if self._problem is None:
            self._problem = reason
        self._raw_lines.append("<oversized line>")

    def _line(self, line: str, out: list[Parsed]) -> None:
        if self._expect_banner:
            self._expect_banner = False
            if line.startswith(BANNER_PREFIX):
                out.append(Banner(line))
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
            result = MalformedBlock(self._problem, "\n".join(self._raw_lines)[:2000])
        else:
            result = self._factory(self._headers)
        self._headers = []
        self._problem = None
        self._raw_lines = []
        return result


def parse_bytes(data: bytes, expect_banner: bool = True) -> list[Parsed]:
    """Parse a whole capture (e.g. a recorded `.ami` file)."""
    parser = AmiParser(expect_banner=expect_banner)
    return parser.feed(data) + parser.feed(b"\r\n")


def messages(data: bytes, expect_banner: bool = True) -> Iterator[Message]:
    for item in parse_bytes(data, expect_banner):
        if isinstance(item, Message):
            yield item


# ---- end of the compiled module ----
# Python only (config/native_build.py compiles the text above): take the compiled
# module's names when HOTLINE_AMI_CODEC and the build allow it.
from cti.ami_native import bind  # noqa: E402 - it must see every name defined above

bind(globals())
