"""Okapi BM25 over tokenised documents."""

from __future__ import annotations

import math
from collections import Counter


class BM25:
    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        self.avg = sum(self.len) / len(docs) if docs else 0.0
        df = Counter(t for d in self.tf for t in d)
        n = len(docs)
        # the +1 inside the log keeps a term in every document from scoring negative
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def score(self, query: list[str], i: int) -> float:
        tf, norm = self.tf[i], self.k1 * (1 - self.b + self.b * self.len[i] / (self.avg or 1))
        s = 0.0
        for t in query:
            f = tf.get(t)
            if f:
                s += self.idf[t] * f * (self.k1 + 1) / (f + norm)
        return s

    def scores(self, query: list[str]) -> list[float]:
        return [self.score(query, i) for i in range(len(self.tf))]
