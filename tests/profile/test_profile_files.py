"""The profile step writes the profile's and the tags' files in one pass (govlake.profile.profile_files);
the storage layer only stages and commits them."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType

from govlake.profile import profile_files

SCHEMA = StructType([StructField("uscc", StringType()), StructField("k", LongType())])
TAGS = StructType([StructField("uscc", StringType()), StructField("i", LongType())])


def test_workers_write_the_projected_rows_and_their_tags_in_one_pass(lake, spark):
    """stage_from_rows: each task projects its rows, writes them and the rows the tagger derives
    from each batch; nothing is committed until asked; a failing tagger leaves no file."""
    # defined here: Spark's workers get them by value (the test module is not importable there)
    def copies(rb):  # k tag rows per profile row: none for k = 0
        rows = [(u, i) for u, k in zip(rb.column("uscc").to_pylist(), rb.column("k").to_pylist()) for i in range(k)]
        return pa.RecordBatch.from_arrays([pa.array([r[0] for r in rows], pa.string()),
                                           pa.array([r[1] for r in rows], pa.int64())], names=["uscc", "i"])

    def double(batches):  # a projection: every row's k doubled
        for b in batches:
            yield pa.RecordBatch.from_arrays([b.column("uscc"), pa.array([k * 2 for k in b.column("k").to_pylist()], pa.int64())],
                                             names=["uscc", "k"])

    rows = spark.range(0, 30, numPartitions=3).selectExpr("format_string('U%03d', id) AS uscc", "id % 2 AS k")
    staged, tags = profile_files.stage_from_rows(lake, rows, double, SCHEMA, "gold.base", "gold.derived", copies, TAGS)
    assert staged.rows == 30 and tags.rows == sum(2 * (j % 2) for j in range(30))
    assert sorted(tuple(r) for r in staged.frame(spark).collect()) == [(f"U{j:03d}", 2 * (j % 2)) for j in range(30)]
    assert sorted(tuple(r) for r in tags.frame(spark).collect()) == sorted(
        (f"U{j:03d}", i) for j in range(30) for i in range(2 * (j % 2)))
    assert not lake.exists("gold.derived")  # staged, not committed
    assert not [p for t in ("gold.base", "gold.derived") for p in lake.path(t).glob("_tmp-*")]
    assert set(staged.task_seconds) == set(profile_files.PHASES)
    lake.commit(tags, app_id="derived@1")
    assert lake.row_count("gold.derived") == 30 and sorted(lake.read("gold.derived").columns) == ["i", "uscc"]

    def boom(rb):
        raise ValueError("derive failed")

    with pytest.raises(Exception, match="derive failed"):
        profile_files.stage_from_rows(lake, rows, None, SCHEMA, "gold.base2", "gold.derived2", boom, TAGS)
    assert not [p for t in ("gold.base2", "gold.derived2") for p in lake.path(t).rglob("*") if p.is_file()]


def test_batches_of_this_process_go_through_the_same_writer_and_are_timed(lake, spark):
    """stage_from_batches: an incremental's batches (computed in this process) are written like a
    task's, a file per table, with the seconds per phase (the tags' here: 0.1 s a batch)."""
    def slow(rb):
        time.sleep(0.1)
        return rb.select(["uscc"]).rename_columns(["uscc"]).append_column("i", pa.array([1] * rb.num_rows, pa.int64()))

    batches = [pa.RecordBatch.from_pydict({"uscc": [f"U{i}{j}" for j in range(5)], "k": list(range(5))}) for i in range(4)]
    staged, tags = profile_files.stage_from_batches(lake, iter(batches), SCHEMA, "gold.local", "gold.local_tags", slow, TAGS)
    assert staged.rows == tags.rows == 20 and len(staged.files) == len(tags.files) == 1 and staged.schema == SCHEMA
    assert sorted(r.uscc for r in tags.frame(spark).collect()) == sorted(u for b in batches for u in b.column("uscc").to_pylist())
    assert 0.4 <= staged.task_seconds["tags"] < 5
    none, no_tags = profile_files.stage_from_batches(lake, iter([]), SCHEMA, "gold.local", "gold.local_tags", slow, TAGS)
    assert none.rows == no_tags.rows == 0 and not none.files
    for s in (staged, tags):
        s.discard()
