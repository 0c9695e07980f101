"""The codec tests run against both builds of the one source, cti/ami_codec.py: the
Python module and the mypyc-compiled one the live server takes when it is current
(cti/ami_native.py; `make test` builds it, and a missing or stale build fails here)."""

from __future__ import annotations

from types import ModuleType

import pytest

from cti.ami_native import implementation


@pytest.fixture(params=["python", "native"])
def codec(request: pytest.FixtureRequest) -> ModuleType:
    """The codec's names (AmiParser, Message, encode...) from one build."""
    return implementation(request.param)
