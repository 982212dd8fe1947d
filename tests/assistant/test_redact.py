from __future__ import annotations

import pytest

from assistant.redact import luhn_ok, redact

CASES = [
    ("mail me at jo@example.com", "mail me at [EMAIL]"),
    ("card 4111 1111 1111 1111 was declined", "card [CARD] was declined"),
    ("card 4111111111111112 typo", "card 4111111111111112 typo"),  # fails Luhn: kept
    ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
    ("call +44 7700 900123", "call [PHONE]"),
    ("order 48213 is late", "order 48213 is late"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("1234")
