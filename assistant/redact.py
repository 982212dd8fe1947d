"""PII redaction for what is stored and trained on: emails, card numbers, IBANs, phones."""

from __future__ import annotations

import re

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
