"""The signature a receiver checks: `Hotline-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, "<t>.<body>"). The timestamp is signed so a captured request
cannot be replayed later than the receiver's tolerance (`verify`'s `tolerance_s`)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Hotline-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, now: float, tolerance_s: float = 300.0) -> bool:
    """What a receiver does (and the tests): the header well formed, fresh and matching."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)
