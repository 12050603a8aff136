"""The sandbox's own records (沙箱台账): one SQLite file beside the access store,
`<work dir>/_platform/cleanroom.db`.

- `settings`: k per consumer (最小单元企业数), set by an account; default DEFAULT_K.
- `jobs`: every submission, allowed or refused: consumer, kind, code hash, inputs with their
  versions, cells released and suppressed, enterprises covered, the audit row and lineage run.
- `released_cells`: the enterprise set behind every cell a consumer has received (as hashes of the
  USCCs), which the differencing check (govlake.cleanroom.differencing) combines new cells with.
- `job_outputs`: what each job told the consumer: the released columns and rows (the portal's
  download 下载) or the refusal's public reason (a failed run's own message stays in `jobs`).
- `organisations`: consumers an admin put in one organisation (组织); their released cells form
  one history (collusion: docs/cleanroom.md).

SQLite for the same reason as the access store (docs/adr/0004-access-store.md): a small
transactional write per job, and the differencing check and the recording of the cells it
passed must happen in one transaction (BEGIN IMMEDIATE), so two concurrent jobs of one consumer
cannot both pass against a history that lacks the other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from govlake.access.database import AccessStore
from govlake.cleanroom.differencing import find_clash
from govlake.settings import Settings

DEFAULT_K = 10
MIN_K = 5      # below this a cell is close to one enterprise's own figures

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    consumer_id TEXT PRIMARY KEY,
    k           INTEGER NOT NULL CHECK (k >= 2),
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id               INTEGER PRIMARY KEY,
    consumer_id      TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('sql', 'model')),
    submitted_at     TEXT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
    reason           TEXT,
    code_sha256      TEXT NOT NULL,
    code             TEXT NOT NULL,
    inputs           TEXT,
    k                INTEGER,
    cells_released   INTEGER NOT NULL DEFAULT 0,
    cells_suppressed INTEGER NOT NULL DEFAULT 0,
    enterprises      INTEGER NOT NULL DEFAULT 0,
    audit_id         INTEGER,
    run_id           TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_consumer ON jobs (consumer_id, id);
CREATE TABLE IF NOT EXISTS released_cells (
    id           INTEGER PRIMARY KEY,
    consumer_id  TEXT NOT NULL,
    job_id       INTEGER NOT NULL,
    measure      TEXT NOT NULL,   -- '*' (the cell's enterprises) or the aggregated column
    size         INTEGER NOT NULL,
    members_hash TEXT NOT NULL,
    members      TEXT NOT NULL,
    UNIQUE (consumer_id, measure, members_hash)
);
CREATE INDEX IF NOT EXISTS cells_by_size ON released_cells (consumer_id, measure, size);
CREATE TABLE IF NOT EXISTS job_outputs (
    job_id        INTEGER PRIMARY KEY,
    public_reason TEXT,      -- a refusal as the consumer was told it (the jobs row keeps the full one)
    columns       TEXT,      -- an allowed job: exactly what left, for the portal's download
    rows          TEXT
);
CREATE TABLE IF NOT EXISTS organisations (
    consumer_id TEXT PRIMARY KEY,
    org         TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS jobs_no_delete BEFORE DELETE ON jobs
BEGIN SELECT RAISE(ABORT, 'cleanroom jobs are kept (沙箱作业记录不可删除)'); END;
CREATE TRIGGER IF NOT EXISTS cells_no_delete BEFORE DELETE ON released_cells
BEGIN SELECT RAISE(ABORT, 'released cells are kept (已发布单元不可删除)'); END;
"""


def member_id(uscc: str) -> str:
    """How an enterprise is kept in the history of released cells (not the USCC itself)."""
    return hashlib.sha256(uscc.encode("utf-8")).hexdigest()[:16]


