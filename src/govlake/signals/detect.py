"""Petition signals on a pandas frame of petitions (the columns of bronze.petitions):
enrichment (address, sensitive, place), repeated petitions (反复诉求 -> 并案), group petitions
(群体诉求). The per-block functions here are what the Spark job runs inside applyInPandas; the
`*_from_edges` functions assemble the global result from the edges the blocks return.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd

from govlake.signals import address as addr
from govlake.signals.similarity import (UnionFind, doc_text, pair_jaccards, segment_pairs, signatures,
                                       sorted_groups, time_blocks, verified_pairs)

REPEAT_WINDOW_DAYS = 30
REPEAT_SIMILARITY = 0.5          # char-bigram Jaccard of title + content head: same issue
REQUESTER_SIMILARITY = 0.2       # same requester, loosely the same matter
GROUP_WINDOW_HOURS = 72
GROUP_MIN_REQUESTERS = 5
GROUP_SIMILARITY = 0.3           # same subject (different people word it differently)

ADDRESS_SCAN_CHARS = 300       # where a petition says where: the title and the start of the text
# Masked or foreign place names (taidi: "A市A5区", "K9县"): a coarse place when the tree has none.
_GENERIC_PLACE = re.compile(r"[A-Z]\d{1,2}[区县]")

ENRICH_COLUMNS = {
    "std_street_code": "string", "std_street_name": "string", "std_community_code": "string",
    "std_community_name": "string", "std_road": "string", "std_building": "string",
    "address_confidence": "double", "address_level": "string", "address_matched_text": "string",
    "eff_street_code": "string", "eff_community_code": "string",
    "place_key": "string", "street_block": "string", "doc_text": "string", "minhash": "array<long>",
}


def _nz(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    s = str(v).strip()
    return s or None


def enrich(p: pd.DataFrame) -> pd.DataFrame:
    """Add the ENRICH_COLUMNS: standard address, place keys for blocking, comparable text."""
    rows = []
    for at, title, content, sc, cc in zip(p.get("address_text", [None] * len(p)), p["title"], p["content"],
                                          p.get("street_code", [None] * len(p)),
                                          p.get("community_code", [None] * len(p))):
        m = addr.standardise(at) if _nz(at) else None
        if m is None or m.confidence < addr.REVIEW_THRESHOLD:
            m2 = addr.standardise(f"{title or ''}{(content or '')[:ADDRESS_SCAN_CHARS]}")
            m = m2 if m is None or m2.confidence > m.confidence else m
        sc, cc = _nz(sc), _nz(cc)
        street = sc or m.street_code
        comm = cc or m.community_code
        g = _GENERIC_PLACE.search(f"{title or ''}{(content or '')[:ADDRESS_SCAN_CHARS]}")
        generic = g.group(0) if g else None
        rows.append((m.street_code, m.street_name, m.community_code, m.community_name, m.road,
                     m.building, float(m.confidence), m.level, m.matched_text, street, comm,
                     comm or street or generic or "", street or generic or "NA",
                     doc_text(title, content)))
    e = pd.DataFrame(rows, columns=list(ENRICH_COLUMNS)[:-1], index=p.index)
    e["minhash"] = list(signatures(e["doc_text"].tolist()))
    return pd.concat([p, e], axis=1)


# ----------------------------------------------------------------------------- blocks
def repeat_edges(block: pd.DataFrame) -> pd.DataFrame:
    """Same issue: near-duplicate text in the same street block within 30 days (same community
    when both are known)."""
    return _edges_in_blocks(block, np.zeros(len(block), np.int64), "repeat")


def group_edges(block: pd.DataFrame) -> pd.DataFrame:
    """Same subject at the same place within 72 h (any requester)."""
    return _edges_in_blocks(block, np.zeros(len(block), np.int64), "group")


_KINDS = {  # threshold, window, must-match column, reason
    "repeat": (REPEAT_SIMILARITY, REPEAT_WINDOW_DAYS * 24, "place_key", "same_issue"),
    "group": (GROUP_SIMILARITY, GROUP_WINDOW_HOURS, None, "same_subject"),
}


def _edges_in_blocks(frame: pd.DataFrame, block: np.ndarray, kind: str, row: np.ndarray | None = None) -> pd.DataFrame:
    thr, hours, same, reason = _KINDS[kind]
    frame = frame.reset_index(drop=True)
    row = np.arange(len(frame)) if row is None else row
    e = verified_pairs(frame, block, row, thr, hours, same_col=same)
    return e.assign(reason=reason)


def requester_edges(p: pd.DataFrame) -> pd.DataFrame:
    """Same requester within 30 days about the same place or loosely the same matter.
    Pairs of each requester's tickets come from index arrays (no pandas call per requester)."""
    cols = ["a", "b", "sim", "reason"]
    q = p[["ticket_id", "requester_id", "submit_time", "place_key", "doc_text"]].dropna(subset=["requester_id"])
    q = q[q.duplicated("requester_id", keep=False)]
    if len(q) < 2:
        return pd.DataFrame(columns=cols)
    q = q.assign(_ns=pd.to_datetime(q["submit_time"]).astype("int64")) \
        .sort_values(["requester_id", "_ns"], kind="stable").reset_index(drop=True)
    _, starts, sizes = sorted_groups(pd.factorize(q["requester_id"])[0])
    i, j = segment_pairs(np.arange(len(q)), starts, sizes)
    ns = q["_ns"].to_numpy()
    keep = ns[j] - ns[i] <= pd.Timedelta(days=REPEAT_WINDOW_DAYS).value
    i, j = i[keep].tolist(), j[keep].tolist()
    ids, places = q["ticket_id"].tolist(), q["place_key"].tolist()
    out = []
    for x, y, sim in zip(i, j, pair_jaccards(q["doc_text"].tolist(), i, j)):
        if (bool(places[x]) and places[x] == places[y]) or sim >= REQUESTER_SIMILARITY:
            a, b = sorted((ids[x], ids[y]))
            out.append((a, b, round(sim, 4), "same_requester"))
    return pd.DataFrame(out, columns=cols)


