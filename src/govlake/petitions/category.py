"""三级事项分类 (level 1/2/3 matter category) by matching text against category names.

There is no labelled text for levels 2 and 3, so this is a prototype matcher, not a learned
model: every node's name is a prototype, and a node scores by how much of its (idf-weighted)
character 1-2 grams occur in the message. Levels are chosen top-down, constrained under the
level 1 the dispatch model predicted when that label exists in the tree.
Limits (documented in docs/petitions.md): names are short, so a message that never uses the
words of its category (e.g. describes 欠薪 without 工资/薪酬) gets a low score and falls back to
the 其他 child if there is one; the score is a similarity, not a calibrated probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from govlake.petitions.text import normalize

GENERIC = ("其他", "其它", "管理", "问题", "相关", "工作", "服务")


@dataclass(frozen=True)
class CategoryPrediction:
    level1: str
    level2: str
    level3: str
    score3: float
    reason: str


def _clean(name: str) -> str:
    s = normalize(name)
    for g in GENERIC:
        s = s.replace(g, "")
    return s


class CategoryMatcher:
    def __init__(self, rows: Iterable[Sequence[str]]):
        self.paths = [tuple(str(x).strip() for x in r[:3]) for r in rows if all(str(x).strip() for x in r[:3])]
        if not self.paths:
            raise ValueError("category tree is empty")
        self.level1 = sorted({p[0] for p in self.paths})
        self.l2 = sorted({p[:2] for p in self.paths})
        # A level-2 prototype is its own name plus its children's names: the children say
        # what the (often abstract) level-2 name covers.
        kids: dict[tuple, list[str]] = {}
        for p in self.paths:
            kids.setdefault(p[:2], []).append(p[2])
        protos2 = [_clean(b) * 2 + " " + " ".join(_clean(c) for c in kids[(a, b)]) for a, b in self.l2]
        protos3 = [_clean(p[2]) * 2 + " " + _clean(p[1]) for p in self.paths]
        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True)
        self.vec.fit(protos2 + protos3)
        self.M2 = self.vec.transform(protos2)
        self.M3 = self.vec.transform(protos3)

    @classmethod
    def from_csv(cls, path: str | Path, encoding: str = "utf-8") -> "CategoryMatcher":
        import pandas as pd

        df = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
        return cls(df.iloc[:, :3].itertuples(index=False, name=None))

    def _presence(self, text: str):
        q = self.vec.transform([normalize(text)])
        q.data[:] = 1.0  # did the n-gram occur at all: long messages must not win by length
        return q

    def predict(self, text: str, level1: str | None = None) -> CategoryPrediction:
        q = self._presence(text)
        s2 = np.asarray((self.M2 @ q.T).todense()).ravel()
        allowed1 = {level1} if level1 in self.level1 else set(self.level1)
        idx2 = [i for i, (a, _) in enumerate(self.l2) if a in allowed1]
        i2 = max(idx2, key=lambda i: (s2[i], -i))
        l1, l2 = self.l2[i2]
        s3 = np.asarray((self.M3 @ q.T).todense()).ravel()
        idx3 = [i for i, p in enumerate(self.paths) if p[:2] == (l1, l2)]
        best3 = max(idx3, key=lambda i: (s3[i], -i))
        if s3[best3] < 0.15:  # no real evidence for any child: prefer an explicit 其他
            other = [i for i in idx3 if self.paths[i][2] in ("其他", "其它")]
            best3 = other[0] if other else best3
        l3 = self.paths[best3][2]
        basis = "一级来自模型" if level1 in self.level1 else "一级来自名称匹配"
        reason = f"{basis}；名称匹配 {l2} ({s2[i2]:.2f}) / {l3} ({s3[best3]:.2f})"
        return CategoryPrediction(l1, l2, l3, round(float(s3[best3]), 4), reason)
