"""Grounding checks: which values of a reply come from none of its sources."""

from __future__ import annotations

import pytest

from assistant.generators import Candidate, ReplyRequest, TemplateGenerator
from assistant.generators.grounding import (
    build_messages,
    grounding_sources,
    normalise_url,
    plain_prompt,
    references,
    ungrounded_values,
)
from assistant.policy import Decision

FACTS = [
    "https://harborandpine.example/returns",
    "help@harborandpine.example",
    "+1 (555) 014-2290",
    "$5.95",
]


@pytest.mark.parametrize(
    ("reply", "sources", "expected"),
    [
        # order numbers: by their digits, whatever marks them
        ("Your order 48213 ships today.", ["my order is 48213"], []),
        ("Your order 48213 ships today.", ["order #48213 please"], []),
        ("Your order #48213 ships today.", ["it's ORD-48213"], []),
        ("Your order 48213 ships today.", ["my order is 48231"], ["48213"]),
        ("Your order 77341 ships today.", [], ["77341"]),
        # phones: digits only, a missing country code still matches
        ("Call us on 555-014-2290.", FACTS, []),
        ("Call us on +1 555 014 2290.", FACTS, []),
        ("Call us on +1 555 014 9999.", FACTS, ["+1 555 014 9999"]),
        # emails: case does not matter
        ("Write to Help@HarborAndPine.example.", FACTS, []),
        ("Write to refunds@harborandpine.example.", FACTS, ["refunds@harborandpine.example"]),
        # URLs: scheme, www., trailing slash and punctuation do not matter; paths do
        ("See https://harborandpine.example/returns.", FACTS, []),
        ("See (https://www.harborandpine.example/returns/).", FACTS, []),
        ("See http://HARBORANDPINE.example/returns!", FACTS, []),
        (
            "See https://harborandpine.example/refunds",
            FACTS,
            ["https://harborandpine.example/refunds"],
        ),
        ("See https://evil.example/returns", FACTS, ["https://evil.example/returns"]),
        # digits inside a URL are not order numbers
        (
            "Track it at https://harborandpine.example/orders/48213",
            ["order 48213"],
            ["https://harborandpine.example/orders/48213"],
        ),
        # amounts: by numeric value, whatever the notation
        ("Shipping is 5.95 USD.", FACTS, []),
        ("Shipping is $5.95.", ["shipping costs 5.95 dollars"], []),
        ("Shipping is $6.", FACTS, ["$6"]),
        ("You will get €12,50 back.", ["I paid 12.50 EUR"], []),
        # dates: month and day, in any of the usual notations
        ("It arrives on March 5th.", ["delivery on 2024-03-05"], []),
        ("It arrives on 5 March.", ["you said mar 5"], []),
        ("It arrives on March 6th.", ["delivery on 2024-03-05"], ["March 6th"]),
        # several values: each listed once, in order
        ("Order 11111 and 22222, again 11111", ["order 22222"], ["11111"]),
        # nothing checkable
        ("Happy to help with that!", [], []),
    ],
)
def test_ungrounded_values(reply: str, sources: list[str], expected: list[str]) -> None:
    assert ungrounded_values(reply, sources) == expected


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Shop.Example/Path/", "shop.example/Path"),
        ("http://www.shop.example.", "shop.example"),
        ("www.shop.example/a?b=1);", "shop.example/a?b=1"),
    ],
)
def test_normalise_url(url: str, key: str) -> None:
    assert normalise_url(url) == key


def _request(slots: dict[str, str] | None = None) -> ReplyRequest:
    return ReplyRequest(
        Decision("answer", "ok", "order_status"),
        "where is my order?",
        [
            Candidate(1, 0.9, "Order {order_number}: see {order_tracking_url}", "order_status"),
            Candidate(2, 0.8, "Ask {{Customer Support Email}} about it", "order_status"),
            Candidate(3, 0.7, "We emailed {email} the label", "order_status"),
        ],
        slots or {},
        [("customer", "hi, it's about my parcel 48213"), ("bot", "Sure, order 99999?")],
    )


def test_references_and_sources_use_filled_answers() -> None:
    template = TemplateGenerator(
        {"order_tracking_url": "https://t.example", "support_email": "s@t.example"}, {}
    )
    req = _request({"order_number": "48213", "_internal": "x"})
    refs = references(req, template, k=3)
    assert refs == [(1, "Order 48213: see https://t.example"), (2, "Ask s@t.example about it")]
    sources = grounding_sources(req, template)
    assert "hi, it's about my parcel 48213" in sources
    assert "Sure, order 99999?" not in sources  # the bot's words ground nothing
    assert ungrounded_values("Order 48213, https://t.example, s@t.example", sources) == []
    assert ungrounded_values("Order 99999", sources) == ["99999"]


def test_messages_and_plain_prompt() -> None:
    req = _request()
    msgs = build_messages(req, [(1, "Ref one")], "Harbor & Pine")
    assert msgs[0]["role"] == "system" and "Harbor & Pine" in msgs[0]["content"]
    assert "1. Ref one" in msgs[0]["content"]
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant", "user"]
    assert msgs[-1]["content"] == "where is my order?"
    prompt = plain_prompt(msgs)
    assert prompt.endswith("Customer: where is my order?\nAgent:")
