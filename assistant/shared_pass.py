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

    def fits(self, texts: list[str]) -> list[bool]:
        """Which texts the shared pass answers exactly (not truncated by a classifier)."""
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length + 1)
        return [len(row) <= self.max_length for row in ids["input_ids"]]

    def run(
        self, texts: list[str]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Intent logits, sentiment logits and unit query vectors for `texts` (all of which
        must fit), in one bottom pass per length chunk."""
        from intents.chunking import length_chunks, padded_rows

        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        lengths = [len(row) for row in enc["input_ids"]]
        n = len(texts)
        intent = np.zeros((n, 0), dtype=np.float32)
        sentiment = np.zeros((n, 0), dtype=np.float32)
        vectors = np.zeros((n, 0), dtype=np.float32)
        for idx in length_chunks(lengths, max_size=64):
            batch = padded_rows(self.tokenizer, enc, idx, max(lengths[i] for i in idx))
            hidden = self.bottom(batch)
            top_in = {"hidden": hidden, "attention_mask": batch["attention_mask"]}
            outs = [self.intent_top(top_in), self.sentiment_top(top_in), self.encoder_top(top_in)]
            if intent.shape[1] == 0:
                intent, sentiment, vectors = (np.zeros((n, o.shape[1]), np.float32) for o in outs)
            intent[idx], sentiment[idx], vectors[idx] = outs
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return intent, sentiment, vectors

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
        st: Any = getattr(encoder, "_model", None)
        kinds = [type(m).__name__ for m in st] if st is not None else []
        if kinds[:2] != ["Transformer", "Pooling"] or st[1].pooling_mode != "mean":
            return None, f"the encoder is not transformer + mean pooling ({'+'.join(kinds)})"
        if encoder.device != "cpu" or intent.device.type != "cpu":
            return None, "the models are not on the CPU"
        if not onnx_available():
            return None, "onnxruntime is not installed"
        base = st[0].auto_model
        for clf in (intent, sentiment):
            if not same_bottom(clf.model.backbone, base, depth):
                return None, (
                    f"the {clf.task} model's frozen layers are not the encoder's (trained from "
                    f"another base model than {encoder.path})"
                )
            if not _same_tokens(clf.tokenizer, st.tokenizer):
                return None, f"the {clf.task} model's tokenizer differs from the encoder's"
        max_length = min(intent.max_length, sentiment.max_length, st.max_seq_length)
        import torch

        probe = st.tokenizer(PROBES, padding=True, truncation=True, return_tensors="pt")
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
        shared = cls(depth, max_length, st.tokenizer, bottom, tops[0], tops[1], encoder_top)
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
