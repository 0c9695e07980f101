"""External CRM lookup for the screen-pop: an HTTP GET built from a URL template with
the caller's number, the JSON answer mapped onto the customer card's fields, a
timeout, and the built-in record as fallback.

Configuration (`[crm]` in hotline.toml)::

    [crm]
    url_template = "https://crm.example.com/api/contacts?phone={phone}"  # {phone} E.164, {digits}, {account}
    timeout_s = 1.5
    headers = { Authorization = "Bearer ..." }
    [crm.fields]            # card field -> dotted path in the JSON answer
    name = "contact.full_name"
    company = "contact.org.name"
    tier = "contact.segment"
    account_number = "contact.account"
    email = "contact.email"
    id = "contact.id"

An answer that is a JSON list uses its first element. Missing `name` in the answer
means "not found" and the built-in record is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.checks import Located, check_port

log = structlog.get_logger()

CARD_FIELDS = ("id", "name", "company", "tier", "account_number", "email", "phones", "notes")


class CrmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    url_template: str = ""
    timeout_s: float = Field(1.5, gt=0, le=30)
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=lambda: {f: f for f in CARD_FIELDS if f != "phones"})

    @field_validator("url_template")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if value and not any(k in value for k in ("{phone}", "{digits}", "{account}")):
            raise ValueError("must contain {phone}, {digits} or {account}")
        return check_port(value)

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CARD_FIELDS))
        if unknown:
            known = ", ".join(CARD_FIELDS)
            raise Located(
                [((name,), f"unknown card field (known: {known})") for name in unknown],
                f"unknown card field(s) {', '.join(unknown)} (known: {known})",
            )
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url_template)


def parse_crm_config(section: Mapping[str, Any]) -> CrmConfig:
    """Raises ValueError with `crm.<key>: reason` lines."""
    try:
        return CrmConfig.model_validate(dict(section))
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            reason = (
                "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
            )
            lines.append(f"crm.{where}: {reason}")
        raise ValueError("; ".join(lines)) from None


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def map_answer(answer: Any, fields: Mapping[str, str]) -> dict[str, Any] | None:
    """The card from a CRM JSON answer, or None when it names no customer."""
    if isinstance(answer, list):
        answer = answer[0] if answer else None
    if not isinstance(answer, Mapping):
        return None
    card: dict[str, Any] = {}
    for field_name, path in fields.items():
        value = _dig(answer, path)
        if value is not None:
            card[field_name] = value if field_name == "phones" else str(value)
    if not card.get("name"):
        return None
    return card


class CrmLookup:
    """One HTTP session for the process; `lookup` never raises (None = use built-in)."""

    def __init__(self, config: CrmConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def lookup(self, phone: str, account: str = "") -> dict[str, Any] | None:
        if not self.config.enabled or not (phone or account):
            return None
        url = self.config.url_template.format(
            phone=quote(phone, safe=""),
            digits="".join(ch for ch in phone if ch.isdigit()),
            account=quote(account, safe=""),
        )
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(
                url, headers=self.config.headers, timeout=aiohttp.ClientTimeout(total=self.config.timeout_s)
            ) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    log.warning("crm_lookup_http_error", status=response.status)
                    return None
                answer = await response.json(content_type=None)
        except TimeoutError:
            log.warning("crm_lookup_timeout", timeout_s=self.config.timeout_s)
            return None
        except (aiohttp.ClientError, ValueError) as exc:
            log.warning("crm_lookup_failed", error=type(exc).__name__)
            return None
        return map_answer(answer, self.config.fields)
