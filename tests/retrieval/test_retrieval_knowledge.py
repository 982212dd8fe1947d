from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval import Hit, KnowledgeBase, QAPair, SentenceEncoder

PAIRS = [
    QAPair(
        1, "where is my order", "You can track your order from the link in your email.", "track"
    ),
    QAPair(2, "track my package please", "Track the parcel with the link we sent.", "track"),
    QAPair(3, "i want a refund", "Refunds arrive within 5 days.", "refund"),
    QAPair(4, "how do i get my money back", "refunds arrive within 5 days", "refund"),
    QAPair(5, "reset my password", "Use the reset link on the login page.", "account"),
    QAPair(6, "hello", "Hi! How can I help?", None),
]


@pytest.fixture()
def kb(word_encoder: SentenceEncoder) -> KnowledgeBase:
    kb = KnowledgeBase(word_encoder)
    kb.build(PAIRS)
    return kb


def test_exact_question_is_the_top_hit(kb: KnowledgeBase) -> None:
    for pair in PAIRS:
        hits = kb.search(pair.question, k=3)
        assert isinstance(hits[0], Hit)
        assert hits[0].id == pair.id and hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert (hits[0].question, hits[0].answer, hits[0].intent) == (
            pair.question,
            pair.answer,
            pair.intent,
        )
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_intent_filter_and_fallback(kb: KnowledgeBase) -> None:
    hits = kb.search("where is my order", k=5, intent="refund")
    assert {h.intent for h in hits} == {"refund"}
    assert [h.id for h in hits] in ([3], [4])  # 3 and 4 share an answer: collapsed to one
    fallback = kb.search("where is my order", k=5, intent="no-such-intent")
    assert fallback[0].id == 1 and len({h.intent for h in fallback}) > 1


def test_near_duplicate_answers_collapse_to_the_best(kb: KnowledgeBase) -> None:
    hits = kb.search("how do i get my money back", k=10)
    ids = [h.id for h in hits]
    assert 4 in ids and 3 not in ids
    assert len(hits) == 5  # six pairs, one duplicate answer


def test_query_vector_skips_encoding(kb: KnowledgeBase, word_encoder: SentenceEncoder) -> None:
    vec = word_encoder.encode(["reset my password"])[0]
    assert kb.search("ignored text", k=1, query_vector=vec)[0].id == 5


def test_empty_knowledge_base(word_encoder: SentenceEncoder, tmp_path: Path) -> None:
    kb = KnowledgeBase(word_encoder)
    assert len(kb) == 0 and kb.search("anything") == []
    kb.build([])
    assert kb.search("anything", intent="track") == []
    kb.save(tmp_path)
    opened, reason = KnowledgeBase.open(tmp_path, word_encoder, [])
    assert reason is None and len(opened) == 0 and opened.search("x") == []


def test_add_remove_update(kb: KnowledgeBase) -> None:
    kb.add([QAPair(7, "cancel my order", "Orders can be cancelled within 1 hour.", "cancel")])
    assert kb.search("cancel my order", k=1)[0].id == 7
    with pytest.raises(ValueError, match="already"):
        kb.add([PAIRS[0]])
    assert kb.remove([7, 99]) == 1
    assert kb.search("cancel my order", k=1, intent="cancel")[0].id != 7
    assert "cancel" not in kb.intents()
    kb.update([QAPair(5, "talk to a human agent", "Connecting you to an agent.", "human")])
    assert kb.search("talk to a human agent", k=1)[0].answer == "Connecting you to an agent."
    assert kb.intents()["human"] == 1 and "account" not in kb.intents()
    assert len(kb) == 6


def test_open_builds_then_loads(word_encoder: SentenceEncoder, tmp_path: Path) -> None:
    kb, reason = KnowledgeBase.open(tmp_path / "kb", word_encoder, PAIRS)
    assert reason is not None and "manifest.json is missing" in reason
    assert len(kb) == len(PAIRS)
    kb2, reason2 = KnowledgeBase.open(tmp_path / "kb", word_encoder, PAIRS)
    assert reason2 is None
    assert [h.id for h in kb2.search("refund", k=3)] == [h.id for h in kb.search("refund", k=3)]


def test_open_rebuilds_for_a_foreign_encoder(
    word_encoder: SentenceEncoder, tiny_encoder: SentenceEncoder, tmp_path: Path
) -> None:
    other = KnowledgeBase(word_encoder)
    other.build(PAIRS)
    other.save(tmp_path)
    kb, reason = KnowledgeBase.open(tmp_path, tiny_encoder, PAIRS)  # a real (tiny) BERT
    assert reason is not None and "built by encoder" in reason
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["encoder"] == tiny_encoder.name and manifest["dim"] == tiny_encoder.dim
    assert len(kb.search("reset my password", k=3)) == 3


def test_open_rebuilds_a_corrupt_index(word_encoder: SentenceEncoder, tmp_path: Path) -> None:
    KnowledgeBase.open(tmp_path, word_encoder, PAIRS)
    blob = bytearray((tmp_path / "index.faiss").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / "index.faiss").write_bytes(bytes(blob))
    kb, reason = KnowledgeBase.open(tmp_path, word_encoder, PAIRS)
    assert reason is not None and "checksum" in reason
    assert KnowledgeBase.open(tmp_path, word_encoder, PAIRS)[1] is None


def test_open_follows_the_store(word_encoder: SentenceEncoder, tmp_path: Path) -> None:
    KnowledgeBase.open(tmp_path, word_encoder, PAIRS)
    # a few pairs changed: synced in place
    edited = [*PAIRS[:4], QAPair(5, "forgot my login", "Use the reset link.", "account")]
    kb, reason = KnowledgeBase.open(tmp_path, word_encoder, edited)
    assert reason is not None and reason.startswith("synced") and "1 gone, 1 edited" in reason
    assert kb.search("forgot my login", k=1)[0].id == 5 and 6 not in kb
    assert KnowledgeBase.open(tmp_path, word_encoder, edited)[1] is None
    # most pairs differ: full rebuild
    fresh = [QAPair(100 + i, f"question {i}", f"answer {i}") for i in range(10)]
    kb, reason = KnowledgeBase.open(tmp_path, word_encoder, fresh)
    assert reason is not None and "differs from the store" in reason
    assert sorted(kb.index.ids()) == [p.id for p in fresh]
    # no record of the embedded texts: the ids decide
    (tmp_path / "texts.npy").unlink()
    assert KnowledgeBase.open(tmp_path, word_encoder, fresh)[1] is None
    reason = KnowledgeBase.open(tmp_path, word_encoder, fresh[:5])[1]
    assert reason is not None and "ids differ" in reason


def test_duplicate_ids_are_refused(word_encoder: SentenceEncoder) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KnowledgeBase(word_encoder).build([PAIRS[0], PAIRS[0]])


def test_hits_are_plain_values(kb: KnowledgeBase) -> None:
    hit = kb.search("hello", k=1)[0]
    assert hit.intent is None and isinstance(hit.score, float)
    assert np.isfinite(hit.score)
