"""Helpdesk integrations: signed inbound webhooks (Zendesk, Freshdesk, Chatwoot), signed
outbound events from the outbox with retries, admin API keys.

Signature scheme, both directions: ``X-CSA-Timestamp: <unix seconds>`` and
``X-CSA-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>``.
"""

from .delivery import DeliveryPolicy, DeliveryReport, DeliveryWorker, deliver_due
from .signing import SignatureError, signature, signed_headers, verify

__all__ = [
    "DeliveryPolicy",
    "DeliveryReport",
    "DeliveryWorker",
    "SignatureError",
    "deliver_due",
    "signature",
    "signed_headers",
    "verify",
]
