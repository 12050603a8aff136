"""The platform's access database (访问控制库): one SQLite file under the lake root, WAL.

Why SQLite and not a Delta table: every API request appends an audit row and reads its key and
grant; that is a small transactional write per request, which SQLite does in well under a
millisecond with a file lock shared by every API worker, while a Delta commit per request would
cost a log file each (docs/adr/0004-access-store.md).

History is kept by refusing destructive changes in the schema itself: triggers reject DELETE on
decisions, keys and audit rows, any UPDATE of an audit row, a second decision on an application,
and any change to a grant or key other than setting its revocation (or expiry mark) once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from govlake.settings import Settings, get_settings

SCHEMA_VERSION = 2   # 2: rate_per_s, rate_burst on applications and grants (限流)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS accounts (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'owner', 'member')),
    dept          TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS consumers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    dept       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    consumer_id TEXT NOT NULL REFERENCES consumers(id),
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT
);

CREATE TABLE IF NOT EXISTS applications (
    id          INTEGER PRIMARY KEY,
    consumer_id TEXT NOT NULL REFERENCES consumers(id),
    product     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    columns     TEXT,            -- JSON list; NULL: every column the levels allow
    row_scope   TEXT,            -- JSON {column: [values]}; NULL: every row
    days        INTEGER NOT NULL,
    sensitive   INTEGER NOT NULL DEFAULT 0,
    export      INTEGER NOT NULL DEFAULT 0,
    daily_rows  INTEGER NOT NULL,
    rate_per_s  REAL,            -- requests per second (NULL: the product's or platform's default)
    rate_burst  INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    applied_by  TEXT NOT NULL,
    applied_at  TEXT NOT NULL,
    decided_by  TEXT,
    decided_at  TEXT,
    reason      TEXT
);

CREATE TABLE IF NOT EXISTS grants (
    id             INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL UNIQUE REFERENCES applications(id),
    consumer_id    TEXT NOT NULL REFERENCES consumers(id),
    product        TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    columns        TEXT,
    row_scope      TEXT,
    sensitive      INTEGER NOT NULL,
    export         INTEGER NOT NULL,
    daily_rows     INTEGER NOT NULL,
    rate_per_s     REAL,          -- requests per second; NULL (grants made before): the default
    rate_burst     INTEGER,
    granted_by     TEXT NOT NULL,
    valid_from     TEXT NOT NULL,
    valid_to       TEXT NOT NULL,
    revoked_at     TEXT,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    expired_at     TEXT
);
CREATE INDEX IF NOT EXISTS grants_by_consumer ON grants (consumer_id, product);

-- rows served per consumer, product and day (the daily cap), kept beside the audit rows
CREATE TABLE IF NOT EXISTS usage (
    consumer_id TEXT NOT NULL,
    product     TEXT NOT NULL,
    day         TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    PRIMARY KEY (consumer_id, product, day)
);

-- how far each audit journal is folded into the audit table (govlake.access.audit_journal),
-- moved in the same transaction as the rows it folds: each journaled record folds exactly once
CREATE TABLE IF NOT EXISTS journal_folds (
    file   TEXT PRIMARY KEY,
    offset INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,
    actor_kind TEXT NOT NULL,     -- consumer | account | anonymous | system
    actor      TEXT,
    key_id     TEXT,
    action     TEXT NOT NULL,     -- e.g. GET /products/{name}, grant.approve
    product    TEXT,
    version    INTEGER,
    filters    TEXT,
    columns    TEXT,
    rows       INTEGER,
    purpose    TEXT,
    grant_id   INTEGER,
    client     TEXT,
    outcome    TEXT NOT NULL,     -- allowed | denied | error
    status     INTEGER,
    detail     TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_product ON audit (product, ts);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (actor, ts);

CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only (审计记录只增不改)'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only (审计记录只增不改)'); END;

CREATE TRIGGER IF NOT EXISTS applications_decided_once BEFORE UPDATE ON applications
WHEN OLD.status <> 'pending' OR NEW.consumer_id IS NOT OLD.consumer_id OR NEW.product IS NOT OLD.product
  OR NEW.purpose IS NOT OLD.purpose OR NEW.columns IS NOT OLD.columns OR NEW.row_scope IS NOT OLD.row_scope
  OR NEW.days IS NOT OLD.days OR NEW.sensitive IS NOT OLD.sensitive OR NEW.export IS NOT OLD.export
  OR NEW.daily_rows IS NOT OLD.daily_rows OR NEW.rate_per_s IS NOT OLD.rate_per_s
  OR NEW.rate_burst IS NOT OLD.rate_burst OR NEW.applied_by IS NOT OLD.applied_by
  OR NEW.applied_at IS NOT OLD.applied_at
BEGIN SELECT RAISE(ABORT, 'an application is decided once and never edited (申请只能审批一次)'); END;
CREATE TRIGGER IF NOT EXISTS applications_no_delete BEFORE DELETE ON applications
BEGIN SELECT RAISE(ABORT, 'applications are kept (申请记录不可删除)'); END;

CREATE TRIGGER IF NOT EXISTS grants_revoked_once BEFORE UPDATE ON grants
WHEN (OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS NOT OLD.revoked_at)
  OR (OLD.expired_at IS NOT NULL AND NEW.expired_at IS NOT OLD.expired_at)
  OR NEW.application_id IS NOT OLD.application_id OR NEW.consumer_id IS NOT OLD.consumer_id
  OR NEW.product IS NOT OLD.product OR NEW.purpose IS NOT OLD.purpose OR NEW.columns IS NOT OLD.columns
  OR NEW.row_scope IS NOT OLD.row_scope OR NEW.sensitive IS NOT OLD.sensitive OR NEW.export IS NOT OLD.export
  OR NEW.daily_rows IS NOT OLD.daily_rows OR NEW.rate_per_s IS NOT OLD.rate_per_s
  OR NEW.rate_burst IS NOT OLD.rate_burst OR NEW.granted_by IS NOT OLD.granted_by
  OR NEW.valid_from IS NOT OLD.valid_from OR NEW.valid_to IS NOT OLD.valid_to
BEGIN SELECT RAISE(ABORT, 'a grant only gains its revocation or expiry, once (授权只可撤销，不可修改)'); END;
CREATE TRIGGER IF NOT EXISTS grants_no_delete BEFORE DELETE ON grants
BEGIN SELECT RAISE(ABORT, 'grants are kept (授权记录不可删除)'); END;
CREATE TRIGGER IF NOT EXISTS keys_revoked_once BEFORE UPDATE ON api_keys
WHEN OLD.revoked_at IS NOT NULL OR NEW.key_id IS NOT OLD.key_id OR NEW.consumer_id IS NOT OLD.consumer_id
  OR NEW.secret_hash IS NOT OLD.secret_hash OR NEW.expires_at IS NOT OLD.expires_at
  OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'a key only gains its revocation, once (密钥只可吊销)'); END;
CREATE TRIGGER IF NOT EXISTS keys_no_delete BEFORE DELETE ON api_keys
BEGIN SELECT RAISE(ABORT, 'keys are kept (密钥记录不可删除)'); END;
"""


