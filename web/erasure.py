"""`DELETE /api/v1/customers/{customer_id}` (admin): a customer's erasure request
(agents/erasure.py): the record, their interactions and the recordings of those calls
are deleted, their pending call-backs cancelled; audited as `customer.erased` with the
counts (no personal data). 404 when nothing of theirs is left (sent twice)."""

from __future__ import annotations

from aiohttp import web

from agents.erasure import erase_customer
from cti.server import STORE
from web.app import api_error, require
from web.audit import record


async def customer_erase(request: web.Request) -> web.Response:
    require(request, "admin")
    customer_id = request.match_info["customer_id"]
    erased = await erase_customer(request.app[STORE], customer_id)
    if not erased.anything:
        return api_error(404, f"customer_id: nothing is kept of customer {customer_id!r}")
    await record(
        request,
        "customer.erased",
        customer_id,
        customer=erased.customer,
        interactions=erased.interactions,
        recordings=erased.recordings,
        callbacks=erased.callbacks,
    )
    return web.json_response(
        {
            "customer_id": customer_id,
            "customer": erased.customer,
            "interactions": erased.interactions,
            "recordings": erased.recordings,
            "callbacks": erased.callbacks,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_delete("/api/v1/customers/{customer_id}", customer_erase)
