from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import KnowledgeBase, QAPair, SentenceEncoder

SHOP = [
    QAPair(1, "Where is my order?", "Track it from the link in your confirmation email.", "track"),
    QAPair(2, "How do I return an item?", "Start a return from Orders > Return item.", "return"),
    QAPair(
        3, "I was charged twice", "We will refund the duplicate charge within 3 days.", "billing"
    ),
    QAPair(
        4, "How do I reset my password?", "Click 'Forgot password' on the login page.", "account"
    ),
    QAPair(
        5, "What are your opening hours?", "We are open 9am to 6pm, Monday to Saturday.", "hours"
    ),
    QAPair(6, "Can I change my delivery address?", "Yes, until the order ships.", "address"),
]


@pytest.mark.integration
def test_paraphrase_finds_the_right_pair(tmp_path: Path) -> None:
    encoder = SentenceEncoder()  # the packaged all-MiniLM-L6-v2
    assert encoder.dim == 384
    kb, reason = KnowledgeBase.open(tmp_path, encoder, SHOP)
    assert reason is not None
    cases = {
        "my package hasn't arrived, where is it": 1,
        "I'd like to send back a product": 2,
        "my card got billed two times": 3,
        "I forgot my login password": 4,
        "when is the store open": 5,
        "I moved, can you ship to my new address": 6,
    }
    for query, want in cases.items():
        assert kb.search(query, k=3)[0].id == want, query
    kb2, reason2 = KnowledgeBase.open(tmp_path, encoder, SHOP)
    assert reason2 is None and kb2.search("where's my stuff", k=1)[0].id == 1
