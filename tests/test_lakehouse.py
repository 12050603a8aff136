"""The lakehouse writes valid Delta: checked with independent readers (delta-rs, DuckDB)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
import pyarrow.parquet as pq
from deltalake import DeltaTable


def _df(spark, rows):
    return spark.createDataFrame(
        rows, "uscc string, name string, capital double, load_date date"
    )


def test_overwrite_append_time_travel(lake, spark):
    d = dt.date(2026, 11, 1)
    c0 = lake.write(_df(spark, [("A", "甲公司", 1.0, d), ("B", "乙公司", 2.0, d)]), "bronze.t")
    assert (c0.version, c0.rows_written) == (0, 2)
    c1 = lake.write(_df(spark, [("C", "丙公司", 3.0, d)]), "bronze.t", mode="append")
    c2 = lake.write(_df(spark, [("Z", "某公司", 9.0, d)]), "bronze.t", mode="overwrite")
    assert (c1.version, c2.version) == (1, 2)

    path = str(lake.path("bronze.t"))
    assert DeltaTable(path).to_pyarrow_table().column("uscc").to_pylist() == ["Z"]
    v1 = DeltaTable(path, version=1).to_pyarrow_table()
    assert sorted(v1.column("uscc").to_pylist()) == ["A", "B", "C"]
    # DuckDB over Arrow agrees with Spark on every version.
    for v, n in [(0, 2), (1, 3), (2, 1)]:
        rel = duckdb.from_arrow(DeltaTable(path, version=v).to_pyarrow_table())
        assert rel.aggregate("count(*)").fetchall()[0][0] == n
        assert lake.read("bronze.t", version=v).count() == n
    assert [h["operation"] for h in lake.history("bronze.t")] == ["WRITE", "WRITE", "WRITE"]


def test_idempotent_app_transaction(lake, spark):
    d = dt.date(2026, 11, 1)
    df = _df(spark, [("A", "甲", 1.0, d)])
    first = lake.write(df, "bronze.t2", mode="append", app_id="ingest@2026-11-01")
    again = lake.write(df, "bronze.t2", mode="append", app_id="ingest@2026-11-01")
    assert first.committed and not again.committed
    assert DeltaTable(str(lake.path("bronze.t2"))).version() == 0
    assert lake.read("bronze.t2").count() == 1


def test_replace_partitions(lake, spark):
    d1, d2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    lake.write(_df(spark, [("A", "甲", 1.0, d1), ("B", "乙", 2.0, d2)]), "bronze.p", partition_by=["load_date"])
    lake.write(_df(spark, [("C", "丙", 3.0, d2)]), "bronze.p", mode="replace_partitions", partition_by=["load_date"])
    got = sorted((r.uscc, r.load_date) for r in lake.read("bronze.p").collect())
    assert got == [("A", d1), ("C", d2)]
    arrow = DeltaTable(str(lake.path("bronze.p"))).to_pyarrow_table()
    assert sorted(arrow.column("uscc").to_pylist()) == ["A", "C"]


def test_merge_by_keys_is_an_upsert(lake, spark):
    d = dt.date(2026, 11, 1)
    lake.write(_df(spark, [("A", "甲", 1.0, d)]), "silver.m")
    lake.write(_df(spark, [("B", "乙", 2.0, d)]), "silver.m", mode="append")
    c = lake.write(_df(spark, [("B", "乙改", 20.0, d), ("N", "新", 5.0, d)]), "silver.m", mode="merge", keys=["uscc"])
    assert c.files_removed == 1 and c.rows_written == 2  # only B's file; B updated, N inserted
    got = {r.uscc: r.capital for r in lake.read("silver.m").collect()}
    assert got == {"A": 1.0, "B": 20.0, "N": 5.0}
    arrow = DeltaTable(str(lake.path("silver.m"))).to_pyarrow_table()
    assert sorted(arrow.column("uscc").to_pylist()) == ["A", "B", "N"]


def test_empty_write_keeps_schema(lake, spark):
    c = lake.write(_df(spark, []), "bronze.e")
    assert c.rows_written == 0
    df = lake.read("bronze.e")
    assert df.count() == 0 and df.columns == ["uscc", "name", "capital", "load_date"]


def _both(lake, table, version=None):
    """The table's rows by both readers, Spark (delta-spark) and delta-rs, which must agree."""
    spark_rows = sorted((r.uscc, r.name, r.capital) for r in lake.read(table, version=version).collect())
    arrow = lake.to_arrow(table, version)
    arrow_rows = sorted(zip(*(arrow.column(c).to_pylist() for c in ("uscc", "name", "capital"))))
    assert spark_rows == arrow_rows, (table, version)
    assert lake.row_count(table, version=version) == len(spark_rows)
    return spark_rows


