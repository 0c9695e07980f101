"""The REST API fuzzed from its own OpenAPI document (issue 16, item 7): schemathesis
generates requests for every operation (bounded examples, derandomized) against the
live server on PostgreSQL, as an admin API token; no answer may be a 5xx, and every
answer must be one the document describes (status code, content type, body schema).
Twice: with data the document allows (positive), and with data it forbids (negative:
a wrong type, a missing required field, a value out of range...), which must be
refused with a 4xx the document names."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from cti.server import STORE, create_app
from store.models import ApiToken
from tests.conftest import PG_ADMIN_URL, _admin, _run_in_thread, _with_database
from tests.web.conftest import web_config
from tests.web.web_helpers import seed_customer, seed_users
from web.app import COMMAND_TIMEOUT
from web.openapi import DOCUMENT
from web.security import hash_token

TOKEN = "hl_fuzz_" + uuid.uuid4().hex
EXAMPLES = 12  # per operation: bounded, so the suite's time stays bounded
NEGATIVE_EXAMPLES = 6  # (each negative case is one refusal: fewer cover the document's constraints)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(DOCUMENT)
negative = schemathesis.openapi.from_dict(DOCUMENT)
negative.config.generation.update(modes=[GenerationMode.NEGATIVE])
NEGATIVE_CHECKS = [negative_data_rejection, *CHECKS]


class LiveServer:
    """`hotline serve`'s app on its own event loop in a thread (schemathesis calls it
    over HTTP from the test's thread)."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = create_app(web_config(self.store_url))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        store = app[STORE]
        app[COMMAND_TIMEOUT] = 0.2  # no live loop here: a command is kept and answered 202 at once
        await seed_users(store)
        await seed_customer(store, 0.0)
        await store.put_api_token(ApiToken("fuzz", "admin", "fuzz", 0.0), hash_token(TOKEN))
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(30), "the server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    name = f"hotline_fuzz_{uuid.uuid4().hex[:8]}"
    _run_in_thread(_admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(PG_ADMIN_URL, name)
    try:
        with LiveServer(url) as server:
            yield f"http://127.0.0.1:{server.port}"
    finally:
        _run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_never_answers_5xx_and_keeps_to_its_document(case: Any, live: str) -> None:
    response = case.call(base_url=live, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    case.validate_response(response, checks=CHECKS)


@negative.parametrize()
@settings(max_examples=NEGATIVE_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_refuses_what_its_document_forbids(case: Any, live: str) -> None:
    response = case.call(base_url=live, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    case.validate_response(response, checks=NEGATIVE_CHECKS)
