"""Near-duplicate search without all-pairs: documents are blocked by (place, time window) and
compared only through MinHash LSH inside a block; candidates are verified with the exact
Jaccard of their character-bigram sets. Signatures come from datasketch (MinHash.bulk, once per
ticket); the banding uses datasketch's (bands, rows) choice for the threshold and is done with
numpy over the block's signature matrix (datasketch's MinHashLSH insert/query cost ~0.1 ms a
document in Python, half the total).

Time windows overlap so a pair straddling a window edge is still seen: a document in time
bucket k is put in blocks k and k+1; a pair is kept only if |dt| <= window, and reported once.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from functools import lru_cache

import numpy as np
import pandas as pd

NUM_PERM = 64
SMALL_BLOCK = 24  # blocks up to this size are verified pairwise (at most 276 exact Jaccards)
TEXT_CHARS = 240  # title + the head of the content: enough to tell issues apart, bounded cost
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)
_BOILER = re.compile(r"(您好|你好|尊敬的[^，,。]{0,8}|领导|请问|谢谢|感谢|麻烦|希望|能否|尽快|解决|处理|反映|投诉|问题)")


def clean(text: str | None) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    return _STRIP.sub("", _BOILER.sub("", t))


def doc_text(title: str | None, content: str | None) -> str:
    return clean(f"{title or ''}{(content or '')[:2 * TEXT_CHARS]}")[:TEXT_CHARS]


def shingles(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(max(0, len(text) - 1))} or ({text} if text else set())


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _crc(b: bytes) -> int:
    return zlib.crc32(b)


def signatures(texts: list[str]) -> np.ndarray:
    """MinHash signatures (datasketch, NUM_PERM x 32-bit) of the bigram sets: (n, NUM_PERM) int64.
    Computed once per ticket; blocks only band and compare them."""
    from datasketch import MinHash

    if not texts:
        return np.zeros((0, NUM_PERM), dtype=np.int64)
    mh = MinHash.bulk([[x.encode() for x in shingles(t)] for t in texts], num_perm=NUM_PERM, hashfunc=_crc)
    return np.vstack([m.hashvalues for m in mh]).astype(np.int64)


@lru_cache(maxsize=16)
def _lsh_params(threshold: float) -> tuple[int, int]:
    """(bands, rows) datasketch's MinHashLSH would pick for the threshold, 0.1 below the wanted
    Jaccard for recall (candidates are verified exactly)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(max(0.1, threshold - 0.1), NUM_PERM, 0.5, 0.5)


def candidates(sig: np.ndarray, threshold: float, max_bucket: int = 300) -> set[tuple[int, int]]:
    """LSH banding over a block's signatures: index pairs sharing at least one band.
    A bucket larger than max_bucket (mass copy-paste) is linked as a chain, not all pairs."""
    n = sig.shape[0]
    if n <= SMALL_BLOCK:  # banding costs more than checking a handful of pairs exactly
        return {(i, j) for i in range(n) for j in range(i + 1, n)}
    b, r = _lsh_params(threshold)
    out: set[tuple[int, int]] = set()
    for i in range(b):
        band = np.ascontiguousarray(sig[:, i * r:(i + 1) * r])
        keys = band.view(np.dtype((np.void, band.dtype.itemsize * r))).ravel()
        _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
        if counts.max(initial=0) < 2:
            continue
        order = np.argsort(inv, kind="stable")
        ends = np.cumsum(counts)
        for g in np.flatnonzero(counts > 1):
            idx = np.sort(order[ends[g] - counts[g]:ends[g]])
            if len(idx) > max_bucket:
                out.update(zip(idx[:-1].tolist(), idx[1:].tolist()))
                continue
            il = idx.tolist()
            out.update((il[x], il[y]) for x in range(len(il)) for y in range(x + 1, len(il)))
    return out


def time_blocks(ts: pd.Series, window_hours: float) -> tuple[np.ndarray, np.ndarray]:
    """(bucket, bucket+1) per row: the two overlapping blocks a document belongs to."""
    hours = (pd.to_datetime(ts).astype("int64") // 3_600_000_000_000).to_numpy()
    k = hours // int(window_hours)
    return k, k + 1


def lsh_pairs(block: pd.DataFrame, threshold: float, window_hours: float,
              text_col: str = "doc_text", time_col: str = "submit_time", id_col: str = "ticket_id",
              same_col: str | None = None, sig_col: str = "minhash") -> list[tuple[str, str, float]]:
    """Pairs (id_a < id_b, jaccard) inside one block with jaccard >= threshold and
    |dt| <= window_hours; same_col: if both values are known they must be equal."""
    if len(block) < 2:
        return []
    ids = block[id_col].tolist()
    times = pd.to_datetime(block[time_col]).astype("int64").to_numpy() // 1_000_000_000
    texts = block[text_col].tolist()
    sig = np.vstack(block[sig_col].to_numpy()) if sig_col in block else signatures(texts)
    same = block[same_col].tolist() if same_col else None
    sets: dict[int, set] = {}
    out = []
    for i, j in candidates(sig, threshold):
        if abs(times[i] - times[j]) > window_hours * 3600:
            continue
        if same and same[i] and same[j] and same[i] != same[j]:
            continue
        si = sets.get(i) or sets.setdefault(i, shingles(texts[i]))
        sj = sets.get(j) or sets.setdefault(j, shingles(texts[j]))
        s = jaccard(si, sj)
        if s >= threshold:
            a, b = sorted((ids[i], ids[j]))
            out.append((a, b, round(s, 4)))
    return out


class UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        p = self.parent.setdefault(x, x)
        while p != self.parent[p]:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        self.parent[x] = p
        return p

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> dict:
        out: dict = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        return out
