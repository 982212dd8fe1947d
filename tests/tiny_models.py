"""Tiny randomly initialised BERT folders for fast tests.

A real Hugging Face model folder (config, weights, WordPiece tokenizer) that any
code path loading a "local model folder" accepts, but with 2 layers of width 32,
so it builds in milliseconds and trains in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

# Enough words for the demo and test sentences to tokenise into something other
# than [UNK]; word pieces cover the rest.
_WORDS = """
the a an my your our is are was were be to of and or in on at for with from it this that
i you we they me please can could would will do does did not no yes hi hello hey thanks
thank bye goodbye order orders status where when track tracking package parcel delivery
deliver shipped shipping ship arrive late cancel cancellation change address refund money
back return returns payment pay card charged twice invoice receipt account password reset
login email phone number person human agent talk speak real help issue problem broken
damaged wrong item size want need get how what why who which time times open hours store
angry terrible awful bad great good love happy fine okay ok slow fast still yet today
tomorrow week days day new old update updated sent send receive received
""".split()
_PIECES = [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-#@:/$")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny_bert(folder: Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny random BERT (model + tokenizer) into `folder` and return it."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = list(dict.fromkeys(SPECIAL + _CHARS + _PIECES + _WORDS))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    return folder
