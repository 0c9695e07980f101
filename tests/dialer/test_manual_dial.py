"""An agent's manual dial is checked before anything is dialled (dialer/manual.py): the
number read, the global do-not-call list (a real SQLite store), the calling window in
the number's local time."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from config.schema import StoreConfig
from dialer.campaign import CallingWindow
from dialer.manual import ManualDialRefused, manual_number
from store import open_store
from store.models import DncEntry

# Tuesday 2026-03-03 18:00 UTC = 10:00 in San Francisco, 13:00 in New York
TUESDAY_10_SF = datetime(2026, 3, 3, 18, 0, tzinfo=UTC).timestamp()


async def test_do_not_call_and_windows_refuse_with_the_reason(tmp_path: Path) -> None:
    store = await open_store(StoreConfig(url=f"sqlite:///{tmp_path}/dnc.sqlite3"))
    try:
        await store.migrate()
        await store.add_dnc([DncEntry("+14155550199", source="api")])
        await store.add_dnc([DncEntry("+14155550198", campaign="spring", source="api")])
        assert await manual_number(store, "(415) 555-0177", TUESDAY_10_SF) == "+14155550177"
        assert await manual_number(store, "415 555 0198", TUESDAY_10_SF) == "+14155550198"  # only a campaign's list
        with pytest.raises(ManualDialRefused, match=r"^number: \+14155550199 is on the do-not-call list$"):
            await manual_number(store, "4155550199", TUESDAY_10_SF)
        with pytest.raises(ManualDialRefused, match="is not a phone number"):
            await manual_number(store, "call me", TUESDAY_10_SF)
        late = CallingWindow(start=time(9, 0), end=time(9, 30))
        with pytest.raises(ManualDialRefused) as refused:
            await manual_number(store, "+14155550177", TUESDAY_10_SF, late)
        assert str(refused.value) == (
            "number: +14155550177 is outside its calling window"
            " (09:00-09:30 mon, tue, wed, thu, fri, sat, local time in America/Los_Angeles)"
        )
        sunday = datetime(2026, 3, 8, 18, 0, tzinfo=UTC).timestamp()
        with pytest.raises(ManualDialRefused, match="outside its calling window"):
            await manual_number(store, "+14155550177", sunday)
    finally:
        await store.close()
