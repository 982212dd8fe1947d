"""`MicroBatcher` with a recording fake model (a plain function: the model call is the
boundary here), then `analyse_batch` and a batching `TurnEngine` on real tiny models."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from assistant.batcher import BatcherClosed, MicroBatcher
from assistant.engine import Models, TurnEngine, analyse, analyse_batch


class RecordingModel:
    """Answers `f"{name}:{item}"` per item and records the size of every call."""

    def __init__(self, name: str = "m", delay: threading.Event | None = None) -> None:
        self.name = name
        self.sizes: list[int] = []
        self.seen: list[list[str]] = []
        self.started = threading.Event()
        self.release = delay

    def __call__(self, items: list[str]) -> list[str]:
        self.sizes.append(len(items))
        self.seen.append(list(items))
        self.started.set()
        if self.release is not None:
            assert self.release.wait(10), "test never released the model"
        if any(i.startswith("bad") for i in items):
            raise ValueError(f"cannot handle {items}")
        return [f"{self.name}:{i}" for i in items]


def test_concurrent_callers_share_batches_and_get_their_own_results() -> None:
    gate = threading.Event()
    model = RecordingModel(delay=gate)
    batcher = MicroBatcher(model, window_ms=0, max_size=64)
    first = batcher.submit_future("warm")
    assert model.started.wait(5)  # the worker is busy with "warm": the next callers queue
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(batcher.submit, f"text-{n}", 10) for n in range(16)]
        while batcher._queue.qsize() < 16:  # all 16 callers are waiting
            threading.Event().wait(0.001)
        gate.set()
        results = [f.result(10) for f in futures]
    assert first.result(5) == "m:warm"
    assert results == [f"m:text-{n}" for n in range(16)]
    assert model.sizes == [1, 16]  # the 16 waiting callers ran as one forward pass
    assert (batcher.batches, batcher.items) == (2, 17)
    batcher.close()


def test_window_gathers_items_and_max_size_splits_batches() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, window_ms=300, max_size=4)
    futures = [batcher.submit_future(str(n)) for n in range(10)]
    assert [f.result(10) for f in futures] == [f"m:{n}" for n in range(10)]
    assert model.sizes == [4, 4, 2]
    assert model.seen[0] == ["0", "1", "2", "3"]
    batcher.close()


def test_sequential_callers_with_no_window_run_alone() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, window_ms=0, max_size=32)
    assert [batcher.submit(str(n), 10) for n in range(5)] == [f"m:{n}" for n in range(5)]
    assert model.sizes == [1] * 5
    batcher.close()


def test_an_error_fails_only_the_callers_of_that_batch() -> None:
    model = RecordingModel()
    batcher = MicroBatcher(model, window_ms=300, max_size=2)
    a, bad, c, d = (batcher.submit_future(x) for x in ("a", "bad", "c", "d"))
    for f in (a, bad):
        with pytest.raises(ValueError, match="cannot handle"):
            f.result(10)
    assert (c.result(10), d.result(10)) == ("m:c", "m:d")
    assert batcher.submit("e", 10) == "m:e"  # the worker carried on
    assert model.seen == [["a", "bad"], ["c", "d"], ["e"]]
    batcher.close()


def test_a_wrong_number_of_results_is_an_error_not_a_mix_up() -> None:
    batcher: MicroBatcher[str, str] = MicroBatcher(lambda items: ["only one"], window_ms=300)
    futures = [batcher.submit_future(x) for x in ("a", "b")]
    for f in futures:
        with pytest.raises(RuntimeError, match="returned 1 results for 2 items"):
            f.result(10)
    batcher.close()


def test_close_runs_what_is_queued_then_refuses_new_items() -> None:
    gate = threading.Event()
    model = RecordingModel(delay=gate)
    batcher = MicroBatcher(model, window_ms=0, max_size=8)
    running = batcher.submit_future("running")
    assert model.started.wait(5)
    queued = [batcher.submit_future(f"q{n}") for n in range(3)]
    closer = threading.Thread(target=batcher.close)
    closer.start()
    while not batcher.closed:
        threading.Event().wait(0.001)
    with pytest.raises(BatcherClosed):
        batcher.submit("late")
    gate.set()
    closer.join(10)
    assert not closer.is_alive()
    assert running.result(5) == "m:running"
    assert [f.result(5) for f in queued] == ["m:q0", "m:q1", "m:q2"]
    assert batcher._thread is not None and not batcher._thread.is_alive()
    batcher.close()  # a second close is harmless


def test_items_left_when_the_worker_does_not_stop_in_time_fail() -> None:
    gate = threading.Event()
    model = RecordingModel(delay=gate)
    batcher = MicroBatcher(model, window_ms=0, max_size=1)
    stuck = batcher.submit_future("stuck")
    assert model.started.wait(5)
    queued = batcher.submit_future("queued")
    batcher.close(timeout=0.05)  # the worker is still in the first batch
    with pytest.raises(BatcherClosed):
        queued.result(5)
    gate.set()
    assert stuck.result(5) == "m:stuck"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="window_ms"):
        MicroBatcher(RecordingModel(), window_ms=-1)
    with pytest.raises(ValueError, match="max_size"):
        MicroBatcher(RecordingModel(), max_size=0)


# -- analyse_batch: one consistent model set per forward pass --------------------------


@dataclass
class FakePrediction:
    label: str
    confidence: float
    top: list[tuple[str, float]]


class FakeClassifier:
    """Labels each text `{name}:{text}` and records each call's texts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.version = name
        self.calls: list[list[str]] = []

    def predict(self, texts: Sequence[str], top_k: int = 3) -> list[FakePrediction]:
        self.calls.append(list(texts))
        return [FakePrediction(f"{self.name}:{t}", 0.9, [(f"{self.name}:{t}", 0.9)]) for t in texts]


