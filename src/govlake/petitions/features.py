"""TF-IDF features over docs: jieba words (1-2 grams) + character 1-3 grams + a head block.

Why three blocks: words carry the matter (拖欠 工资), character n-grams survive segmentation
errors and unseen compounds, and the first tokens (the title, or the opening sentence of a
hotline call) say what the message is about more reliably than its narrative tail.
Each block is L2-normalised on its own, then stacked.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from govlake.petitions.text import HEAD_TOKENS, head


def _split(doc: str) -> list[str]:  # module level: vectorisers must pickle
    return doc.split()


def _nospace(doc: str) -> str:
    return doc.replace(" ", "")


def _head_chars(doc: str) -> str:
    return head(doc, HEAD_TOKENS).replace(" ", "")


class TextFeatures(BaseEstimator, TransformerMixin):
    """docs (space-joined tokens) -> sparse TF-IDF matrix. Sizes are capped so that the
    linear model stays small (n_classes x n_features weights) with many departments."""

    def __init__(self, word_ngrams=(1, 2), char_ngrams=(1, 3), head_weight=1.0,
                 min_df=2, max_word_features=200_000, max_char_features=200_000,
                 max_head_features=50_000):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.head_weight = head_weight
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.max_head_features = max_head_features

    def fit(self, docs, y=None):
        common = dict(sublinear_tf=True, min_df=self.min_df, dtype=np.float32, lowercase=False)
        self.word_ = TfidfVectorizer(analyzer="word", tokenizer=_split, token_pattern=None,
                                     ngram_range=tuple(self.word_ngrams),
                                     max_features=self.max_word_features, **common)
        self.char_ = TfidfVectorizer(analyzer="char", preprocessor=_nospace,
                                     ngram_range=tuple(self.char_ngrams),
                                     max_features=self.max_char_features, **common)
        self.head_ = TfidfVectorizer(analyzer="char", preprocessor=_head_chars, ngram_range=(1, 3),
                                     max_features=self.max_head_features, **common)
        docs = list(docs)
        self.word_.fit(docs)
        self.char_.fit(docs)
        self.head_.fit(docs)
        self.word_names_ = np.array([n.replace(" ", "") for n in self.word_.get_feature_names_out()])
        self.n_word_ = len(self.word_names_)
        return self

    def transform(self, docs):
        """Same numbers as the sklearn vectorisers (tested), without their per-call input
        validation, which cost ~3 ms per message online (more than the arithmetic)."""
        docs = list(docs)
        cache = self._fast
        if len(docs) >= VECTOR_MIN:
            keys = self._keys
            if all(k is not None for k in keys):  # n-gram ranges the array path covers
                wk, ck, hk = keys
                toks = [d.split() for d in docs]
                w = wk.tfidf(toks, cache[0][2])
                c = ck.tfidf(["".join(t) for t in toks], cache[1][2])
                h = hk.tfidf(["".join(t[:HEAD_TOKENS]) for t in toks], cache[2][2])
                return sp.hstack([w, c, self.head_weight * h], format="csr", dtype=np.float32)
        w, c, h = (_fast_tfidf(*spec, docs) for spec in cache)
        return sp.hstack([w, c, self.head_weight * h], format="csr", dtype=np.float32)

    @cached_property
    def _fast(self):
        """(analyzer, vocabulary, idf) per block; analyzers are closures over the vectoriser:
        built once per process, not pickled."""
        return [(v.build_analyzer(), v.vocabulary_, v.idf_.astype(np.float32))
                for v in (self.word_, self.char_, self.head_)]

    @cached_property
    def _keys(self):
        """The blocks' n-grams as integer keys (None for a block the array path can't cover)."""
        return (_WordKeys.build(self.word_), CharKeys.build(self.char_), CharKeys.build(self.head_))

    def transform_sklearn(self, docs):
        docs = list(docs)
        return sp.hstack([
            self.word_.transform(docs),
            self.char_.transform(docs),
            self.head_weight * self.head_.transform(docs),
        ], format="csr", dtype=np.float32)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fast", None)
        state.pop("_keys", None)
        return state


VECTOR_MIN = 16  # from this many docs on, n-grams are matched as integer keys in numpy
CHUNK_CHARS = 2_000_000  # characters per array pass (bounds memory at ~200 MB)


def _index(keys: np.ndarray):
    """Hash index of unique integer keys: get_indexer is ~4x faster than searchsorted here."""
    import pandas as pd

    return pd.Index(keys)


def _finish(rows: np.ndarray, cols: np.ndarray, n_docs: int, idf: np.ndarray) -> sp.csr_matrix:
    """Matched (doc, feature) occurrences -> sublinear tf x idf, L2-normalised rows."""
    X = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_docs, len(idf)))
    X.sum_duplicates()  # counts, sorted indices
    X.data = (np.log(X.data) + np.float32(1.0)) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float32).ravel())
    norms[norms == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr))
    return X


class CharKeys:
    """A character n-gram vocabulary (n <= 3) as sorted int64 keys: each code point + 1 in 21 bits."""

    def __init__(self, keys: np.ndarray, cols: np.ndarray, max_n: int):
        self.index, self.cols, self.max_n = _index(keys), cols, max_n

    @staticmethod
    def encode(s: str) -> int:
        k = 0
        for ch in s:
            k = (k << 21) | (ord(ch) + 1)
        return k

    @classmethod
    def build(cls, vec: TfidfVectorizer, spaces: bool = False):
        """None when the vocabulary is outside what the key encoding covers. spaces=False: the
        vectoriser's documents had their spaces removed (no feature may contain one)."""
        if vec.ngram_range[1] > 3 or (not spaces and any(" " in f for f in vec.vocabulary_)):
            return None
        items = sorted((cls.encode(f), j) for f, j in vec.vocabulary_.items())
        return cls(np.array([k for k, _ in items], dtype=np.int64), np.array([j for _, j in items], dtype=np.int32),
                   vec.ngram_range[1])

    def tfidf(self, strings: list[str], idf: np.ndarray) -> sp.csr_matrix:
        lens = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        if lens.sum() > CHUNK_CHARS and len(strings) > 1:  # ~10 int64 arrays per character: chunk
            cut = np.searchsorted(np.cumsum(lens), np.arange(CHUNK_CHARS, lens.sum(), CHUNK_CHARS))
            edges = np.unique(np.r_[0, cut, len(strings)])
            return sp.vstack([self.tfidf(strings[a:b], idf) for a, b in zip(edges[:-1], edges[1:]) if b > a],
                             format="csr")
        c = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
        doc = np.repeat(np.arange(len(strings)), lens)
        room = np.repeat(np.cumsum(lens), lens) - np.arange(len(c))  # characters left in the doc
        rows, cols = [], []
        k = c
        for n in range(1, self.max_n + 1):
            if n > 1:
                k = (k[:-1] << 21) | c[n - 1:]
            ok = room[:len(k)] >= n
            pos = self.index.get_indexer(k[ok])
            hit = pos >= 0
            rows.append(doc[:len(k)][ok][hit])
            cols.append(self.cols[pos[hit]])
        return _finish(np.concatenate(rows), np.concatenate(cols), len(strings), idf)


