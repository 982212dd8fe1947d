"""One customer turn: analyse, retrieve, decide, compose, store — then reply.

The engine holds no state between requests: the conversation lives in SQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from intents.entities import extract_entities, slots_from_entities

from .batcher import MicroBatcher
from .catalog import Catalog
from .generators import Candidate, Generator, Reply, ReplyRequest
from .policy import (
    OUT_OF_SCOPE,
    Decision,
    Thresholds,
    TurnFacts,
    decide,
    is_strongly_negative,
    is_unclear,
)
from .redact import redact, redact_echoes, storable_slots
from .store import BotTurn, ConversationState, CustomerTurn, Store

log = logging.getLogger(__name__)


class PredictionLike(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def top(self) -> list[tuple[str, float]]: ...


class ClassifierLike(Protocol):
    @property
    def version(self) -> str: ...

    def predict(self, texts: Sequence[str], top_k: int = 3) -> Sequence[PredictionLike]: ...

    def predictions(self, logits: Any, top_k: int = 3) -> Sequence[PredictionLike]: ...


class HitLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def answer(self) -> str: ...
    @property
    def intent(self) -> str | None: ...


class KnowledgeLike(Protocol):
    def __len__(self) -> int: ...

    def encode_queries(self, queries: Sequence[str]) -> Any: ...

    def search(
        self, query: str, k: int = 5, intent: str | None = None, query_vector: Any = None
    ) -> Sequence[HitLike]: ...


@dataclass
class Models:
    """What the engine runs on each turn; swapped as a whole when a model is promoted."""

    intent: ClassifierLike
    sentiment: ClassifierLike
    knowledge: KnowledgeLike
    # One pass of the layers all three share (assistant/shared_pass.py), when they do.
    shared: Any = None


@dataclass(frozen=True)
class Analysis:
    """What the models say about one message: intent, sentiment, the query's vector."""

    intent: PredictionLike
    sentiment: PredictionLike
    query_vector: Any


def analyse(models: Models, messages: Sequence[str], queries: Sequence[str]) -> list[Analysis]:
    """One forward pass per model for all `messages` (and the retrieval `queries`), or one
    shared pass (`models.shared`) for the messages it fits and whose query is the message."""
    if models.shared is not None:
        return _analyse_shared(models, list(messages), list(queries))
    intents = models.intent.predict(messages, top_k=3)
    sentiments = models.sentiment.predict(messages, top_k=3)
    vectors = models.knowledge.encode_queries(queries)
    return [Analysis(i, s, v) for i, s, v in zip(intents, sentiments, vectors, strict=True)]


def _analyse_shared(models: Models, messages: list[str], queries: list[str]) -> list[Analysis]:
    out = models.shared.run(messages)
    intents: list[Any] = [None] * len(messages)
    sentiments: list[Any] = [None] * len(messages)
    vectors: list[Any] = [None] * len(messages)
    for n, i, s, v in zip(
        out.rows,
        models.intent.predictions(out.intent, top_k=3),
        models.sentiment.predictions(out.sentiment, top_k=3),
        out.vectors,
        strict=True,
    ):
        intents[n], sentiments[n] = i, s
        if queries[n] == messages[n]:  # a resumed turn searches with another query
            vectors[n] = v
    too_long = [n for n, i in enumerate(intents) if i is None]
    if too_long:  # the classifiers truncate these: their own passes
        texts = [messages[n] for n in too_long]
        for n, i, s in zip(
            too_long,
            models.intent.predict(texts, top_k=3),
            models.sentiment.predict(texts, top_k=3),
            strict=True,
        ):
            intents[n], sentiments[n] = i, s
    missing = [n for n, v in enumerate(vectors) if v is None]
    if missing:
        found = models.knowledge.encode_queries([queries[n] for n in missing])
        for n, v in zip(missing, found, strict=True):
            vectors[n] = v
    return [Analysis(i, s, v) for i, s, v in zip(intents, sentiments, vectors, strict=True)]


