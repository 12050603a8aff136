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


def time_blocks(ts: pd.Series, window_hours: float) -> tuple[np.ndarray, np.ndarray]:
    """(bucket, bucket+1) per row: the two overlapping blocks a document belongs to."""
    hours = (pd.to_datetime(ts).astype("int64") // 3_600_000_000_000).to_numpy()
    k = hours // int(window_hours)
    return k, k + 1


# --------------------------------------------------------------------- many blocks at once
def segment_pairs(rows: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (rows[a], rows[b]), a < b, inside each segment rows[start:start+size]."""
    keep = sizes > 1
    starts, sizes = starts[keep], sizes[keep]
    if not len(sizes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.concatenate([np.arange(s, s + z) for s, z in zip(starts.tolist(), sizes.tolist())]) \
        if len(sizes) < 64 else _ranges(starts, sizes)
    left = np.repeat(starts + sizes, sizes) - pos - 1  # later members of the same segment
    i = np.repeat(pos, left)
    first = np.repeat(np.cumsum(left) - left, left)
    j = i + 1 + (np.arange(len(i)) - first)
    return rows[i], rows[j]


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """concatenate(arange(s, s + z)) without a Python loop."""
    total = int(sizes.sum())
    base = np.repeat(starts - np.r_[0, np.cumsum(sizes)[:-1]], sizes)
    return base + np.arange(total)


def sorted_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort rows by key -> (order, segment starts, segment sizes)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    return order, starts, sizes


def block_candidates(block: np.ndarray, row: np.ndarray, sig: np.ndarray, threshold: float,
                     max_bucket: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """candidates() for many blocks at once. Entry e puts row[e] into block[e] (a row sits in
    two overlapping time blocks); sig is per row. Small blocks: all pairs; larger ones: LSH
    banding inside the block. -> unique row pairs (i, j), i < j."""
    order, starts, sizes = sorted_groups(block)
    small = sizes <= SMALL_BLOCK
    n1 = len(sig) + 1
    # row pairs as lo * n1 + hi; deduplicated whenever 8M are pending, so repeats across bands
    # and overlapping blocks never pile up (a year at once reached 5.9 GB without it)
    acc: list[np.ndarray] = [np.zeros(0, np.int64)]

    def add(ea: np.ndarray, eb: np.ndarray) -> None:
        i, j = row[ea], row[eb]
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        keep = lo != hi
        acc.append(lo[keep].astype(np.int64) * n1 + hi[keep])
        if sum(len(x) for x in acc[1:]) > 8_000_000:
            acc[:] = [np.unique(np.concatenate(acc))]

    add(*segment_pairs(order, starts[small], sizes[small]))
    big_rows = order[_ranges(starts[~small], sizes[~small])] if (~small).any() else np.zeros(0, np.int64)
    if len(big_rows):
        bands, r = _lsh_params(threshold)
        with np.errstate(over="ignore"):
            for k in range(bands):
                h = block[big_rows].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                for c in range(k * r, (k + 1) * r):
                    h = h * np.uint64(1_000_003) + sig[row[big_rows], c].astype(np.uint64)
                o, st, sz = sorted_groups(h)
                rows = big_rows[o]
                ok = (sz > 1) & (sz <= max_bucket)
                add(*segment_pairs(rows, st[ok], sz[ok]))
                for s0, z in zip(st[sz > max_bucket].tolist(), sz[sz > max_bucket].tolist()):
                    chain = rows[s0:s0 + z]  # mass copy-paste: a chain (by row order), not all pairs
                    chain = chain[np.argsort(row[chain], kind="stable")]
                    add(chain[:-1], chain[1:])
    found = np.unique(np.concatenate(acc))
    return found // n1, found % n1


MINHASH_FLOOR = 0.2  # drop a candidate whose MinHash estimate is this far below the threshold:
#                      with 64 permutations a pair at the threshold falls there with p < 1e-3


def verified_pairs(frame: pd.DataFrame, block: np.ndarray, row: np.ndarray, threshold: float, window_hours: float,
                   text_col: str = "doc_text", time_col: str = "submit_time", id_col: str = "ticket_id",
                   same_col: str | None = None, sig_col: str = "minhash") -> pd.DataFrame:
    """Pairs (a < b, jaccard) with jaccard >= threshold and |dt| <= window_hours inside any
    block, each pair once; same_col: if both values are known they must be equal."""
    if len(frame) < 2:
        return pd.DataFrame([], columns=["a", "b", "sim"])  # object columns: Arrow casts them to the schema
    sig = np.vstack(frame[sig_col].to_numpy()) if sig_col in frame else signatures(frame[text_col].tolist())
    i, j = block_candidates(np.asarray(block), np.asarray(row), sig, threshold)
    secs = pd.to_datetime(frame[time_col]).astype("int64").to_numpy() // 1_000_000_000
    keep = np.abs(secs[i] - secs[j]) <= window_hours * 3600
    if same_col:
        same = frame[same_col].fillna("").astype(str).to_numpy()
        keep &= (same[i] == "") | (same[j] == "") | (same[i] == same[j])
    i, j = i[keep], j[keep]
    agree = np.zeros(len(i))
    for s in range(0, len(i), 200_000):  # bounded memory: 200k pairs x 64 x 8 B
        agree[s:s + 200_000] = (sig[i[s:s + 200_000]] == sig[j[s:s + 200_000]]).mean(axis=1)
    keep = agree >= threshold - MINHASH_FLOOR
    i, j = i[keep].tolist(), j[keep].tolist()
    ids = frame[id_col].tolist()
    out = [(*sorted((ids[x], ids[y])), round(v, 4))
           for x, y, v in zip(i, j, pair_jaccards(frame[text_col].tolist(), i, j)) if v >= threshold]
    return pd.DataFrame(out, columns=["a", "b", "sim"])


def pair_jaccards(texts: list[str], i: list[int], j: list[int]) -> list[float]:
    """Exact bigram Jaccard of texts[i[k]] and texts[j[k]]; each text's set built once."""
    sets: dict[int, set] = {}
    out = []
    for x, y in zip(i, j):
        sx = sets.get(x) or sets.setdefault(x, shingles(texts[x]))
        sy = sets.get(y) or sets.setdefault(y, shingles(texts[y]))
        out.append(jaccard(sx, sy))
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
