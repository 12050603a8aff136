"""jieba's precise mode (HMM on) for a whole batch at once, giving exactly jieba's tokens.

jieba spends most of its time in Python per character: building the word DAG (dictionary
look-ups of every substring that is still a dictionary prefix) and the best route through it.
Here both run in numpy over all texts of a batch: substrings are hashed per length and looked
up in sorted hash tables (only where the shorter prefix is in the dictionary, as jieba does),
and the route's dynamic programme steps once per distance-to-block-end across all blocks.
The unknown-word HMM (jieba.finalseg) is jieba's own code on the same character runs.

Same numbers: log(freq) - log(total) are computed with math.log as jieba does, sums are float64
in the same order, ties go to the longer word as in jieba's max over (score, end). Equality with
jieba.lcut is tested on the real messages (tests/petitions/test_segment.py). Dictionary
membership is by 64-bit hash per word length: a false hit needs a collision with one of ~0.6M
keys of the same length (probability ~1e-14 per look-up).
Custom words added to jieba after the segmenter is built are not seen: build a new one.
"""

from __future__ import annotations

import math
import re
import threading

import numpy as np
import pandas as pd

_RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)  # jieba.re_han_default
_RE_SKIP = re.compile("(\r\n|\\s)", re.U)  # jieba.re_skip_default
_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial hash
_CHUNK_CHARS = 1_500_000  # bounds memory: ~25 arrays of this many elements at most


_jieba_lock = threading.Lock()
_jieba = None


