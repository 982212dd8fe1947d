from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import retrieval.index as index_mod
from retrieval import IndexCorruptError, IndexMismatchError, VectorIndex

DIM = 16


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(q: np.ndarray, ids: np.ndarray, x: np.ndarray, k: int) -> list[list[int]]:
    s = q @ x.T
    return [[int(ids[j]) for j in np.argsort(-row, kind="stable")[:k]] for row in s]


@pytest.fixture()
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.choice(10**12, size=400, replace=False).astype(np.int64)
    return ids, unit(rng, 400), unit(rng, 20)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_matches_brute_force(kind: str, data: tuple) -> None:
    ids, x, q = data
    vi = VectorIndex(DIM, kind=kind)
    vi.add(ids, x)
    assert len(vi) == 400 and vi.kind == kind and vi.ids() == sorted(ids.tolist())
    got = vi.search(q, 10)
    want = brute(q, ids, x, 10)
    for g, w, qv in zip(got, want, q, strict=True):
        assert [i for i, _ in g] == w
        assert all(g[i][1] >= g[i + 1][1] for i in range(len(g) - 1))
        slot = {int(v): j for j, v in enumerate(ids)}
        np.testing.assert_allclose([s for _, s in g], [x[slot[i]] @ qv for i in w], atol=1e-5)


