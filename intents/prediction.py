"""What a classifier answers for one text."""

from __future__ import annotations

from dataclasses import dataclass

OUT_OF_SCOPE = "out_of_scope"
TASKS = ("intents", "sentiment")


@dataclass(frozen=True)
class Prediction:
    """One text's result.

    `label`: the top label, or `OUT_OF_SCOPE` when rejected. `confidence`: the calibrated
    probability of the top in-scope label (filled even when rejected). `top`: the top-k
    in-scope labels with calibrated probabilities, best first. `out_of_scope`: rejected.
    """

    label: str
    confidence: float
    top: list[tuple[str, float]]
    out_of_scope: bool
