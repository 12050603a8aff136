"""One run at a time per lake (运行锁): `govlake run` and each Airflow step take an exclusive,
non-blocking flock on <lake_root>/_govlake.lock, which holds JSON naming the holder (pid, host,
started, load date, steps). A second run waits up to `run_lock_wait_seconds`, then stops with
RunLockBusy (a click exception: a clear message and exit code 1, no traceback).

flock belongs to an open file description, so a second open in the same process would conflict
with the first: the lock is re-entrant per process instead (run_pipeline holds it, run_step inside
it only counts). The kernel drops the lock when the holder dies, so there is no stale lock to
clean; the file itself stays (deleting it would let two runs lock two different inodes).

With an object-store lake (s3a://...) the lock file is local (in Settings.work_dir, the process-local
files' folder, named after the lake URI): it keeps runs that share that folder apart (one machine),
not runs on several. For runs on several machines, `run_lock_url` (GOVLAKE_RUN_LOCK_URL, a PostgreSQL
URL: the scale-out deployment's database) makes the lock a PostgreSQL session advisory lock keyed by
the lake's URI: held by the run's connection, so it too goes with its holder (a dead process's
connection ends), and its holder record is a row of `govlake_run_locks`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import click

from govlake.settings import Settings

LOCK_NAME = "_govlake.lock"
POLL_SECONDS = 0.2

_held: dict[str, dict] = {}  # lock (its `where`) -> {"count", "pid", "holder"}
_guard = threading.Lock()


class RunLockBusy(click.ClickException):
    """Another process holds the lake's run lock."""

    def __init__(self, holder: dict | None, where: str, waited: float = 0.0):
        self.holder, self.where, self.waited = holder, where, waited
        super().__init__(_busy_message(holder, where, waited))


def lock_path(settings: Settings) -> Path:
    """flock needs a local file: <lake_root>/_govlake.lock for a local lake; for a lake in the
    bucket, in the local work dir (Settings.work_dir), named after the lake's URI. So runs that
    share a lake in the bucket exclude each other only when they share that work dir: on a
    cluster, the one machine of the LocalExecutor's task processes (docs/scale-out.md)."""
    root = str(settings.lake_root)
    if not settings.lake_is_local:
        digest = hashlib.sha256(root.encode()).hexdigest()[:16]
        return settings.local_dir / f"govlake-{digest}{LOCK_NAME}"
    return Path(root) / LOCK_NAME


def _pg_dsn(url: str) -> str:
    # the deployment names its database as SQLAlchemy does (postgresql+psycopg2://); libpq wants postgresql://
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def pg_key(settings: Settings) -> int:
    """The advisory lock's key: a signed 64-bit number from the lake's URI."""
    return int.from_bytes(hashlib.sha256(str(settings.lake_root).encode()).digest()[:8], "big", signed=True)


class _PgLock:
    """The run lock as a PostgreSQL session advisory lock (pg_try_advisory_lock), with the holder's
    record in govlake_run_locks; the connection stays open while the lock is held."""

    def __init__(self, settings: Settings):
        self.dsn, self.key, self.lake = _pg_dsn(settings.run_lock_url), pg_key(settings), str(settings.lake_root)
        self.where = f"PostgreSQL advisory lock {self.key} at {re.sub(r'//[^@/]*@', '//', self.dsn)}"
        self.conn = None

    def _connect(self):
        import psycopg2

        conn = psycopg2.connect(self.dsn, connect_timeout=10, application_name="govlake run lock")
        conn.set_session(autocommit=True)
        return conn

    def try_acquire(self) -> bool:
        conn = self._connect()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            if cur.fetchone()[0]:
                self.conn = conn
                return True
        conn.close()
        return False

    def write_holder(self, holder: dict) -> None:
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS govlake_run_locks (lake text PRIMARY KEY, holder text NOT NULL)")
            cur.execute("INSERT INTO govlake_run_locks VALUES (%s, %s) ON CONFLICT (lake) DO UPDATE SET holder = "
                        "excluded.holder", (self.lake, json.dumps(holder, ensure_ascii=False)))

    def holder(self) -> dict | None:
        try:
            conn = self._connect()
        except Exception:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass('govlake_run_locks') IS NOT NULL")
                if not cur.fetchone()[0]:
                    return None
                cur.execute("SELECT holder FROM govlake_run_locks WHERE lake = %s", (self.lake,))
                row = cur.fetchone()
            return json.loads(row[0]) if row else None
        finally:
            conn.close()

    def release(self) -> None:
        try:
            with self.conn.cursor() as cur:  # nobody named while nobody holds it
                cur.execute("DELETE FROM govlake_run_locks WHERE lake = %s", (self.lake,))
                cur.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        finally:
            self.conn.close()  # ends the session: the lock goes with it in any case


