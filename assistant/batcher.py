"""`MicroBatcher`: one model call for the items of many concurrent callers.

Callers (the server's request threads) `submit` one item each and block on its result. A
single worker thread takes the first waiting item, gathers more for up to `window_ms` (or
until `max_size`), calls `run_batch` once with all of them and hands each caller its own
result. Items that arrive while a batch runs wait in the queue and form the next batch, so
under load batches grow by themselves even with a window of 0; with one caller at a time a
window of 0 adds no wait at all.

An exception from `run_batch` fails the callers of that batch only; the worker carries on.
`close()` lets the worker run what is already queued, then stops it; a `submit` after
`close()` raises `BatcherClosed` (as do queued items, should the worker not stop in time).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher was closed before (or while) the item was waiting."""


class _Stop:
    """Queued by `close()` to wake the worker up."""


class MicroBatcher(Generic[T, R]):
    """`MicroBatcher(run_batch, window_ms=1, max_size=32)`; `submit(item)` from any thread.

    `run_batch(items)` must return one result per item, in order.
    """

    def __init__(
        self,
        run_batch: Callable[[list[T]], Sequence[R]],
        *,
        window_ms: float = 1.0,
        max_size: int = 32,
        name: str = "batcher",
    ) -> None:
        if window_ms < 0:
            raise ValueError(f"window_ms must be >= 0, got {window_ms}")
        if max_size < 1:
            raise ValueError(f"max_size must be >= 1, got {max_size}")
        self.run_batch = run_batch
        self.window_s = window_ms / 1000.0
        self.max_size = max_size
        self.name = name
        self.batches = 0  # batches run so far
        self.items = 0  # items answered so far
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | _Stop] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None  # started by the first submit

    @property
    def closed(self) -> bool:
        return self._closed

    def submit_future(self, item: T) -> Future[R]:
        """Queue `item`; its future gets the result (or the batch's exception)."""
        future: Future[R] = Future()
        with self._lock:  # no item slips in behind close()'s stop marker
            if self._closed:
                raise BatcherClosed(f"{self.name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._queue.put((item, future))
        return future

    def submit(self, item: T, timeout: float | None = None) -> R:
        """Queue `item` and wait for its result; raises what the batch raised."""
        return self.submit_future(item).result(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Run what is queued, then stop the worker; later submits raise `BatcherClosed`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_Stop())
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._fail_queued()
        log.info("%s closed after %d batches of %d items", self.name, self.batches, self.items)

    # -- worker ---------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            stop = self._gather(batch)
            self._run(batch)
            if stop:
                return

    def _gather(self, batch: list[tuple[T, Future[R]]]) -> bool:
        """Add queued items until the window closes or the batch is full; True on stop."""
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_size:
            remaining = deadline - time.monotonic()
            try:
                nxt = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return False
            if isinstance(nxt, _Stop):
                return True
            batch.append(nxt)
        return False

    def _run(self, batch: list[tuple[T, Future[R]]]) -> None:
        live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = list(self.run_batch([item for item, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(
                    f"{self.name}: run_batch returned {len(results)} results for {len(live)} items"
                )
        except BaseException as err:  # the callers of this batch get it, the worker goes on
            log.debug("%s: a batch of %d failed: %r", self.name, len(live), err)
            for _, future in live:
                future.set_exception(err)
            return
        self.batches += 1
        self.items += len(live)
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)

    def _fail_queued(self) -> None:
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if not isinstance(entry, _Stop) and entry[1].set_running_or_notify_cancel():
                entry[1].set_exception(BatcherClosed(f"{self.name} closed before the item ran"))
