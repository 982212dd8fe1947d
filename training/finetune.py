"""Full fine-tuning of a BERT-family encoder + linear head, then calibration and saving."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from tqdm import tqdm

from intents import TASKS, TextClassifier, choose_oos_threshold, fit_temperature
from intents.calibration import softmax
from intents.model import freeze_bottom

from .args import TrainArgs
from .data import Example, stratified_split
from .evaluation import evaluate

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    out_dir: Path
    metrics: dict[str, Any]
    seconds: float
    device: str
    epochs_run: int


def train_classifier(
    train: list[Example],
    val: list[Example] | None,
    args: TrainArgs,
    out_dir: Path,
    task: str,
) -> TrainResult:
    """Fine-tune the whole encoder and a head on `train`, select the best epoch on `val`,
    calibrate on `val`, and save the classifier to `out_dir` (atomically).

    Rows labelled `args.oos_label` (task "intents") are not a class: they are dropped from
    training and, in `val`, used only to choose the out-of-scope threshold. Without `val`,
    `args.val_fraction` of `train` is held out (stratified by label, seeded).
    """
    args.validate()
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    started = time.perf_counter()
    device = args.resolved_device()
    oos = args.oos_label if task == "intents" else None
    if val is None:
        train, val = stratified_split(train, (1 - args.val_fraction, args.val_fraction), args.seed)
        log.info(
            "held out %d of %d rows for validation (stratified, seed %d)",
            len(val),
            len(train) + len(val),
            args.seed,
        )
    rows = [ex for ex in train if ex.label != oos]
    if len(rows) < len(train):
        log.info(
            "dropped %d '%s' rows from training: out-of-scope is not a class",
            len(train) - len(rows),
            oos,
        )
    labels = sorted({ex.label for ex in rows})
    if len(labels) < 2:
        raise ValueError(f"need at least 2 labels to train, found {labels}")
    index = {label: i for i, label in enumerate(labels)}
    val_in = [ex for ex in val if ex.label in index]
    val_oos = [ex for ex in val if ex.label == oos]
    if unknown := len(val) - len(val_in) - len(val_oos):
        log.warning("%d validation rows have labels unseen in training; ignored", unknown)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    clf = TextClassifier.create(
        args.base_model,
        labels,
        task,
        max_length=args.max_length,
        dropout=args.dropout,
        device=device,
    )
    model = clf.model
    if args.freeze_layers:  # resolved by args.validate() above
        frozen = freeze_bottom(model.backbone, args.freeze_layers)
        clf.metadata["frozen_layers"] = args.freeze_layers
        log.info(
            "froze the embeddings and %d layer(s) of %s (%.1fM parameters)",
            args.freeze_layers,
            args.base_model.name,
            frozen / 1e6,
        )
    texts = [ex.text for ex in rows]
    targets = torch.tensor([index[ex.label] for ex in rows])
    lengths = [
        len(ids)
        for ids in clf.tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]
    ]
    steps_per_epoch = math.ceil(len(rows) / args.batch_size)
    optimizer = torch.optim.AdamW(_param_groups(model, args), lr=args.lr, fused=True)
    scheduler = _linear_schedule(optimizer, args.warmup_ratio, args.epochs * steps_per_epoch)
    autocast, scaler = _mixed_precision(device)
    log.info(
        "fine-tuning %s for %s: %d examples, %d labels, %d validation rows (%d oos), "
        "device %s, up to %d epochs of %d steps",
        args.base_model.name,
        task,
        len(rows),
        len(labels),
        len(val_in),
        len(val_oos),
        device,
        args.epochs,
        steps_per_epoch,
    )

    shuffler = torch.Generator().manual_seed(args.seed)
    best_f1, best_epoch, best_state, history = -1.0, 0, None, []
    epoch = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        batches = _length_grouped_batches(lengths, args.batch_size, shuffler)
        total = 0.0
        bar = tqdm(
            batches,
            desc=f"epoch {epoch}/{args.epochs}",
            unit="batch",
            leave=False,
            disable=None,
        )
        for idx in bar:
            batch = clf.tokenize([texts[i] for i in idx])
            with autocast():
                loss = F.cross_entropy(model(**batch).float(), targets[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        acc, f1 = _argmax_scores(clf, val_in, index)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / len(rows),
                "val_accuracy": acc,
                "val_macro_f1": f1,
            }
        )
        log.info(
            "epoch %d/%d: train loss %.4f, val accuracy %.4f, val macro-F1 %.4f",
            epoch,
            args.epochs,
            total / len(rows),
            acc,
            f1,
        )
        if f1 > best_f1 or not val_in:
            best_f1, best_epoch = f1, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= args.patience:
            log.info("early stop: no better val macro-F1 for %d epochs", args.patience)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    log.info("kept epoch %d (val macro-F1 %.4f)", best_epoch, best_f1)

    temperature, threshold = _calibrate(clf, val_in, val_oos, index, task)
    clf.calibrate(temperature, threshold)
    log.info("calibrated: temperature %.3f, out-of-scope threshold %.3f", temperature, threshold)
    metrics: dict[str, Any] = {}
    if val_in or val_oos:
        metrics = {
            f"val_{k}": v
            for k, v in evaluate(clf, val_in + val_oos, oos_label=args.oos_label).items()
        }
    seconds = time.perf_counter() - started
    metrics.update(
        best_epoch=best_epoch,
        epochs_run=epoch,
        temperature=temperature,
        oos_threshold=threshold,
        train_examples=len(rows),
        labels=len(labels),
        train_seconds=round(seconds, 2),
        device=device,
        history=history,
        args={k: str(v) for k, v in vars(args).items()},
    )
    clf.metrics = metrics
    clf.save(out_dir)
    return TrainResult(
        out_dir=Path(out_dir), metrics=metrics, seconds=seconds, device=device, epochs_run=epoch
    )


def _length_grouped_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator
) -> list[list[int]]:
    """Random batches of similar lengths (less padding, so less compute): shuffle, sort
    each window of 50 batches by length, cut it into batches, shuffle the batch order."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = 50 * batch_size
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _param_groups(model: torch.nn.Module, args: TrainArgs) -> list[dict[str, Any]]:
    """No weight decay on biases and LayerNorm; the new head learns `head_lr_scale` faster."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:  # frozen layers (args.freeze_layers)
            continue
        is_head = name.startswith("head.")
        decay = param.ndim >= 2
        groups.setdefault((is_head, decay), []).append(param)
    return [
        {
            "params": params,
            "lr": args.lr * (args.head_lr_scale if is_head else 1.0),
            "weight_decay": args.weight_decay if decay else 0.0,
        }
        for (is_head, decay), params in groups.items()
    ]


def _linear_schedule(
    optimizer: torch.optim.Optimizer, warmup_ratio: float, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = int(warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _mixed_precision(device: str) -> tuple[Any, torch.amp.GradScaler]:
    """bf16 autocast on GPUs that have it, fp16 + loss scaling on older ones; fp32 on CPU."""
    if device != "cuda":
        return nullcontext, torch.amp.GradScaler("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def autocast() -> AbstractContextManager[Any]:
        return torch.autocast("cuda", dtype=dtype)

    return autocast, torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)


def _argmax_scores(
    clf: TextClassifier, examples: Sequence[Example], index: dict[str, int]
) -> tuple[float, float]:
    """Accuracy and macro-F1 of the top label (no rejection) on in-scope rows."""
    if not examples:
        return 0.0, 0.0
    y = np.array([index[ex.label] for ex in examples])
    pred = clf.logits([ex.text for ex in examples]).argmax(axis=1)
    return float((pred == y).mean()), float(f1_score(y, pred, average="macro"))


def _calibrate(
    clf: TextClassifier,
    val_in: Sequence[Example],
    val_oos: Sequence[Example],
    index: dict[str, int],
    task: str,
) -> tuple[float, float]:
    """Temperature on in-scope validation rows; for intents, the OOS threshold too."""
    if not val_in:
        log.warning("no in-scope validation rows: temperature 1, no out-of-scope threshold")
        return 1.0, 0.0
    logits = clf.logits([ex.text for ex in val_in] + [ex.text for ex in val_oos])
    y = np.array([index[ex.label] for ex in val_in])
    temperature = fit_temperature(logits[: len(y)], y)
    if task != "intents":
        return temperature, 0.0
    probs = softmax(logits, temperature)
    correct = np.concatenate([probs[: len(y)].argmax(axis=1) == y, np.zeros(len(val_oos), bool)])
    is_oos = np.arange(len(probs)) >= len(y)
    return temperature, choose_oos_threshold(probs.max(axis=1), correct, is_oos)
