"""Benchmark: the signals over a year of petitions (default 188,000) on this machine, through
the pandas path (the same per-block functions the Spark job runs). Synthetic petitions seeded
with the real taidi texts (govlake.signals.synth). Returns seconds per stage and peak RSS."""

from __future__ import annotations

import datetime as dt
import resource
import time

import pandas as pd

from govlake.signals import detect
from govlake.signals.hot_topics import hot_topics
from govlake.signals.sensitive import classify, get_model
from govlake.signals.synth import synthetic_petitions


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_signals(n: int = 188_000, seed: int = 11, topic_window_days: int = 30) -> dict:
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    p = synthetic_petitions(n, seed=seed, start=dt.date(2026, 1, 1), days=365, bursts=max(1, n // 20_000))
    t["generate"] = time.perf_counter() - t0
    start = time.perf_counter()

    def stage(name, fn):
        s = time.perf_counter()
        out = fn()
        t[name] = round(time.perf_counter() - s, 2)
        return out

    p = stage("enrich_address_minhash", lambda: detect.enrich(p))
    model = stage("sensitive_model", lambda: get_model(fallback_texts=lambda: (p["title"] + p["content"]).head(20000).tolist()))
    sens = stage("sensitive_score", lambda: classify((p["title"] + p["content"]).tolist(), model))
    rep = stage("repeat_edges", lambda: pd.concat([detect.blocked_edges(p, "repeat"), detect.requester_edges(p)]))
    merges = stage("merge_groups", lambda: detect.merge_groups_from_edges(p, rep.drop_duplicates(["a", "b", "reason"])))
    grp = stage("group_edges", lambda: detect.blocked_edges(p, "group"))
    alerts = stage("group_alerts", lambda: detect.group_alerts_from_edges(p, grp))
    as_of = p["submit_time"].max().date()
    topics = stage("hot_topics_30d", lambda: hot_topics(p, as_of, window_days=topic_window_days))
    t["total_signals"] = round(time.perf_counter() - start, 2)
    return {"n": n, "seconds": t, "peak_rss_mb": round(_rss_mb(), 1),
            "sensitive_alerts": sum(1 for s in sens if s["alert_kind"]),
            "merge_groups": int(merges["group_id"].nunique()) if len(merges) else 0,
            "group_alerts": len(alerts), "bursts_injected": max(1, n // 20_000),
            "hot_topics": len(topics), "review_queue": int((p["address_confidence"] < 0.5).sum())}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(bench_signals(int(sys.argv[1]) if len(sys.argv) > 1 else 188_000), indent=1, ensure_ascii=False))
