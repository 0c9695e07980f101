"""`[chat]`: the customer chat widget.

    [chat]
    queues = ["support", "sales"]       # queues a widget may name; the first is the default
    allowed_origins = ["https://www.example.com"]   # sites that may embed the widget
    resume_s = 60                       # a reloaded page picks its chat up within this
    max_text = 2000                     # characters in one message
    messages_per_minute = 20            # per connection
    address_messages_per_minute = 120   # per client address, every connection together
    address_chats_per_hour = 10         # new conversations per client address
    address_connections = 20            # open chat connections per client address (per process)

Hotline's own pages may always embed it; `allowed_origins` adds sites (scheme, host
and port, no path) to the page's `frame-ancestors`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

QueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r}: must be an origin such as https://www.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc or "*" in value:
        raise ValueError(f"{value!r}: an origin is scheme://host[:port], with no path, query or wildcard")
    return f"{parts.scheme}://{parts.netloc.lower()}"


Origin = Annotated[str, AfterValidator(_origin)]


class ChatConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    queues: list[QueueName] = Field(default_factory=lambda: ["support"], min_length=1)
    allowed_origins: list[Origin] = Field(default_factory=list)
    resume_s: float = Field(60.0, gt=0, le=3600)
    max_text: int = Field(2000, ge=1, le=10_000)
    messages_per_minute: int = Field(20, ge=1, le=256)
    address_messages_per_minute: int = Field(120, ge=1, le=256)
    address_chats_per_hour: int = Field(10, ge=1, le=256)
    address_connections: int = Field(20, ge=1, le=10_000)

    @field_validator("queues")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a queue is named twice")
        return value

    @property
    def default_queue(self) -> str:
        return self.queues[0]
