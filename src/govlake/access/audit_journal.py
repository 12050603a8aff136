"""The audit journal (审计日志预写): request audit rows written off the shared database's commit path.

Why: every API request appends an audit row. Committing it to the access database (SQLite, one
writer at a time for every worker process of the host) on the request path put that database's
tail into every request's: the lock held by another worker, and above all the WAL checkpoint that
some commit has to run (an fsync of the database file, ms to tens of ms), while the worker's event
loop waited (docs/adr/0008-audit-journal.md).

How: a serving process (the API app's lifespan: `start(store)`) appends each request's audit
record to its own append-only journal file `<work dir>/_platform/audit_journal/<pid>-<id>.jsonl`
(one JSON line, one write(2), before the answer goes out: no record, no answer). A thread
fdatasyncs the file at most FSYNC_S after a record (group commit). Folding: every FOLD_S, the
process that takes `fold.lock` (one at a time per host) reads every journal past its folded
offset, orders the records by time and appends them to the hash chain in one transaction,
together with the journals' new offsets (table journal_folds) and the daily row counts (usage):
exactly once, whichever process folds or crashes when. Readers of the audit (`query_audit`,
`verify_audit`: the CLI, the portal) fold first, so they see every request already answered;
anything reading the table directly sees a request within VISIBLE_WITHIN_S while a server runs.

What a crash can lose: a process killed outright (SIGKILL, OOM) loses nothing answered (the
record is in the file before the answer; the next fold takes it). A power cut or kernel crash can
lose the records of the last FSYNC_S (plus one fdatasync) — the same class as the database's own
`synchronous=NORMAL`. A journal whose owner is gone is deleted once folded (its flock is free).

The daily row cap (usage) counts folded rows plus this process's records not yet folded; another
worker's rows not yet folded are seen within VISIBLE_WITHIN_S, so a consumer reading through
several workers at once can pass its cap by at most what those workers served in that time.

Outside a serving process (CLI, tests without the app's lifespan) nothing is started and records
are appended to the table at once (govlake.access.audit_chain.append_audit).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from govlake.access import audit_chain as chain
from govlake.access.database import AccessStore

FSYNC_S = 0.005              # group commit: a record is on disk at most this (plus one fdatasync) after it is written
FOLD_S = 0.2                 # a serving process tries to fold this often
VISIBLE_WITHIN_S = 1.0       # a request is in the audit table this long after its answer at most (tested)
ROTATE_BYTES = 64 << 20      # a journal past this is closed and a new one begun (the old one folded, then deleted)
YIELD_EVERY = 64             # records folded between two hand-backs of the interpreter to the requests

log = logging.getLogger(__name__)


def journal_dir(store) -> Path:
    return Path(store.path).parent / "audit_journal"


class Journal:
    """This process's journal for one access store: append(), a syncing thread, a folding thread."""

    def __init__(self, store):
        self.store, self.dir = store, journal_dir(store)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.users = 0
        self.stopping = False
        self.dirty = threading.Event()
        self.wake = threading.Event()
        # (file, end offset, consumer, product, day, rows): rows counted against a daily cap, not yet folded
        self.unfolded: list[tuple] = []
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
        data = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self.lock:
            if self.fd is None:
                return False
            os.write(self.fd, data)
            self.size += len(data)
            if usage_rows and row.get("actor") and row.get("product"):
                self.unfolded.append((self.name, self.size, row["actor"], row["product"], row["ts"][:10], usage_rows))
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

    def pending_rows(self, offsets: dict[str, int], consumer: str, product: str, day: str) -> int:
        """This process's rows for (consumer, product, day) not yet in usage, given the folded offsets."""
        with self.lock:
            self.unfolded = [u for u in self.unfolded if u[1] > offsets.get(u[0], 0)]
            return sum(u[5] for u in self.unfolded if u[2] == consumer and u[3] == product and u[4] == day)

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

    def _fold_loop(self) -> None:
        while not self.stopping:
            self.wake.wait(FOLD_S)
            self.wake.clear()
            if self.stopping:
                break
            try:
                fold(self.store, wait=False, yielding=True)
                self._prune()
            except Exception:  # the next round retries: the offsets say what is folded
                log.exception("folding the audit journals failed")

    def _prune(self) -> None:
        """Forget the tally of rows folded (by whichever process), so it stays small without reads."""
        with self.lock:
            names = {u[0] for u in self.unfolded}
        if names:
            fs = _folder(self.store)
            with fs.store.lock:
                offsets = folded_offsets(fs.store.db, names)
            self.pending_rows(offsets, "", "", "")

    def start_threads(self) -> None:
        self.stopping = False
        self.threads = [threading.Thread(target=self._sync_loop, name="govlake-audit-sync", daemon=True),
                        threading.Thread(target=self._fold_loop, name="govlake-audit-fold", daemon=True)]
        for t in self.threads:
            t.start()

    def close(self) -> None:
        self.stopping = True
        self.dirty.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout=30)
        with self.lock:
            if self.fd is not None:
                os.fdatasync(self.fd)
                os.close(self.fd)
                self.fd = None


_journals: dict[str, Journal] = {}
_journals_lock = threading.Lock()


