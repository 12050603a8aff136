"""Folding the audit journals into the hash chain (审计日志归并), exactly once.

Whoever holds `fold.lock` (flock, one at a time per host) reads every journal past its folded
offset (complete lines only), orders the records by time (one journal's own order kept) and, in
one SQLite transaction on a connection of its own, appends them to the chain, adds their rows to
`usage` and moves each journal's offset (`journal_folds`). Offsets and rows move together, so each
record is folded exactly once whoever folds and whatever crashes. A journal folded to its end
whose owner is gone (its flock free) is deleted.

Who folds: the fold process of the host's API (govlake.access.audit_folder), so no serving
worker's interpreter does; a reader outside a serving process (the CLI) before it reads; a
serving process once more when it stops (what its last requests wrote).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path

from govlake.access import audit_chain as chain
from govlake.access.database import AccessStore

log = logging.getLogger(__name__)


def journal_dir(store) -> Path:
    return Path(store.path).parent / "audit_journal"


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


def close_folder(store) -> None:
    """Close this process's folding connection for the store (a serving process that stops)."""
    with _folders_lock:
        fs = _folders.pop(str(store.path), None)
    if fs is not None and fs.pid == os.getpid():
        with fs.store.lock:
            fs.store.close()


def lock_held(path: Path) -> bool:
    """Whether a process holds the flock of `path` (a journal's writer, the fold process); a
    missing file has no holder."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def fold(store, *, wait: bool = True) -> int:
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
            return _fold_locked(fs, d)
    finally:
        os.close(lock_fd)  # releases the flock


def _fold_locked(fs: _Folder, d: Path) -> int:
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
                records.append((chain.normalise(json.loads(line)), path.name, pos))
            except (ValueError, KeyError, TypeError):  # a torn line (a power cut mid-write): skipped, named in the log
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
        chain.append_rows(db, [r[0] for r in records])
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
            if not lock_held(path) and path.stat().st_size == folded:
                path.unlink()
                fs.removed.add(path.name)
        except FileNotFoundError:
            pass


def folded_offsets(db: sqlite3.Connection, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    q = ",".join("?" * len(names))
    return {r[0]: r[1] for r in db.execute(f"SELECT file, offset FROM journal_folds WHERE file IN ({q})", list(names))}


def complete_ends(d: Path) -> dict[str, int]:
    """Each journal's end now, complete lines only (a torn last line is never folded)."""
    out = {}
    for path in d.glob("*.jsonl"):
        try:
            with open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size:
                    f.seek(max(0, size - 65536))
                    tail = f.read()
                    size = size - len(tail) + tail.rfind(b"\n") + 1
        except FileNotFoundError:
            continue
        out[path.name] = size
    return out