class Ledger(AccessStore):
    """The clean room's own database file, on the access store's connection (WAL, one write
    transaction at a time, a lock for the threads of one process)."""

    def __init__(self, settings: Settings, path: Path | None = None):
        super().__init__(path or settings.local_dir / "_platform" / "cleanroom.db", settings)
        with self.lock:
            self.db.executescript(SCHEMA)

    # -- k ------------------------------------------------------------------------------------
    def k_for(self, consumer_id: str) -> int:
        with self.lock:
            r = self.db.execute("SELECT k FROM settings WHERE consumer_id = ?", (consumer_id,)).fetchone()
        return int(r["k"]) if r else DEFAULT_K

    def set_k(self, consumer_id: str, k: int, *, by: str, at: str) -> None:
        if int(k) < MIN_K:
            raise ValueError(f"k must be at least {MIN_K} (最小单元企业数不得低于 {MIN_K})")
        with self.write() as db:
            db.execute("INSERT INTO settings VALUES (?, ?, ?, ?) ON CONFLICT (consumer_id) DO UPDATE SET "
                       "k = excluded.k, set_by = excluded.set_by, set_at = excluded.set_at", (consumer_id, int(k), by, at))

    # -- jobs ---------------------------------------------------------------------------------
    def record_job(self, db, job: dict) -> int:
        cols = ["consumer_id", "kind", "submitted_at", "outcome", "reason", "code_sha256", "code", "inputs", "k",
                "cells_released", "cells_suppressed", "enterprises", "audit_id", "run_id"]
        row = {**job, "inputs": json.dumps(job.get("inputs") or {}, sort_keys=True)}
        cur = db.execute(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         [row.get(c) for c in cols])
        return int(cur.lastrowid)

    def jobs(self, consumer_id: str | list[str] | None = None, limit: int = 50) -> list[dict]:
        ids = [consumer_id] if isinstance(consumer_id, str) else list(consumer_id or [])
        if consumer_id is not None and not ids:
            return []
        where = f" WHERE consumer_id IN ({', '.join('?' * len(ids))})" if consumer_id is not None else ""
        sql = "SELECT * FROM jobs" + where + " ORDER BY id DESC LIMIT ?"
        with self.lock:
            rows = self.db.execute(sql, ids + [int(limit)]).fetchall()
        return [{**dict(r), "inputs": json.loads(r["inputs"] or "{}")} for r in rows]

    def record_output(self, db, job_id: int, *, public_reason: str | None = None, columns: list[str] | None = None,
                      rows: list[dict] | None = None) -> None:
        db.execute("INSERT OR REPLACE INTO job_outputs VALUES (?, ?, ?, ?)",
                   (job_id, public_reason, None if columns is None else json.dumps(columns, ensure_ascii=False),
                    None if rows is None else json.dumps(rows, ensure_ascii=False, default=str)))

    def job(self, job_id: int) -> dict | None:
        """One job with what it told the consumer: public_reason, columns, rows (None when not kept)."""
        with self.lock:
            r = self.db.execute("SELECT j.*, o.public_reason, o.columns AS out_columns, o.rows AS out_rows FROM jobs j "
                                "LEFT JOIN job_outputs o ON o.job_id = j.id WHERE j.id = ?", (int(job_id),)).fetchone()
        if r is None:
            return None
        d = {**dict(r), "inputs": json.loads(r["inputs"] or "{}")}
        d["columns"] = json.loads(d.pop("out_columns")) if r["out_columns"] else None
        d["rows"] = json.loads(d.pop("out_rows")) if r["out_rows"] else None
        return d

    def public_reasons(self, job_ids: list[int]) -> dict[int, str]:
        if not job_ids:
            return {}
        with self.lock:
            rows = self.db.execute(f"SELECT job_id, public_reason FROM job_outputs WHERE public_reason IS NOT NULL AND "
                                   f"job_id IN ({', '.join('?' * len(job_ids))})", [int(j) for j in job_ids]).fetchall()
        return {r["job_id"]: r["public_reason"] for r in rows}

    # -- organisations --------------------------------------------------------------------------
    def organisations(self) -> dict[str, str]:
        """consumer -> organisation (组织) an admin set; consumers without one: see jobs.history_pool."""
        with self.lock:
            return {r["consumer_id"]: r["org"] for r in self.db.execute("SELECT consumer_id, org FROM organisations")}

    def set_organisation(self, consumer_id: str, org: str, *, by: str, at: str) -> None:
        if not org or len(org) > 64:
            raise ValueError("organisation: 1-64 characters (组织名称)")
        with self.write() as db:
            db.execute("INSERT INTO organisations VALUES (?, ?, ?, ?) ON CONFLICT (consumer_id) DO UPDATE SET "
                       "org = excluded.org, set_by = excluded.set_by, set_at = excluded.set_at",
                       (consumer_id, org, by, at))

    # -- differencing ---------------------------------------------------------------------------
    def differencing(self, db, consumer_id: str, cells: list[tuple[int, str, frozenset[str]]], k: int,
                     pool: list[str] | None = None) -> str | None:
        """The first combination of enterprise sets of one measure — new with new, new with the
        cells already released to `pool` (default: the consumer alone) — that isolates at least
        one and fewer than k enterprises, described (govlake.cleanroom.differencing: pairs, three
        terms, a breakdown against its margin); None if none does.
        cells: (output row number, measure, set of member ids)."""
        consumers = sorted(set(pool or []) | {consumer_id})
        by_measure: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for row, measure, cell in cells:
            by_measure.setdefault(measure, []).append((f"row {row} of this answer", cell))
        marks = ", ".join("?" * len(consumers))
        for measure, new in by_measure.items():
            history = [(r["job_id"], frozenset(json.loads(r["members"]))) for r in db.execute(
                f"SELECT job_id, members FROM released_cells WHERE consumer_id IN ({marks}) AND measure = ? "
                "ORDER BY id", (*consumers, measure))]
            clash = find_clash(new, history, k)
            if clash:
                return f"{clash} ({_label(measure)})"
        return None

    def record_cells(self, db, consumer_id: str, job_id: int, cells: list[tuple[int, str, frozenset[str]]]) -> None:
        for _, measure, cell in cells:
            members = sorted(cell)
            h = hashlib.sha256(",".join(members).encode()).hexdigest()
            db.execute("INSERT OR IGNORE INTO released_cells (consumer_id, job_id, measure, size, members_hash, members) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (consumer_id, job_id, measure, len(members), h, json.dumps(members)))


def _label(measure: str) -> str:
    return "its enterprises" if measure == "*" else f"enterprises with a value in {measure}"
