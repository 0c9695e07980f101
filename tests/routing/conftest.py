"""Every routing test runs against both builds of the one router source: the Python
module the live server uses and the mypyc-compiled one the simulator uses
(routing/native.py; `make test` builds it, and a missing or stale build fails here)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["python", "native"], autouse=True)
def router_build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOTLINE_ROUTER", request.param)
    return request.param
