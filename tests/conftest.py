"""Shared test setup: offline Hugging Face, the tests folder importable (tiny_models)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The repository root first (its packages must win over the same-named test folders),
# the tests folder last (for `tiny_models`).
_TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(_TESTS.parent))
sys.path.append(str(_TESTS))
