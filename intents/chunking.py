"""Group texts of similar token length into forward passes, so a batch pads little."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

# What one more forward pass costs, in padded tokens (measured on MiniLM-L6 on a CPU core:
# 16 to 48 tokens; bench/RESULTS.md "Load").
PASS_COST_TOKENS = 32


def length_chunks(
    lengths: Sequence[int], max_size: int = 64, pass_cost: int = PASS_COST_TOKENS
) -> list[list[int]]:
    """Indices of `lengths` sorted by length and cut into chunks of at most `max_size`,
    minimising `pass_cost` per chunk + chunk size x its longest row (the padded tokens).

    One long text no longer pads a whole batch to its length: e.g. lengths [8]*15 + [40]
    give two passes ([8]*15, [40]) instead of one pass of 16 x 40 tokens.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest cost of the first j sorted rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[order[j - 1]]
        for i in range(max(0, j - max_size), j):
            cost = best[i] + pass_cost + (j - i) * longest
            if cost < best[j]:
                best[j], cut[j] = cost, i
    chunks: list[list[int]] = []
    j = n
    while j > 0:
        chunks.append(order[cut[j] : j])
        j = cut[j]
    return chunks[::-1]


def padded_rows(
    tokenizer: Any, enc: Any, idx: Sequence[int], width: int
) -> dict[str, NDArray[np.int64]]:
    """Rows `idx` of an unpadded tokenizer output (`tokenizer(texts)`) as int64 arrays padded
    to `width`, as the tokenizer's own padding would make them."""
    pad_values = {
        "input_ids": tokenizer.pad_token_id or 0,
        "token_type_ids": getattr(tokenizer, "pad_token_type_id", 0),
        "attention_mask": 0,
    }
    left = getattr(tokenizer, "padding_side", "right") == "left"
    batch = {}
    for key, rows in enc.items():
        if key not in pad_values:
            continue
        arr = np.full((len(idx), width), pad_values[key], dtype=np.int64)
        for r, i in enumerate(idx):
            row = rows[i]
            if left:
                arr[r, width - len(row) :] = row
            else:
                arr[r, : len(row)] = row
        batch[key] = arr
    return batch
