"""Read customers from CSV: every row either accepted or rejected with its line and reason.

Columns: id, name (required), company, tier, phones (several separated by `;` or
`|`), email, account_number, notes; any other column goes into `attributes`. A row
that cannot be read (a field past the csv module's size limit), holds a NUL or other
control character, or a field longer than the REST API takes (`store.text`), is
rejected alone: the valid rows are kept.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from store.models import Customer
from store.phones import InvalidPhone, normalize_phone
from store.text import ATTRIBUTE_MAX, CUSTOMER_TEXT_LIMITS, PHONE_MAX, text_problem

KNOWN = ("id", "name", "company", "tier", "phones", "phone", "email", "account_number", "notes")
TIERS = ("standard", "gold", "vip", "platinum", "basic")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str


@dataclass(slots=True)
class CsvResult:
    accepted: list[Customer] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    accepted_lines: list[int] = field(default_factory=list)


def _phones(raw: str) -> tuple[str, ...]:
    parts = [p.strip() for p in raw.replace("|", ";").split(";") if p.strip()]
    return tuple(dict.fromkeys(normalize_phone(p) for p in parts))


def _field_problem(values: dict[str, str]) -> str | None:
    for column, value in values.items():
        problem = text_problem(column) or text_problem(value)
        if problem:
            return f"{column}: {problem}"
        limit = CUSTOMER_TEXT_LIMITS.get(column, PHONE_MAX * 20 if column in ("phones", "phone") else ATTRIBUTE_MAX)
        if len(value) > limit:
            return f"{column}: at most {limit} characters"
    return None


def read_customers(lines: Iterable[str], source: str = "customers.csv") -> Iterator[tuple[int, Customer | Rejected]]:
    """Yields (line number, Customer or Rejected) in file order."""
    reader = csv.DictReader(lines)
    if reader.fieldnames is None:
        yield 1, Rejected(1, "empty file: expected a header row")
        return
    header = [h.strip() for h in reader.fieldnames]
    if "name" not in header:
        yield 1, Rejected(1, f"header has no 'name' column (found: {', '.join(header)})")
        return
    seen_ids: set[str] = set()
    seen_accounts: set[str] = set()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # this row only: the reader goes on with the next line
            line = reader.line_num + 1
            yield line, Rejected(line, f"unreadable row: {exc}")
            continue
        line = reader.line_num
        if None in row:
            yield line, Rejected(line, f"{len(row[None])} more field(s) than the header has")
            continue
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        problem = _field_problem(values)
        if problem:
            yield line, Rejected(line, problem)
            continue
        name = values.get("name", "")
        if not name:
            yield line, Rejected(line, "name: required")
            continue
        customer_id = values.get("id") or f"csv-{source}-{line}"
        if customer_id in seen_ids:
            yield line, Rejected(line, f"id: duplicate {customer_id!r} in this file")
            continue
        account = values.get("account_number", "")
        if account and account in seen_accounts:
            yield line, Rejected(line, f"account_number: duplicate {account!r} in this file")
            continue
        tier = (values.get("tier") or "standard").lower()
        if tier not in TIERS:
            yield line, Rejected(line, f"tier: {tier!r} is not one of {', '.join(TIERS)}")
            continue
        email = values.get("email", "")
        if email and not EMAIL.match(email):
            yield line, Rejected(line, f"email: {email!r} is not an e-mail address")
            continue
        try:
            phones = _phones(values.get("phones") or values.get("phone") or "")
        except InvalidPhone as exc:
            yield line, Rejected(line, f"phones: {exc}")
            continue
        seen_ids.add(customer_id)
        if account:
            seen_accounts.add(account)
        yield (
            line,
            Customer(
                id=customer_id,
                name=name,
                company=values.get("company", ""),
                tier=tier,
                phones=phones,
                email=email,
                account_number=account,
                attributes={k: v for k, v in values.items() if k not in KNOWN and v},
                notes=values.get("notes", ""),
            ),
        )


def read_customers_text(text: str, source: str = "customers.csv") -> CsvResult:
    result = CsvResult()
    for line, item in read_customers(io.StringIO(text), source):
        if isinstance(item, Rejected):
            result.rejected.append(item)
        else:
            result.accepted.append(item)
            result.accepted_lines.append(line)
    return result
