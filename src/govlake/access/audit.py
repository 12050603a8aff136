"""The audit trail (审计日志): one row per API request, allowed or denied, and per access decision.

Tamper-evident: each row stores hash = sha256(prev_hash + canonical row), the canonical row being
its fields (id included) as sorted compact JSON; the first row's prev_hash is 64 zeros. Editing,
deleting or reordering a row breaks the chain at that row (`verify_audit` names it); the
database's triggers already refuse UPDATE and DELETE, so a break means the file was changed
behind the platform's back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from govlake.access.database import AccessStore, stamp

GENESIS = "0" * 64
FIELDS = ["id", "ts", "actor_kind", "actor", "key_id", "action", "product", "version", "filters", "columns",
          "rows", "purpose", "grant_id", "client", "outcome", "status", "detail"]


@dataclass
class AuditEvent:
    action: str
    outcome: str                      # allowed | denied | error
    actor_kind: str = "anonymous"     # consumer | account | anonymous | system
    actor: str | None = None
    key_id: str | None = None
    product: str | None = None
    version: int | None = None
    filters: dict | None = None
    columns: list[str] | None = None
    rows: int | None = None
    purpose: str | None = None
    grant_id: int | None = None
    client: str | None = None
    status: int | None = None
    detail: str | None = None
    ts: str | None = None


_EVENT_FIELDS = [f.name for f in dataclasses.fields(AuditEvent)]


def _json(v) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical(row: dict) -> str:
    return json.dumps({k: row[k] for k in FIELDS}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def append_audit(store: AccessStore, event: AuditEvent, *, usage_rows: int = 0) -> int:
    """Append one row to the chain; returns its id. usage_rows: rows to count against the
    consumer's daily cap in the same transaction (so cap and audit never disagree)."""
    # a shallow copy: asdict would deep-copy filters and columns first (a visible share of a read)
    row = {name: getattr(event, name) for name in _EVENT_FIELDS}
    row["ts"] = row["ts"] or stamp()
    row["filters"], row["columns"] = _json(row["filters"]), _json(row["columns"])
    if row["version"] is not None and not -2 ** 63 <= int(row["version"]) < 2 ** 63:
        row["detail"] = f"version {row['version']} " + (row["detail"] or "")  # beyond SQLite's integers
        row["version"] = None
    with store.write() as db:
        last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        row["id"] = (last["id"] + 1) if last else 1
        prev = last["hash"] if last else GENESIS
        h = chain_hash(prev, row)
        db.execute(f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) VALUES ({', '.join('?' * len(FIELDS))}, ?, ?)",
                   [row[k] for k in FIELDS] + [prev, h])
        if usage_rows and event.actor and event.product:
            db.execute("INSERT INTO usage VALUES (?, ?, ?, ?) ON CONFLICT (consumer_id, product, day) "
                       "DO UPDATE SET rows = rows + excluded.rows",
                       (event.actor, event.product, row["ts"][:10], usage_rows))
    return row["id"]


def rows_served_today(store: AccessStore, consumer_id: str, product: str) -> int:
    r = store.query("SELECT rows FROM usage WHERE consumer_id = ? AND product = ? AND day = ?",
                    (consumer_id, product, stamp()[:10]))
    return r[0]["rows"] if r else 0


def query_audit(store: AccessStore, *, product: str | None = None, consumer: str | None = None,
                since: str | None = None, outcome: str | None = None, limit: int = 100) -> list[dict]:
    """Audit rows, newest first. since: an ISO date or timestamp (UTC)."""
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
    """Walk the chain from the first row: ids consecutive, each prev_hash the previous hash,
    each hash recomputed from the row."""
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