class _WordKeys:
    """A word 1-2 gram vocabulary as int64 keys over token ids (unigram id; bigram (a+1)(V+1)+b)."""

    def __init__(self, tok_id: dict, keys: np.ndarray, cols: np.ndarray, max_n: int):
        self.tok_id, self.index, self.cols, self.max_n = tok_id, _index(keys), cols, max_n

    @classmethod
    def build(cls, vec: TfidfVectorizer):
        if vec.ngram_range[1] > 2:
            return None
        tok_id: dict[str, int] = {}
        for f in vec.vocabulary_:
            for t in f.split(" "):
                tok_id.setdefault(t, len(tok_id))
        V = len(tok_id) + 1
        items = []
        for f, j in vec.vocabulary_.items():
            parts = f.split(" ")
            items.append((tok_id[parts[0]] if len(parts) == 1 else (tok_id[parts[0]] + 1) * V + tok_id[parts[1]], j))
        items.sort()
        return cls(tok_id, np.array([k for k, _ in items], dtype=np.int64),
                   np.array([j for _, j in items], dtype=np.int32), vec.ngram_range[1])

    def tfidf(self, toks: list[list[str]], idf: np.ndarray) -> sp.csr_matrix:
        lens = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        get = self.tok_id.get
        ids = np.fromiter((get(t, -1) for ts in toks for t in ts), dtype=np.int64, count=int(lens.sum()))
        doc = np.repeat(np.arange(len(toks)), lens)
        V = len(self.tok_id) + 1
        k1 = ids
        ok1 = ids >= 0
        same = doc[1:] == doc[:-1]
        k2 = (ids[:-1] + 1) * V + ids[1:]
        ok2 = same & ok1[:-1] & ok1[1:]
        rows, cols = [], []
        for k, ok, d in ((k1, ok1, doc), (k2, ok2, doc[:-1]))[: self.max_n]:
            pos = self.index.get_indexer(k[ok])
            hit = pos >= 0
            rows.append(d[ok][hit])
            cols.append(self.cols[pos[hit]])
        return _finish(np.concatenate(rows), np.concatenate(cols), len(toks), idf)


def _fast_tfidf(analyze, vocab: dict, idf: np.ndarray, docs: list[str]) -> sp.csr_matrix:
    """(1 + log tf) x idf with L2-normalised rows: TfidfVectorizer(sublinear_tf=True)."""
    indptr = [0]
    indices: list[int] = []
    values: list[int] = []
    for doc in docs:
        counts: dict[int, int] = {}
        for f in analyze(doc):
            j = vocab.get(f)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        indices.extend(counts)
        values.extend(counts.values())
        indptr.append(len(indices))
    ind = np.asarray(indices, dtype=np.int32)
    data = (np.log(np.asarray(values, dtype=np.float32)) + 1.0) * idf[ind]
    X = sp.csr_matrix((data, ind, np.asarray(indptr, dtype=np.int32)), shape=(len(docs), len(vocab)))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float32).ravel())
    norms[norms == 0] = 1.0
    X.data /= np.repeat(norms, np.diff(X.indptr))
    X.sort_indices()
    return X
