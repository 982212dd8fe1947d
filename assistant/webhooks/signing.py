"""HMAC-SHA256 signatures over ``f"{timestamp}.{raw_body}"``, the one scheme used both ways.

Headers (inbound from a helpdesk, and outbound to subscribers alike)::

    X-CSA-Timestamp: 1718000000                  # unix seconds when the request was signed
    X-CSA-Signature: sha256=<hex HMAC-SHA256(secret, b"1718000000." + raw_body)>

The receiver recomputes the HMAC over the exact bytes it received, compares in constant time
and refuses a timestamp further than the tolerance from its clock (a replayed request).
Zendesk, Freshdesk and Chatwoot all let an admin add custom headers and a secret to a
webhook (or put a small relay in front), so one documented scheme serves all three.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-CSA-Timestamp"
SIGNATURE_HEADER = "X-CSA-Signature"
_PREFIX = "sha256="


class SignatureError(Exception):
    """The request is not authentic; `str(e)` says why (safe to return to the caller)."""


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` over ``f"{timestamp}."`` followed by the raw body bytes."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two headers for `body` signed now (or at `now`, unix seconds)."""
    ts = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(
    secret: str,
    timestamp: str | None,
    sig: str | None,
    body: bytes,
    *,
    tolerance_s: int,
    now: float | None = None,
) -> None:
    """Raise `SignatureError` unless `sig` is the signature of `body` at a fresh `timestamp`."""
    if not timestamp or not sig:
        missing = TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER
        raise SignatureError(f"missing {missing} header")
    timestamp = timestamp.strip()
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureError(f"invalid {TIMESTAMP_HEADER}: expected unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        raise SignatureError(f"stale timestamp: more than {tolerance_s}s from the server clock")
    expected = signature(secret, timestamp, body)  # the bytes that were signed
    if not hmac.compare_digest(expected.encode(), sig.strip().lower().encode()):
        raise SignatureError("invalid signature")
