"""Leads uploaded from the admin page (/admin/campaigns) on top of a campaign's CSV.

Each upload is kept in the store before the admin hears "added" (the
settings section `campaign_leads.<id>`, a new version per upload, body
`{"uploads": [{"source", "author", "at", "text"}]}`), so the dialer finds the uploaded
leads at every start (`open_book` adds them like the CSV's) and a running dialer adds
them at once when told on the bus (`ConfigChanged(section="campaign_leads.<id>")`).
Rows are validated as the CSV's are (dialer/leads.py): a bad row is reported by line
and not kept; a lead id the campaign has already (its CSV or an earlier upload) is a
duplicate, reported and not kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dialer.leads import Lead, parse_leads_csv
from store.port import Store

PREFIX = "campaign_leads."
MAX_UPLOAD_CHARS = 1_000_000  # (a JSON body is at most 1 MiB: web/inputs.py)


@dataclass(frozen=True, slots=True)
class UploadResult:
    added: list[str]  # lead ids
    duplicates: list[str]
    rejected: list[str]  # "leads.csv:7: phone: not a valid number for region US"
    version: int  # the stored version (0: nothing stored, nothing was added)


def section(campaign_id: str) -> str:
    return PREFIX + campaign_id


async def _uploads(store: Store, campaign_id: str) -> tuple[int, list[dict[str, Any]]]:
    found = await store.get_settings_version(section(campaign_id))
    if found is None:
        return 0, []
    return found.version, list(json.loads(found.body)["uploads"])


async def uploaded_leads(store: Store, campaign_id: str, region: str = "US") -> list[Lead]:
    """Every lead uploaded for the campaign, in upload order (the rows kept at upload)."""
    _, uploads = await _uploads(store, campaign_id)
    return [lead for u in uploads for lead in parse_leads_csv(u["text"], region, u["source"]).leads]


async def upload(
    store: Store,
    campaign_id: str,
    text: str,
    known: Iterable[str],
    *,
    source: str,
    author: str,
    at: float,
    region: str = "US",
) -> UploadResult:
    """Validate and keep an upload; `known`: the lead ids of the campaign's CSV."""
    parsed = parse_leads_csv(text, region, source)
    version, uploads = await _uploads(store, campaign_id)
    seen = set(known) | {lead.lead_id for u in uploads for lead in parse_leads_csv(u["text"], region).leads}
    added: list[str] = []
    duplicates: list[str] = []
    for lead in parsed.leads:
        (duplicates if lead.lead_id in seen else added).append(lead.lead_id)
        seen.add(lead.lead_id)
    rejected = parsed.report() + [f"{source}:{lead.line}: lead_id: {lead.lead_id!r} is already in the campaign"
                                  for lead in parsed.leads if lead.lead_id in duplicates]  # fmt: skip
    if not added:
        return UploadResult([], duplicates, rejected, 0)
    # (the text as uploaded: read again, its bad rows are skipped again and a lead the
    # campaign has already is not added twice, `open_book` / `DialerRunner.add_uploaded`)
    uploads.append({"source": source, "author": author, "at": at, "text": text})
    stored = await store.put_settings_version(
        section(campaign_id),
        json.dumps({"uploads": uploads}),
        author=author,
        comment=f"{len(added)} lead(s) from {source}",
        expected_version=version,
        at=at,
    )
    return UploadResult(added, duplicates, rejected, stored.version)
