"""Hot swap: a promoted model replaces the running one under concurrent requests, with no
failed request, and /healthz shows the new version."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.engine import TurnEngine
from assistant.hotswap import ModelWatcher
from assistant.settings import Settings
from intents import TextClassifier
from training.registry import Registry

LABELS = ["order_status", "request_refund", "reset_password"]


def register(registry: Registry, base: Path, seed: int, promote: bool) -> str:
    import torch

    torch.manual_seed(seed)
    staging = registry.staging_dir("intents")
    TextClassifier.create(base, LABELS, "intents").save(staging)
    version = registry.register("intents", staging).version
    if promote:
        registry.promote("intents", version)
    return version


def hammer(client: TestClient, stop: threading.Event, codes: list[int]) -> None:
    while not stop.is_set():
        try:
            codes.append(client.post("/v1/chat", json={"message": "where is my order"}).status_code)
        except Exception:  # a raised error is a failed request too
            codes.append(-1)


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll until `condition` holds (a busy CI machine may be slow, so no fixed sleeps)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_swap_under_concurrent_requests(
    settings: Settings, tiny_engine: TurnEngine, tiny_bert: Path
) -> None:
    registry = Registry(settings.data_dir / "models")
    register(registry, tiny_bert, seed=1, promote=True)
    v2 = register(registry, tiny_bert, seed=2, promote=False)
    v2_sha = registry.get("intents", v2).model_sha
    # four threads hammer on purpose: no rate limit here (tests/assistant/test_ratelimit.py)
    unlimited = settings.model_copy(update={"rate_limit_per_ip_per_min": 0})
    app = create_app(unlimited, engine=tiny_engine)
    with TestClient(app) as client:
        services = app.state.services
        watcher = ModelWatcher(services, interval_s=0.05)
        assert services.versions["intents_release"] == "v1"
        assert watcher.check_once() == []  # nothing changed yet
        stop, codes = threading.Event(), list[int]()
        threads = [threading.Thread(target=hammer, args=(client, stop, codes)) for _ in range(4)]
        for t in threads:
            t.start()
        wait_for(lambda: len(codes) >= 4)  # requests in flight before the swap
        before = len(codes)
        registry.promote("intents", v2)
        assert watcher.check_once() == ["intents"]  # loads beside, then swaps
        wait_for(lambda: len(codes) >= before + 4)  # and after it
        stop.set()
        for t in threads:
            t.join(timeout=30)

        assert codes and all(code == 200 for code in codes), codes
        assert before > 0 and len(codes) > before  # served before and after the swap
        assert tiny_engine.models.intent.version == v2_sha
        health = client.get("/healthz").json()
        assert health["models"]["intents"] == v2_sha
        assert health["models"]["intents_release"] == v2
        assert client.post("/v1/chat", json={"message": "refund please"}).status_code == 200


def test_watcher_thread_started_by_the_app_and_a_broken_model_is_not_swapped_in(
    settings: Settings, tiny_engine: TurnEngine, tiny_bert: Path
) -> None:
    registry = Registry(settings.data_dir / "models")
    register(registry, tiny_bert, seed=1, promote=True)
    v2 = register(registry, tiny_bert, seed=2, promote=False)
    v3 = register(registry, tiny_bert, seed=3, promote=False)
    (registry.path("intents", v3) / "model.safetensors").write_bytes(b"broken")
    settings.model_watch_interval_s = 0.05
    app = create_app(settings, engine=tiny_engine)
    with TestClient(app) as client:
        running = tiny_engine.models.intent
        registry.promote("intents", v3)  # a broken folder: logged, the running model stays
        time.sleep(0.3)
        assert tiny_engine.models.intent is running
        assert client.post("/v1/chat", json={"message": "hello"}).status_code == 200

        registry.promote("intents", v2)
        deadline = time.monotonic() + 10
        while client.get("/healthz").json()["models"].get("intents_release") != v2:
            assert time.monotonic() < deadline, "the watcher did not swap v2 in"
            time.sleep(0.05)
        assert tiny_engine.models.intent.version == registry.get("intents", v2).model_sha
