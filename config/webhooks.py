"""`[webhooks]`: how the webhook worker (webhooks/outbox.py) sends. Subscriptions
themselves are admin data in the store (web/webhooks.py), not configuration.

    [webhooks]
    allow_private = ["127.0.0.1"]   # addresses/networks that are not public but may be called
    timeout_s = 10                  # per attempt
    max_attempts = 8                # then the delivery is failed (kept in the log)
    backoff_s = 10                  # 10, 20, 40... s between attempts
    backoff_max_s = 3600
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WebhooksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    allow_private: list[str] = Field(default_factory=list)
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_attempts: int = Field(8, ge=1, le=100)
    backoff_s: float = Field(10.0, gt=0)
    backoff_max_s: float = Field(3600.0, gt=0)
    poll_s: float = Field(1.0, gt=0, le=60)
    concurrency: int = Field(8, ge=1, le=100)

    @field_validator("allow_private")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        from webhooks.targets import networks

        networks(value)  # ValueError naming the entry
        return value