def test_add_remove_update_by_id(data: tuple) -> None:
    ids, x, q = data
    vi = VectorIndex(DIM, kind="flat")
    vi.add(ids[:10], x[:10])
    with pytest.raises(ValueError, match="already"):
        vi.add(ids[:1], x[:1])
    with pytest.raises(ValueError, match="shape"):
        vi.add([1], np.zeros((1, DIM + 1), np.float32))
    assert vi.remove([int(ids[0]), 123]) == 1  # unknown ids are ignored
    assert int(ids[0]) not in vi and len(vi) == 9
    assert all(i != ids[0] for i, _ in vi.search(x[0], 10)[0])
    # update: id 1 now holds the vector of query 0, so query 0 finds it first with score 1
    vi.update([int(ids[1])], q[:1])
    top_id, top_score = vi.search(q[0], 1)[0][0]
    assert top_id == ids[1] and top_score == pytest.approx(1.0, abs=1e-5)
    vi.update([77], q[1:2])  # update of a new id adds it
    assert 77 in vi and len(vi) == 10


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_removal_compacts_and_stays_correct(kind: str, data: tuple) -> None:
    ids, x, q = data
    vi = VectorIndex(DIM, kind=kind)
    vi.add(ids, x)
    gone = ids[::2]
    vi.remove(gone[:50])
    assert vi._dead == 50  # tombstones, no rebuild yet
    vi.remove(gone[50:])
    assert vi._dead == 0 and len(vi) == 200  # compacted past 20% dead
    assert [[i for i, _ in r] for r in vi.search(q, 5)] == brute(q, ids[1::2], x[1::2], 5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("exact_filter_max", [0, 10_000])
def test_allowed_ids_restricts_search(
    kind: str, exact_filter_max: int, data: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_mod, "EXACT_FILTER_MAX", exact_filter_max)
    ids, x, q = data
    vi = VectorIndex(DIM, kind=kind)
    vi.add(ids, x)
    vi.remove(ids[:5])  # a tombstone inside the allowed set must stay out
    allowed = set(ids[:60].tolist()) | {42}  # unknown ids are ignored
    got = vi.search(q, 5, allowed_ids=allowed)
    want = brute(q, ids[5:60], x[5:60], 5)
    assert [[i for i, _ in r] for r in got] == want
    assert vi.search(q[:1], 5, allowed_ids=set()) == [[]]
    assert len(vi.search(q[:1], 50, allowed_ids={int(ids[7]), int(ids[8])})[0]) == 2


def test_auto_kind_switches_to_hnsw_past_threshold(data: tuple) -> None:
    ids, x, q = data
    vi = VectorIndex(DIM, hnsw_threshold=100)
    vi.add(ids[:100], x[:100])
    assert vi.kind == "flat"
    vi.add(ids[100:], x[100:])
    assert vi.kind == "hnsw" and len(vi) == 400
    got = [r[0][0] for r in vi.search(q, 1)]
    assert got == [r[0] for r in brute(q, ids, x, 1)]


def test_empty_index_and_large_k(data: tuple) -> None:
    ids, x, q = data
    vi = VectorIndex(DIM)
    assert vi.search(q[:2], 5) == [[], []]
    vi.add(ids[:3], x[:3])
    assert len(vi.search(q[0], 10)[0]) == 3
    assert vi.search(q[0], 0) == [[]]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_save_load_round_trip(kind: str, data: tuple, tmp_path: Path) -> None:
    ids, x, q = data
    vi = VectorIndex(DIM, kind=kind)
    vi.add(ids, x)
    vi.remove(ids[:3])  # saved with tombstones
    vi.save(tmp_path / "idx", "enc-a")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["encoder"] == "enc-a" and manifest["dim"] == DIM
    assert manifest["count"] == 397 and manifest["kind"] == kind
    assert manifest["format_version"] == 1 and len(manifest["sha256"]) == 64
    assert "created_at" in manifest
    assert not list((tmp_path / "idx").glob("*.tmp"))
    loaded = VectorIndex.load(tmp_path / "idx", "enc-a", DIM)
    assert loaded.kind == kind and loaded.ids() == vi.ids()
    assert loaded.search(q, 5) == vi.search(q, 5)
    loaded.add([5], x[:1])  # still mutable
    assert 5 in loaded


def test_load_refuses_foreign_encoder_or_dimension(data: tuple, tmp_path: Path) -> None:
    ids, x, _ = data
    vi = VectorIndex(DIM)
    vi.add(ids, x)
    vi.save(tmp_path, "enc-a")
    with pytest.raises(IndexMismatchError, match=r"enc-a.*enc-b") as err:
        VectorIndex.load(tmp_path, "enc-b", DIM)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(IndexMismatchError, match="16-d"):
        VectorIndex.load(tmp_path, "enc-a", 32)


def test_load_refuses_corrupt_or_missing_files(data: tuple, tmp_path: Path) -> None:
    ids, x, _ = data
    vi = VectorIndex(DIM)
    vi.add(ids, x)
    vi.save(tmp_path, "enc")
    blob = bytearray((tmp_path / "index.faiss").read_bytes())
    for pos in (100, len(blob) // 2):
        blob[pos] ^= 0xFF
    (tmp_path / "index.faiss").write_bytes(bytes(blob))
    with pytest.raises(IndexCorruptError, match="checksum of index.faiss") as err:
        VectorIndex.load(tmp_path, "enc", DIM)
    assert str(tmp_path) in str(err.value)

    vi.save(tmp_path, "enc")
    (tmp_path / "ids.npy").unlink()
    with pytest.raises(IndexCorruptError, match="ids.npy is missing"):
        VectorIndex.load(tmp_path, "enc", DIM)

    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="unreadable manifest.json"):
        VectorIndex.load(tmp_path, "enc", DIM)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(IndexCorruptError, match="manifest.json is missing"):
        VectorIndex.load(tmp_path, "enc", DIM)
    with pytest.raises(IndexCorruptError, match="missing"):
        VectorIndex.load(tmp_path / "never-saved", "enc", DIM)


def test_unreadable_index_with_matching_checksum_is_corrupt(data: tuple, tmp_path: Path) -> None:
    ids, x, _ = data
    vi = VectorIndex(DIM)
    vi.add(ids, x)
    vi.save(tmp_path, "enc")
    (tmp_path / "index.faiss").write_bytes(b"garbage")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["sha256"] = index_mod._sha256(tmp_path / "index.faiss")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="cannot read index"):
        VectorIndex.load(tmp_path, "enc", DIM)


@pytest.mark.gpu
def test_flat_index_on_gpu_matches_cpu(data: tuple) -> None:
    if not index_mod.gpu_available():
        pytest.skip("no CUDA GPU with faiss GPU support")
    ids, x, q = data
    cpu, gpu = VectorIndex(DIM, kind="flat", use_gpu=False), VectorIndex(DIM, kind="flat")
    cpu.add(ids, x)
    gpu.add(ids, x)
    assert gpu.use_gpu
    assert [[i for i, _ in r] for r in gpu.search(q, 5)] == [
        [i for i, _ in r] for r in cpu.search(q, 5)
    ]