class _FileLock:
    """The run lock as an flock on a local file that also holds the holder's record."""

    def __init__(self, settings: Settings):
        self.path = lock_path(settings)
        self.where = f"lock file {self.path}"
        self.fd = None

    def try_acquire(self) -> bool:
        self.fd = _try_lock(self.path)
        return self.fd is not None

    def write_holder(self, holder: dict) -> None:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(holder, ensure_ascii=False).encode("utf-8"), 0)
        os.fsync(self.fd)

    def holder(self) -> dict | None:
        return _busy_holder(self.path)

    def release(self) -> None:
        try:
            os.ftruncate(self.fd, 0)  # nobody named while nobody holds it
        finally:
            os.close(self.fd)  # releases the flock


def _lock_for(settings: Settings):
    return _PgLock(settings) if settings.run_lock_url else _FileLock(settings)


def read_holder(path: Path) -> dict | None:
    """The JSON the current holder wrote, or None (no file, empty, or being written)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def held_here(settings: Settings) -> bool:
    e = _held.get(_lock_for(settings).where)
    return bool(e) and e["pid"] == os.getpid()


def _describe(holder: dict | None) -> str:
    if not holder:
        return "holder unknown (the lock file names no one yet)"
    steps = holder.get("steps")
    steps = ",".join(steps) if isinstance(steps, list) else (steps or "all")
    return (f"pid {holder.get('pid')} on {holder.get('host')} started {holder.get('started')}, "
            f"load date {holder.get('load_date')}, steps {steps}")


def _busy_message(holder: dict | None, where: str, waited: float) -> str:
    after = f" after waiting {waited:.0f} s" if waited else ""
    return (f"another govlake run holds the lake (另一个运行正在进行){after}: {_describe(holder)}; "
            f"{where}. Let it finish, or set GOVLAKE_RUN_LOCK_WAIT_SECONDS to wait for it.")


def _try_lock(path: Path) -> int | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # close-on-exec: children do not inherit it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _busy_holder(path: Path) -> dict | None:
    # The holder writes its JSON right after it locks: give it a moment if the file is empty.
    for _ in range(10):
        h = read_holder(path)
        if h:
            return h
        time.sleep(0.05)
    return None


@contextmanager
def run_lock(settings: Settings, load_date: dt.date | str | None = None, steps: list[str] | None = None,
             wait_seconds: float | None = None, echo: Callable[[str], None] | None = None) -> Iterator[dict]:
    """Hold the lake's run lock for the block; yields the holder record (this process's, or the
    outer one's when the lock is already held here). Raises RunLockBusy."""
    lock = _lock_for(settings)
    key = lock.where
    with _guard:
        e = _held.get(key)
        if e and e["pid"] == os.getpid():
            e["count"] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield e["holder"]
        finally:
            with _guard:
                e["count"] -= 1
        return

    wait = settings.run_lock_wait_seconds if wait_seconds is None else wait_seconds
    t0 = time.monotonic()
    told = False
    while not lock.try_acquire():
        waited = time.monotonic() - t0
        if waited >= wait:
            raise RunLockBusy(lock.holder(), lock.where, waited if wait else 0.0)
        if echo and not told:
            echo(f"waiting up to {wait:.0f} s for the lake's run lock (等待运行锁): {_describe(lock.holder())}")
            told = True
        time.sleep(min(POLL_SECONDS, max(0.0, wait - waited)))

    holder = {
        "pid": os.getpid(), "host": socket.gethostname(),
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_date": load_date.isoformat() if isinstance(load_date, dt.date) else load_date,
        "steps": list(steps) if steps else None, "argv": sys.argv[:8],
    }
    try:
        lock.write_holder(holder)
    except BaseException:
        lock.release()
        raise
    entry = {"count": 1, "pid": os.getpid(), "holder": holder}
    with _guard:
        _held[key] = entry
    try:
        yield holder
    finally:
        with _guard:
            _held.pop(key, None)
        lock.release()


@contextmanager
def state_lock(settings: Settings, name: str) -> Iterator[None]:
    """A blocking exclusive flock on <state dir>/locks/<name>.lock, for a check-then-append that must
    not interleave between processes of one host (API workers and the CLI), e.g. an idempotency
    check before appending an event."""
    path = settings.state_dir / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