@pytest.mark.slow  # every version after MERGE/OPTIMIZE/VACUUM read by both readers; make test-slow (CI) runs it
def test_replace_keys_with_deletion_vectors_readable_by_both_at_every_version(lake, spark, monkeypatch):
    """The profile's and tags' daily merge: every row of a changed key replaced (also by none)
    in one delta-spark commit that marks the old rows in deletion vectors (no file rewritten)
    and adds the staged files as they are; the change feed records it without feed files; Spark
    and delta-rs agree at every version, after OPTIMIZE and after VACUUM too."""
    import pyarrow as pa

    d = dt.date(2026, 11, 1)
    t = "gold.enterprise_tags"  # a catalog product with deletion vectors and change data feed
    staged = lake.stage(_df(spark, [("A", "甲", 1.0, d), ("B", "乙", 2.0, d), ("B", "乙二", 2.5, d), ("C", "丙", 3.0, d),
                                     ("D", "丁", 4.0, d), ("E", "戊", 5.5, d)]), t)
    base = lake.commit(staged, app_id="full@1")
    props = DeltaTable(str(lake.path(t))).metadata().configuration
    assert props["delta.enableDeletionVectors"] == "true" and props["delta.enableChangeDataFeed"] == "true"
    files = set(DeltaTable(str(lake.path(t))).file_uris())
    day1 = lake.stage(_df(spark, [("B", "乙改", 20.0, d), ("N", "新", 5.0, d)]), t)
    c1 = lake.merge_staged(day1, ["uscc"], replace=pa.table({"uscc": ["B", "N", "C"]}), app_id="day1",
                           metadata={"built_on": "day1"})
    assert c1.committed and c1.rows_written == 2 and c1.version == base.version + 1
    # B's and C's old rows marked by vectors on their files, which stay; the staged file is added
    merge = lake.history(t)[0]
    assert merge["operation"] == "MERGE" and merge.get("userMetadata") == '{"built_on": "day1"}'
    after = DeltaTable(str(lake.path(t)))
    assert files & set(after.file_uris()) and set(map(str, day1.files)) <= set(after.file_uris())
    assert any(json.loads(line).get("add", {}).get("deletionVector")  # delta-rs lists no vectors: the log
               for line in (lake.path(t) / "_delta_log" / f"{c1.version:020d}.json").read_text().splitlines())
    assert not (lake.path(t) / "_change_data").exists()  # the old rows were not read to be copied
    assert _both(lake, t) == [("A", "甲", 1.0), ("B", "乙改", 20.0), ("D", "丁", 4.0), ("E", "戊", 5.5), ("N", "新", 5.0)]
    again = lake.stage(_df(spark, [("B", "错", 0.0, d)]), t)
    assert lake.merge_staged(again, ["uscc"], app_id="day1").committed is False  # a re-run commits nothing
    again.discard()
    # keyed reads through delta-rs (the API's and the policy lookups' path) apply the vectors
    assert lake.to_arrow(t, columns=["capital"], where={"uscc": ["B", "C"]}).column("capital").to_pylist() == [20.0]
    keyed = list(lake.to_batches(t, ["capital", "uscc"], where_in=("uscc", pa.array(["A", "B", "C"]))))
    assert sorted((r["uscc"], r["capital"]) for b in keyed for r in b.to_pylist()) == [("A", 1.0), ("B", 20.0)]
    assert all(b.schema.field("uscc").type == pa.string() for b in keyed)
    # the change feed shows the day's change to downstream consumers
    feed = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", c1.version) \
        .load(str(lake.path(t)))
    assert sorted((r.uscc, r.name, r.capital, r._change_type, r._commit_version) for r in feed.collect()) == [
        ("B", "乙", 2.0, "delete", c1.version), ("B", "乙二", 2.5, "delete", c1.version),
        ("B", "乙改", 20.0, "insert", c1.version), ("C", "丙", 3.0, "delete", c1.version),
        ("N", "新", 5.0, "insert", c1.version)]
    # Day 2, its marking prepared first (as the profile build does, overlapping its compute): A's
    # and D's rows go (the vectors of day 1 grown: merged with the new marks), day 1's files go
    # whole (B and N replaced: plain removes), C's row is already gone (nothing to mark).
    assert lake.prepare_replace(t, "uscc", ["B"], app_id="day1") is None  # day 1 is in the log: nothing to mark
    vectors = lambda: set(lake.path(t).glob("deletion_vector_*.bin"))  # noqa: E731
    before = vectors()
    dropped = lake.prepare_replace(t, "uscc", ["E"], app_id="dropped")  # its file keeps D: a vector
    assert dropped.actions and len(vectors()) == len(before) + 1
    dropped.discard()  # a failed gate: its vectors' file goes, the table is as it was
    assert vectors() == before and lake.version(t) == c1.version
    prepared = lake.prepare_replace(t, "uscc", ["A", "B", "C", "D", "N"], app_id="day2")
    day2 = lake.stage(_df(spark, [("B", "乙三", 30.0, d)]), t)
    c2 = lake.merge_staged(day2, ["uscc"], replace=pa.table({"uscc": ["A", "C", "D", "N"]}), app_id="day2",
                           prepared=prepared)
    assert c2.committed and c2.rows_written == 1 and c2.version == c1.version + 1
    log2 = [json.loads(line) for line in (lake.path(t) / "_delta_log" / f"{c2.version:020d}.json").read_text().splitlines()]
    day1_files = {str(f.relative_to(lake.path(t))) for f in day1.files}
    assert {a["remove"]["path"] for a in log2 if "remove" in a} >= day1_files  # removed whole, not re-added
    assert not {a["add"]["path"] for a in log2 if "add" in a} & day1_files
    grown = {a["add"]["path"]: a["add"]["deletionVector"]["cardinality"] for a in log2 if a.get("add", {}).get("deletionVector")}
    had = {a["remove"]["path"]: a["remove"]["deletionVector"]["cardinality"] for a in log2
           if a.get("remove", {}).get("deletionVector")}
    assert grown and all(grown[p] > had[p] for p in grown)  # day 1's vectors merged with day 2's marks
    assert _both(lake, t) == [("B", "乙三", 30.0), ("E", "戊", 5.5)]
    feed = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", c2.version) \
        .load(str(lake.path(t)))
    assert sorted((r.uscc, r.name, r.capital, r._change_type) for r in feed.collect()) == [
        ("A", "甲", 1.0, "delete"), ("B", "乙三", 30.0, "insert"), ("B", "乙改", 20.0, "delete"), ("D", "丁", 4.0, "delete"),
        ("N", "新", 5.0, "delete")]
    assert lake.set_properties(t)["govlake.owner"] == "ZSJ"  # the catalog's descriptive properties
    props = DeltaTable(str(lake.path(t))).metadata().configuration
    assert props["govlake.classification"] == "内部" and props["govlake.label"] == "企业标签"
    from govlake.lakehouse import Lakehouse, spark_tables

    monkeypatch.setattr(spark_tables, "OPTIMIZE_MIN_SMALL_FILES", 2)  # this tiny table counts as piled up
    m = lake.maintain(t)
    assert m["files_removed"] >= 2 and m["files_vacuumed"] == 0  # nothing older than the retention
    assert lake.history(t)[0]["operation"] == "OPTIMIZE"
    for v in range(base.version, lake.version(t) + 1):  # time travel intact
        _both(lake, t, v)
    # with no retention (Delta's safety check off for the test) VACUUM deletes the removed files
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        m = Lakehouse(spark, lake.settings.model_copy(update={"retention_days": 0})).maintain(t)
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")
    assert m["files_vacuumed"] >= 2 and lake.history(t)[0]["operation"] == "VACUUM END"
    assert _both(lake, t) == [("B", "乙三", 30.0), ("E", "戊", 5.5)]