def get_jieba():
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.ERROR)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def _hash_rows(codes: np.ndarray) -> np.ndarray:
    """(n, L) code points -> (n,) uint64, the same recurrence as the sliding hash below."""
    h = np.zeros(codes.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(codes.shape[1]):
            h = h * _MUL + codes[:, i].astype(np.uint64)
    return h


def _interleave(parts: list[list[str]], inner: list[list[str]], other) -> list[list[str]]:
    """re.split(capturing) pieces per text -> tokens: the captured (odd) pieces take their
    precomputed tokens in order, the others other(piece)."""
    out, k = [], 0
    for ps in parts:
        toks: list[str] = []
        for i, part in enumerate(ps):
            if i % 2:
                toks.extend(inner[k])
                k += 1
            elif part:
                toks.extend(other(part))
        out.append(toks)
    return out


def _other_tokens(part: str) -> list[str]:
    """jieba.cut on a non-han piece: whitespace runs as they are, every other character alone."""
    toks: list[str] = []
    for x in _RE_SKIP.split(part):
        if _RE_SKIP.match(x):
            toks.append(x)
        else:
            toks.extend(x)
    return toks


class BatchHMM:
    """jieba.finalseg.cut for many unknown-character runs at once: the BMES Viterbi steps once per
    character position across all runs (jieba runs it per run in Python)."""

    STATES = "BMES"
    _HAN0, _HAN1 = 0x4E00, 0x9FD6  # finalseg's han class [\u4E00-\u9FD5]
    _RE_HAN = re.compile("([\u4E00-\u9FD5]+)")  # finalseg.re_han
    _RE_SKIP = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")  # finalseg.re_skip

    def __init__(self):
        from jieba import finalseg

        self._finalseg = finalseg
        S, mf = self.STATES, finalseg.MIN_FLOAT
        self.start = np.array([finalseg.start_P[y] for y in S])
        self.emit = np.full((4, self._HAN1 - self._HAN0), mf)
        for k, y in enumerate(S):
            for ch, v in finalseg.emit_P[y].items():
                o = ord(ch) - self._HAN0
                if 0 <= o < self.emit.shape[1]:
                    self.emit[k, o] = v
        # per state: its two possible previous states (jieba's PrevStatus) and their transitions
        self.prev = [[S.index(y0) for y0 in finalseg.PrevStatus[y]] for y in S]
        self.trans = [[finalseg.trans_P[S[y0]].get(y, mf) for y0 in self.prev[k]] for k, y in enumerate(S)]

    def cut_many(self, bufs: list[str]) -> list[list[str]]:
        if self._finalseg.Force_Split_Words:  # jieba's own path handles forced splits
            return [list(self._finalseg.cut(b)) for b in bufs]
        parts = [self._RE_HAN.split(b) for b in bufs]
        words = self._viterbi_words([p for ps in parts for p in ps[1::2]])
        return _interleave(parts, words, lambda part: [x for x in self._RE_SKIP.split(part) if x])

    def _viterbi_words(self, pieces: list[str]) -> list[list[str]]:
        if not pieces:
            return []
        lens = np.array([len(p) for p in pieces])
        order = np.argsort(-lens, kind="stable")  # active pieces at step t: a prefix of order
        big = "".join(pieces[i] for i in order)
        c = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) - self._HAN0
        L = lens[order]
        off = np.r_[0, np.cumsum(L)[:-1]]
        n_active = np.searchsorted(-L, -np.arange(1, L[0] + 1), side="right")  # pieces with len > t
        bp = np.zeros((len(c), 4), dtype=np.int8)
        V = self.start + self.emit[:, c[off]].T  # (pieces, 4)
        final = np.zeros(len(L), dtype=np.int8)
        for t in range(1, int(L[0]) + 1):
            done = slice(n_active[t] if t < len(n_active) else 0, n_active[t - 1])
            # pieces whose last position is t-1: max over (V, state) for state in E, S; ties -> S
            final[done] = np.where(V[done, 3] >= V[done, 2], 3, 2)
            if t == L[0]:
                break
            na = n_active[t]
            V = V[:na]
            em = self.emit[:, c[off[:na] + t]]
            newV = np.empty((na, 4))
            for y in range(4):
                a, b = self.prev[y]
                va = (V[:, a] + self.trans[y][0]) + em[y]
                vb = (V[:, b] + self.trans[y][1]) + em[y]
                # jieba: max over (prob, state letter); equal probs -> the later letter
                pick_a = (va > vb) | ((va == vb) & (self.STATES[a] > self.STATES[b]))
                newV[:, y] = np.where(pick_a, va, vb)
                bp[off[:na] + t, y] = np.where(pick_a, a, b)
            V = newV
        # backtrack all pieces at once
        tags = np.zeros(len(c), dtype=np.int8)
        state = final.copy()
        for t in range(int(L[0]) - 1, -1, -1):
            na = n_active[t]
            idx = off[:na] + t
            tags[idx] = state[:na]
            if t:
                state[:na] = bp[idx, state[:na]]
        # a word ends at every E or S; paths follow PrevStatus and end in E or S, so every word
        # starts where the previous one ended (pieces are contiguous in big)
        ends = np.flatnonzero((tags == 2) | (tags == 3)) + 1
        starts = np.r_[0, ends[:-1]]
        flat = [big[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
        cut = np.searchsorted(ends, off + L, side="right").tolist()  # words up to each piece's end
        res: list[list[str]] = [[] for _ in pieces]
        prev = 0
        for rank, i in enumerate(order.tolist()):
            res[i] = flat[prev:cut[rank]]
            prev = cut[rank]
        return res


class BatchSegmenter:
    def __init__(self, tokenizer=None):
        jb = get_jieba()
        tk = tokenizer or jb.dt
        tk.check_initialized()
        self._hmm = BatchHMM()
        self.freq = tk.FREQ
        logtotal = math.log(tk.total)
        self.fallback_lp = math.log(1) - logtotal  # jieba: log(FREQ.get(ch) or 1) - logtotal
        by_len: dict[int, list[str]] = {}
        for w in self.freq:
            by_len.setdefault(len(w), []).append(w)
        self.max_len = max(by_len)
        # length 1: direct tables by code point
        self.in1 = np.zeros(0x110000, dtype=bool)
        self.word1 = np.zeros(0x110000, dtype=bool)
        self.lp1 = np.zeros(0x110000, dtype=np.float64)
        for w in by_len.get(1, ()):
            o = ord(w)
            self.in1[o] = True
            f = self.freq[w]
            if f:
                self.word1[o] = True
                self.lp1[o] = math.log(f) - logtotal
        # length >= 2: sorted hashes, is-word flags, log probabilities
        self.tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for L, words in by_len.items():
            if L < 2:
                continue
            codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).reshape(-1, L)
            h = _hash_rows(codes)
            order = np.argsort(h, kind="stable")
            f = [self.freq[words[i]] for i in order]
            lp = np.array([math.log(x) - logtotal if x else 0.0 for x in f], dtype=np.float64)
            self.tables[L] = (pd.Index(h[order]), np.array([bool(x) for x in f]), lp)

    # ------------------------------------------------------------------ public
    def lcut_many(self, texts: list[str]) -> list[list[str]]:
        """[jieba.lcut(t) for t in texts], computed batch-wise."""
        parts = [_RE_HAN.split(t) for t in texts]
        blocks = [p for ps in parts for p in ps[1::2]]  # odd items are the han blocks
        block_tokens: list[list[str]] = []
        start = 0
        while start < len(blocks):  # chunks keep the arrays small
            size, end = 0, start
            while end < len(blocks) and (size < _CHUNK_CHARS or end == start):
                size += len(blocks[end]) + 1
                end += 1
            block_tokens.extend(self._cut_blocks(blocks[start:end]))
            start = end
        return _interleave(parts, block_tokens, _other_tokens)

    # ------------------------------------------------------------------ internals
    def _edges(self, c: np.ndarray):
        """DAG edges (start, end, log p) of every dictionary word in the concatenation c."""
        pos = np.flatnonzero(c)
        cp = c[pos]
        w = self.word1[cp]
        ep, ex, elp = [pos[w]], [pos[w]], [self.lp1[cp[w]]]
        alive = pos[self.in1[cp]]  # starts whose substring so far is a dictionary prefix
        h = c[alive].astype(np.uint64)
        L = 1
        with np.errstate(over="ignore"):
            while alive.size and L < self.max_len:
                L += 1
                t = self.tables.get(L)
                if t is None:
                    break  # no key of this length: no longer key either (prefix-closed)
                keys, isword, lp = t
                h = h * _MUL + c[alive + (L - 1)].astype(np.uint64)  # a block ends in \0: no key has it
                idx = keys.get_indexer(h)  # hash index: -1 = not a dictionary key
                hit = idx >= 0
                ww = hit & isword[idx]
                ep.append(alive[ww])
                ex.append(alive[ww] + (L - 1))
                elp.append(lp[idx[ww]])
                alive, h = alive[hit], h[hit]
        ep, ex, elp = np.concatenate(ep), np.concatenate(ex), np.concatenate(elp)
        has = np.zeros(len(c), dtype=bool)
        has[ep] = True
        fb = pos[~has[pos]]  # no word starts here: the single character, freq treated as 1
        return (np.concatenate([ep, fb]), np.concatenate([ex, fb]),
                np.concatenate([elp, np.full(len(fb), self.fallback_lp)]))

    def _route(self, c: np.ndarray) -> np.ndarray:
        """best[p] = end of the word jieba's route takes at p (jieba.calc, all blocks at once)."""
        ep, ex, elp = self._edges(c)
        n = len(c)
        sentinel = np.flatnonzero(c == 0)
        dist = sentinel[np.searchsorted(sentinel, ep)] - 1 - ep  # distance to the block's end
        order = np.lexsort((ex, ep, dist))
        ep, ex, elp, dist = ep[order], ex[order], elp[order], dist[order]
        R = np.zeros(n + 1, dtype=np.float64)
        best = np.arange(n)
        seg = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])  # one segment per start position
        seg_d = dist[seg]
        bounds = np.searchsorted(seg_d, np.arange(seg_d[-1] + 2)) if len(seg) else np.zeros(1, int)
        seg_end = np.r_[seg[1:], len(ep)]
        for d in range(len(bounds) - 1):
            s0, s1 = bounds[d], bounds[d + 1]
            if s0 == s1:
                continue
            a, b = seg[s0], seg_end[s1 - 1]
            vals = elp[a:b] + R[ex[a:b] + 1]
            rel = seg[s0:s1] - a
            top = np.maximum.reduceat(vals, rel)
            lens = np.diff(np.r_[rel, b - a])
            cand = np.where(vals == np.repeat(top, lens), np.arange(b - a), -1)
            last = np.maximum.reduceat(cand, rel)  # ties: the larger end, as max((score, x))
            starts = ep[a:b][rel]
            R[starts] = top
            best[starts] = ex[a:b][last]
        return best

    def _cut_blocks(self, blocks: list[str]) -> list[list[str]]:
        big = "\x00".join(blocks) + "\x00"
        c = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32)
        nxt = self._route(c) + 1
        # follow the route from every block start at once
        on = np.zeros(len(c), dtype=bool)
        cur = np.r_[0, np.flatnonzero(c == 0)[:-1] + 1]
        while cur.size:
            on[cur] = True
            cur = nxt[cur]
            cur = cur[c[cur] != 0]
        ws = np.flatnonzero(on)
        we = nxt[ws]
        wsl, wel = ws.tolist(), we.tolist()
        words = [big[a:b] for a, b in zip(wsl, wel)]
        block_of = np.searchsorted(np.flatnonzero(c == 0), ws)
        off = np.searchsorted(block_of, np.arange(len(blocks) + 1)).tolist()
        # runs of >= 2 single characters: jieba keeps them unless the run is not a word, then HMM
        single = (we - ws) == 1
        joined = np.r_[single[:-1] & single[1:] & (ws[1:] == we[:-1]), False]
        run_start = np.flatnonzero(joined & ~np.r_[False, joined[:-1]])
        run_end = run_start.copy()
        if run_start.size:
            stops = np.flatnonzero(~joined)
            run_end = stops[np.searchsorted(stops, run_start)] + 1
        runs: dict[int, list[tuple[int, int, list[str]]]] = {}
        freq = self.freq
        todo = []
        for i0, i1, blk in zip(run_start.tolist(), run_end.tolist(), block_of[run_start].tolist()):
            buf = big[wsl[i0]:wel[i1 - 1]]
            if not freq.get(buf):  # not a word: jieba hands the run to its HMM
                todo.append((blk, i0, i1, buf))
        for (blk, i0, i1, _), rec in zip(todo, self._hmm.cut_many([t[3] for t in todo])):
            runs.setdefault(blk, []).append((i0, i1, rec))
        out = []
        for k in range(len(blocks)):
            a, b = off[k], off[k + 1]
            if k not in runs:
                out.append(words[a:b])
                continue
            toks, prev = [], a
            for i0, i1, rec in runs[k]:
                toks.extend(words[prev:i0])
                toks.extend(rec)
                prev = i1
            toks.extend(words[prev:b])
            out.append(toks)
        return out


_lock = threading.Lock()
_segmenter: BatchSegmenter | None = None


def get_segmenter() -> BatchSegmenter:
    """One per process (building the tables takes ~1-2 s)."""
    global _segmenter
    if _segmenter is None:
        with _lock:
            if _segmenter is None:
                _segmenter = BatchSegmenter()
    return _segmenter
