"""Do-not-call lists: one global list and one per campaign, checked at dial time.

Numbers are kept in E.164 form, so `+1 212-555-1234`, `(212) 555-1234` and
`12125551234` are the same entry. The lists change while campaigns run (an agent's
"dnc" disposition, an admin upload), which is why the check happens when a lead is
about to be dialled, not at import.

`DoNotCall` is one process's copy (the campaign's configured numbers and what the
dialer added itself); the durable lists are in the store (`store.port.DoNotCallList`,
filled by dispositions, `POST /api/v1/dnc` and `hotline dnc import`), read before
every dial. `parse_dnc_csv` reads an import file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from dialer.leads import PhoneNumberError, csv_rows, normalize_phone


@dataclass(frozen=True, slots=True)
class DncProblem:
    line: int
    reason: str


class DoNotCall:
    def __init__(self, default_region: str = "US") -> None:
        self.default_region = default_region
        self._global: set[str] = set()
        self._campaign: dict[str, set[str]] = {}

    def add(self, number: str, campaign: str | None = None) -> str:
        """Add a number (global when `campaign` is None). Returns its E.164 form."""
        e164 = normalize_phone(number, self.default_region)
        if campaign is None:
            self._global.add(e164)
        else:
            self._campaign.setdefault(campaign, set()).add(e164)
        return e164

    def remove(self, number: str, campaign: str | None = None) -> None:
        e164 = normalize_phone(number, self.default_region)
        if campaign is None:
            self._global.discard(e164)
        else:
            self._campaign.get(campaign, set()).discard(e164)

    def load_text(self, text: str, campaign: str | None = None) -> list[DncProblem]:
        """One number per line; `#` starts a comment. Returns the lines it could not use."""
        problems: list[DncProblem] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            try:
                self.add(entry, campaign)
            except PhoneNumberError as exc:
                problems.append(DncProblem(number, str(exc)))
        return problems

    def blocked(self, e164: str, campaign: str) -> bool:
        """True when the number is on the global list or on this campaign's list."""
        return e164 in self._global or e164 in self._campaign.get(campaign, ())

    def __len__(self) -> int:
        return len(self._global) + sum(len(s) for s in self._campaign.values())


NUMBER_COLUMNS = ("number", "phone")


def parse_dnc_csv(text: str, default_region: str = "US") -> tuple[list[tuple[int, str]], list[DncProblem]]:
    """The numbers of a do-not-call file, as (line, E.164), and the lines it could not
    use. The file is a CSV whose header names a `number` (or `phone`) column, the
    other columns ignored, or just one number per line; blank lines and lines starting
    with `#` are skipped."""
    numbers: list[tuple[int, str]] = []
    problems: list[DncProblem] = []
    column: int | None = None
    header_seen = False
    for line, row in csv_rows(csv.reader(io.StringIO(text.lstrip("\ufeff")))):
        if isinstance(row, csv.Error):
            problems.append(DncProblem(line, f"unreadable CSV: {row}"))
            continue
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            names = [c.lower() for c in cells]
            found = next((n for n in NUMBER_COLUMNS if n in names), None)
            if found is not None:
                column = names.index(found)
                continue
            column = 0
        assert column is not None
        if column >= len(cells) or not cells[column]:
            problems.append(DncProblem(line, "number: missing"))
            continue
        try:
            numbers.append((line, normalize_phone(cells[column], default_region)))
        except PhoneNumberError as exc:
            problems.append(DncProblem(line, f"number: {exc}"))
    return numbers, problems
