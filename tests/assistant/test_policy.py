"""The policy is a pure function: a table of cases, each with the expected action and reason."""

from __future__ import annotations

import pytest

from assistant.policy import OUT_OF_SCOPE, Thresholds, TurnFacts, decide

T = Thresholds(
    min_intent_confidence=0.45,
    clarify_margin=0.15,
    min_retrieval_score=0.35,
    negative_handoff_score=0.8,
)
ORDER = ("order_number",)


def facts(**kw) -> TurnFacts:
    base = dict(
        intent="delivery_times",
        confidence=0.92,
        runner_up=("shipping_cost", 0.03),
        sentiment="neutral",
        sentiment_score=0.9,
        best_source_score=0.8,
    )
    base.update(kw)
    return TurnFacts(**base)  # type: ignore[arg-type]


CASES = [
    # (name, facts, action, reason fragment, effective intent)
    ("confident and grounded", facts(), "answer", "grounded", "delivery_times"),
    (
        "no candidate",
        facts(best_source_score=None),
        "handoff",
        "no grounded answer",
        "delivery_times",
    ),
    (
        "weak candidate",
        facts(best_source_score=0.2),
        "handoff",
        "no grounded answer",
        "delivery_times",
    ),
    (
        "asks for a person",
        facts(intent="talk_to_human", handoff_intent=True),
        "handoff",
        "asked for a person",
        "talk_to_human",
    ),
    (
        "person request but unsure",
        facts(
            intent="talk_to_human",
            handoff_intent=True,
            confidence=0.3,
            runner_up=("complaint", 0.2),
        ),
        "clarify",
        "low intent confidence",
        "talk_to_human",
    ),
    (
        "quick reply picked",
        facts(
            intent="talk_to_human", handoff_intent=True, confidence=1.0, forced=True, runner_up=None
        ),
        "handoff",
        "asked for a person",
        "talk_to_human",
    ),
    (
        "first out of scope",
        facts(intent=OUT_OF_SCOPE, confidence=0.2),
        "clarify",
        "out of scope",
        OUT_OF_SCOPE,
    ),
    (
        "second out of scope",
        facts(intent=OUT_OF_SCOPE, confidence=0.2, oos_streak=1),
        "handoff",
        "two out-of-scope",
        OUT_OF_SCOPE,
    ),
    (
        "unclear after out of scope",
        facts(oos_streak=1, confidence=0.3, runner_up=("shipping_cost", 0.1)),
        "handoff",
        "out-of-scope or unclear",
        "delivery_times",
    ),
    (
        "first angry turn answers",
        facts(sentiment="negative", sentiment_score=0.95),
        "answer",
        "grounded",
        "delivery_times",
    ),
    (
        "second angry turn",
        facts(sentiment="negative", sentiment_score=0.95, negative_streak=1),
        "handoff",
        "two strongly negative",
        "delivery_times",
    ),
    (
        "mildly negative twice",
        facts(sentiment="negative", sentiment_score=0.6, negative_streak=1),
        "answer",
        "grounded",
        "delivery_times",
    ),
    (
        "close top two",
        facts(confidence=0.5, runner_up=("shipping_cost", 0.42)),
        "clarify",
        "top intents close",
        "delivery_times",
    ),
    (
        "low confidence",
        facts(confidence=0.3, runner_up=("shipping_cost", 0.1)),
        "clarify",
        "low intent confidence",
        "delivery_times",
    ),
    (
        "missing order number",
        facts(intent="order_status", required_slots=ORDER),
        "clarify",
        "missing order_number",
        "order_status",
    ),
    (
        "order number known",
        facts(intent="order_status", required_slots=ORDER, known_slots=frozenset(ORDER)),
        "answer",
        "grounded",
        "order_status",
    ),
    (
        "number given after asking",
        facts(
            intent=OUT_OF_SCOPE,
            confidence=0.2,
            pending_intent="order_status",
            pending_required=ORDER,
            new_slots=frozenset(ORDER),
            known_slots=frozenset(ORDER),
        ),
        "answer",
        "resumed order_status",
        "order_status",
    ),
    (
        "new confident intent wins over pending",
        facts(
            intent="delivery_times",
            pending_intent="order_status",
            pending_required=ORDER,
            new_slots=frozenset(ORDER),
            known_slots=frozenset(ORDER),
            required_slots=(),
        ),
        "answer",
        "resumed",
        "order_status",
    ),
    (
        "pending but no slot given",
        facts(
            intent=OUT_OF_SCOPE,
            confidence=0.2,
            pending_intent="order_status",
            pending_required=ORDER,
        ),
        "clarify",
        "out of scope",
        OUT_OF_SCOPE,
    ),
]


@pytest.mark.parametrize(
    ("name", "f", "action", "reason", "intent"), CASES, ids=[c[0] for c in CASES]
)
def test_policy_table(name: str, f: TurnFacts, action: str, reason: str, intent: str) -> None:
    d = decide(f, T)
    assert d.action == action, d
    assert reason in d.reason, d.reason
    assert d.intent == intent


def test_missing_slot_remembers_the_intent() -> None:
    d = decide(facts(intent="cancel_order", required_slots=ORDER), T)
    assert (d.ask_slot, d.pending_intent) == ("order_number", "cancel_order")


def test_clarify_offers_both_intents() -> None:
    d = decide(facts(confidence=0.5, runner_up=("shipping_cost", 0.45)), T)
    assert d.options == ("delivery_times", "shipping_cost")


def test_thresholds_come_from_settings() -> None:
    strict = Thresholds(min_intent_confidence=0.95)
    assert decide(facts(confidence=0.9), strict).action == "clarify"
    assert decide(facts(confidence=0.9), T).action == "answer"