def active(store) -> Journal | None:
    """This process's journal for the store, when a serving process started one."""
    j = _journals.get(str(store.path))
    return j if j is not None and j.fd is not None and j.stopping is False else None


def start(store) -> Journal:
    """Journal the store's request audit rows from now on (the API app's startup; counted, so
    several apps of one process share one journal)."""
    with _journals_lock:
        j = _journals.get(str(store.path))
        if j is None or j.fd is None:
            j = _journals[str(store.path)] = Journal(store)
            j.start_threads()
        j.users += 1
        return j


def stop(store) -> None:
    """The app's shutdown: the last user closes the journal (synced) and folds what is left."""
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
    with _folders_lock:  # the folder's connection goes with the last journal of this store
        fs = _folders.pop(str(store.path), None)
    if fs is not None and fs.pid == os.getpid():
        with fs.store.lock:
            fs.store.close()


def record(store, event: chain.AuditEvent, *, usage_rows: int = 0) -> None:
    """A request's audit row: into this process's journal while serving, else into the table now."""
    j = active(store)
    if j is None:
        chain.append_audit(store, event, usage_rows=usage_rows)
        return
    row = chain.row_of(event)
    row["usage_rows"] = usage_rows
    if not j.append(row, usage_rows):
        chain.append_audit(store, event, usage_rows=usage_rows)


# -- folding ------------------------------------------------------------------------------------
class _Folder:
    """This process's folding state for one access store: its own connection (folding never holds
    the connection, and its lock, the requests read keys, grants and usage through), and the
    journals it deleted whose journal_folds rows go in its next fold's transaction."""

    def __init__(self, store):
        self.pid = os.getpid()
        self.store = AccessStore(Path(store.path), store.settings)
        self.removed: set[str] = set()


_folders: dict[str, _Folder] = {}
_folders_lock = threading.Lock()


def _folder(store) -> _Folder:
    key = str(store.path)
    with _folders_lock:
        fs = _folders.get(key)
        if fs is None or fs.pid != os.getpid():  # a forked child opens its own
            fs = _folders[key] = _Folder(store)
        return fs


def _owner_gone(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def fold(store, *, wait: bool = True, yielding: bool = False) -> int:
    """Append every complete journal record not yet folded to the audit table (one transaction);
    returns how many. wait=False: return 0 when another process is folding."""
    d = journal_dir(store)
    if not d.is_dir():
        return 0
    lock_fd = os.open(d / "fold.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return 0
        fs = _folder(store)
        with fs.store.lock:
            return _fold_locked(fs, d, yielding)
    finally:
        os.close(lock_fd)  # releases the flock


def _fold_locked(fs: _Folder, d: Path, yielding: bool) -> int:
    files = sorted(p for p in d.glob("*.jsonl"))
    if not files:
        return 0
    offsets = folded_offsets(fs.store.db, {p.name for p in files})
    records, ends, done = [], {}, []
    for path in files:
        at = offsets.get(path.name, 0)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size <= at:
            done.append((path, at))
            continue
        with open(path, "rb") as f:
            f.seek(at)
            data = f.read(size - at)
        cut = data.rfind(b"\n") + 1  # complete lines only: a line being written is taken next time
        pos = at
        for line in data[:cut].splitlines(keepends=True):
            pos += len(line)
            try:
                records.append((json.loads(line), path.name, pos))
            except ValueError:  # a torn line (a power cut mid-write): skipped, named in the log
                log.error("audit journal %s: unreadable record ending at %d skipped", path.name, pos)
        ends[path.name] = at + cut
        if cut == len(data):
            done.append((path, at + cut))
    if not records and not ends:
        _remove_dead(fs, done)
        return 0
    records.sort(key=lambda r: (r[0]["ts"], r[1], r[2]))  # time order; one journal's own order kept
    gone = sorted(fs.removed)
    with fs.store.write() as db:
        chain.append_rows(db, [r[0] for r in records], yield_every=YIELD_EVERY if yielding else 0)
        db.executemany("INSERT INTO journal_folds VALUES (?, ?) ON CONFLICT (file) DO UPDATE SET offset = excluded.offset",
                       list(ends.items()))
        # deleted journals: their offsets are never read again (a journal's name is never reused)
        db.executemany("DELETE FROM journal_folds WHERE file = ?", [(n,) for n in gone])
    fs.removed.difference_update(gone)
    _remove_dead(fs, done)
    return len(records)


def _remove_dead(fs: _Folder, done: list[tuple[Path, int]]) -> None:
    """Delete journals folded to their end whose process is gone (its lock free). The size is
    looked at again once the owner is known gone: it may have written more since they were read
    (and then closed), and those records are folded next time, not lost. Their journal_folds rows
    go in the next fold's transaction (a row deleted before its file would fold the file again)."""
    for path, folded in done:
        try:
            if _owner_gone(path) and path.stat().st_size == folded:
                path.unlink()
                fs.removed.add(path.name)
        except FileNotFoundError:
            pass


def folded_offsets(db: sqlite3.Connection, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    q = ",".join("?" * len(names))
    return {r[0]: r[1] for r in db.execute(f"SELECT file, offset FROM journal_folds WHERE file IN ({q})", list(names))}
