"""Do-not-call lists: one global list and one per campaign, checked at dial time.

Numbers are kept in E.164 form, so `+1 212-555-1234`, `(212) 555-1234` and
`12125551234` are the same entry. The lists change while campaigns run (an agent's
"dnc" disposition, an admin upload), which is why the check happens when a lead is
about to be dialled, not at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.leads import PhoneNumberError, normalize_phone


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
