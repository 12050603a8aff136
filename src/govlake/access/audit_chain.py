"""The audit table's hash chain (审计哈希链): the row a request or decision becomes, its hash, and
the direct append (one write transaction). The audit journal (govlake.access.audit_journal) folds
journaled rows into the same chain with the same functions.

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
INSERT_SQL = (f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) "
              f"VALUES ({', '.join('?' * len(FIELDS))}, ?, ?)")
USAGE_SQL = ("INSERT INTO usage VALUES (?, ?, ?, ?) ON CONFLICT (consumer_id, product, day) "
             "DO UPDATE SET rows = rows + excluded.rows")


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
# moves when this process adds to usage directly (append_audit): a daily-cap snapshot taken
# before is taken again (govlake.access.audit_journal), so the process sees its own rows at once
usage_generation = 0


def _json(v) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical(row: dict) -> str:
    return json.dumps({k: row[k] for k in FIELDS}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


def raw_row(event: AuditEvent) -> dict:
    """An event's fields as given (filters and columns not yet stored text), its time taken now if
    not set: what a serving process journals; the folder makes it the stored row (normalise)."""
    # a shallow copy: asdict would deep-copy filters and columns first (a visible share of a read)
    row = {name: getattr(event, name) for name in _EVENT_FIELDS}
    row["ts"] = row["ts"] or stamp()
    return row


def normalise(row: dict) -> dict:
    """The stored fields of a raw row, in place: filters and columns as sorted compact JSON text
    (a journal line written before raw rows were journaled already holds the text: kept)."""
    for k in ("filters", "columns"):
        if row[k] is not None and not isinstance(row[k], str):
            row[k] = _json(row[k])
    if row["version"] is not None and not -2 ** 63 <= int(row["version"]) < 2 ** 63:
        row["detail"] = f"version {row['version']} " + (row["detail"] or "")  # beyond SQLite's integers
        row["version"] = None
    return row


def row_of(event: AuditEvent) -> dict:
    """The stored fields of an event (id not yet known), its time taken now if not set."""
    return normalise(raw_row(event))


def append_rows(db, rows: list[dict]) -> int:
    """Append rows (row_of's fields, id not yet set; an optional "usage_rows" counted against the
    consumer's daily cap) to the chain, in order, inside the caller's write transaction; returns
    the last id."""
    last = db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    next_id, prev = ((last[0] + 1), last[1]) if last else (1, GENESIS)
    usage: dict[tuple, int] = {}
    values = []
    for row in rows:
        n = int(row.pop("usage_rows", 0) or 0)
        row["id"] = next_id
        h = chain_hash(prev, row)
        values.append([row[k] for k in FIELDS] + [prev, h])
        prev, next_id = h, next_id + 1
        if n and row.get("actor") and row.get("product"):
            k = (row["actor"], row["product"], row["ts"][:10])
            usage[k] = usage.get(k, 0) + n
    db.executemany(INSERT_SQL, values)
    db.executemany(USAGE_SQL, [(*k, n) for k, n in usage.items()])
    return next_id - 1


def append_audit(store: AccessStore, event: AuditEvent, *, usage_rows: int = 0) -> int:
    """Append one row to the chain now (its own write transaction); returns its id. usage_rows:
    rows to count against the consumer's daily cap in the same transaction (so cap and audit
    never disagree). Requests served by the API go through the journal instead
    (govlake.access.audit_journal.record); decisions and jobs that name their audit row use this."""
    global usage_generation
    row = row_of(event)
    row["usage_rows"] = usage_rows
    with store.write() as db:
        last = append_rows(db, [row])
    if usage_rows:
        usage_generation += 1
    return last