AnalysisItem = tuple[Models, str, str]  # (models, message, retrieval query)


def analyse_batch(items: Sequence[AnalysisItem]) -> list[Analysis]:
    """`analyse` for the turns of many callers: each group of items that came with the same
    `Models` runs together, so a batch straddling a hot swap never mixes model sets."""
    groups: dict[int, list[int]] = {}
    for n, (models, _, _) in enumerate(items):
        groups.setdefault(id(models), []).append(n)
    out: list[Analysis | None] = [None] * len(items)
    for members in groups.values():
        models = items[members[0]][0]
        found = analyse(models, [items[n][1] for n in members], [items[n][2] for n in members])
        for n, analysis in zip(members, found, strict=True):
            out[n] = analysis
    return [a for a in out if a is not None]


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    reply: str
    action: str
    intent: str
    confidence: float
    sentiment: str
    sentiment_score: float
    sources: list[dict[str, Any]]
    turn_id: int
    reply_turn_id: int | None
    status: str
    reason: str
    quick_replies: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def api_view(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "reply": self.reply,
            "action": self.action,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "sentiment": {"label": self.sentiment, "score": round(self.sentiment_score, 4)},
            "sources": self.sources,
            "turn_id": self.turn_id,
            "quick_replies": self.quick_replies,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class OpenTurn:
    """A turn analysed and decided, whose reply is not composed or stored yet."""

    conversation_id: str | None
    message: str
    state: ConversationState
    intent: str
    confidence: float
    intent_top: list[tuple[str, float]]
    sentiment: str
    sentiment_score: float
    entities: list[dict[str, str]]
    slots: dict[str, str]
    facts: TurnFacts
    decision: Decision
    request: ReplyRequest
    hit_scores: dict[int, float]
    timings_ms: dict[str, float]
    started: float

    @property
    def with_agent(self) -> bool:
        return self.state.status in ("waiting_for_agent", "agent")


class TurnEngine:
    def __init__(
        self,
        store: Store,
        models: Models,
        generator: Generator,
        catalog: Catalog,
        thresholds: Thresholds,
        retrieval_k: int = 5,
        batcher: MicroBatcher[AnalysisItem, Analysis] | None = None,
        store_unredacted: bool = False,
    ) -> None:
        self.store = store
        self.models = models
        self.generator = generator
        self.catalog = catalog
        self.thresholds = thresholds
        self.retrieval_k = retrieval_k
        # Shares model calls with concurrent turns (runs `analyse_batch`); None: run alone.
        self.batcher = batcher
        # keep the original texts and the email/phone slots too (settings.store_unredacted)
        self.store_unredacted = store_unredacted

    def close(self) -> None:
        """Stop the batcher (turns still waiting for it fail with `BatcherClosed`)."""
        if self.batcher is not None:
            self.batcher.close()

    def _analyse(self, models: Models, message: str, query: str) -> Analysis:
        if self.batcher is None:
            return analyse(models, [message], [query])[0]
        return self.batcher.submit((models, message, query))

    def handle(self, conversation_id: str | None, message: str) -> TurnResult:
        """Run one customer turn and commit it before returning the reply.

        Raises `UnknownConversation` for an id that is not in the database.
        """
        turn = self.begin(conversation_id, message)
        return self.finish(turn, self.generator.compose(turn.request))

    def stream(self, conversation_id: str | None, message: str) -> Iterator[str | TurnResult]:
        """Like `handle`, yielding reply text as it is generated, then the committed result.

        The final `TurnResult` is authoritative: a neural reply that failed its grounding
        check is replaced there by the template reply.
        """
        turn = self.begin(conversation_id, message)
        streamer = getattr(self.generator, "stream", None)
        if streamer is None or turn.with_agent:
            yield self.finish(turn, self.generator.compose(turn.request))
            return
        reply: Reply | None = None
        for item in streamer(turn.request):
            if isinstance(item, str):
                yield item
            else:
                reply = item
        if reply is None:
            raise RuntimeError(f"generator {self.generator.name} streamed no final reply")
        yield self.finish(turn, reply)

    def begin(self, conversation_id: str | None, message: str) -> OpenTurn:
        """Analyse the turn and decide what to do; nothing is written yet."""
        started = time.perf_counter()
        state = (
            self.store.conversation_state(conversation_id)
            if conversation_id is not None
            else ConversationState("", "bot", {}, {}, [])
        )
        entities = extract_entities(message)
        new_slots = slots_from_entities(entities)
        slots = {**state.slots, **new_slots}
        pending = state.state.get("pending_intent")
        resuming = bool(pending and set(new_slots))
        # "it's 77341" alone says little: search with the question that asked for it.
        query = f"{state.state.get('pending_text', '')} {message}".strip() if resuming else message

        loaded = time.perf_counter()
        models = self.models  # one consistent set for the whole turn, even during a swap
        analysis = self._analyse(models, message, query)
        intent_pred, sentiment_pred = analysis.intent, analysis.sentiment
        classified = time.perf_counter()

        forced = self.catalog.by_title(message)
        intent = forced or intent_pred.label
        confidence = 1.0 if forced else float(intent_pred.confidence)
        top = [(lbl, p) for lbl, p in intent_pred.top if lbl != intent]
        runner_up = None if forced or not top else (top[0][0], float(top[0][1]))

        search_intent = pending if resuming else intent
        hits = list(
            models.knowledge.search(
                query,
                k=self.retrieval_k,
                intent=None if search_intent == OUT_OF_SCOPE else search_intent,
                query_vector=analysis.query_vector,
            )
        )
        retrieved = time.perf_counter()
        facts = TurnFacts(
            intent=intent,
            confidence=confidence,
            runner_up=runner_up,
            sentiment=sentiment_pred.label,
            sentiment_score=float(sentiment_pred.confidence),
            best_source_score=self._best_grounded(hits, search_intent),
            required_slots=self.catalog.info(intent).required_slots,
            known_slots=frozenset(k for k, v in slots.items() if v),
            new_slots=frozenset(new_slots),
            pending_intent=pending,
            pending_required=self.catalog.info(pending).required_slots if pending else (),
            handoff_intent=self.catalog.info(intent).handoff,
            oos_streak=int(state.state.get("oos_streak", 0)),
            negative_streak=int(state.state.get("negative_streak", 0)),
            forced=forced is not None,
        )
        decision = decide(facts, self.thresholds)
        candidates = [
            Candidate(h.id, float(h.score), h.answer, h.intent)
            for h in hits
            if h.intent in (None, decision.intent)
        ]
        return OpenTurn(
            conversation_id=conversation_id,
            message=message,
            state=state,
            intent=intent,
            confidence=confidence,
            intent_top=[(lbl, float(p)) for lbl, p in intent_pred.top],
            sentiment=sentiment_pred.label,
            sentiment_score=float(sentiment_pred.confidence),
            entities=[{"kind": e.kind, "value": e.value} for e in entities],
            slots=slots,
            facts=facts,
            decision=decision,
            request=ReplyRequest(decision, message, candidates, slots, state.history),
            hit_scores={h.id: float(h.score) for h in hits},
            timings_ms={
                "load": round((loaded - started) * 1000, 2),  # conversation state, entities
                # intent, sentiment and query encoding (shared with concurrent turns)
                "classify": round((classified - loaded) * 1000, 2),
                "retrieve": round((retrieved - classified) * 1000, 2),
            },
            started=started,
        )

    def finish(self, turn: OpenTurn, reply: Reply) -> TurnResult:
        """Settle the action, commit the customer turn and the reply, and return the result."""
        decision, facts, state = turn.decision, turn.facts, turn.state
        action, reason, pending_next = self._settle(decision, reply)
        quick = (
            self._quick_replies(turn.request) if action == "clarify" and not reply.ask_slot else []
        )
        pending = state.state.get("pending_intent")
        new_state = {
            "pending_intent": pending_next,
            "pending_text": (
                (
                    state.state.get("pending_text")
                    if pending_next == pending
                    else redact(turn.message)
                )
                if pending_next
                else None
            ),
            "oos_streak": (
                facts.oos_streak + 1
                if is_unclear(facts, self.thresholds) and action != "answer"
                else 0
            ),
            "negative_streak": (
                facts.negative_streak + 1 if is_strongly_negative(facts, self.thresholds) else 0
            ),
        }
        customer = CustomerTurn(
            text=redact(turn.message),
            intent=turn.intent,
            confidence=turn.confidence,
            sentiment=turn.sentiment,
            sentiment_score=turn.sentiment_score,
            entities=[e for e in turn.entities if e["kind"] not in ("email", "phone")],
            details={
                "top": [[lbl, round(p, 4)] for lbl, p in turn.intent_top],
                "decision": asdict(decision),
            },
        )
        if self.store_unredacted and customer.text != turn.message:
            customer.details["original_text"] = turn.message
        slots = storable_slots(turn.slots, self.store_unredacted)
        sources = [
            {"id": i, "score": round(turn.hit_scores.get(i, 0.0), 4)} for i in reply.source_ids
        ]
        if turn.with_agent:
            # An agent owns the conversation: the bot stays silent and only drafts.
            customer.details["suggestion"] = {
                "text": self._storable_reply(turn, reply.text),
                "action": action,
                "reason": reason,
            }
            recorded = self.store.record_turn(
                turn.conversation_id, customer, None, slots, new_state, status=state.status
            )
            action, reason, text, sources, quick = (
                "handoff",
                "conversation is with an agent",
                "",
                [],
                [],
            )
        else:
            text = reply.text
            bot = BotTurn(
                text=self._storable_reply(turn, text),
                action=action,
                reason=reason,
                sources=sources,
                details={"generator": self.generator.name, "note": reply.note},
            )
            if self.store_unredacted and bot.text != text:
                bot.details["original_text"] = text
            recorded = self.store.record_turn(
                turn.conversation_id,
                customer,
                bot,
                slots,
                new_state,
                status="waiting_for_agent" if action == "handoff" else "bot",
            )
        timings = dict(turn.timings_ms)
        timings["total"] = round((time.perf_counter() - turn.started) * 1000, 2)
        log.debug("turn %s: %s in %s", recorded.customer_turn_id, action, timings)
        return TurnResult(
            conversation_id=recorded.conversation_id,
            reply=text,
            action=action,
            intent=turn.intent,
            confidence=turn.confidence,
            sentiment=turn.sentiment,
            sentiment_score=turn.sentiment_score,
            sources=sources,
            turn_id=recorded.customer_turn_id,
            reply_turn_id=recorded.bot_turn_id,
            status=recorded.status,
            reason=reason,
            quick_replies=quick,
            timings_ms=timings,
        )

    @staticmethod
    def _storable_reply(turn: OpenTurn, text: str) -> str:
        """The reply as stored: what came from the customer's PII replaced by placeholders."""
        return redact_echoes(text, turn.message, turn.slots)

    def _best_grounded(self, hits: Sequence[HitLike], intent: str | None) -> float | None:
        grounded = [
            h.score for h in hits if intent in (None, OUT_OF_SCOPE) or h.intent in (None, intent)
        ]
        return float(max(grounded)) if grounded else None

    @staticmethod
    def _settle(decision: Decision, reply: Reply) -> tuple[str, str, str | None]:
        """The final action: the generator may have found a missing value or no usable answer."""
        if decision.action == "answer" and reply.ask_slot:
            return "clarify", f"missing {reply.ask_slot} for {decision.intent}", decision.intent
        if decision.action == "answer" and not reply.source_ids:
            return "handoff", reply.note or "no usable answer", None
        return decision.action, decision.reason, decision.pending_intent

    def _quick_replies(self, request: ReplyRequest) -> list[str]:
        make = getattr(self.generator, "quick_replies", None)
        if make is not None:
            return list(make(request))
        return [self.catalog.info(o).title for o in request.decision.options]
