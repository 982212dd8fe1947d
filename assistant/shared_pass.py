"""One pass of the shared bottom layers for intent, sentiment and the retrieval vector.

When both classifiers were fine-tuned from the retrieval encoder's own model with their
embeddings and first n layers frozen (`assistant train ... --freeze-layers n`), those
layers are identical in the three networks: a turn runs them once and only the top layers
three times (MiniLM-L6, n=3: 12 layer passes instead of 18). The outputs are those of three
separate passes (to float rounding). Texts longer than the classifiers' `max_length` (which
the classifiers truncate and the encoder does not) take the separate passes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

# Tokenizers must agree on these (case, accents, punctuation, emoji, digits) to share a pass.
PROBES = ["Where is my ORDER #48213?", "Café déjà vu, naïve résumé", "🙂 ok... thanks!!"]


@dataclass(frozen=True)
class SharedOutput:
    """What one shared pass found: `rows` are the indices of the texts it answered (the
    others were too long), the arrays have one row per index in `rows`."""

    rows: list[int]
    intent: NDArray[np.float32]
    sentiment: NDArray[np.float32]
    vectors: NDArray[np.float32]


@dataclass
class SharedPass:
    """ONNX Runtime runners: `bottom` (token ids -> hidden states after layer `depth`) and
    one top per model (hidden states -> intent logits, sentiment logits, query vector)."""

    depth: int
    max_length: int
    tokenizer: Any
    bottom: Any
    intent_top: Any
    sentiment_top: Any
    encoder_top: Any

    def run(self, texts: list[str]) -> SharedOutput:
        """Intent logits, sentiment logits and unit query vectors for the `texts` that fit
        (not truncated by a classifier), one bottom pass per length chunk; tokenised once."""
        from intents.chunking import length_chunks, padded_rows

        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length + 1)
        rows = [n for n, ids in enumerate(enc["input_ids"]) if len(ids) <= self.max_length]
        lengths = [len(enc["input_ids"][n]) for n in rows]
        outs: list[NDArray[np.float32]] = []
        for chunk in length_chunks(lengths, max_size=64):
            idx = [rows[i] for i in chunk]
            batch = padded_rows(self.tokenizer, enc, idx, max(lengths[i] for i in chunk))
            top_in = {"hidden": self.bottom(batch), "attention_mask": batch["attention_mask"]}
            found = [self.intent_top(top_in), self.sentiment_top(top_in), self.encoder_top(top_in)]
            if not outs:
                outs = [np.zeros((len(rows), f.shape[1]), np.float32) for f in found]
            for out, f in zip(outs, found, strict=True):
                out[chunk] = f
        if not outs:
            return SharedOutput(rows, *(np.zeros((0, 0), np.float32) for _ in range(3)))
        vectors = outs[2]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return SharedOutput(rows, outs[0], outs[1], vectors)

    @classmethod
    def build(
        cls,
        intent: Any,
        sentiment: Any,
        encoder: Any,
        *,
        cache_dir: Path | None,
        threads: int = 1,
        int8: bool = False,
    ) -> tuple[SharedPass | None, str]:
        """The shared pass for these models, or None and why not."""
        from intents.model import BottomLayers, TopLayers, same_bottom
        from intents.onnx_runner import export_runner, onnx_available

        depth = min(
            int(intent.metadata.get("frozen_layers", 0)),
            int(sentiment.metadata.get("frozen_layers", 0)),
        )
        if depth < 1:
            return None, "the classifiers were trained without --freeze-layers"
        base = encoder.mean_pooled_backbone()
        if base is None:
            return None, "the encoder is not a transformer with mean pooling on the CPU"
        if intent.device.type != "cpu" or sentiment.device.type != "cpu":
            return None, "the classifiers are not on the CPU"
        if not onnx_available():
            return None, "onnxruntime is not installed"
        tokenizer = encoder.tokenizer
        for clf in (intent, sentiment):
            if not same_bottom(clf.model.backbone, base, depth):
                return None, (
                    f"the {clf.task} model's frozen layers are not the encoder's (trained from "
                    f"another base model than {encoder.path})"
                )
            if not _same_tokens(clf.tokenizer, tokenizer):
                return None, f"the {clf.task} model's tokenizer differs from the encoder's"
        max_length = min(intent.max_length, sentiment.max_length, encoder.max_length)
        import torch

        probe = tokenizer(PROBES, padding=True, truncation=True, return_tensors="pt")
        names = ("input_ids", "attention_mask", "token_type_ids")
        sample = {k: v for k, v in probe.items() if k in names}
        bottom_module = BottomLayers(base, depth).eval()
        with torch.no_grad():
            hidden = bottom_module(**sample)
        top_sample = {"hidden": hidden, "attention_mask": sample["attention_mask"]}
        common: dict[str, Any] = {"cache_dir": cache_dir, "threads": threads, "int8": int8}
        tag = f"{encoder.name}-{depth}"
        try:
            bottom = export_runner(
                bottom_module, sample, name="shared-bottom", version=tag, **common
            )
            tops = [
                export_runner(
                    TopLayers(clf.model.backbone, depth, clf.model.head),
                    top_sample,
                    name=f"{clf.task}-top",
                    version=_version(clf, depth),
                    **common,
                )
                for clf in (intent, sentiment)
            ]
            encoder_top = export_runner(
                TopLayers(base, depth), top_sample, name="encoder-top", version=tag, **common
            )
        except Exception as err:
            return None, f"the layers did not convert to ONNX: {err}"
        shared = cls(depth, max_length, tokenizer, bottom, tops[0], tops[1], encoder_top)
        return shared, f"{depth} shared layer(s), texts up to {max_length} tokens"


def _version(clf: Any, depth: int) -> str | None:
    """Cache version of a classifier's top layers (None, not cached, before it is saved)."""
    sha = clf.metadata.get("sha256")
    return f"{str(sha)[:24]}-{depth}" if sha else None


def _same_tokens(a: Any, b: Any) -> bool:
    try:
        if a.get_vocab() != b.get_vocab():
            return False
        return bool(a(PROBES)["input_ids"] == b(PROBES)["input_ids"])
    except Exception:  # tokenizers of other kinds: do not share
        return False
