from __future__ import annotations

import pytest

from assistant.generators import Candidate, ReplyRequest, TemplateGenerator, fill, has_placeholder
from assistant.policy import Decision

FACTS = {
    "company_name": "Harbor & Pine",
    "support_hours": "9 to 5",
    "returns_url": "https://r.example",
}
TITLES = {"order_status": "Track an order", "shipping_cost": "Shipping costs"}


def gen() -> TemplateGenerator:
    return TemplateGenerator(FACTS, TITLES)


def req(
    decision: Decision, answers: list[str], slots: dict[str, str] | None = None
) -> ReplyRequest:
    cands = [Candidate(i + 1, 0.9 - i / 10, a, decision.intent) for i, a in enumerate(answers)]
    return ReplyRequest(decision, "msg", cands, slots or {})


ANSWER = Decision("answer", "ok", "order_status")


@pytest.mark.parametrize(
    ("template", "values", "expected", "missing"),
    [
        ("Order {order_number} ships", {"order_number": "1"}, "Order 1 ships", []),
        ("Order {{Order Number}} ships", {"order_number": "1"}, "Order 1 ships", []),
        ("Call {{Customer Support Phone Number}}", {"support_phone": "555"}, "Call 555", []),
        ("Order {order_number}", {}, "Order {order_number}", ["order_number"]),
        ("No slots here", {}, "No slots here", []),
    ],
)
def test_fill(template: str, values: dict[str, str], expected: str, missing: list[str]) -> None:
    assert fill(template, values) == (expected, missing)


def test_answer_fills_slots_and_facts() -> None:
    r = gen().compose(
        req(
            ANSWER,
            ["{company_name}: order {order_number} is on its way"],
            {"order_number": "48213"},
        )
    )
    assert r.text == "Harbor & Pine: order 48213 is on its way"
    assert r.source_ids == [1]


def test_missing_customer_value_becomes_a_question() -> None:
    r = gen().compose(req(ANSWER, ["We emailed {email} a label."]))
    assert r.ask_slot == "email" and "email" in r.text and not has_placeholder(r.text)


def test_unknown_fact_skips_to_next_candidate() -> None:
    r = gen().compose(req(ANSWER, ["See {{Mystery Portal}}", "Returns at {returns_url}"]))
    assert r.text == "Returns at https://r.example" and r.source_ids == [2]


def test_nothing_fillable_hands_off_without_placeholders() -> None:
    r = gen().compose(req(ANSWER, ["See {{Mystery Portal}}"]))
    assert r.source_ids == [] and not has_placeholder(r.text) and "team" in r.text


def test_negative_sentiment_opens_with_an_apology() -> None:
    angry = Decision("answer", "ok", "order_status", strongly_negative=True)
    r = gen().compose(req(angry, ["Order {order_number} ships"], {"order_number": "9"}))
    assert r.text.startswith("I'm sorry") and r.text.endswith("Order 9 ships")


def test_clarify_texts_and_quick_replies() -> None:
    d = Decision("clarify", "close", "order_status", options=("order_status", "shipping_cost"))
    request = req(d, [])
    r = gen().compose(request)
    assert "Track an order" in r.text and "Shipping costs" in r.text
    assert gen().quick_replies(request) == ["Track an order", "Shipping costs"]
    ask = Decision("clarify", "missing", "order_status", ask_slot="order_number")
    assert "order number" in gen().compose(req(ask, [])).text


def test_handoff_mentions_hours() -> None:
    r = gen().compose(req(Decision("handoff", "asked", "talk_to_human"), []))
    assert "9 to 5" in r.text


def test_no_double_apology() -> None:
    angry = Decision("answer", "ok", "complaint", strongly_negative=True)
    r = gen().compose(req(angry, ["I'm so sorry we let you down."]))
    assert r.text == "I'm so sorry we let you down."
