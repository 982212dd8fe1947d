"""The routing policy: a pure function from what we know about a turn to an action.

No I/O, no models: every input is a value, so the policy is tested with tables of
cases and its reason is recorded on every turn for agents to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["answer", "clarify", "handoff"]
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Thresholds:
    min_intent_confidence: float = 0.45
    clarify_margin: float = 0.15
    min_retrieval_score: float = 0.25
    negative_handoff_score: float = 0.8


@dataclass(frozen=True)
class TurnFacts:
    """What the models and the conversation say about one customer turn."""

    intent: str  # the classifier's label, or OUT_OF_SCOPE
    confidence: float  # calibrated probability of the best in-scope intent
    runner_up: tuple[str, float] | None  # second-best in-scope intent and its probability
    sentiment: str  # negative | neutral | positive
    sentiment_score: float
    best_source_score: float | None  # best grounded candidate's score (None: no candidate)
    required_slots: tuple[str, ...] = ()  # slots the (effective) intent needs
    known_slots: frozenset[str] = frozenset()  # slots known after this turn
    new_slots: frozenset[str] = frozenset()  # slots this turn provided
    pending_intent: str | None = None  # intent waiting for a slot from an earlier turn
    pending_required: tuple[str, ...] = ()  # the slots that pending intent needs
    handoff_intent: bool = False  # the intent means "get me a person"
    oos_streak: int = 0  # out-of-scope or unclear turns in a row just before this one
    negative_streak: int = 0  # strongly negative turns in a row just before this one
    forced: bool = False  # the customer picked a quick reply: the intent is certain


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    intent: str  # the effective intent (a resumed pending intent, or the classifier's)
    ask_slot: str | None = None  # the slot to ask for (clarify)
    options: tuple[str, ...] = field(default_factory=tuple)  # intents offered (clarify)
    pending_intent: str | None = None  # remember for the next turn
    strongly_negative: bool = False
    out_of_scope: bool = False


def is_strongly_negative(facts: TurnFacts, t: Thresholds) -> bool:
    return facts.sentiment == "negative" and facts.sentiment_score >= t.negative_handoff_score


def is_unclear(facts: TurnFacts, t: Thresholds) -> bool:
    """Out of scope, or below the confidence we act on (a quick reply is never unclear)."""
    if facts.forced:
        return False
    return facts.intent == OUT_OF_SCOPE or facts.confidence < t.min_intent_confidence


def decide(facts: TurnFacts, t: Thresholds) -> Decision:
    """Answer, clarify or hand off, with the reason. First matching rule wins."""
    angry = is_strongly_negative(facts, t)
    oos = facts.intent == OUT_OF_SCOPE

    def out(
        action: Action,
        reason: str,
        intent: str,
        ask_slot: str | None = None,
        options: tuple[str, ...] = (),
        pending_intent: str | None = None,
    ) -> Decision:
        return Decision(action, reason, intent, ask_slot, options, pending_intent, angry, oos)

    if (
        facts.handoff_intent
        and not oos
        and (facts.forced or facts.confidence >= t.min_intent_confidence)
    ):
        return out("handoff", "customer asked for a person", facts.intent)
    if angry and facts.negative_streak >= 1:
        return out("handoff", "two strongly negative turns in a row", facts.intent)

    intent, required = facts.intent, facts.required_slots
    resumed = (
        facts.pending_intent is not None
        and bool(set(facts.pending_required) & facts.new_slots)
        and (
            oos
            or facts.intent == facts.pending_intent
            or facts.confidence < t.min_intent_confidence
            or not facts.required_slots
        )
    )
    if resumed:
        assert facts.pending_intent is not None
        intent, required = facts.pending_intent, facts.pending_required
    elif not facts.forced:
        if oos:
            if facts.oos_streak >= 1:
                return out("handoff", "two out-of-scope or unclear turns in a row", intent)
            return out("clarify", "out of scope: asked to rephrase", intent)
        if facts.confidence < t.min_intent_confidence:
            if facts.oos_streak >= 1:
                return out("handoff", "two out-of-scope or unclear turns in a row", intent)
            options = (intent,) + ((facts.runner_up[0],) if facts.runner_up else ())
            return out(
                "clarify",
                f"low intent confidence {facts.confidence:.2f}",
                intent,
                options=options,
            )
        if facts.runner_up and facts.confidence - facts.runner_up[1] < t.clarify_margin:
            return out(
                "clarify",
                f"top intents close: {intent} {facts.confidence:.2f} vs "
                f"{facts.runner_up[0]} {facts.runner_up[1]:.2f}",
                intent,
                options=(intent, facts.runner_up[0]),
            )

    missing = [s for s in required if s not in facts.known_slots]
    if missing:
        return out(
            "clarify",
            f"missing {missing[0]} for {intent}",
            intent,
            ask_slot=missing[0],
            pending_intent=intent,
        )
    if facts.best_source_score is None or facts.best_source_score < t.min_retrieval_score:
        score = "none" if facts.best_source_score is None else f"{facts.best_source_score:.2f}"
        return out("handoff", f"no grounded answer (best source {score})", intent)
    why = (
        "resumed " + intent + " with the slot given"
        if resumed
        else "confident intent, grounded source"
    )
    return out("answer", why, intent)
