"""The audit journal (审计日志预写): request audit rows written off the shared database's commit path.

Why: every API request appends an audit row. Committing it to the access database (SQLite, one
writer at a time for every worker process of the host) on the request path put that database's
tail into every request's: the lock held by another worker, and above all the WAL checkpoint that
some commit has to run (an fsync of the database file, ms to tens of ms), while the worker's event
loop waited (docs/adr/0008-audit-journal.md).

How: a serving process (the API app's lifespan: `start(store)`) appends each request's audit
record to its own append-only journal file `<work dir>/_platform/audit_journal/<pid>-<id>.jsonl`
(one JSON line, one write(2), before the answer goes out: no record, no answer). A thread
fdatasyncs the file at most FSYNC_S after a record (group commit). The host's fold process
(govlake.access.audit_folder, started and, if it dies, replaced by the serving processes) folds
every journal into the hash chain every FOLD_S, exactly once (govlake.access.audit_fold). Readers
of the audit (`query_audit`, `verify_audit`: the CLI, the portal) fold first (`fold_first`: in a
serving process by waking the folder and waiting for it), so they see every request already
answered; anything reading the table directly sees a request within VISIBLE_WITHIN_S while a
server runs.

What a crash can lose: a process killed outright (SIGKILL, OOM) loses nothing answered (the
record is in the file before the answer; the next fold takes it). A power cut or kernel crash can
lose the records of the last FSYNC_S (plus one fdatasync) — the same class as the database's own
`synchronous=NORMAL`. A journal whose owner is gone is deleted once folded (its flock is free).

The daily row cap (`rows_today`) is counted in memory: a snapshot of `usage` and of this
journal's folded offsets, taken together every USAGE_REFRESH_S by the watch thread (at once after
this process appended to usage directly, or on a new day), plus this process's records past those
offsets. This process's own rows are never missed nor counted twice; another worker's rows count
once folded and in a snapshot, so a consumer reading through several workers at once can pass its
cap by at most what those workers served in the last VISIBLE_WITHIN_S.

Outside a serving process (CLI, tests without the app's lifespan) nothing is started and records
are appended to the table at once (govlake.access.audit_chain.append_audit).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field

import msgspec

from govlake.access import audit_chain as chain
from govlake.access import audit_folder
from govlake.access.audit_fold import close_folder, complete_ends, fold, folded_offsets, journal_dir

__all__ = ["FSYNC_S", "FOLD_S", "VISIBLE_WITHIN_S", "Journal", "active", "start", "stop", "record", "fold",
           "fold_first", "journal_dir"]

FSYNC_S = 0.005              # group commit: a record is on disk at most this (plus one fdatasync) after it is written
FOLD_S = 0.2                 # the fold process folds this often
VISIBLE_WITHIN_S = 1.0       # a request is in the audit table this long after its answer at most (tested)
ROTATE_BYTES = 64 << 20      # a journal past this is closed and a new one begun (the old one folded, then deleted)
USAGE_REFRESH_S = 0.2        # the daily-cap snapshot is taken again this often (off the request path)
USAGE_STALE_S = 0.5          # a request older than this takes the snapshot itself (the watch thread lagging)
READER_WAIT_S = 5.0          # a reader waits this long for the folder, then folds itself

log = logging.getLogger(__name__)

# an encoder many times faster than json's, on the request path
_encode = msgspec.json.Encoder().encode


@dataclass
class _Usage:
    """usage for one day and this journal's folded offsets, read in one snapshot."""
    day: str
    rows: dict = field(default_factory=dict)     # (consumer, product) -> rows folded
    generation: int = -1                         # audit_chain.usage_generation when taken
    at: float = 0.0                              # time.monotonic() when taken


