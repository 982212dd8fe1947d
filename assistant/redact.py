"""PII redaction for what is stored and trained on: emails, card numbers, IBANs, phones."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from intents.entities import EMAIL, PHONE

CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")


def luhn_ok(number: str) -> bool:
    """True when the digits pass the Luhn checksum used by payment cards."""
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def redact(text: str) -> str:
    """`text` with PII replaced by ``[EMAIL]``, ``[CARD]``, ``[IBAN]`` and ``[PHONE]``.

    Card numbers are only redacted when they pass the Luhn check, so order numbers
    and other long ids stay readable.
    """
    text = EMAIL.sub("[EMAIL]", text)
    text = CARD.sub(lambda m: "[CARD]" if luhn_ok(m.group(0)) else m.group(0), text)
    text = IBAN.sub("[IBAN]", text)

    def phone(m: re.Match[str]) -> str:
        digits = sum(c.isdigit() for c in m.group(0))
        return "[PHONE]" if 9 <= digits <= 15 else m.group(0)

    return PHONE.sub(phone, text)


# -- what may be stored (assistant/engine.py) ---------------------------------------------
PII_SLOTS = {"email": "[EMAIL]", "phone": "[PHONE]"}
EMAIL_HASH_SLOT = "_email_sha256"  # "_" slots are never shown or filled into replies


def email_hash(email: str) -> str:
    """The sha256 of a normalised email: finds a customer's conversations for erasure
    without keeping the address."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def storable_slots(slots: Mapping[str, str], keep_originals: bool) -> dict[str, str]:
    """The conversation slots to write to SQL: without the customer's email and phone unless
    `keep_originals`; the email's hash is kept either way (erasure by email)."""
    out = dict(slots)
    if slots.get("email"):
        out[EMAIL_HASH_SLOT] = email_hash(slots["email"])
    if not keep_originals:
        for name in PII_SLOTS:
            out.pop(name, None)
    return out


def redact_echoes(reply: str, message: str, slots: Mapping[str, str]) -> str:
    """`reply` (the bot's) with what is PII in the customer's `message` or slots replaced by
    the same placeholders as `redact` (company facts such as the support email stay)."""
    found: dict[str, str] = {}
    for pattern, tag in (
        (EMAIL, "[EMAIL]"),
        (CARD, "[CARD]"),
        (IBAN, "[IBAN]"),
        (PHONE, "[PHONE]"),
    ):
        for m in pattern.finditer(message):
            # the same rules and order as `redact` (Luhn, phone length; a card is no phone)
            if m.group(0) not in found and tag in redact(m.group(0)):
                found[m.group(0)] = tag
    for name, tag in PII_SLOTS.items():
        if slots.get(name):
            found[slots[name]] = tag
    for value in sorted(found, key=len, reverse=True):
        reply = re.sub(re.escape(value), found[value], reply, flags=re.IGNORECASE)
    return reply
