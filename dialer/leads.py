"""Lead lists: CSV import with validation, phone normalisation and time zones.

Pure: parsing takes text (or a path, read once) and returns the accepted leads
and a report of the rejected rows by line number and reason. Nothing is dialled
or stored here.

CSV columns (header row required, names case-insensitive):
- `lead_id` (required, unique in the file)
- `phone` (required): national or international form; national numbers are read
  in the campaign's `default_region` (e.g. "US")
- `time_zone` (optional): an IANA name (`America/Chicago`). When absent, the time
  zones are derived from the number's prefix (libphonenumber's time-zone data); a
  number that spans several zones keeps them all, and the calling window must be
  open in every one of them (the conservative reading of calling-hours rules)
- `first_name`, `last_name`, `priority` (optional integer, higher first)
- any other column is kept in `attributes` (shown on the agent's screen-pop)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

REQUIRED_COLUMNS = ("lead_id", "phone")
KNOWN_COLUMNS = ("lead_id", "phone", "time_zone", "first_name", "last_name", "priority")
MAX_FIELD_LENGTH = 1000


class PhoneNumberError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Lead:
    lead_id: str
    phone: str  # E.164, e.g. +12125551234
    time_zones: tuple[str, ...]
    first_name: str = ""
    last_name: str = ""
    priority: int = 0
    attributes: Mapping[str, str] = field(default_factory=dict)
    line: int = 0  # line in the imported file (for support questions)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str
    lead_id: str = ""


@dataclass(frozen=True, slots=True)
class LeadImport:
    leads: tuple[Lead, ...]
    rejected: tuple[RejectedRow, ...]
    source: str = ""

    def report(self) -> list[str]:
        """One line per rejected row: `leads.csv:7: phone: not a valid number for region US`."""
        return [f"{self.source or '<csv>'}:{r.line}: {r.reason}" for r in self.rejected]


def normalize_phone(raw: str, default_region: str) -> str:
    """E.164 form of `raw`, or PhoneNumberError saying why not."""
    text = raw.strip()
    if not text:
        raise PhoneNumberError("empty")
    try:
        number = phonenumbers.parse(text, default_region or None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberError(f"cannot parse {text!r}: {exc._msg}") from None
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or default_region or "?"
        raise PhoneNumberError(f"{text!r} is not a valid number (region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def time_zones_for(e164: str) -> tuple[str, ...]:
    """IANA zones for a number from its prefix; () when unknown."""
    number = phonenumbers.parse(e164, None)
    zones = tuple(z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    return zones


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_leads_csv(text: str, default_region: str = "US", source: str = "") -> LeadImport:
    """Validate every row; keep the good ones, report the others by line number."""
    reader = csv.reader(io.StringIO(text))
    rejected: list[RejectedRow] = []
    leads: list[Lead] = []
    try:
        header = next(reader)
    except StopIteration:
        return LeadImport((), (RejectedRow(1, "empty file: a header row is required"),), source)
    except csv.Error as exc:
        return LeadImport((), (RejectedRow(1, f"unreadable CSV: {exc}"),), source)
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        return LeadImport((), (RejectedRow(1, f"header: missing column(s) {', '.join(missing)}"),), source)
    dupes = sorted({n for n in names if names.count(n) > 1 and n})
    if dupes:
        return LeadImport((), (RejectedRow(1, f"header: duplicate column(s) {', '.join(dupes)}"),), source)
    seen: set[str] = set()
    for line, row in csv_rows(reader):
        if isinstance(row, csv.Error):
            rejected.append(RejectedRow(line, f"unreadable CSV: {row}"))
            continue
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines are not errors
        if len(row) != len(names):
            rejected.append(RejectedRow(line, f"expected {len(names)} fields, found {len(row)}"))
            continue
        values = {name: cell.strip() for name, cell in zip(names, row, strict=False)}
        lead_id = values["lead_id"]
        reason = _check_row(values, seen)
        if reason:
            rejected.append(RejectedRow(line, reason, lead_id))
            continue
        try:
            phone = normalize_phone(values["phone"], default_region)
        except PhoneNumberError as exc:
            rejected.append(RejectedRow(line, f"phone: {exc}", lead_id))
            continue
        zone_field = values.get("time_zone", "")
        if zone_field:
            if not valid_zone(zone_field):
                rejected.append(RejectedRow(line, f"time_zone: unknown time zone {zone_field!r}", lead_id))
                continue
            zones: tuple[str, ...] = (zone_field,)
        else:
            zones = time_zones_for(phone)
            if not zones:
                rejected.append(
                    RejectedRow(line, f"time_zone: cannot derive one from {phone}; add a time_zone column", lead_id)
                )
                continue
        try:
            priority = int(values.get("priority") or 0)
        except ValueError:
            rejected.append(RejectedRow(line, f"priority: not an integer: {values['priority']!r}", lead_id))
            continue
        seen.add(lead_id)
        leads.append(
            Lead(
                lead_id=lead_id,
                phone=phone,
                time_zones=zones,
                first_name=values.get("first_name", ""),
                last_name=values.get("last_name", ""),
                priority=priority,
                attributes={k: v for k, v in values.items() if k not in KNOWN_COLUMNS},
                line=line,
            )
        )
    return LeadImport(tuple(leads), tuple(rejected), source)


def csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(line, row) of each record a `csv.reader` reads, or (line, the error) for one it
    cannot: reading goes on after a bad record."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield getattr(reader, "line_num", 0), exc
            continue
        yield getattr(reader, "line_num", 0), row


def _check_row(values: dict[str, str], seen: set[str]) -> str:
    lead_id = values["lead_id"]
    if not lead_id:
        return "lead_id: required"
    if lead_id in seen:
        return f"lead_id: duplicate {lead_id!r}"
    for name, value in values.items():
        if len(value) > MAX_FIELD_LENGTH:
            return f"{name}: longer than {MAX_FIELD_LENGTH} characters"
    if not values["phone"]:
        return "phone: required"
    return ""


def load_leads_csv(path: str | Path, default_region: str = "US") -> LeadImport:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return LeadImport((), (RejectedRow(1, f"not UTF-8 text: {exc.reason} at byte {exc.start}"),), p.name)
    return parse_leads_csv(text, default_region, p.name)
