"""Phone numbers in one canonical form (E.164, "+14155550100") for storage and lookup."""

from __future__ import annotations

import functools
import re

import phonenumbers

DEFAULT_REGION = "US"


class InvalidPhone(ValueError):
    pass


# A canonical North American number (the parser returns it unchanged): no parsing
# needed. Other countries go through the parser: some drop a trunk zero after the code.
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of `raw`; national numbers are read in `region`.

    Caller IDs from a PBX are often national or short; any number phonenumbers can
    parse is accepted and normalised the same way on write and on lookup, so a
    lookup by what the PBX presents finds what the CRM stored.
    """
    return _normalize(raw, region)


# The parser took ~0.1 ms a number, and the live stack reads each caller's number more
# than once (the caller lookup, the pop, the IVR); a number that is not one raises each
# time (exceptions are not cached).
@functools.lru_cache(maxsize=8192)
def _normalize(raw: str, region: str) -> str:
    text = raw.strip()
    if _NANP_E164.fullmatch(text):
        return text
    if not text:
        raise InvalidPhone("empty phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"not a phone number: {raw!r} ({exc._msg})") from None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
