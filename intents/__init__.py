"""Text classifiers (intent, sentiment) on a BERT-family backbone, and entity extraction."""

from .calibration import choose_oos_threshold, expected_calibration_error, fit_temperature
from .classifier import TextClassifier
from .entities import Entity, extract_entities, slots_from_entities
from .errors import ModelLoadError
from .prediction import OUT_OF_SCOPE, TASKS, Prediction

__all__ = [
    "OUT_OF_SCOPE",
    "TASKS",
    "Entity",
    "ModelLoadError",
    "Prediction",
    "TextClassifier",
    "choose_oos_threshold",
    "expected_calibration_error",
    "extract_entities",
    "fit_temperature",
    "slots_from_entities",
]
