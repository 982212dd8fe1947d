"""Confidence calibration and the out-of-scope threshold (pure numpy).

Temperature scaling (Guo et al., 2017) divides the logits by one scalar T fitted on
validation data; it changes the confidences, never the ranking. The out-of-scope
decision then rejects a turn whose calibrated top probability is below a threshold.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

_T_MIN, _T_MAX = 0.05, 20.0


def softmax(logits: ArrayLike, temperature: float = 1.0) -> NDArray[np.float64]:
    """Row-wise softmax of `logits / temperature`."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: ArrayLike, labels: ArrayLike, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of integer `labels` under `softmax(logits / T)`."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    y = np.asarray(labels, dtype=np.int64)
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(y)), y]))


def fit_temperature(logits: ArrayLike, labels: ArrayLike) -> float:
    """The temperature in [0.05, 20] that minimises validation NLL.

    NLL is convex in 1/T, hence unimodal in log T: a golden-section search on log T
    finds the minimum. Returns 1.0 when there are no rows, and when every validation row
    is classified right with a margin (the optimum is then T -> 0: no usable evidence).
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if z.ndim != 2 or len(z) != len(y):
        raise ValueError(f"logits must be (n, k) and labels (n,); got {z.shape} and {y.shape}")
    if len(y) == 0:
        return 1.0
    lo, hi = math.log(_T_MIN), math.log(_T_MAX)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(z, y, math.exp(a)), nll(z, y, math.exp(b))
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(z, y, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(z, y, math.exp(b))
    fitted = math.exp((lo + hi) / 2)
    if fitted < _T_MIN * 1.05:
        # NLL still falling at the lower bound: validation is (almost) perfectly separated,
        # which is no evidence for sharpening; T -> 0 would push every confidence to 1 and
        # make the out-of-scope threshold meaningless. Keep the model's own scale.
        return 1.0
    return float(fitted)


def expected_calibration_error(
    confidences: ArrayLike, is_correct: ArrayLike, bins: int = 10
) -> float:
    """ECE: the bin-size-weighted mean |accuracy - confidence| over equal-width bins."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(is_correct, dtype=bool)
    if len(conf) == 0:
        return 0.0
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.sum() * abs(ok[sel].mean() - conf[sel].mean())
    return float(total / len(conf))


def choose_oos_threshold(
    confidences: ArrayLike,
    is_correct: ArrayLike,
    is_oos: ArrayLike | None = None,
    keep: float = 0.98,
    min_oos_rows: int = 30,
) -> float:
    """The calibrated max-probability below which a turn is rejected as out of scope.

    A row is accepted when `confidence >= threshold`.

    - With out-of-scope rows (`is_oos` has some True): the threshold maximises
      `in-scope accuracy + OOS recall`, where in-scope accuracy counts a row right only
      when its intent is right AND it is accepted. Why this criterion: it weighs the two
      populations equally whatever their sizes (CLINC150 validation has 30 in-scope rows
      per out-of-scope row, so plain accuracy would all but ignore OOS), it needs no
      arbitrary target recall, and it is Youden's J for the accept/reject decision with
      "wrong intent" counted as a miss. Ties go to the lowest threshold (reject less).
    - Without out-of-scope rows: the `1 - keep` quantile of the confidences of correctly
      classified rows, so that `keep` (98%) of them are still accepted and inputs the
      model is unsure about (garbage, other topics) are rejected.

    - With fewer than `min_oos_rows` out-of-scope rows, that maximum is not trusted on its
      own (a handful of OOS rows pull the threshold up to just above their confidences and
      the model then rejects many good in-scope turns): the threshold is capped at the
      no-OOS quantile above, so at least `keep` of the correct in-scope rows stay accepted.

    `is_correct` is read only for in-scope rows. Returns 0.0 (never reject) when there is
    nothing to learn from.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(is_correct, dtype=bool)
    oos = np.zeros(len(conf), dtype=bool) if is_oos is None else np.asarray(is_oos, dtype=bool)
    if not (len(conf) == len(correct) == len(oos)):
        raise ValueError("confidences, is_correct and is_oos must have the same length")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    in_scope = ~oos
    if not oos.any():
        good = conf[in_scope & correct]
        return float(np.quantile(good, 1.0 - keep)) if len(good) else 0.0
    n_in, n_oos = int(in_scope.sum()), int(oos.sum())
    correct_conf = np.sort(conf[in_scope & correct])
    oos_conf = np.sort(conf[oos])
    candidates = np.unique(np.concatenate([[0.0], conf, [np.nextafter(conf.max(), 2.0)]]))
    accepted_right = len(correct_conf) - np.searchsorted(correct_conf, candidates, side="left")
    rejected_oos = np.searchsorted(oos_conf, candidates, side="left")
    in_acc = accepted_right / n_in if n_in else np.zeros(len(candidates))
    score = in_acc + rejected_oos / n_oos
    best = float(candidates[int(np.argmax(score))])
    if n_oos < min_oos_rows and len(correct_conf):
        return min(best, float(np.quantile(correct_conf, 1.0 - keep)))
    return best