class Journal:
    """This process's journal for one access store: append(), a syncing thread, a watch thread
    (the daily-cap snapshot, a live fold process)."""

    def __init__(self, store):
        self.store, self.dir = store, journal_dir(store)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.users = 0
        self.stopping = False
        self.dirty = threading.Event()
        self.wake = threading.Event()
        # (file, end offset, (consumer, product, day), rows): rows counted against a daily cap,
        # past the snapshot's folded offsets
        self.unfolded: list[tuple] = []
        self.pending: dict[tuple, int] = {}
        self.usage: _Usage | None = None
        self.usage_lock = threading.Lock()   # one snapshot at a time, on its own connection
        self.usage_db: sqlite3.Connection | None = None
        self.folders: list = []              # fold processes this process started (subprocess.Popen)
        self.next_start = 0.0
        self.backoff = audit_folder.FOLDER_CHECK_S
        self.fd: int | None = None
        self.name = ""
        self.size = 0
        self._open()
        self.threads: list[threading.Thread] = []

    def _open(self) -> None:
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        fd = os.open(self.dir / self.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held while this process writes it: a free lock means "owner gone"
        self.fd, self.size = fd, 0

    def append(self, row: dict, usage_rows: int) -> bool:
        """False when the journal was closed meanwhile (shutdown): the caller appends directly."""
        data = _encode(row) + b"\n"
        with self.lock:
            if self.fd is None:
                return False
            os.write(self.fd, data)
            self.size += len(data)
            if usage_rows and row.get("actor") and row.get("product"):
                k = (row["actor"], row["product"], row["ts"][:10])
                self.unfolded.append((self.name, self.size, k, usage_rows))
                self.pending[k] = self.pending.get(k, 0) + usage_rows
            if self.size > ROTATE_BYTES:
                os.fdatasync(self.fd)
                os.close(self.fd)  # its lock goes with it: folded, then deleted
                self._open()
        self.dirty.set()
        return True

    def sync(self) -> None:
        with self.lock:
            fd = self.fd
        if fd is not None:
            os.fdatasync(fd)

    # -- the daily cap -----------------------------------------------------------------------------
    def rows_today(self, consumer: str, product: str, day: str) -> int:
        """Rows of (consumer, product) counted against today's cap: folded (the snapshot) plus this
        process's records past the snapshot's offsets."""
        u = self.usage
        if (u is None or u.day != day or u.generation != chain.usage_generation
                or time.monotonic() - u.at > USAGE_STALE_S):
            self.refresh_usage(day)
        while True:
            with self.lock:
                if self.usage.day == day:  # (the watch thread may have taken another day's meanwhile)
                    return self.usage.rows.get((consumer, product), 0) + self.pending.get((consumer, product, day), 0)
            self.refresh_usage(day)

    def refresh_usage(self, day: str | None = None) -> None:
        """Take the snapshot: usage of the day and the folded offsets of this process's journals in
        one read transaction, then keep only the records past those offsets."""
        with self.usage_lock:
            day = day or chain.stamp()[:10]
            with self.lock:
                names = {u[0] for u in self.unfolded}
                current = self.name
            # a journal of this process already deleted was folded to its end before now; its
            # journal_folds row may be gone too (checked before the snapshot: never counted short)
            gone = {n for n in names if n != current and not (self.dir / n).exists()}
            gen = chain.usage_generation  # before the read: a direct append after it is seen next time
            if self.usage_db is None:
                self.usage_db = sqlite3.connect(str(self.store.path), isolation_level=None, check_same_thread=False,
                                                timeout=30)
            db = self.usage_db
            db.execute("BEGIN")
            try:
                rows = {(r[0], r[1]): r[2] for r in db.execute(
                    "SELECT consumer_id, product, rows FROM usage WHERE day = ?", (day,))}
                offsets = folded_offsets(db, names - gone)
            finally:
                db.execute("COMMIT")
            with self.lock:
                self.unfolded = [u for u in self.unfolded
                                 if u[0] not in gone and u[1] > offsets.get(u[0], 0)]
                pending: dict[tuple, int] = {}
                for u in self.unfolded:
                    pending[u[2]] = pending.get(u[2], 0) + u[3]
                self.pending = pending
                self.usage = _Usage(day, rows, gen, time.monotonic())

    # -- threads ---------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self.stopping:
            self.dirty.wait()
            if self.stopping:
                break
            time.sleep(FSYNC_S)  # gather the records of the next few ms into one fdatasync
            self.dirty.clear()
            try:
                self.sync()
            except OSError:
                log.exception("syncing the audit journal failed")

    def _watch_loop(self) -> None:
        checked = 0.0
        while not self.stopping:
            self.wake.wait(USAGE_REFRESH_S)
            if self.stopping:
                break
            try:
                if self.unfolded or self.usage is not None:
                    self.refresh_usage()
                if time.monotonic() - checked >= audit_folder.FOLDER_CHECK_S:
                    checked = time.monotonic()
                    self.keep_folder()
            except Exception:  # the next round retries
                log.exception("the audit journal's watch failed")

    def keep_folder(self, *, wait_ready: bool = False) -> None:
        """Start a fold process when none is alive (a crashed one replaced); reap ours that ended."""
        now = time.monotonic()
        for p in list(self.folders):
            code = p.poll()
            if code is not None:
                self.folders.remove(p)
                audit_folder.stop(p)
                if code not in (0, -15):
                    log.error("the audit fold process %d ended with %s: another is started", p.pid, code)
                    self.next_start = now + self.backoff  # a folder failing at once is not restarted in a loop
                    self.backoff = min(self.backoff * 2, 60.0)
        if now < self.next_start:
            return
        p = audit_folder.start_if_none(self.store, FOLD_S)
        if p is None:
            return
        self.folders.append(p)
        if wait_ready:
            if audit_folder.wait_ready(p):
                self.backoff = audit_folder.FOLDER_CHECK_S
            else:
                log.error("the audit fold process did not start: readers fold themselves meanwhile")

    def start_threads(self) -> None:
        self.stopping = False
        self.threads = [threading.Thread(target=self._sync_loop, name="govlake-audit-sync", daemon=True),
                        threading.Thread(target=self._watch_loop, name="govlake-audit-watch", daemon=True)]
        for t in self.threads:
            t.start()

    def close(self) -> None:
        self.stopping = True
        self.dirty.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout=30)
        for p in self.folders:
            audit_folder.stop(p)
        self.folders = []
        with self.lock:
            if self.fd is not None:
                os.fdatasync(self.fd)
                os.close(self.fd)
                self.fd = None
        with self.usage_lock:
            if self.usage_db is not None:
                self.usage_db.close()
                self.usage_db = None


