"""The leader fails under load (issue 15, item 5): two `hotline serve` on one PostgreSQL
and the PBX emulator, calls arriving steadily, and the leader cut off from PostgreSQL
and the AMI by a silent network cut, or its PostgreSQL connections lost. The standby
takes over within 5 s, no call is lost or sent to an agent twice, and the old leader,
back on the network, stands by. (The SIGKILL under load: test_live_standby.py and
bench/bench_failover.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.failover_run import Load, run_failover

# (one after the other with the other load-and-kill tests under `make test`'s workers, tests/conftest.py)
pytestmark = pytest.mark.xdist_group("live-load")


@pytest.mark.parametrize("fault", ["cut", "pg-reset"])
async def test_the_leader_cut_off_under_load_is_replaced_with_no_call_lost_or_doubled(
    tmp_path: Path, fresh_pg_url: str, fault: str
) -> None:
    load = Load(agents=8, calls_per_s=2.0, talk_s=1.0, duration_s=5.0, fault_at_s=1.5, lease_s=2.0, fault=fault)  # type: ignore[arg-type]
    result = await run_failover(fresh_pg_url, tmp_path, load)
    print(result)
    assert result["calls"] == 10
    assert (result["lost"], result["double_actions"], result["rejoined_as_standby"]) == (0, 0, True), result
    assert result["takeover_s"] <= 5.0  # type: ignore[operator]
