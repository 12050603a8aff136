"""What access control costs a request (docs/adr/0004-access-store.md):

    .venv/bin/python -m govlake.access.latency [--rows 5000] [--reads 800]

1. audit append: `append_audit` (a commit) and `record` with the journal started (as a serving
   process: one write to the worker's journal, govlake.access.audit_journal) on a store in a fresh
   temporary lake, one call at a time;
2. a keyed read (GET /enterprises/{uscc}/profile, in process) on a small generated profile, with
   auth + grant + audit as served, and with them replaced by no-ops (the key, grant and daily
   count answered from memory, the audit row not written), in alternating blocks of one run.
Prints p50/p99 in milliseconds, wall and CPU time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000


def audit_append(store, n: int, journal: bool = False) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (this thread) per append: on a loaded machine the wall time's tail is
    the scheduler's (a call spanning a timer tick while others wait for the core loses a time slice),
    the CPU time is the append's own cost."""
    from govlake.access import audit_journal
    from govlake.access.audit import AuditEvent, append_audit, record

    write = record if journal else append_audit
    if journal:
        audit_journal.start(store)
    out, cpu = [], []
    for i in range(n):
        ev = AuditEvent("GET /enterprises/x/profile", "allowed", "consumer", "kcj_policy_portal", key_id="0" * 12,
                        product="gold.enterprise_profile", version=3, filters={"uscc": f"9144{i:014d}"}, rows=1,
                        purpose="一企一画像：政策兑现核验", grant_id=1, client="10.0.0.1", status=200)
        t, c = time.perf_counter(), time.thread_time()
        write(store, ev, usage_rows=1)
        out.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    if journal:
        audit_journal.stop(store)
    return out, cpu


def _profile(settings, rows: int) -> list[str]:
    import pyarrow as pa
    from deltalake import write_deltalake

    from govlake.lakehouse import Lakehouse

    rng = random.Random(7)
    usccs = [f"9144030000{i:08d}" for i in range(rows)]
    cols = {"uscc": usccs, "ent_name": [f"企业{i}" for i in range(rows)],
            "contact_phone": [f"138{rng.randrange(10**8):08d}" for _ in range(rows)]}
    for j in range(40):
        cols[f"revenue_y{j}_wan"] = [rng.random() * 1000 for _ in range(rows)]
    write_deltalake(str(Lakehouse(None, settings).path("gold.enterprise_profile")), pa.table(cols),
                    configuration={"delta.enableDeletionVectors": "true"})
    return usccs


def keyed_reads(settings, usccs: list[str], reads: int, blocks: int = 8) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient

    import govlake.access.reads as reads_module
    import govlake.api.audit_middleware as mw
    import govlake.api.deps as deps
    from govlake import access
    from govlake.api.app import create_app

    from govlake.api.bench import _key

    token = _key(settings)  # a grant whose rate is above what this offers: the reads, not the limiter
    store = access.open_store(settings)
    ident = access.verify_key(store, token)
    grant = access.active_grant(store, "kcj_policy_portal", "gold.enterprise_profile")
    client = TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"})
    real = (deps.verify_key, deps.active_grant, reads_module.rows_served_today, mw.record_audit)
    off = (lambda s, t: ident, lambda s, c, p: grant, lambda s, c, p: 0, lambda *a, **k: 0)
    rng = random.Random(11)
    out: dict[str, list[float]] = {"with auth+audit": [], "without": [], "with auth+audit, CPU": [], "without, CPU": []}
    for b in range(blocks * 2):
        name = "with auth+audit" if b % 2 == 0 else "without"
        (deps.verify_key, deps.active_grant, reads_module.rows_served_today,
         mw.record_audit) = real if b % 2 == 0 else off
        for _ in range(reads // blocks):
            u = rng.choice(usccs)
            t, c = time.perf_counter(), time.process_time()
            r = client.get(f"/enterprises/{u}/profile")
            out[name].append(time.perf_counter() - t)
            out[name + ", CPU"].append(time.process_time() - c)
            assert r.status_code == 200, r.text
    (deps.verify_key, deps.active_grant, reads_module.rows_served_today, mw.record_audit) = real
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--reads", type=int, default=800)
    ap.add_argument("--appends", type=int, default=2000)
    a = ap.parse_args()
    from govlake import access
    from govlake.settings import Settings

    with tempfile.TemporaryDirectory() as d:
        settings = Settings(lake_root=Path(d) / "lake", lineage_file=Path(d) / "lineage.jsonl")
        store = access.open_store(settings)
        for journal in (False, True):
            xs, cs = audit_append(store, a.appends, journal)
            how = "record, journaled" if journal else "append, committed"
            print(f"audit {how} ({a.appends}): wall p50 {_pct(xs, 50):.3f} ms, p99 {_pct(xs, 99):.3f} ms, "
                  f"mean {statistics.mean(xs) * 1000:.3f} ms; CPU p50 {_pct(cs, 50):.3f} ms, p99 {_pct(cs, 99):.3f} ms")
        with open("/proc/loadavg") as f:
            print(f"load average (1/5/15 min): {' '.join(f.read().split()[:3])}")
        usccs = _profile(settings, a.rows)
        for name, ys in keyed_reads(settings, usccs, a.reads).items():
            print(f"keyed read {name} ({len(ys)} reads, {a.rows} enterprises): p50 {_pct(ys, 50):.2f} ms, "
                  f"p99 {_pct(ys, 99):.2f} ms")


if __name__ == "__main__":
    main()
