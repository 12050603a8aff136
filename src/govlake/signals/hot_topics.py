"""Hot topics (热点诉求): cluster the petitions of a window into topics and rank them by a heat index.

Clustering is blocked like everything else: inside each (place, 30-day) block, average-linkage
clustering of TF-IDF vectors of character 2-3 grams (title weighted over the content head);
then topics that a block edge split (the same issue reported with and without the district, or
across a month boundary) are joined when their centroids are close. Never all pairs of
documents: the cross-block step compares cluster centroids only.

Heat index (documented in docs/signals.md):
    heat = ln(1+n) + ln(1+r) + 0.5*ln(1+v) + 0.5*ln(1+max(g, 0))
  n = petitions in the topic, r = distinct requesters, v = supporting votes (点赞),
  g = growth = (n_last_7d - n_prev_7d) / (n_prev_7d + 1), days counted back from as_of.
Logs keep one very large term (one message with 2,000 likes) from swamping the others;
volume and requesters weigh most, votes and growth half.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from govlake.signals.similarity import UnionFind, clean

BLOCK_DAYS = 30
CLUSTER_SIMILARITY = 0.2    # average cosine inside a cluster
MERGE_SIMILARITY = 0.35     # centroid cosine to join clusters split by blocking
MAX_BLOCK = 4000            # larger blocks are cut by time (memory: MAX_BLOCK^2 floats)
_PLACE = re.compile(r"([A-Z]\d{1,2}[区县市])|([\u4e00-\u9fff]{2,6}(?:小区|花园|社区|广场|大厦|学院|学校|中学|小学|村|苑|城|湾|路))")


def topic_text(title: str | None, content: str | None) -> str:
    t = clean(title)
    return f"{t} {t} {clean(content)[:150]}"


def _vectorise(texts: list[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), min_df=2, max_df=0.3, sublinear_tf=True)
    try:
        return vec.fit_transform(texts), vec
    except ValueError:  # empty vocabulary (tiny input)
        vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True)
        return vec.fit_transform(texts), vec


def _cluster_block(X) -> np.ndarray:
    n = X.shape[0]
    if n == 1:
        return np.zeros(1, dtype=int)
    sim = (X @ X.T).toarray()
    np.clip(sim, 0, 1, out=sim)
    dist = 1.0 - sim
    np.fill_diagonal(dist, 0.0)
    Z = linkage(squareform(dist, checks=False), method="average")
    return fcluster(Z, t=1.0 - CLUSTER_SIMILARITY, criterion="distance")


def cluster_topics(p: pd.DataFrame, place_col: str = "street_block") -> np.ndarray:
    """Topic id per row (int), blocked by (place, 30-day bucket)."""
    texts = [topic_text(t, c) for t, c in zip(p["title"], p["content"])]
    X, _ = _vectorise(texts)
    days = (pd.to_datetime(p["submit_time"]).astype("int64") // 86_400_000_000_000).to_numpy()
    keys = pd.Series(list(zip(p[place_col].to_numpy(), days // BLOCK_DAYS)))
    labels = np.full(len(p), -1, dtype=np.int64)
    next_id = 0
    for _, idx in keys.groupby(keys).indices.items():
        for chunk in np.array_split(idx, max(1, math.ceil(len(idx) / MAX_BLOCK))):
            lab = _cluster_block(X[chunk])
            labels[chunk] = lab + next_id
            next_id += int(lab.max()) + 1
    # Join clusters split by the blocks: centroid cosine, clusters of 2+ only.
    sizes = np.bincount(labels)
    multi = np.flatnonzero(sizes >= 2)
    if len(multi) > 1:
        import scipy.sparse as sp

        onehot = sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))),
                               shape=(labels.max() + 1, len(labels)))[multi]
        C = onehot @ X
        norms = np.sqrt(C.multiply(C).sum(axis=1)).A1
        C = sp.diags(1 / np.maximum(norms, 1e-12)) @ C
        S = (C @ C.T).tocoo()
        uf = UnionFind()
        for i, j, v in zip(S.row, S.col, S.data):
            if i < j and v >= MERGE_SIMILARITY:
                uf.union(int(multi[i]), int(multi[j]))
        remap = {x: uf.find(x) for x in uf.parent}
        labels = np.array([remap.get(int(l), int(l)) for l in labels])
    return labels


_LEAD = re.compile(r"^(投诉|反映|关于|咨询|建议|请问|请|市|区|县|在)+")


def _keywords(texts: list[str], k: int = 5) -> list[str]:
    import jieba

    jieba.setLogLevel(60)
    stop = set("的了是在我和有也都就与及或对被把这那个们请问您好市区县".strip())
    c: Counter = Counter()
    for t in texts:
        c.update({w for w in jieba.lcut(clean(t)) if len(w) >= 2 and not (set(w) <= stop) and not w.isdigit()})
    return [w for w, _ in c.most_common(k)]


def _place(titles: list[str], contents: list[str]) -> str | None:
    c: Counter = Counter()
    for t in titles:
        c.update({_LEAD.sub("", m.group(0)) for m in _PLACE.finditer(t)})
    if not c:
        for t in contents:
            c.update({_LEAD.sub("", m.group(0)) for m in _PLACE.finditer(t[:200])})
    c = Counter({k: v for k, v in c.items() if len(k) >= 3})
    return c.most_common(1)[0][0] if c else None


def heat_index(n: int, requesters: int, votes: int, growth: float) -> float:
    return round(math.log1p(n) + math.log1p(requesters) + 0.5 * math.log1p(max(votes, 0))
                 + 0.5 * math.log1p(max(growth, 0.0)), 4)


def hot_topics(p: pd.DataFrame, as_of, window_days: int | None = 30, top: int = 20,
               place_col: str = "street_block", min_size: int = 2) -> pd.DataFrame:
    """Ranked topics of the petitions in (as_of - window_days, as_of]; window_days=None: all of p.
    p needs ticket_id, submit_time, requester_id, title, content, votes and place_col."""
    cols = ["rank", "topic_id", "keywords", "place", "representative_title", "ticket_count",
            "requester_count", "votes", "growth", "heat", "first_time", "last_time", "ticket_ids"]
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    ts = pd.to_datetime(p["submit_time"])
    q = p[(ts < end) & ((ts >= end - pd.Timedelta(days=window_days)) if window_days else True)].copy()
    if q.empty:
        return pd.DataFrame(columns=cols)
    q["submit_time"] = pd.to_datetime(q["submit_time"])
    q["topic"] = cluster_topics(q, place_col)
    last7, prev7 = end - pd.Timedelta(days=7), end - pd.Timedelta(days=14)
    rows = []
    for _, g in q.groupby("topic"):
        if len(g) < min_size:
            continue
        n_last = int((g["submit_time"] >= last7).sum())
        n_prev = int(((g["submit_time"] >= prev7) & (g["submit_time"] < last7)).sum())
        growth = (n_last - n_prev) / (n_prev + 1)
        votes = int(pd.to_numeric(g["votes"], errors="coerce").fillna(0).sum())
        nreq = int(g["requester_id"].nunique())
        rows.append(dict(g=g, n=len(g), r=nreq, v=votes, growth=round(growth, 4),
                         heat=heat_index(len(g), nreq, votes, growth)))
    rows.sort(key=lambda d: (-d["heat"], d["g"]["ticket_id"].min()))
    out = []
    for rank, d in enumerate(rows[:top], 1):
        g = d["g"].sort_values(["submit_time", "ticket_id"])
        titles, contents = g["title"].fillna("").tolist(), g["content"].fillna("").tolist()
        rep = Counter(titles).most_common(1)[0][0] if g["title"].duplicated().any() else \
            g.loc[pd.to_numeric(g["votes"], errors="coerce").fillna(0).idxmax(), "title"]
        out.append((rank, f"HT-{g['ticket_id'].iloc[0]}", ",".join(_keywords(titles)),
                    _place(titles, contents), rep, d["n"], d["r"], d["v"], d["growth"], d["heat"],
                    g["submit_time"].min(), g["submit_time"].max(), g["ticket_id"].tolist()))
    return pd.DataFrame(out, columns=cols)
