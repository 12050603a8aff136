"""Keys and grants as last read from the store, reused for at most REVOCATION_BOUND_S (查询缓存).

Every API request looks up its key and its grant; both change only by a decision (issue, approve,
revoke, expire), which is rare. A lookup is reused for REVOCATION_BOUND_S: a decision made in
this process drops every entry at once (`changed()`, called by the functions that write
decisions); one made in another process (another API worker, the CLI, the portal's process) is
seen within REVOCATION_BOUND_S. What the cache holds is the stored row: the checks that depend
on the time (expiry, a grant's validity window) and the secret's comparison run on every request.
"""

from __future__ import annotations

import threading
import time

REVOCATION_BOUND_S = 1.0     # a revocation made elsewhere takes effect within this (吊销/撤销生效时限)
MAX_ENTRIES = 20_000

_generation = 0
_entries: dict[tuple, tuple[int, float, object]] = {}
_lock = threading.Lock()


def cached(store, kind: str, key, load):
    """load() (a query of the store), or its result from less than REVOCATION_BOUND_S ago."""
    k = (str(store.path), kind, key)
    t = time.monotonic()
    hit = _entries.get(k)
    if hit is not None and hit[0] == _generation and t - hit[1] < REVOCATION_BOUND_S:
        return hit[2]
    gen = _generation  # taken before the query: a decision during it makes the entry stale at once
    value = load()
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[k] = (gen, t, value)
    return value


def changed() -> None:
    """A decision was written in this process: forget every lookup."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()
