"""Requests per second per grant (限流): token buckets shared by every API worker process.

A grant carries `rate_per_s` and `rate_burst` (as data, govlake.access.grants); a read of a 公开
product without a grant has the platform's PUBLIC_RATE. Each bucket is kept in GCRA form (the
"theoretical arrival time" of the next request, one float): a request is admitted when, after
adding one interval (1 / rate), the bucket is at most `burst` intervals ahead of now; otherwise
the answer says how long to wait (Retry-After). A bucket whose time is in the past is the same as
a fresh one, so a slot can be reused without losing anything.

Where the state lives: a small memory-mapped file beside the access database
(`<work dir>/_platform/rate_buckets`), a fixed table of slots (key hash, time), updated under an
exclusive `flock` (with a thread lock in front: flock is per open file, threads share it). The API
runs several uvicorn worker processes on one host; they all map the same file, so a consumer
gets its rate in total, not per worker. Why not the SQLite store: a write transaction per request
there adds a second writer per request to the audit's, and a writer that finds the database
locked sleeps at least a millisecond (SQLite's busy handler); a flock waiter is woken at once.
Like the store, it needs a local filesystem (one host); the buckets are not history, so losing
them (a new file) only refills every bucket.
"""

from __future__ import annotations

import contextvars
import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from pathlib import Path

RATE_PER_S = 50.0            # platform default per grant, when neither the grant nor the product says
RATE_BURST = 100             # requests allowed at once above the rate
PUBLIC_RATE = (5.0, 20)      # a 公开 product read without a grant, per consumer and product
MAX_RATE_PER_S = 10_000.0
MAX_BURST = 100_000
REASON = "rate_limited"
# routes that are not product reads (no grant rate applies), per consumer and class: requests per
# second, burst, label. Writes and heavy computations, so lower than a keyed read's default.
ROUTE_CLASSES = {
    "services": (10.0, 30, "企业服务 enterprise services"),        # 一企一档, 诉求直达 submit / queue / actions
    "petitions": (10.0, 30, "民生诉求分拨 petition dispatch"),    # online 分拨 / 填单, 退单, 快速裁决
    "sandbox": (0.5, 5, "政策沙盘推演 policy sandbox"),           # each run evaluates every enterprise
    "cleanroom": (0.5, 5, "数据沙箱作业 cleanroom jobs"),         # a job runs a query or a model inside
}

_MAGIC = b"GLRB0001"
_HEADER = struct.Struct("<8sQ")          # magic, slots
_SLOT = struct.Struct("<Qd")             # key hash (0: empty), theoretical arrival time (unix s)
SLOTS = 8192
PROBE = 64                               # slots looked at from a key's home slot


class RateLimited(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"retry after {retry_after:.3f} s")
        self.retry_after = retry_after


# The HTTP layer's note of a refusal: the API's middleware puts a dict here per request, the
# limiter writes `retry_after` into it, and the middleware answers Retry-After and audits the
# reason (the same dict object is seen from the worker thread a route runs in).
DENIAL: contextvars.ContextVar[dict | None] = contextvars.ContextVar("govlake_rate_denial", default=None)


def check_rate(rate_per_s: float | None, burst: int | None) -> tuple[float, int]:
    """A grant's rate and burst, validated (ValueError with the bounds)."""
    rate = RATE_PER_S if rate_per_s is None else float(rate_per_s)
    b = RATE_BURST if burst is None else int(burst)
    if not 0 < rate <= MAX_RATE_PER_S:
        raise ValueError(f"requests per second 0..{MAX_RATE_PER_S:g}, not {rate_per_s} (每秒请求数超出范围)")
    if not 1 <= b <= MAX_BURST:
        raise ValueError(f"burst 1..{MAX_BURST}, not {burst} (突发请求数超出范围)")
    return rate, b


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") or 1


class RateLimiter:
    """GCRA buckets in a shared file. `take(key, rate, burst)` admits one request or raises
    RateLimited(retry_after)."""

    def __init__(self, path: Path, slots: int = SLOTS):
        self.path, self.slots = Path(path), slots
        self._lock = threading.Lock()
        self._pid = None
        self._fd = None
        self._map = None

    def _open(self) -> None:
        # after a fork the inherited descriptor shares its flock with the parent: open anew
        if self._pid == os.getpid():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        size = _HEADER.size + self.slots * _SLOT.size
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            head = os.pread(fd, _HEADER.size, 0)
            if len(head) < _HEADER.size or _HEADER.unpack(head) != (_MAGIC, self.slots):
                os.ftruncate(fd, 0)            # a new file, or another layout: start with full buckets
                os.ftruncate(fd, size)
                os.pwrite(fd, _HEADER.pack(_MAGIC, self.slots), 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._fd, self._map, self._pid = fd, mmap.mmap(fd, size), os.getpid()

    def take(self, key: str, rate_per_s: float, burst: int, now: float | None = None) -> None:
        interval = 1.0 / rate_per_s
        h = _hash(key)
        with self._lock:
            self._open()
            m, fd = self._map, self._fd
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                t = time.time() if now is None else now
                home = h % self.slots
                slot = free = None
                for i in range(PROBE):
                    at = _HEADER.size + ((home + i) % self.slots) * _SLOT.size
                    kh, tat = _SLOT.unpack_from(m, at)
                    if kh == h:
                        slot = (at, tat)
                        break
                    if free is None and (kh == 0 or tat <= t):  # empty, or a bucket that has refilled
                        free = at
                if slot is None:
                    if free is None:
                        # every slot near this key holds a bucket still draining: admit rather than
                        # refuse a consumer for others' traffic (the table is sized far above the grants)
                        return
                    slot = (free, t)
                at, tat = slot
                new = max(tat, t) + interval
                if new - t > burst * interval + 1e-9:
                    raise RateLimited(new - burst * interval - t)
                _SLOT.pack_into(m, at, h, new)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._map is not None and self._pid == os.getpid():
            self._map.close()
            os.close(self._fd)
        self._map = self._fd = self._pid = None


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(store) -> RateLimiter:
    """The limiter of an access store's lake (one per file per process)."""
    path = str(Path(store.path).parent / "rate_buckets")
    with _limiters_lock:
        lim = _limiters.get(path)
        if lim is None:
            lim = _limiters[path] = RateLimiter(Path(path))
        return lim


def note_denial(retry_after: float, message: str) -> None:
    note = DENIAL.get()
    if note is not None:
        note.update(reason=REASON, retry_after=retry_after, message=message)