def test_deletion_vector_positions_are_physical_row_indexes(tmp_path):
    """The rows a key marks: their indexes in the file across row groups, dictionary-encoded or
    plain, nulls never matching (as Spark's IN)."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import fs

    from govlake.lakehouse.deletion_vectors import positions

    keys = ["K3", None, "K1", "K3", "K2", "K9", None, "K1", "K3", "K7"]
    for dictionary in (True, False):
        path = str(tmp_path / f"t{dictionary}.parquet")
        pq.write_table(pa.table({"uscc": keys, "n": list(range(len(keys)))}), path, row_group_size=3,
                       use_dictionary=dictionary)
        got = positions(fs.LocalFileSystem(), path, "uscc", pa.array(["K1", "K3", "K8"]))
        assert got.dtype == np.int64 and got.tolist() == [0, 2, 3, 7, 8], dictionary
    assert positions(fs.LocalFileSystem(), path, "uscc", pa.array(["nope"])).tolist() == []


def test_every_commit_carries_column_statistics(lake, spark):
    """Spark's and delta-rs's commits both record numRecords, min, max and null counts."""
    import json

    d = dt.date(2026, 11, 1)
    lake.write(_df(spark, [("A", "甲", 1.0, d), ("B", None, 2.0, d)]), "silver.s")
    lake.commit(lake.stage(_df(spark, [("C", "丙", 3.0, d), ("D", None, -4.0, d)]), "silver.r"), app_id="r")
    for t in ("silver.s", "silver.r"):
        for f in sorted(lake.path(t).joinpath("_delta_log").glob("*.json")):
            for line in f.read_text().splitlines():
                add = json.loads(line).get("add")
                if add:
                    st = json.loads(add["stats"])
                    assert {"numRecords", "minValues", "maxValues", "nullCount"} <= set(st), (t, st)
                    assert set(st["nullCount"]) == {"uscc", "name", "capital", "load_date"}
    import pyarrow as pa

    adds = pa.table(DeltaTable(str(lake.path("silver.r"))).get_add_actions(flatten=True)).to_pylist()
    assert min(a["min.capital"] for a in adds) == -4.0 and sum(a["null_count.name"] for a in adds) == 1


def test_wide_frames_are_written_by_arrow_with_the_same_rows_and_types(lake, spark, monkeypatch):
    """Staged frames go through pyarrow in the workers (Spark's row-at-a-time Parquet writer is
    the cost at 1,500 columns): same rows, same types
    for Spark and delta-rs, row groups of ARROW_ROW_GROUP_ROWS, no file without rows, nulls and
    Chinese text survive."""
    from pyspark.sql import functions as F

    from govlake.lakehouse import staged as staged_files

    n_cols = 200
    base = spark.range(0, 50, numPartitions=6).withColumn("uscc", F.format_string("U%03d", "id"))
    cols = [F.col("uscc"), F.when(F.col("id") % 7 == 0, None).otherwise(F.lit("甲公司")).alias("name"),
            F.date_add(F.lit(dt.date(2025, 1, 1)), F.col("id").cast("int")).alias("reg_date"),
            (F.col("id") % 2 == 0).alias("flag"), F.col("id").cast("int").alias("n_int")]
    cols += [F.when(F.col("id") % 5 == 0, None).otherwise(F.col("id") * i / 3.0).alias(f"v{i}")
             for i in range(n_cols - len(cols))]
    df = base.repartition(3, "uscc").select(*cols)
    # Arrow batches of 4 rows gathered into row groups of 10 or more (the last of a file: the rest).
    monkeypatch.setattr(staged_files, "ARROW_ROW_GROUP_ROWS", 10)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "4")
    try:
        staged = lake.stage(df, "gold.wide")
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    for f in staged.files:
        groups = [pq.read_metadata(f).row_group(i).num_rows for i in range(pq.read_metadata(f).num_row_groups)]
        assert all(10 <= g <= 12 for g in groups[:-1]) and 0 < groups[-1] <= 12, groups
    assert lake.stage(df.where("id < 0"), "gold.wide_empty").rows == 0  # no rows: no files
    assert staged.rows == 50 and len(staged.files) == 3
    assert not list(lake.path("gold.wide").glob("_tmp-*"))
    got = staged.frame(spark)
    assert [(f.name, f.dataType) for f in got.schema] == [(f.name, f.dataType) for f in df.schema]
    assert got.exceptAll(df).count() == 0 and df.exceptAll(got).count() == 0
    lake.commit(staged, app_id="wide@1")
    arrow = lake.to_arrow("gold.wide", columns=["uscc", "name", "reg_date", "flag", "n_int", "v1"])
    assert [str(t) for t in arrow.schema.types] == ["string", "string", "date32[day]", "bool", "int32", "double"]
    row = next(r for r in arrow.to_pylist() if r["uscc"] == "U014")
    assert row == {"uscc": "U014", "name": None, "reg_date": dt.date(2025, 1, 15), "flag": True, "n_int": 14,
                   "v1": 14 / 3.0}
    assert lake.row_count("gold.wide") == 50


def test_files_a_step_writes_itself_are_staged_by_adopt(lake, spark):
    """staging_folder + ParquetFileWriter + adopt: a step writes Parquet files of given Arrow
    batches itself (the profile's workers); adopt stages only the files it names (a failed
    attempt's go), invisible until committed; an aborted writer leaves no file; no batch, no file."""
    import pyarrow as pa
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from govlake.lakehouse.staged import ParquetFileWriter

    schema = StructType([StructField("uscc", StringType()), StructField("k", LongType())])
    folder = lake.staging_folder("gold.own")
    assert folder.parent == lake.path("gold.own") and folder.name.startswith("_tmp-")
    batches = [pa.RecordBatch.from_pydict({"uscc": [f"U{i}{j}" for j in range(5)], "k": list(range(5))}) for i in range(4)]
    kept, lost, failed = ParquetFileWriter(folder), ParquetFileWriter(folder, gather=False), ParquetFileWriter(folder)
    for b in batches:
        kept.write(b)
    lost.write(batches[0])
    failed.write(batches[1])
    failed.abort()
    assert ParquetFileWriter(folder).close() is None
    names = [kept.close(), lost.close()]
    assert len(list(folder.glob("*.parquet"))) == 2
    staged = lake.adopt(folder, "gold.own", schema, keep=names[:1], task_seconds={"rows": 1.5})
    assert staged.rows == 20 and len(staged.files) == 1 and staged.task_seconds == {"rows": 1.5}
    assert not folder.exists() and not lake.exists("gold.own")
    assert sorted(r.uscc for r in staged.frame(spark).collect()) == sorted(u for b in batches for u in b.column("uscc").to_pylist())
    lake.commit(staged, app_id="own@1")
    assert lake.row_count("gold.own") == 20 and lake.read("gold.own").columns == ["uscc", "k"]


def test_stage_arrow_stages_driver_rows_like_spark_rows(lake, spark):
    """stage_arrow: rows the driver holds are staged as a file of the table (invisible until
    committed, columns in the schema's order whatever the Arrow order); no rows, no file."""
    import pyarrow as pa
    from pyspark.sql.types import DateType, StringType, StructField, StructType

    schema = StructType([StructField("uscc", StringType()), StructField("since", DateType())])
    rows = pa.table({"since": pa.array([dt.date(2025, 6, 30)] * 3, pa.date32()), "uscc": ["A", "B", "C"]})
    staged = lake.stage_arrow([rows.to_batches()], "gold.small", schema)
    assert staged.rows == 3 and not lake.exists("gold.small")
    assert sorted(tuple(r) for r in staged.frame(spark).collect()) == [(u, dt.date(2025, 6, 30)) for u in "ABC"]
    lake.commit(staged, app_id="small@1")
    assert lake.read("gold.small").columns == ["uscc", "since"] and lake.row_count("gold.small") == 3
    empty = lake.stage_arrow([rows.slice(0, 0).to_batches()], "gold.small", schema)
    assert empty.rows == 0 and not list(lake.path("gold.small").glob("_tmp-*"))
    assert len(list(lake.path("gold.small").glob("*.parquet"))) == 1
    # parts streamed as record batches, a file each; a part without batches makes no file
    streamed = lake.stage_arrow([iter(rows.to_batches(max_chunksize=1)), iter([])], "gold.small", schema)
    assert streamed.rows == 3 and len(streamed.files) == 1
    assert sorted(r.uscc for r in streamed.frame(spark).collect()) == ["A", "B", "C"]
    streamed.discard()
