"""OpenLineage reader runs (`api.<consumer>`, `portal.<consumer>`, `sql.<consumer>`): one per read,
input = the product with its version and rows, so `govlake lineage PRODUCT --downstream` lists
who used it (谁使用了数据).

Building and writing an event costs more than the rest of a keyed read, so a serving process
writes them off the request path: `submit` queues the run (its time taken then), a background
thread writes the queue every FLUSH_S, and `stop` (the API app's shutdown) writes what is left
before the process ends; an interpreter exit also flushes (atexit). Nothing is dropped; a process
killed outright (SIGKILL, power) loses at most the last FLUSH_S of reader runs, never an audit
row (those are written before the answer). Outside a serving process (the CLI, tests without the
app's lifespan) nothing is started and `submit` writes at once.
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
import time

from govlake.lineage.emitter import DatasetRef, JobRun

FLUSH_S = 0.5
MAX_QUEUE = 50_000          # past this, submit writes in the caller (back-pressure, nothing dropped)


class _ReaderRun(JobRun):
    """A reader run whose event carries the time of the read, not of the write."""

    def __init__(self, *args, at: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.at = at

    def _event(self, state, error=None):
        event = super()._event(state, error)
        event.eventTime = self.at
        return event


def write_run(job: str, product: str, version: int | None, rows: int, settings, at: str | None = None) -> None:
    run = _ReaderRun(job, settings, job_type="STREAMING", integration="API",
                     at=at or dt.datetime.now(dt.UTC).isoformat())
    run.add_input(DatasetRef(product, version=version, rows=rows))
    run.complete()


class _Writer:
    def __init__(self):
        self.queue: list[tuple] = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.users = 0
        self.thread: threading.Thread | None = None
        self.stopping = False

    def flush(self, yielding: bool = False) -> int:
        with self.lock:
            batch, self.queue = self.queue, []
        for item in batch:
            write_run(*item)
            if yielding:
                # hand the interpreter back between runs: a request waiting for it is not kept for
                # a whole switch interval (5 ms) while the batch is written
                time.sleep(0)
        return len(batch)

    def _loop(self) -> None:
        while not self.stopping:
            self.wake.wait(FLUSH_S)
            self.wake.clear()
            try:
                self.flush(yielding=True)
            except Exception:  # a transport error must not end the thread: the next flush retries new runs
                import logging

                logging.getLogger(__name__).exception("writing reader runs failed")


_writer = _Writer()


def start() -> None:
    """Write reader runs in the background from now on (the API app's startup; counted, so
    several apps in one process share one thread)."""
    with _writer.lock:
        _writer.users += 1
        if _writer.thread is None or not _writer.thread.is_alive():
            _writer.stopping = False
            _writer.thread = threading.Thread(target=_writer._loop, name="govlake-read-runs", daemon=True)
            _writer.thread.start()


def stop() -> None:
    """The app's shutdown: the last user stops the thread; every queued run is written."""
    with _writer.lock:
        _writer.users = max(0, _writer.users - 1)
        last = _writer.users == 0
        thread = _writer.thread
    if last and thread is not None:
        _writer.stopping = True
        _writer.wake.set()
        thread.join(timeout=30)
        _writer.thread = None
    flush()


def flush() -> int:
    """Write every queued run now (the number written)."""
    return _writer.flush()


def pending() -> int:
    return len(_writer.queue)


def submit(job: str, product: str, version: int | None, rows: int, settings) -> None:
    item = (job, product, version, rows, settings, dt.datetime.now(dt.UTC).isoformat())
    running = _writer.thread is not None and not _writer.stopping
    if running and len(_writer.queue) < MAX_QUEUE:
        with _writer.lock:
            _writer.queue.append(item)
        return
    write_run(*item)


atexit.register(flush)
