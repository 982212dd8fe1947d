"""The console's backend over real SQLite, a real (tiny) index and the turn engine."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.console_service import ActionError, ConsoleService, normalise_intent
from assistant.engine import Models, TurnEngine
from assistant.knowledge import read_pairs
from assistant.settings import Settings
from assistant.store import CustomerTurn, Store, init_db, make_engine
from assistant.store.agents import Agents

DEMO = Path(__file__).resolve().parents[2] / "assistant" / "demo"


@pytest.fixture
def live(settings: Settings, tiny_models: Models, tiny_bert: Path) -> TurnEngine:
    """An engine whose knowledge base is its own (built from SQL ids, as at start-up), so
    approving answers does not change the session-wide tiny knowledge base."""
    from assistant.runtime import build_engine
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    engine = make_engine(settings.db_url)
    init_db(engine)
    store = Store(engine)
    store.upsert_pairs(read_pairs(DEMO / "answers.jsonl"))
    kb = KnowledgeBase(SentenceEncoder(tiny_bert))
    kb.build([QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()])
    models = Models(intent=tiny_models.intent, sentiment=tiny_models.sentiment, knowledge=kb)
    return build_engine(settings, store, models)


@pytest.fixture
def service(settings: Settings, live: TurnEngine) -> ConsoleService:
    return ConsoleService(SimpleNamespace(settings=settings, store=live.store, engine=live))


def _waiting(store: Store, text: str = "My lamp arrived broken, I want a person") -> str:
    recorded = store.record_turn(
        None,
        CustomerTurn(text, "damaged_item", 0.8, "negative", 0.9),
        None,
        {},
        {},
        status="waiting_for_agent",
    )
    return recorded.conversation_id


def test_take_over_send_hand_back_close(service: ConsoleService, live: TurnEngine) -> None:
    store = live.store
    cid = _waiting(store)
    queue = service.list_conversations()
    assert queue[0]["conversation_id"] == cid
    assert queue[0]["status"] == "waiting_for_agent"
    assert queue[0]["last_sentiment_score"] == pytest.approx(0.9)

    service.take_over(cid, "sam")
    conv = service.get_conversation(cid)
    assert conv is not None
    assert (conv["status"], conv["assigned_agent"]) == ("agent", "sam")

    # with an agent, the bot only drafts: the suggestion is exposed for the reply box
    live.handle(cid, "Where is my order 48213?")
    conv = service.get_conversation(cid)
    assert conv is not None
    assert [m["role"] for m in conv["messages"]] == ["customer", "customer"]
    assert conv["suggestion"] and conv["messages"][-1]["suggestion"] == conv["suggestion"]

    turn_id = service.send(cid, "sam", "  Hi, Sam here. Sorry about the lamp!  ")
    conv = service.get_conversation(cid)
    assert conv is not None
    last = conv["messages"][-1]
    assert (last["id"], last["role"], last["author"]) == (turn_id, "agent", "sam")
    assert last["text"] == "Hi, Sam here. Sorry about the lamp!"
    assert conv["suggestion"] == ""  # answered by the agent

    service.hand_back(cid, "sam")
    assert store.get_conversation(cid)["status"] == "bot"  # type: ignore[index]
    service.close(cid, "alex")
    assert store.get_conversation(cid)["status"] == "closed"  # type: ignore[index]
    with pytest.raises(ActionError, match="closed"):
        service.send(cid, "sam", "still there?")

    log = service.actions(cid)
    assert [(a["agent"], a["action"]) for a in log] == [
        ("sam", "take_over"),
        ("sam", "send"),
        ("sam", "hand_back"),
        ("alex", "close"),
    ]
    assert log[1]["turn_id"] == turn_id
    assert log[3]["details"] == {"from": "bot"}


def test_actions_need_an_agent_and_a_conversation(service: ConsoleService) -> None:
    cid = _waiting(service.store)
    with pytest.raises(ActionError, match="log in"):
        service.take_over(cid, "")
    with pytest.raises(ActionError, match="no conversation"):
        service.take_over("nope", "sam")
    with pytest.raises(ActionError, match="empty"):
        service.send(cid, "sam", "   ")
    assert service.actions() == []


def test_correct_intent_known_and_new(service: ConsoleService) -> None:
    store = service.store
    cid = _waiting(store, "Can you wrap it as a present?")
    turn_id = store.get_conversation(cid)["messages"][0]["id"]  # type: ignore[index]
    assert "order_status" in service.intents()
    assert "gift_wrap" not in service.intents()

    assert service.correct_intent(turn_id, "sam", "order_status") == "order_status"
    assert service.correct_intent(turn_id, "sam", "  Gift Wrap ") == "gift_wrap"
    assert "gift_wrap" in service.intents()  # offered to every agent from now on
    service.correct_sentiment(turn_id, "alex", "neutral")

    labels = store.labels()
    assert [(lab["task"], lab["label"], lab["previous"], lab["author"]) for lab in labels] == [
        ("intents", "order_status", "damaged_item", "sam"),
        ("intents", "gift_wrap", "damaged_item", "sam"),
        ("sentiment", "neutral", "negative", "alex"),
    ]
    conv = service.get_conversation(cid)
    assert conv is not None
    assert conv["messages"][0]["corrected"] == {
        "intents": {"label": "gift_wrap", "author": "sam"},
        "sentiment": {"label": "neutral", "author": "alex"},
    }
    log = service.actions(cid)
    assert [(a["action"], a["details"]) for a in log] == [
        ("correct_intent", {"label": "order_status", "new": False}),
        ("correct_intent", {"label": "gift_wrap", "new": True}),
        ("correct_sentiment", {"label": "neutral"}),
    ]
    with pytest.raises(ActionError):
        service.correct_sentiment(turn_id, "sam", "furious")
    with pytest.raises(ActionError):
        service.correct_intent(turn_id, "sam", "<script>")


def test_normalise_intent() -> None:
    assert normalise_intent("Gift-Wrap  options") == "gift_wrap_options"
    for bad in ("", "   ", "_x", "a" * 65, "café"):
        with pytest.raises(ActionError):
            normalise_intent(bad)


def test_approve_answer_is_searchable_at_once(
    service: ConsoleService, live: TurnEngine, settings: Settings
) -> None:
    store = service.store
    question = "Could you wrap my parcel in velvet paper for a birthday?"
    cid = _waiting(store, question)
    customer_id = store.get_conversation(cid)["messages"][0]["id"]  # type: ignore[index]
    service.correct_intent(customer_id, "sam", "gift wrap")
    answer = "Yes! Add velvet gift wrap at checkout for $4; we include a handwritten card."
    turn_id = service.send(cid, "sam", answer)
    before = store.count_pairs()

    pair_id = service.approve_answer(turn_id, "sam")

    assert store.count_pairs() == before + 1
    row = next(p for p in store.approved_pairs() if p.id == pair_id)
    assert (row.question, row.answer, row.intent, row.source) == (
        question,
        answer,
        "gift_wrap",
        "agent",
    )
    hits = live.models.knowledge.search(question, k=1)
    assert hits[0].id == pair_id and hits[0].answer == answer
    assert (settings.index_dir / "texts.npy").exists()  # the live index was saved
    conv = service.get_conversation(cid)
    assert conv is not None and conv["approved_turns"] == [turn_id]
    assert service.actions(cid)[-1]["action"] == "approve_answer"
    assert service.actions(cid)[-1]["details"] == {"pair_id": pair_id, "intent": "gift_wrap"}

    with pytest.raises(ActionError, match="already"):
        service.approve_answer(turn_id, "sam")
    with pytest.raises(ActionError, match="not an agent"):
        service.approve_answer(customer_id, "sam")


def test_login_through_the_service(service: ConsoleService) -> None:
    Agents(service.store.engine).add("sam", "correct horse battery")
    assert service.authenticate("sam", "correct horse battery")
    assert not service.authenticate("sam", "wrong password!")
    assert not service.authenticate("nobody", "correct horse battery")


def test_analytics_through_the_service(service: ConsoleService) -> None:
    _waiting(service.store)
    data = service.analytics(days=7)
    assert sum(d["conversations"] for d in data["per_day"]) == 1
    assert data["intents"] == [{"intent": "damaged_item", "turns": 1}]
