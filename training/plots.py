"""Report figures (matplotlib, Agg backend): confusion, most confused pairs, reliability."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mistakes(gold: Sequence[str], guess: Sequence[str]) -> Counter[tuple[str, str]]:
    return Counter((g, p) for g, p in zip(gold, guess, strict=True) if g != p)


def plot_confusion(gold: Sequence[str], guess: Sequence[str], path: Path, max_labels: int = 20):
    """Row-normalised confusion matrix; with more than `max_labels` labels, only the labels
    most involved in mistakes are shown (so it stays readable with 150 intents)."""
    plt = _pyplot()
    labels = sorted(set(gold) | set(guess))
    title = "Confusion matrix (row-normalised)"
    if len(labels) > max_labels:
        involvement: Counter[str] = Counter()
        for (g, p), count in _mistakes(gold, guess).items():
            involvement[g] += count
            involvement[p] += count
        chosen = [label for label, _ in involvement.most_common(max_labels)]
        labels = sorted(chosen) if chosen else labels[:max_labels]
        title = f"Confusion among the {len(labels)} most confused labels (row-normalised)"
    pos = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)))
    for g, p in zip(gold, guess, strict=True):
        if g in pos and p in pos:
            matrix[pos[g], pos[p]] += 1
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(5.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if len(labels) <= 20:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    color = "white" if norm[i, j] > 0.5 else "black"
                    ax.text(
                        j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7, color=color
                    )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confused_pairs(gold: Sequence[str], guess: Sequence[str], path: Path, top: int = 30):
    """Horizontal bar chart of the `top` most frequent "true -> predicted" mistakes."""
    plt = _pyplot()
    pairs = _mistakes(gold, guess).most_common(top)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(pairs) + 1)))
    if pairs:
        names = [f"{g} -> {p}" for (g, p), _ in pairs][::-1]
        ax.barh(names, [c for _, c in pairs][::-1], color="tab:red")
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel("mistakes")
    else:
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(f"Most confused pairs (top {top}, true -> predicted)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(
    confidences: Sequence[float], correct: Sequence[bool], path: Path, bins: int = 10
):
    """Reliability diagram: accuracy per confidence bin against the diagonal, with ECE."""
    from intents import expected_calibration_error

    plt = _pyplot()
    conf = np.asarray(confidences, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.minimum((conf * bins).astype(int), bins - 1) if len(conf) else np.array([], int)
    acc = [ok[idx == b].mean() if (idx == b).any() else 0.0 for b in range(bins)]
    count = [int((idx == b).sum()) for b in range(bins)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6), height_ratios=[3, 1], sharex=True)
    top.bar(edges[:-1], acc, width=1 / bins, align="edge", edgecolor="black", label="accuracy")
    top.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(loc="upper left")
    ece = expected_calibration_error(conf, ok, bins)
    top.set_title(f"Reliability (in-scope rows, n={len(conf)}, ECE={ece:.3f})")
    bottom.bar(edges[:-1], count, width=1 / bins, align="edge", edgecolor="black", color="gray")
    bottom.set_xlabel("calibrated confidence of the top label")
    bottom.set_ylabel("rows")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