_journals: dict[str, Journal] = {}
_journals_lock = threading.Lock()


def active(store) -> Journal | None:
    """This process's journal for the store, when a serving process started one."""
    j = _journals.get(str(store.path))
    return j if j is not None and j.fd is not None and j.stopping is False else None


def start(store) -> Journal:
    """Journal the store's request audit rows from now on (the API app's startup; counted, so
    several apps of one process share one journal). The first start in a host also starts the
    fold process and waits until it runs."""
    with _journals_lock:
        j = _journals.get(str(store.path))
        if j is None or j.fd is None:
            j = _journals[str(store.path)] = Journal(store)
            j.keep_folder(wait_ready=True)
            j.start_threads()
        j.users += 1
        return j


def stop(store) -> None:
    """The app's shutdown: the last user closes the journal (synced), stops the fold process it
    started (another serving process starts the next) and folds what is left."""
    with _journals_lock:
        j = _journals.get(str(store.path))
        if j is None:
            return
        j.users -= 1
        if j.users > 0:
            return
        del _journals[str(store.path)]
    j.close()
    fold(store)
    close_folder(store)


def record(store, event: chain.AuditEvent, *, usage_rows: int = 0) -> None:
    """A request's audit row: into this process's journal while serving, else into the table now."""
    j = active(store)
    if j is None:
        chain.append_audit(store, event, usage_rows=usage_rows)
        return
    row = chain.raw_row(event)  # filters and columns made stored text by the folder (audit_chain.normalise)
    row["usage_rows"] = usage_rows
    if not j.append(row, usage_rows):
        chain.append_audit(store, event, usage_rows=usage_rows)


def fold_first(store) -> None:
    """Before reading the audit: every request already answered folded into the table. In a
    serving process the fold process does it (woken at once; this waits for its offsets to pass
    every journal's end of now); elsewhere, or when no folder answers, this process folds."""
    j = active(store)
    d = journal_dir(store)
    if j is None or not d.is_dir() or not audit_folder.alive(d) or not audit_folder.poke(store):
        fold(store)
        return
    ends = complete_ends(d)
    deadline = time.monotonic() + READER_WAIT_S
    db = sqlite3.connect(str(store.path), isolation_level=None, timeout=30)
    try:
        while True:
            offsets = folded_offsets(db, set(ends))
            if all(offsets.get(n, 0) >= end or not (d / n).exists() for n, end in ends.items()):
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
    finally:
        db.close()
    fold(store)