class FakeKnowledge:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[list[str]] = []

    def __len__(self) -> int:
        return 0

    def encode_queries(self, queries: Sequence[str]) -> list[str]:
        self.calls.append(list(queries))
        return [f"{self.name}-vec:{q}" for q in queries]

    def search(self, query: str, k: int = 5, intent: str | None = None, query_vector=None):  # type: ignore[no-untyped-def]
        return []


def fake_models(name: str) -> Models:
    return Models(
        intent=FakeClassifier(f"{name}-intent"),
        sentiment=FakeClassifier(f"{name}-sentiment"),
        knowledge=FakeKnowledge(name),
    )


def test_a_batch_straddling_a_hot_swap_runs_each_model_set_on_its_own_turns() -> None:
    old, new = fake_models("old"), fake_models("new")
    items = [(old, "a", "qa"), (new, "b", "qb"), (old, "c", "qc"), (new, "d", "qd")]
    out = analyse_batch(items)
    assert [a.intent.label for a in out] == ["old-intent:a", "new-intent:b"] + [
        "old-intent:c",
        "new-intent:d",
    ]
    assert [a.sentiment.label for a in out] == [
        "old-sentiment:a",
        "new-sentiment:b",
        "old-sentiment:c",
        "new-sentiment:d",
    ]
    assert [a.query_vector for a in out] == ["old-vec:qa", "new-vec:qb", "old-vec:qc", "new-vec:qd"]
    # one call per model set, each with only its own turns
    assert old.intent.calls == [["a", "c"]] and new.intent.calls == [["b", "d"]]  # type: ignore[attr-defined]
    assert old.knowledge.calls == [["qa", "qc"]]  # type: ignore[attr-defined]


# -- a batching engine on real tiny models ---------------------------------------------

MESSAGES = [
    "where is my order 48213",
    "hi there",
    "can I return a lamp",
    "my card was charged twice",
    "I forgot my password",
    "let me talk to a real person",
    "thanks bye",
    "the mug arrived broken",
]


def test_batched_analysis_equals_one_turn_at_a_time(tiny_models: Models) -> None:
    alone = [analyse(tiny_models, [m], [m])[0] for m in MESSAGES]
    together = analyse_batch([(tiny_models, m, m) for m in MESSAGES])
    for a, b in zip(alone, together, strict=True):
        assert a.intent.label == b.intent.label
        assert a.intent.confidence == pytest.approx(b.intent.confidence, abs=1e-5)
        assert a.sentiment.label == b.sentiment.label
        assert a.query_vector == pytest.approx(b.query_vector, abs=1e-5)


def test_concurrent_turns_through_a_batching_engine(tiny_engine: TurnEngine) -> None:
    expected = {m: analyse(tiny_engine.models, [m], [m])[0].intent.label for m in MESSAGES}
    batcher = MicroBatcher(analyse_batch, window_ms=5, max_size=32)
    tiny_engine.batcher = batcher
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda m: tiny_engine.handle(None, m), MESSAGES * 3))
    assert [r.intent for r in results] == [expected[m] for m in MESSAGES * 3]
    assert len({r.conversation_id for r in results}) == len(results)  # stored, each its own
    assert batcher.items == len(results)
    assert batcher.batches < len(results)  # some turns shared a forward pass
    tiny_engine.close()
    with pytest.raises(BatcherClosed):
        tiny_engine.handle(None, "hello")


def test_hot_swap_during_batched_turns(tiny_engine: TurnEngine, tiny_models: Models) -> None:
    swapped = Models(
        intent=FakeClassifier("swapped"),
        sentiment=tiny_models.sentiment,
        knowledge=tiny_models.knowledge,
    )
    tiny_engine.batcher = MicroBatcher(analyse_batch, window_ms=5, max_size=32)
    done = threading.Event()

    def swap_back_and_forth() -> None:
        while not done.is_set():
            tiny_engine.models = swapped if tiny_engine.models is tiny_models else tiny_models
            threading.Event().wait(0.002)

    swapper = threading.Thread(target=swap_back_and_forth)
    swapper.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda m: tiny_engine.handle(None, m), MESSAGES * 4))
    finally:
        done.set()
        swapper.join()
        tiny_engine.close()
    tiny_labels = set(tiny_models.intent.labels)  # type: ignore[attr-defined]
    for m, r in zip(MESSAGES * 4, results, strict=True):
        # each turn ran on one model set: the fake's label names its own message
        assert r.intent in tiny_labels or r.intent == f"swapped:{m}", (m, r.intent)
