"""Opening the access store: schema created, catalog grants imported the first time."""

from __future__ import annotations

from pathlib import Path

from govlake.access.bootstrap import import_catalog
from govlake.access.database import SCHEMA, SCHEMA_VERSION, AccessStore, store_path
from govlake.settings import Settings, get_settings


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
    if fresh:
        import_catalog(store, s)
    return store