# the triggers naming every column of their table: dropped and created anew (SCHEMA) when a
# migration adds columns, so the new columns are frozen too
COLUMN_TRIGGERS = ("applications_decided_once", "grants_revoked_once")
ADDED_COLUMNS = {  # schema version 2: per-grant request rate (限流)
    "applications": [("rate_per_s", "REAL"), ("rate_burst", "INTEGER")],
    "grants": [("rate_per_s", "REAL"), ("rate_burst", "INTEGER")],
}


def migrate(db: sqlite3.Connection) -> bool:
    """Bring a store made by an older version up to SCHEMA (in the caller's write transaction).
    Returns True when something changed; the caller then runs SCHEMA to recreate the triggers."""
    changed = False
    for table, cols in ADDED_COLUMNS.items():
        have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        for name, typ in cols:
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {typ}")
                changed = True
    if changed:
        for t in COLUMN_TRIGGERS:
            db.execute(f"DROP TRIGGER IF EXISTS {t}")
    return changed


class AccessError(Exception):
    """A refused access-control operation (e.g. unknown consumer, not allowed to approve)."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def stamp(t: dt.datetime | None = None) -> str:
    """UTC timestamps as fixed-width ISO text, so text order is time order in SQL."""
    return (t or now()).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=8192)  # the same stamps (a key's expiry, a grant's window) on every request
def parse_stamp(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def store_path(settings: Settings | None = None) -> Path:
    s = settings or get_settings()
    return s.local_dir / "_platform" / "access.db"  # SQLite: a local file, beside a local lake


class AccessStore:
    """One connection to the access database, shared by the threads of one process (a lock
    serialises them; SQLite's file lock serialises processes)."""

    def __init__(self, path: Path, settings: Settings):
        self.path, self.settings = path, settings
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a commit survives a process crash; a power cut may lose the last ones
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.lock = threading.RLock()

    @contextmanager
    def write(self):
        """One write transaction, taken at once (BEGIN IMMEDIATE) so two writers never deadlock."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.db.close()
