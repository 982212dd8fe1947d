"""The network: a BERT-family encoder, mean pooling, dropout and a linear head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each row, ignoring padding."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class EncoderClassifier(nn.Module):
    """`backbone` (any `transformers.AutoModel` encoder) + mean pooling + dropout + `head`.

    State-dict keys are `backbone.*` and `head.weight` / `head.bias`.
    """

    def __init__(self, backbone: nn.Module, hidden_size: int, num_labels: int, dropout: float):
        super().__init__()
        self.backbone: Any = backbone  # a transformers PreTrainedModel
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_labels)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor):
        """Sentence vectors (mean-pooled last hidden states), shape (batch, hidden)."""
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return mean_pool(out.last_hidden_state, attention_mask)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor
    ) -> torch.Tensor:
        """Raw (uncalibrated) logits, shape (batch, num_labels)."""
        pooled = self.embed(input_ids, attention_mask, **extra)
        return self.head(self.dropout(pooled))
