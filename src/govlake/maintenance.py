"""Table hygiene, the daily chain's last step (表维护): every table's properties brought in line
with the catalog, small files compacted (OPTIMIZE), files no version within the retention
window reads removed (VACUUM: time travel for audit keeps `retention_days`), and what interrupted
writes left behind removed: staging folders (`_tmp-*`, `_since-*`) and Parquet files that no
version of the table's log references (a writer killed between writing its files and committing
them). Both only under the lake's run lock (no writer is running) and only for files older than
the run's start. Each part acts only where there is work (properties that differ, small files
piled up, files past the retention), so a re-run for the same day commits nothing."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from govlake.lakehouse import Lakehouse, storage
from govlake.lineage import DatasetRef
from govlake.runlock import run_lock

# OPTIMIZE lays these tables' rows out by the columns readers select on (Z-order).
ZORDER = {"gold.enterprise_tags": ["uscc"]}
# Folders a writer stages in inside a table (govlake.lakehouse.staged, govlake.profile.build):
# Delta readers skip them; nothing in them outlives the write that made them.
STAGING = ("_tmp-*", "_since-*")


def _logged_paths(table_dir: storage.AnyPath) -> set[str] | None:
    """Every data file path any version of the log names (add, remove and cdc actions of every
    commit file and checkpoint), both as written (URL-encoded) and decoded, relative to the table;
    None if some log file cannot be read (then nothing may be deleted)."""
    import pyarrow.parquet as pq

    log = table_dir / "_delta_log"
    raw: set[str] = set()
    try:
        for f in log.rglob("*.json"):  # commits, and unbackfilled ones under _commits/
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    action = json.loads(line)
                    raw.update(a["path"] for k in ("add", "remove", "cdc") if isinstance(a := action.get(k), dict))
        for f in log.rglob("*.parquet"):  # checkpoints (and their sidecars)
            fs, key = storage.filesystem(f)
            t = pq.read_table(key, filesystem=fs)
            for k in ("add", "remove", "cdc"):
                if k in t.column_names:
                    raw.update(p for p in t.column(k).combine_chunks().field("path").to_pylist() if p)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    out = set()
    remote = isinstance(table_dir, storage.LakePath)
    root = table_dir.key if remote else table_dir.resolve()
    for p in raw:
        for q in (p, unquote(p)):
            if remote and "://" in q:  # s3://bucket/key: relative to the table if inside it
                u = urlparse(q)
                key = u.netloc + unquote(u.path)
                if not key.startswith(root + "/"):
                    continue
                q = key[len(root) + 1:]
            elif "://" in q or q.startswith("/"):  # an absolute URI: relative to the table if inside it
                local = Path(unquote(urlparse(q).path) if "://" in q else q)
                try:
                    q = local.resolve().relative_to(root).as_posix()
                except ValueError:
                    continue
            out.add(q)
    return out


def remove_uncommitted(table_dir: storage.AnyPath, older_than: float) -> int:
    """Delete the table's Parquet files that no log version references and that were last
    modified before `older_than` (epoch seconds); returns how many. Never a file the log names:
    time travel keeps working, and files of removed versions stay for VACUUM to judge."""
    logged = _logged_paths(table_dir)
    if logged is None:
        return 0
    n = 0
    for f in table_dir.rglob("*.parquet"):
        rel = f.relative_to(table_dir)
        top = rel.parts[0]
        if top == "_delta_log" or (top.startswith((".", "_")) and top != "_change_data"):
            continue  # the log, and staging folders (removed whole, below)
        if rel.as_posix() in logged or f.stat().st_mtime >= older_than:
            continue
        f.unlink(missing_ok=True)
        (f.parent / f".{f.name}.crc").unlink(missing_ok=True)  # Hadoop's checksum beside a Spark file
        n += 1
    return n


def _clean(lake: Lakehouse, table: str, older_than: float) -> tuple[int, int]:
    """Staging folders and uncommitted files of interrupted writes: (folders, files) removed."""
    path = lake.path(table)
    stale = [d for pattern in STAGING for d in sorted(path.glob(pattern)) if d.stat().st_mtime < older_than]
    for d in stale:
        storage.rmtree(d)
    return len(stale), remove_uncommitted(path, older_than)


def maintain_tables(lake: Lakehouse, run=None) -> dict[str, dict]:
    """Every table's upkeep (see the module doc), under the lake's run lock: re-entered inside a
    `govlake run` or an Airflow task, taken otherwise (RunLockBusy while another run writes)."""
    out = {}
    with run_lock(lake.settings, steps=["maintain"]) as holder:
        # the run's start: what a writer of this run may still be producing is younger
        started = holder.get("started") if holder else None
        older_than = dt.datetime.fromisoformat(started).timestamp() if started else time.time()
        for table in lake.tables():
            t0 = time.perf_counter()
            staging, uncommitted = _clean(lake, table, older_than)
            changed = lake.set_properties(table)
            figures = lake.maintain(table, ZORDER.get(table))
            out[table] = {**figures, "properties_set": sorted(changed), "staging_cleared": staging,
                          "uncommitted_removed": uncommitted, "version": lake.version(table),
                          "seconds": round(time.perf_counter() - t0, 2)}
            if run is not None:
                run.add_output(DatasetRef(table, version=out[table]["version"]))
        if run is not None:
            from govlake import release

            release.carry_forward(lake, run.run_id)
    return out
