"""`[recording]`: which calls are recorded, where the files go, how long they stay.

    [recording]
    dir = "/var/spool/asterisk/monitor/hotline"   # where the PBX writes (MixMonitor File)
    retention_days = 90                           # older recordings are deleted daily
    default = "never"                             # a queue or campaign not listed below
    queues = { billing = "all", support = "30%" }
    campaigns = { spring = "on_demand" }

A policy is "all", "never", "on_demand" (the agent starts it from the desktop) or a
percentage "N%" of the calls (chosen by the call id, so a restart decides the same).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_PERCENT = re.compile(r"^([0-9]{1,3})%$")  # ASCII digits only (\d takes any script's)
WORDS = ("all", "never", "on_demand")


def _policy(value: str) -> str:
    m = _PERCENT.fullmatch(value)
    if value in WORDS or (m and 0 <= int(m.group(1)) <= 100):
        return value
    raise ValueError(f"must be one of {', '.join(WORDS)} or a percentage such as 25%, not {value!r}")


Policy = Annotated[str, AfterValidator(_policy)]


class RecordingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    dir: Path = Path("var/recordings")
    retention_days: float = Field(90, gt=0)
    default: Policy = "never"
    queues: dict[str, Policy] = Field(default_factory=dict)
    campaigns: dict[str, Policy] = Field(default_factory=dict)

    def policy(self, queue: str, campaign: str = "") -> str:
        """The campaign's policy for its calls, else the queue's, else the default."""
        if campaign and campaign in self.campaigns:
            return self.campaigns[campaign]
        return self.queues.get(queue, self.default)


def records(policy: str, call_id: str) -> bool:
    """Is this call recorded from the start under `policy` (on_demand: not yet)?"""
    if policy == "all":
        return True
    m = _PERCENT.fullmatch(policy)
    if not m:
        return False
    bucket = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "big") % 100
    return bucket < int(m.group(1))
