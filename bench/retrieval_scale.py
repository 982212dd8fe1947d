"""Index scale: build time, memory, single-query latency and recall@10 per FAISS index kind.

Synthetic 384-d unit vectors drawn around random cluster centres (real sentence embeddings are
clustered, and uniform random data flatters nothing but makes ANN look worse than it is).
For each size: flat (exact inner product; also the ground truth), HNSW (M=32) at a few
efSearch values, IVF-Flat at a few nprobe values, and `VectorIndex` (kind="auto") end to end.
Latency is one query at a time, 1000 queries. Appends a section to bench/RESULTS.md.

    .venv/bin/python bench/retrieval_scale.py --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report import append_section  # noqa: E402

import retrieval.index as index_mod  # noqa: E402
from retrieval import VectorIndex  # noqa: E402

log = logging.getLogger("retrieval_scale")
DIM = 384
K = 10
TARGET_P50_MS, TARGET_RECALL = 2.0, 0.95
SEARCH_THREADS = 1


def clustered(n: int, n_clusters: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around `centres` (cosine to their centre ~0.7, like related sentences)."""
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        x = centres[rng.integers(0, n_clusters, m)]
        x = x + rng.standard_normal((m, DIM), dtype=np.float32) * (1.0 / math.sqrt(DIM))
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def index_bytes(index: Any) -> int:
    import faiss

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "i.faiss")
        faiss.write_index(index, path)
        return os.path.getsize(path)


def latencies(
    search_one: Callable[[np.ndarray], np.ndarray], queries: np.ndarray
) -> tuple[float, float, np.ndarray]:
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(SEARCH_THREADS)  # one request = one thread, as under a server
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        labels = search_one(q.reshape(1, -1))
        times.append(time.perf_counter() - t0)
        found.append(labels)
    faiss.omp_set_num_threads(threads)
    ms = np.asarray(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), np.vstack(found)


def searcher(index: Any) -> Callable[[np.ndarray], np.ndarray]:
    """One query -> (1, K) labels, for a raw FAISS index or a VectorIndex."""
    if isinstance(index, VectorIndex):
        return lambda q: np.array([[i for i, _ in index.search(q, K)[0]]], dtype=np.int64)
    return lambda q: index.search(q, K)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", default="16,32,64,128", help="HNSW efSearch values")
    ap.add_argument("--nprobe", default="4,8,16,32", help="IVF nprobe values")
    ap.add_argument("--hnsw-m", type=int, default=index_mod.HNSW_M)
    ap.add_argument("--ef-construction", type=int, default=index_mod.HNSW_EF_CONSTRUCTION)
    ap.add_argument("--threads", type=int, default=0, help="FAISS build threads (0: all cores)")
    ap.add_argument("--search-threads", type=int, default=1, help="FAISS threads while timing")
    ap.add_argument(
        "--no-auto", action="store_true", help="skip the VectorIndex row (a second HNSW build)"
    )
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import faiss

    global SEARCH_THREADS
    SEARCH_THREADS = args.search_threads
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows: list[str] = []
    notes: list[str] = []
    for n in (int(s) for s in args.sizes.split(",")):
        n_clusters = max(50, n // 200)
        centres = rng.standard_normal((n_clusters, DIM), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        xb = clustered(n, n_clusters, rng, centres)
        xq = clustered(args.queries, n_clusters, rng, centres)
        log.info("n=%d: %d clusters, data ready", n, n_clusters)

        def row(
            kind: str,
            param: str,
            build_s: float,
            nbytes: int,
            p50: float,
            p99: float,
            rec: float,
            n: int = n,
        ) -> None:
            ok = "met" if (p50 <= TARGET_P50_MS and rec >= TARGET_RECALL) else "-"
            rows.append(
                f"| {n:,} | {kind} | {param} | {build_s:.1f} | {nbytes / 2**20:.0f} | "
                f"{p50:.3f} | {p99:.3f} | {rec:.3f} | {ok} |"
            )
            log.info(
                "n=%d %s %s: build %.1fs, %.0f MiB, p50 %.3f ms, p99 %.3f ms, recall %.3f",
                n,
                kind,
                param,
                build_s,
                nbytes / 2**20,
                p50,
                p99,
                rec,
            )

        t0 = time.perf_counter()
        flat = faiss.IndexFlatIP(DIM)
        flat.add(xb)
        build = time.perf_counter() - t0
        _, truth = flat.search(xq, K)  # exact ground truth (batched)
        p50, p99, found = latencies(searcher(flat), xq)
        row("flat", "exact", build, index_bytes(flat), p50, p99, recall(found, truth))

        t0 = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(DIM, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = args.ef_construction
        hnsw.add(xb)
        build, nbytes = time.perf_counter() - t0, index_bytes(hnsw)
        for ef in (int(e) for e in args.ef.split(",")):
            hnsw.hnsw.efSearch = ef
            p50, p99, found = latencies(searcher(hnsw), xq)
            row(
                f"hnsw M={args.hnsw_m}",
                f"efSearch={ef}",
                build,
                nbytes,
                p50,
                p99,
                recall(found, truth),
            )
        del hnsw

        nlist = int(4 * math.sqrt(n))
        t0 = time.perf_counter()
        quantizer = faiss.IndexFlatIP(DIM)
        ivf = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(xb[rng.choice(n, min(n, 64 * nlist), replace=False)])
        ivf.add(xb)
        build, nbytes = time.perf_counter() - t0, index_bytes(ivf)
        for nprobe in (int(p) for p in args.nprobe.split(",")):
            ivf.nprobe = nprobe
            p50, p99, found = latencies(searcher(ivf), xq)
            row(
                f"ivf nlist={nlist}",
                f"nprobe={nprobe}",
                build,
                nbytes,
                p50,
                p99,
                recall(found, truth),
            )
        del ivf, quantizer

        # The product path: VectorIndex(kind="auto") with its defaults, ids = positions.
        if args.no_auto:
            notes.append(
                f"n={n:,}: VectorIndex auto row skipped (--no-auto); above the threshold it "
                "is the HNSW index above with the product's efSearch."
            )
            del flat, xb
            continue
        t0 = time.perf_counter()
        vi = VectorIndex(DIM)
        vi.add(np.arange(n), xb)
        build = time.perf_counter() - t0
        p50, p99, found = latencies(searcher(vi), xq)
        row(
            f"VectorIndex auto ({vi.kind})",
            f"ef={vi.ef_search}" if vi.kind == "hnsw" else "exact",
            build,
            index_bytes(vi._index),
            p50,
            p99,
            recall(found, truth),
        )
        del vi, flat, xb

    lines = [
        "| vectors | index | search param | build s | MiB | p50 ms | p99 ms | recall@10 | target |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "",
        f"Target (at 1M): p50 <= {TARGET_P50_MS} ms at recall@10 >= {TARGET_RECALL}; "
        "`met` marks rows that meet it at their size. 384-d clustered unit vectors "
        f"(n/200 clusters), {args.queries} single queries on {args.search_threads} FAISS "
        f"thread(s), build on {args.threads or faiss.omp_get_max_threads()}, HNSW efConstruction "
        f"{args.ef_construction}, VectorIndex threshold {index_mod.HNSW_THRESHOLD:,}.",
        *notes,
    ]
    table = "\n".join(lines)
    print(table)
    append_section("Retrieval scale", " ".join(["python", *sys.argv]), table, path=args.results)


if __name__ == "__main__":
    main()
