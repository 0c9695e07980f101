"""A lead's dialing state as the store keeps it (`store.models.LeadRecord`) and back.

Pure: the live dialer (dialer/live.py) writes a lead's record before it acts on the
state (write-then-dial) and rebuilds its `CampaignBook` from the records at start.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dialer.campaign import LeadState, LeadStatus
from dialer.leads import Lead
from store.models import DncEntry, LeadRecord


def lead_details(lead: Lead) -> dict[str, Any]:
    """What the record keeps of the lead besides its id and phone."""
    return {
        "time_zones": list(lead.time_zones),
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "priority": lead.priority,
        "attributes": dict(lead.attributes),
        "line": lead.line,
    }


def lead_of(record: LeadRecord) -> Lead:
    d = record.details
    return Lead(
        lead_id=record.lead_id,
        phone=record.phone,
        time_zones=tuple(str(z) for z in d.get("time_zones", ())),
        first_name=str(d.get("first_name", "")),
        last_name=str(d.get("last_name", "")),
        priority=int(d.get("priority", 0)),
        attributes={str(k): str(v) for k, v in dict(d.get("attributes", {})).items()},
        line=int(d.get("line", 0)),
    )


PREVIEW = "preview"  # a stored status only: the book has the lead `dialing` (selected, not dialled)


def record_of(
    campaign: str, state: LeadState, now: float, call_id: str = "", preview: tuple[str, str] | None = None
) -> LeadRecord:
    """The row for `state` (`call_id`: the connected call awaiting its disposition;
    `preview`: (its call id, the agent it is offered to or "") of a lead shown to an
    agent and not dialled yet, kept as status `preview`)."""
    if preview is not None and state.status == LeadStatus.DIALING:
        return replace(record_of(campaign, state, now), status=PREVIEW, call_id=preview[0], offered_to=preview[1])
    return LeadRecord(
        campaign=campaign,
        lead_id=state.lead.lead_id,
        phone=state.lead.phone,
        status=state.status.value,
        attempts=state.attempts,
        cycle=state.cycle,
        next_at=state.next_at,
        last_outcome=state.last_outcome,
        disposition=state.disposition,
        callback=state.callback,
        call_id=call_id if state.status == LeadStatus.CONNECTED else "",
        details=lead_details(state.lead),
        updated_at=now,
    )


def state_of(record: LeadRecord) -> LeadState:
    """The lead's state as stored (a status this version does not know reads as done:
    never dialled by mistake)."""
    try:
        status = LeadStatus.DIALING if record.status == PREVIEW else LeadStatus(record.status)
    except ValueError:
        status = LeadStatus.DONE
    return LeadState(
        lead=lead_of(record),
        status=status,
        attempts=record.attempts,
        cycle=record.cycle,
        next_at=record.next_at,
        last_outcome=record.last_outcome,
        disposition=record.disposition,
        callback=record.callback,
    )


def disposition_dnc(number: str, campaign: str | None, at: float, agent_id: str, call_id: str) -> DncEntry:
    """The do-not-call entry of a customer's "do not call" said to an agent."""
    return DncEntry(
        number=number,
        campaign=campaign or "",
        source=f"disposition:{call_id}" if call_id else "disposition",
        added_at=at,
        added_by=agent_id,
    )
