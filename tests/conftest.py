"""Shared test setup: offline Hugging Face, the tests folder importable (tiny_models)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The repository root first (its packages must win over the same-named test folders),
# the tests folder last (for `tiny_models`).
_TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(_TESTS.parent))
sys.path.append(str(_TESTS))


def _demo_cache_key() -> str:
    """Demo models are reused while the demo data and the training code are unchanged."""
    h = hashlib.sha256()
    for folder in ("assistant/demo", "intents", "training"):
        for f in sorted((_TESTS.parent / folder).glob("*.*")):
            h.update(f.name.encode() + f.read_bytes())
    h.update((_TESTS.parent / "assistant" / "demo.py").read_bytes())  # how they are trained
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Settings for the real demo: MiniLM classifiers fine-tuned on the demo data by
    `prepare_demo` (cached under var/test-cache between local runs), the packaged encoder,
    a real FAISS index and a fresh SQLite file."""
    from assistant.demo import prepare_demo
    from assistant.settings import Settings
    from assistant.store import Store, init_db, make_engine

    cache = _TESTS.parent / "var" / "test-cache" / f"demo-models-{_demo_cache_key()}"
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("demo"),
        intent_model_path=cache / "intents",
        sentiment_model_path=cache / "sentiment",
    )
    engine = make_engine(settings.db_url)
    init_db(engine)
    prepare_demo(settings, Store(engine))
    engine.dispose()
    return settings
