"""The daily upkeep removes what interrupted writes left (staging folders, Parquet files no log
version references) and nothing any version reads: every version stays readable afterwards."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from govlake.maintenance import maintain_tables, remove_uncommitted
from govlake.runlock import RunLockBusy

T, P = "silver.upkeep", "silver.upkeep_parts"


def _old(path, seconds=3600):
    t = time.time() - seconds
    os.utime(path, (t, t))


def _referenced(lake, table) -> set:
    """Every file any version's snapshot reads (delta-rs, version by version): what must stay."""
    from deltalake import DeltaTable

    return {u.removeprefix("file://") for v in range(lake.version(table) + 1)
            for u in DeltaTable(str(lake.path(table)), version=v).file_uris()}


def _data_files(lake, table) -> set:
    root = lake.path(table)
    return {str(f) for f in root.rglob("*.parquet") if not f.relative_to(root).parts[0].startswith("_")}


def _versions(lake, table):
    return {v: sorted(lake.to_arrow(table, version=v).column("id").to_pylist()) for v in range(lake.version(table) + 1)}


def test_interrupted_writes_leave_nothing_behind(spark, lake):
    lake.write(spark.createDataFrame([(1,), (2,)], "id int"), T)
    lake.write(spark.createDataFrame([(3,)], "id int"), T)  # overwrite: version 0's files now only "removed"
    lake.write(spark.createDataFrame([(4,)], "id int"), T, mode="append")
    lake.write(spark.createDataFrame([(1, "a"), (2, "b")], "id int, p string"), P, partition_by=["p"])
    before = {T: _versions(lake, T), P: _versions(lake, P)}
    assert before[T] == {0: [1, 2], 1: [3], 2: [3, 4]}

    root, parts = lake.path(T), lake.path(P)
    data = sorted(root.glob("*.parquet"))
    assert len(data) >= 3  # version 0's files are still on disk (time travel)
    # what a killed writer leaves: a file moved into the table and never committed, a partition's
    # file, a staging folder; and a file written after this run started (a writer still at work)
    orphan = root / "part-99999-4d3c2b1a-orphan.c000.snappy.parquet"
    shutil.copy(data[0], orphan)
    part_orphan = parts / "p=a" / "part-99999-orphan.c000.snappy.parquet"
    shutil.copy(next((parts / "p=a").glob("*.parquet")), part_orphan)
    staging = root / "_tmp-0123456789ab"
    staging.mkdir()
    shutil.copy(data[0], staging / "part-00000.parquet")
    fresh = root / "part-99998-fresh.c000.snappy.parquet"
    shutil.copy(data[0], fresh)
    for p in [*map(Path, _data_files(lake, T) | _data_files(lake, P)), staging / "part-00000.parquet", staging]:
        _old(p)
    os.utime(fresh, (time.time() + 3600, time.time() + 3600))
    # Spark also leaves the empty file of a task without rows, which its commit does not log: as
    # uncommitted as the orphans
    keep = {T: _referenced(lake, T), P: _referenced(lake, P)}
    gone = {t: _data_files(lake, t) - keep[t] - {str(fresh)} for t in (T, P)}
    assert str(orphan) in gone[T] and str(part_orphan) in gone[P]

    out = maintain_tables(lake)
    assert (out[T]["uncommitted_removed"], out[T]["staging_cleared"]) == (len(gone[T]), 1)
    assert (out[P]["uncommitted_removed"], out[P]["staging_cleared"]) == (len(gone[P]), 0)
    assert not any(Path(f).exists() for t in (T, P) for f in gone[t]) and not staging.exists()
    assert fresh.exists()  # younger than the run: not judged
    assert all(Path(f).exists() for t in (T, P) for f in keep[t])  # every file a version reads stays
    assert len(keep[T]) > 2  # version 0's files among them (removed at version 1, kept for time travel)
    assert {T: _versions(lake, T), P: _versions(lake, P)} == before
    assert sorted(r.id for r in lake.read(T, version=0).collect()) == [1, 2]  # Spark's time travel too
    assert maintain_tables(lake)[T]["uncommitted_removed"] == 0  # nothing left for a re-run


def test_a_log_that_cannot_be_read_deletes_nothing(spark, lake):
    lake.write(spark.createDataFrame([(1,)], "id int"), T)
    root = lake.path(T)
    orphan = root / "part-99999-orphan.parquet"
    shutil.copy(next(root.glob("*.parquet")), orphan)
    _old(orphan)
    (root / "_delta_log" / "00000000000000000099.json").write_text("{not json\n")
    assert remove_uncommitted(root, time.time()) == 0 and orphan.exists()


def test_upkeep_waits_for_no_writer(spark, lake, settings):
    """Another process holding the lake's run lock (a writer) stops the upkeep before it deletes."""
    import subprocess
    import sys

    lake.write(spark.createDataFrame([(1,)], "id int"), T)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from govlake.settings import Settings; "
        "from govlake.runlock import run_lock\n"
        f"with run_lock(Settings(lake_root=Path({str(settings.lake_root)!r})), steps=['transform']):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockBusy):
            maintain_tables(lake.__class__(spark, settings.model_copy(update={"run_lock_wait_seconds": 0})))
    finally:
        holder.kill()
        holder.wait()
