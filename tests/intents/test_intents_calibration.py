"""Temperature fitting and the out-of-scope threshold on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from intents import choose_oos_threshold, expected_calibration_error, fit_temperature
from intents.calibration import nll, softmax


def _synthetic_logits(true_temperature: float, n: int = 4000, k: int = 5, seed: int = 0):
    """Labels drawn from softmax(z / T): the NLL-optimal temperature for z is T."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(n, k))
    probs = softmax(z, true_temperature)
    labels = np.array([rng.choice(k, p=p) for p in probs])
    return z, labels


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_generating_temperature(true_t: float) -> None:
    z, y = _synthetic_logits(true_t)
    fitted = fit_temperature(z, y)
    assert fitted == pytest.approx(true_t, rel=0.15)
    assert nll(z, y, fitted) <= nll(z, y, 1.0) + 1e-9


def test_fit_temperature_softens_overconfident_logits() -> None:
    z, y = _synthetic_logits(1.0)
    assert fit_temperature(z * 4, y) == pytest.approx(4.0, rel=0.15)


def test_fit_temperature_edge_cases() -> None:
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0
    separated = np.array([[5.0, 0.0], [0.0, 5.0], [6.0, 1.0]])
    assert fit_temperature(separated, np.array([0, 1, 0])) == 1.0  # no evidence: keep T=1
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((3, 2)), np.zeros(4, dtype=int))


def test_softmax_rows_sum_to_one_and_temperature_keeps_ranking() -> None:
    z = np.array([[1.0, 2.0, 3.0], [100.0, 0.0, -100.0]])
    for t in (0.5, 1.0, 3.0):
        p = softmax(z, t)
        assert np.allclose(p.sum(axis=1), 1.0)
        assert (p.argmax(axis=1) == z.argmax(axis=1)).all()


def test_threshold_with_oos_rows_separates_the_two_populations() -> None:
    # In-scope rows are confident and right; out-of-scope rows are unsure.
    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.3, 0.25, 0.2, 0.4])
    correct = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    is_oos = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    t = choose_oos_threshold(conf, correct, is_oos)
    assert 0.4 < t <= 0.7  # accepts every in-scope row, rejects every oos row
    assert (conf[~is_oos] >= t).all() and (conf[is_oos] < t).all()


def test_threshold_trades_off_overlap_by_the_documented_criterion() -> None:
    # OOS rows trusted (min_oos_rows=1). Overlap: the best sum in-scope accuracy + OOS
    # recall is at 0.6 (1 wrong accept lost is worth less than 2 of 3 oos rejected).
    conf = np.array([0.9, 0.8, 0.7, 0.55, 0.65, 0.5, 0.45])
    correct = np.array([1, 1, 1, 1, 0, 0, 0], dtype=bool)
    is_oos = np.array([0, 0, 0, 0, 1, 1, 1], dtype=bool)
    t = choose_oos_threshold(conf, correct, is_oos, min_oos_rows=1)
    in_acc = ((conf >= t) & correct)[~is_oos].mean()
    oos_recall = (conf < t)[is_oos].mean()
    for other in np.linspace(0, 1, 101):
        other_score = ((conf >= other) & correct)[~is_oos].mean() + (conf < other)[is_oos].mean()
        assert in_acc + oos_recall >= other_score - 1e-12


def test_threshold_without_oos_rows_keeps_98_percent_of_correct_rows() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 1000)
    correct = np.ones(1000, dtype=bool)
    t = choose_oos_threshold(conf, correct)
    assert (conf >= t).mean() == pytest.approx(0.98, abs=0.005)
    assert choose_oos_threshold(conf, np.zeros(1000, dtype=bool)) == 0.0


def test_threshold_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        choose_oos_threshold([0.5, 0.6], [True])
    with pytest.raises(ValueError):
        choose_oos_threshold([0.5], [True], keep=0.0)


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([1.0] * 4, [False] * 4) == pytest.approx(1.0)
    assert expected_calibration_error([], []) == 0.0


def test_few_oos_rows_cannot_push_the_threshold_above_most_correct_rows() -> None:
    # 98 correct in-scope rows spread over 0.5..0.99, 4 OOS rows just under 0.97: the
    # unconstrained optimum (0.97) would reject most good turns; the cap keeps 98% of them.
    conf = np.concatenate([np.linspace(0.5, 0.99, 98), [0.96, 0.965, 0.968, 0.969]])
    correct = np.concatenate([np.ones(98, bool), np.zeros(4, bool)])
    oos = np.concatenate([np.zeros(98, bool), np.ones(4, bool)])
    t = choose_oos_threshold(conf, correct, oos)
    assert t <= np.quantile(conf[:98], 0.02) + 1e-9
    assert choose_oos_threshold(conf, correct, oos, min_oos_rows=1) > 0.96
