"""The audit trail (审计日志): one row per API request, allowed or denied, and per access decision.

The rows form a hash chain (govlake.access.audit_chain: the row, its hash, the direct append).
Requests served by the API are journaled first and folded into the table within a bounded delay
(govlake.access.audit_journal); every reader here has them folded before it reads, so it sees
every request already answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from govlake.access import audit_journal
from govlake.access.audit_chain import (FIELDS, GENESIS, AuditEvent, append_audit, canonical, chain_hash,
                                        row_of)
from govlake.access.database import AccessStore, stamp

__all__ = ["FIELDS", "GENESIS", "AuditEvent", "append_audit", "canonical", "chain_hash", "row_of", "record",
           "rows_served_today", "query_audit", "AuditCheck", "verify_audit"]

record = audit_journal.record


def rows_served_today(store: AccessStore, consumer_id: str, product: str) -> int:
    """Rows counted against the daily cap. In a serving process: counted in memory, a snapshot of
    usage plus this process's journaled rows past it (audit_journal.Journal.rows_today: no query
    per request); elsewhere usage itself, where this process's rows are appended at once."""
    day = stamp()[:10]
    j = audit_journal.active(store)
    if j is not None:
        return j.rows_today(consumer_id, product, day)
    r = store.query("SELECT rows FROM usage WHERE consumer_id = ? AND product = ? AND day = ?",
                    (consumer_id, product, day))
    return r[0]["rows"] if r else 0


def query_audit(store: AccessStore, *, product: str | None = None, consumer: str | None = None,
                since: str | None = None, outcome: str | None = None, limit: int = 100) -> list[dict]:
    """Audit rows, newest first (journaled requests folded first). since: an ISO date or timestamp (UTC)."""
    audit_journal.fold_first(store)
    where, params = [], []
    for col, v in (("product", product), ("actor", consumer), ("outcome", outcome)):
        if v is not None:
            where.append(f"{col} = ?")
            params.append(v)
    if since:
        where.append("ts >= ?")
        params.append(since)
    sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
    out = []
    for r in store.query(sql, [*params, int(limit)]):
        d = dict(r)
        d["filters"] = json.loads(d["filters"]) if d["filters"] else None
        d["columns"] = json.loads(d["columns"]) if d["columns"] else None
        out.append(d)
    return out


@dataclass
class AuditCheck:
    ok: bool
    rows: int
    first_broken: int | None = None
    reason: str | None = None


def verify_audit(store: AccessStore) -> AuditCheck:
    """Walk the chain from the first row (journaled requests folded first): ids consecutive,
    each prev_hash the previous hash, each hash recomputed from the row."""
    audit_journal.fold_first(store)
    prev, expected_id, n = GENESIS, 1, 0
    with store.lock:
        cur = store.db.execute("SELECT * FROM audit ORDER BY id")
        for r in cur:
            d = dict(r)
            n += 1
            if d["id"] != expected_id:
                return AuditCheck(False, n, d["id"], f"row {expected_id} is missing (expected id {expected_id}, found {d['id']})")
            if d["prev_hash"] != prev:
                return AuditCheck(False, n, d["id"], "prev_hash does not match the previous row's hash")
            if chain_hash(prev, d) != d["hash"]:
                return AuditCheck(False, n, d["id"], "row content does not match its hash (edited)")
            prev, expected_id = d["hash"], expected_id + 1
    return AuditCheck(True, n)
