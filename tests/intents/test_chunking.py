"""length_chunks, and that length-chunked inference answers as one text at a time does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/conftest.py normally adds it (for tiny_models)
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from intents import TextClassifier  # noqa: E402
from intents.chunking import length_chunks  # noqa: E402


def test_every_index_once_sorted_by_length_within_the_size_limit() -> None:
    lengths = [12, 3, 7, 30, 7, 9, 3, 15, 22, 5, 11, 6]
    chunks = length_chunks(lengths, max_size=4)
    flat = [i for c in chunks for i in c]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(c) <= 4 for c in chunks)
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_one_long_text_gets_its_own_pass() -> None:
    chunks = length_chunks([8] * 15 + [40], pass_cost=32)
    assert chunks == [list(range(15)), [15]]  # 15x8 + 40 + 2 passes < 16x40 + 1 pass


def test_similar_lengths_share_one_pass() -> None:
    assert length_chunks([9, 10, 10, 11, 9], pass_cost=32) == [[0, 4, 1, 2, 3]]
    assert length_chunks([], max_size=8) == []
    with pytest.raises(ValueError, match="max_size"):
        length_chunks([1], max_size=0)


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> TextClassifier:
    from transformers import BertTokenizerFast

    folder = make_tiny_bert(tmp_path_factory.mktemp("chunking") / "bert")
    # the WordPiece vocabulary really in the tokenizer (see test_intents_classifier.py)
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(0)
    return TextClassifier.create(folder, ["a", "b", "c"], "intents", max_length=32)


TEXTS = [
    "hi",
    "where is my order please, it has been two weeks and nobody answers my emails at all",
    "refund",
    "can i return the lamp i bought last week",
    "",
    "thanks",
    "my card was charged twice for the same order and i want my money back now",
]


def test_chunked_logits_equal_one_text_at_a_time(clf: TextClassifier) -> None:
    together = clf.logits(TEXTS)
    alone = np.concatenate([clf.logits([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert len(length_chunks([len(r) for r in clf.tokenizer(TEXTS)["input_ids"]])) > 1


def test_padding_matches_the_tokenizers_own(clf: TextClassifier) -> None:
    enc = clf.tokenizer(TEXTS, truncation=True, max_length=clf.max_length)
    width = max(len(r) for r in enc["input_ids"])
    ours = clf._padded(enc, list(range(len(TEXTS))), width)
    theirs = clf.tokenize(TEXTS)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
