from __future__ import annotations

import pytest

from intents.entities import extract_entities, slots_from_entities

CASES = [
    ("where is my order 48213?", {"order_number": "48213"}),
    ("it's 77341", {"order_number": "77341"}),
    ("order #551902 please", {"order_number": "551902"}),
    ("ORD-77341 hasn't arrived", {"order_number": "77341"}),
    ("order number: 1234", {"order_number": "1234"}),
    ("email me at Bob.Smith+shop@mail.example.com", {"email": "bob.smith+shop@mail.example.com"}),
    ("call me on +44 7700 900123", {"phone": "+447700900123"}),
    ("my phone is (555) 013-4567", {"phone": "5550134567"}),
    ("I was charged $25.99 twice", {"amount": "25.99 USD"}),
    ("I paid 40 euros", {"amount": "40 EUR"}),
    ("it was due on 2026-11-02", {"date": "2026-11-02"}),
    ("ordered on Nov 3rd, order 48213", {"date": "Nov 3rd", "order_number": "48213"}),
    ("hello there", {}),
    ("I want 2 mugs and 3 plates", {}),
    ("call 555-013-4567 about order 48213", {"phone": "5550134567", "order_number": "48213"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_extract(text: str, expected: dict[str, str]) -> None:
    assert slots_from_entities(extract_entities(text)) == expected


def test_positions_point_at_the_value() -> None:
    text = "order 48213 for a@b.co"
    for ent in extract_entities(text):
        assert ent.value.lower() in text[ent.start : ent.end].lower() or ent.kind == "phone"
