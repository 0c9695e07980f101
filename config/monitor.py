"""`[monitor]`: what an agent is told of supervisors monitoring their calls.

    [monitor]
    tell_agent = { listen = false, whisper = true, barge = true }   # the defaults

A mode told shows a banner on the agent's desktop while it lasts ("Supervisor ann has
joined your call"); a mode not told never reaches the agent's browser at all (the
monitoring is logged either way: MonitorStarted / MonitorEnded). Whisper and barge are
told by default because the agent hears the supervisor anyway; listening is silent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Mode = Literal["listen", "whisper", "barge"]
TOLD_BY_DEFAULT: dict[str, bool] = {"listen": False, "whisper": True, "barge": True}


class MonitorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tell_agent: dict[Mode, bool] = Field(default_factory=lambda: dict(TOLD_BY_DEFAULT))  # type: ignore[arg-type]

    @field_validator("tell_agent")
    @classmethod
    def _fill(cls, value: dict[Mode, bool]) -> dict[Mode, bool]:
        """A mode left out keeps its default."""
        return {**TOLD_BY_DEFAULT, **value}  # type: ignore[dict-item]

    def told(self) -> frozenset[str]:
        return frozenset(mode for mode, tell in self.tell_agent.items() if tell)
