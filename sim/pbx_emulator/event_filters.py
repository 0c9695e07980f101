"""A session's AMI event filters, as Asterisk 20's manager.c keeps them (the `Filter`
action and manager.conf's `eventfilter`).

Legacy filters are a POSIX extended regex tried on the whole event text ("Event:
Newchannel\\r\\nPrivilege: ..."), a leading "!" making it an exclude. Advanced ones
(`MatchCriteria: name(Hangup),header(Channel),action(exclude),method(starts_with)`)
compare the event's name, and a pattern with one header's values or the whole text.
Deciding, as `should_send_event` does: no filters, everything; includes only, what one
matches; excludes only, what none matches; both, what an include matches and no
exclude does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# POSIX bracket classes (inside [...]) in Python's spelling; the rest of an extended
# regex as Asterisk's filters use it reads the same in Python's `re`.
_POSIX_CLASSES = {
    "[:alpha:]": "a-zA-Z",
    "[:digit:]": "0-9",
    "[:alnum:]": "a-zA-Z0-9",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:space:]": r" \t\r\n\v\f",
    "[:blank:]": r" \t",
    "[:punct:]": r"!-/:-@\[-`{-~",
    "[:cntrl:]": r"\x00-\x1f\x7f",
    "[:xdigit:]": "0-9A-Fa-f",
}
_METHODS = ("regex", "exact", "starts_with", "ends_with", "contains", "none")


class FilterError(ValueError):
    """The filter Asterisk would refuse, with its reason (the `Response: Error` text)."""


@dataclass(frozen=True, slots=True)
class _Filter:
    exclude: bool
    method: str
    pattern: str
    regex: re.Pattern[str] | None
    event_name: str | None
    header: str | None  # "Channel:" (with the colon, as Asterisk compares line starts)

    def matches(self, name: str, text: str) -> bool:
        if self.event_name is not None and self.event_name != name:
            return False
        if self.header is None:
            return self._compare(text)
        for line in text.split("\r\n"):
            if line.startswith(self.header):
                value = line[len(self.header) :].lstrip(" \t")
                if value and self._compare(value):
                    return True
        return False

    def _compare(self, value: str) -> bool:
        method, pattern = self.method, self.pattern
        if method == "regex":
            assert self.regex is not None
            return self.regex.search(value) is not None
        if method == "exact":
            return value == pattern
        if method == "starts_with":
            return value.startswith(pattern)
        if method == "ends_with":
            return value.endswith(pattern)
        if method == "contains":
            return pattern in value
        return True  # none


def posix_to_python(pattern: str) -> re.Pattern[str]:
    """Compile a POSIX extended regex (REG_EXTENDED | REG_NOSUB) with Python's `re`."""
    for posix, python in _POSIX_CLASSES.items():
        pattern = pattern.replace(posix, python)
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FilterError("Filter did not compile.  Check the syntax of the filter given.") from exc


def _parse(criteria: str, pattern: str) -> _Filter:
    """One filter from the `Filter` action's MatchCriteria (may be "") and Filter."""
    exclude = pattern.startswith("!")
    if exclude:
        pattern = pattern[1:]
    if not criteria:
        if not pattern:
            raise FilterError("Filter was formatted incorrectly.  Check the syntax of the filter given.")
        return _Filter(exclude, "regex", pattern, posix_to_python(pattern), None, None)
    method, name, header, found = "none", None, None, False
    for option in criteria.replace(")", " ").replace(",", " ").split():
        key, _, value = option.partition("(")
        value = value.strip()
        if key not in ("action", "name", "header", "method") or not value:
            raise FilterError("Filter was formatted incorrectly.  Check the syntax of the filter given.")
        found = True
        if key == "action":
            if value not in ("include", "exclude"):
                raise FilterError("Filter was formatted incorrectly.  Check the syntax of the filter given.")
            exclude = value == "exclude"
        elif key == "name":
            name = value
        elif key == "header":
            header = value if value.endswith(":") else value + ":"
        elif value in _METHODS:
            method = value
        else:
            raise FilterError("Filter was formatted incorrectly.  Check the syntax of the filter given.")
    if (
        not found
        or (not pattern and method != "none")
        or (pattern and method == "none")
        or (name is None and header is None and method == "none")
    ):
        raise FilterError("Filter was formatted incorrectly.  Check the syntax of the filter given.")
    regex = posix_to_python(pattern) if method == "regex" else None
    return _Filter(exclude, method, pattern, regex, name, header)


class EventFilters:
    """The include and exclude filters of one AMI session."""

    def __init__(self) -> None:
        self._include: list[_Filter] = []
        self._exclude: list[_Filter] = []

    @property
    def active(self) -> bool:
        return bool(self._include or self._exclude)

    def __len__(self) -> int:
        return len(self._include) + len(self._exclude)

    def add(self, match_criteria: str, pattern: str) -> None:
        """Add one filter (raises FilterError with Asterisk's answer when it would
        refuse it)."""
        entry = _parse(match_criteria.strip(), pattern)
        (self._exclude if entry.exclude else self._include).append(entry)

    def allows(self, data: bytes) -> bool:
        """Is this encoded event sent to the session?"""
        if not self.active:
            return True
        text = data.decode("utf-8", errors="replace")
        end = text.find("\r\n")
        name = text[7:end] if text.startswith("Event: ") else ""
        if self._include and not any(f.matches(name, text) for f in self._include):
            return False
        return not any(f.matches(name, text) for f in self._exclude)
