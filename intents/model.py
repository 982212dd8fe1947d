"""The network: a BERT-family encoder, mean pooling, dropout and a linear head."""

from __future__ import annotations

import copy
from typing import Any, cast

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


class MeanPooled(nn.Module):
    """`backbone` + mean pooling: the sentence vectors of a sentence-transformers model whose
    pooling is "mean" (before any normalisation)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone: Any = backbone

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor
    ) -> torch.Tensor:
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return mean_pool(out.last_hidden_state, attention_mask)


def bert_layers(backbone: nn.Module) -> tuple[nn.Module, nn.ModuleList]:
    """The embeddings and the list of transformer layers of a BERT-style backbone
    (`.embeddings` and `.encoder.layer`: BERT, RoBERTa, MiniLM, ...); ValueError otherwise."""
    embeddings = getattr(backbone, "embeddings", None)
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if embeddings is None or not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"{type(backbone).__name__} is not a BERT-style encoder (embeddings + encoder.layer)"
        )
    return embeddings, layers


def freeze_bottom(backbone: nn.Module, n_layers: int) -> int:
    """Stop training the embeddings and the first `n_layers` layers; returns the number of
    parameters frozen (0 for n_layers 0)."""
    if n_layers <= 0:
        return 0
    embeddings, layers = bert_layers(backbone)
    if n_layers >= len(layers):
        raise ValueError(f"cannot freeze {n_layers} of {len(layers)} layers")
    frozen = 0
    for module in (embeddings, *layers[:n_layers]):
        for param in module.parameters():
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


class _PassThrough(nn.Module):
    """Stands in for the embeddings of a top part: its input is already hidden states."""

    def forward(self, inputs_embeds: torch.Tensor | None = None, **_: Any) -> torch.Tensor:
        assert inputs_embeds is not None
        return inputs_embeds


def _with_children(module: nn.Module, **children: nn.Module | None) -> Any:
    """A shallow copy of `module` (sharing its weights) with some children replaced."""
    clone = copy.copy(module)
    clone._modules = {**module._modules, **children}
    return clone


class BottomLayers(nn.Module):
    """The embeddings and the first `n` layers of a BERT-style backbone (weights shared
    with it): token ids -> hidden states after layer n."""

    def __init__(self, backbone: nn.Module, n: int) -> None:
        super().__init__()
        _, layers = bert_layers(backbone)
        encoder = _with_children(cast(nn.Module, backbone.encoder), layer=nn.ModuleList(layers[:n]))
        self.part: Any = _with_children(backbone, encoder=encoder, pooler=None)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor
    ) -> torch.Tensor:
        out = self.part(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return out.last_hidden_state


class TopLayers(nn.Module):
    """Layers n.. of a BERT-style backbone, mean pooling and an optional `head`: hidden
    states after layer n -> sentence vectors (no head) or logits."""

    def __init__(self, backbone: nn.Module, n: int, head: nn.Module | None = None) -> None:
        super().__init__()
        _, layers = bert_layers(backbone)
        encoder = _with_children(cast(nn.Module, backbone.encoder), layer=nn.ModuleList(layers[n:]))
        self.part: Any = _with_children(
            backbone, embeddings=_PassThrough(), encoder=encoder, pooler=None
        )
        self.head = head

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.part(inputs_embeds=hidden, attention_mask=attention_mask)
        pooled = mean_pool(out.last_hidden_state, attention_mask)
        return self.head(pooled) if self.head is not None else pooled


def same_bottom(a: nn.Module, b: nn.Module, n: int) -> bool:
    """Whether two BERT-style backbones have identical embeddings and first `n` layers."""
    try:
        parts_a = [bert_layers(a)[0], *bert_layers(a)[1][:n]]
        parts_b = [bert_layers(b)[0], *bert_layers(b)[1][:n]]
    except ValueError:
        return False
    for pa, pb in zip(parts_a, parts_b, strict=True):
        sa, sb = pa.state_dict(), pb.state_dict()
        if sa.keys() != sb.keys():
            return False
        if any(sa[k].shape != sb[k].shape or not torch.equal(sa[k], sb[k]) for k in sa):
            return False
    return True
