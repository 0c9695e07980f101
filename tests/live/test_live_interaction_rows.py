"""The interaction rows the live loop queues for a batch are written by a clean stop
(nothing accepted is lost when the loop's tasks are cancelled)."""

from __future__ import annotations

from pathlib import Path

from events import CallConnected, CallEnded
from sim.rig import DEFAULT_ROUTING
from tests.live.harness import AGENTS, live_center


async def test_a_clean_stop_writes_the_rows_queued_for_a_batch(tmp_path: Path) -> None:
    async with live_center(tmp_path) as h:
        rows = h.center.interactions.rows
        assert rows is not None
        rows.linger_s = 3600.0  # the ended call's row waits for its batch: only the stop writes it
        await h.command("bob", "available")
        await h.caller("Alice", "5551234", talk_s=1)
        await h.wait_for(lambda: any(isinstance(e, CallEnded) for e in h.events))
        await h.center.wait_idle()
        [call_id] = {e.call_id for e in h.events if isinstance(e, CallConnected)}
        assert rows.backlog == 1 and await h.store.interactions_between(0, 1e12) == []
        await h.stop_center()
        row = await h.store.get_interaction(call_id)
        assert (row.agent_id, row.caller, row.outcome) == ("bob", "5551234", "answered")
        await h.start_center(AGENTS, DEFAULT_ROUTING)
