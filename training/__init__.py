"""Data sets, fine-tuning, evaluation and the `train` / `eval` commands.

(`evaluate` lives in `training.evaluation`: a submodule named `evaluate` would shadow
the function as an attribute of this package.)

Attributes load lazily, so `from training import train_command` imports only click.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .args import TrainArgs
    from .cli import eval_command, train_command
    from .data import DataFileError, Example, load_examples, stratified_split
    from .evaluation import evaluate, label_metrics, write_report
    from .finetune import TrainResult, train_classifier

_WHERE = {
    "TrainArgs": "args",
    "eval_command": "cli",
    "train_command": "cli",
    "DataFileError": "data",
    "Example": "data",
    "load_examples": "data",
    "stratified_split": "data",
    "evaluate": "evaluation",
    "label_metrics": "evaluation",
    "write_report": "evaluation",
    "TrainResult": "finetune",
    "train_classifier": "finetune",
}
__all__ = [
    "DataFileError",
    "Example",
    "TrainArgs",
    "TrainResult",
    "eval_command",
    "evaluate",
    "label_metrics",
    "load_examples",
    "stratified_split",
    "train_classifier",
    "train_command",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
