"""What counts as storable text, and how long a customer's fields may be: one rule
for the REST API (web.inputs, agents.customer_access) and the CSV import
(store.customer_csv), so neither lets in what the other refuses or PostgreSQL cannot
store (NUL, lone surrogates)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

CUSTOMER_TEXT_LIMITS = {"name": 200, "company": 200, "tier": 40, "email": 200, "account_number": 64, "notes": 20_000}
PHONE_MAX = 40
ATTRIBUTE_MAX = 1000  # one free attribute's value (CSV extra columns)


def text_problem(value: str) -> str | None:
    """Why `value` is not storable text (NUL, another control character than tab,
    newline and carriage return, a lone surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    if _CONTROL.search(value):
        return "contains a control character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid text (a lone surrogate)"
    return None