def blocked_edges(p: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Pandas path of the blocking, all blocks at once (vectorised candidates; the Spark job
    runs the same code per block with applyInPandas). Each row sits in two overlapping time
    blocks of its place."""
    if kind == "repeat":
        q, place_col, hours = p, "street_block", REPEAT_WINDOW_DAYS * 24
    else:
        q, place_col, hours = p[p["place_key"] != ""], "place_key", GROUP_WINDOW_HOURS
    q = q.reset_index(drop=True)
    if len(q) < 2:
        return pd.DataFrame(columns=["a", "b", "sim", "reason"])
    k0, _ = time_blocks(q["submit_time"], hours)
    place = pd.factorize(q[place_col].fillna(""))[0].astype(np.int64)
    k0 = k0 - k0.min()
    n = len(q)
    row = np.r_[np.arange(n), np.arange(n)]
    block = place[row] * (int(k0.max()) + 2) + np.r_[k0, k0 + 1]
    e = _edges_in_blocks(q, block, kind, row)
    return e.drop_duplicates(["a", "b"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- results
def components(a: pd.Series, b: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """Connected components of the edges a-b -> (ticket ids, component number per ticket)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    codes, ids = pd.factorize(pd.concat([a, b], ignore_index=True))
    m = len(a)
    g = coo_matrix((np.ones(m, dtype=np.int8), (codes[:m], codes[m:])), shape=(len(ids), len(ids)))
    return pd.Index(ids), connected_components(g, directed=False)[1]


def merge_groups_from_edges(p: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """并案: connected tickets form one group; master = the earliest ticket (ties: smallest id).
    Column-wise (groupby), no Python loop per group."""
    cols = ["group_id", "ticket_id", "master_ticket_id", "reason", "similarity", "group_size",
            "requester_count", "channels"]
    if edges.empty:
        return pd.DataFrame(columns=cols)
    ids, comp = components(edges["a"], edges["b"])
    ends = pd.DataFrame({"ticket_id": pd.concat([edges["a"], edges["b"]], ignore_index=True),
                         "reason": pd.concat([edges["reason"]] * 2, ignore_index=True),
                         "sim": pd.concat([edges["sim"]] * 2, ignore_index=True).astype(float)})
    per = ends.groupby("ticket_id").agg(sim=("sim", "max"),
                                        reasons=("reason", lambda r: "+".join(sorted(set(r)))))
    meta = p.drop_duplicates("ticket_id").set_index("ticket_id")[["submit_time", "requester_id", "channel"]]
    m = meta.reindex(ids).rename_axis("ticket_id").reset_index().assign(comp=comp)
    m = m.sort_values(["comp", "submit_time", "ticket_id"], kind="stable")
    g = m.groupby("comp", sort=False)
    m["master_ticket_id"] = g["ticket_id"].transform("first")
    m["group_size"] = g["ticket_id"].transform("size")
    m["requester_count"] = g["requester_id"].transform("nunique")
    chans = m.dropna(subset=["channel"]).groupby("comp")["channel"].agg(lambda c: ",".join(sorted(set(c))))
    m["channels"] = m["comp"].map(chans).fillna("")
    m["group_id"] = "MG-" + m["master_ticket_id"].astype(str)
    m["similarity"] = m["ticket_id"].map(per["sim"])
    m["reason"] = np.where(m["ticket_id"] == m["master_ticket_id"], "master", m["ticket_id"].map(per["reasons"]))
    m["_first"] = m.groupby("comp")["submit_time"].transform("min")
    m = m.sort_values(["_first", "comp", "submit_time", "ticket_id"], kind="stable")  # by master time
    return m[cols].reset_index(drop=True)


def _max_requesters_in_window(times: list, reqs: list, hours: float) -> tuple[int, int, int]:
    """Sliding window over time-sorted tickets: (max distinct requesters, start idx, end idx)."""
    best, bi, bj, i = 0, 0, 0, 0
    cnt: Counter = Counter()
    win = pd.Timedelta(hours=hours)
    for j in range(len(times)):
        cnt[reqs[j]] += 1
        while times[j] - times[i] > win:
            cnt[reqs[i]] -= 1
            if cnt[reqs[i]] == 0:
                del cnt[reqs[i]]
            i += 1
        if len(cnt) > best:
            best, bi, bj = len(cnt), i, j
    return best, bi, bj


def group_alerts_from_edges(p: pd.DataFrame, edges: pd.DataFrame, sensitive_severity: dict | None = None,
                            min_requesters: int = GROUP_MIN_REQUESTERS) -> pd.DataFrame:
    """群体诉求: a same-subject, same-place component with >= min_requesters distinct requesters
    inside some 72 h window. Severity 2, 3 from 10 requesters, 4 from 30 or when a member has a
    severity-4 sensitive hit."""
    cols = ["alert_id", "place_key", "street_code", "community_code", "subject", "window_start",
            "window_end", "ticket_count", "requester_count", "severity", "ticket_ids"]
    if edges.empty:
        return pd.DataFrame(columns=cols)
    uf = UnionFind()
    for a, b in edges[["a", "b"]].itertuples(index=False):
        uf.union(a, b)
    meta = p.set_index("ticket_id")
    sev = sensitive_severity or {}
    rows = []
    for members in uf.groups().values():
        if len(members) < min_requesters:
            continue
        m = meta.loc[members].reset_index().sort_values(["submit_time", "ticket_id"])
        times = pd.to_datetime(m["submit_time"]).tolist()
        n, i, j = _max_requesters_in_window(times, m["requester_id"].tolist(), GROUP_WINDOW_HOURS)
        if n < min_requesters:
            continue
        w = m.iloc[i:j + 1]
        level = 2 + (n >= 10) + (n >= 30)
        if any(sev.get(t, 0) >= 4 for t in w["ticket_id"]):
            level = 4
        subject = Counter(w["title"]).most_common(1)[0][0]
        rows.append((f"GA-{w['ticket_id'].iloc[0]}", w["place_key"].iloc[0],
                     _nz(w["eff_street_code"].iloc[0]), _nz(w["eff_community_code"].iloc[0]),
                     subject, times[i], times[j], len(w), int(n), int(min(level, 4)),
                     sorted(w["ticket_id"].tolist())))
    return pd.DataFrame(rows, columns=cols)
