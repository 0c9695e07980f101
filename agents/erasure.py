"""A customer's erasure request (the right to be forgotten): their record, every
interaction linked to them (notes, caller number, disposition) and the recordings of
those calls are deleted, files included. Used by `DELETE /api/v1/customers/{id}`
(web/erasure.py) and `hotline customers erase ID`; both audit it, naming the customer
id and what went, never the personal data.

Recordings go first (file, then row), then the customer and their interactions in one
store transaction (`CustomerErasure.erase_customer`); a recording of a call linked to
them meanwhile is deleted after. Their pending call-backs are cancelled (nobody calls
back someone who asked to be forgotten: "cancelled by erasure"). Run again, it finds
nothing more (idempotent).
Left as they are: the event log (append-only; its call events keep the caller's
number) and the counts the reports fold from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

from cti.recording_retention import remove
from store.port import Callbacks, CustomerErasure, Interactions, NotFound, Recordings

log = structlog.get_logger()

ALL = 1_000_000  # interactions of one customer: far more than any has


class ErasureStore(CustomerErasure, Interactions, Recordings, Callbacks, Protocol):
    """What an erasure touches."""


@dataclass(frozen=True, slots=True)
class Erased:
    customer: bool  # the customer record existed
    interactions: int
    recordings: int
    callbacks: int = 0  # pending call-backs cancelled

    @property
    def anything(self) -> bool:
        return self.customer or bool(self.interactions) or bool(self.recordings) or bool(self.callbacks)


async def _remove_recording(store: Recordings, call_id: str) -> bool:
    try:
        rec = await store.get_recording(call_id)
    except NotFound:
        return False
    await remove(store, rec)
    return True


async def erase_customer(store: ErasureStore, customer_id: str) -> Erased:
    calls = [i.id for i in await store.interactions_for_customer(customer_id, limit=ALL)]
    recordings = sum([await _remove_recording(store, call_id) for call_id in calls])
    existed, gone = await store.erase_customer(customer_id)
    recordings += sum([await _remove_recording(store, call_id) for call_id in sorted(set(gone) - set(calls))])
    cancelled = 0
    for callback in await store.open_callbacks():
        if callback.customer_id == customer_id and callback.state == "pending":
            cancelled += (await store.cancel_callback(callback.id, by="erasure")).state == "cancelled"
    erased = Erased(existed, len(gone), recordings, cancelled)
    log.info(
        "customer_erased",
        customer_id=customer_id,
        found=existed,
        interactions=len(gone),
        recordings=recordings,
        callbacks=cancelled,
    )
    return erased
