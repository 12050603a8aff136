"""Opening the access store: schema created, catalog grants imported the first time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from govlake.access.bootstrap import import_catalog
from govlake.access.database import SCHEMA, SCHEMA_VERSION, AccessStore, migrate, store_path
from govlake.settings import Settings, get_settings


def _statements(script: str) -> list[str]:
    """A script's statements (a trigger's body has its own semicolons: split where SQLite says a
    statement is complete), to run inside one transaction (executescript would commit it)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s]


def open_store(settings: Settings | None = None, path: Path | None = None) -> AccessStore:
    """The access store of a lake (schema created, catalog grants imported on first open)."""
    s = settings or get_settings()
    store = AccessStore(path or store_path(s), s)
    with store.lock:  # every statement is IF NOT EXISTS: safe when two processes open a new store
        store.db.executescript(SCHEMA)
    with store.write() as db:
        fresh = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() is None
        if fresh:
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif migrate(db):  # a store made by an older version: columns added, their triggers renewed
            for stmt in _statements(SCHEMA):
                db.execute(stmt)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    if fresh:
        import_catalog(store, s)
    return store
