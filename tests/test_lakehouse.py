"""The lakehouse writes valid Delta: checked with independent readers (delta-rs, DuckDB)."""

from __future__ import annotations

import datetime as dt

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
        arrow = DeltaTable(path, version=v).to_pyarrow_table()
        assert duckdb.sql("select count(*) from arrow").fetchall()[0][0] == n
        assert lake.read("bronze.t", version=v).count() == n
    assert [h["operation"] for h in lake.history("bronze.t")][:1] == ["WRITE"] or lake.history("bronze.t")


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


def test_merge_by_keys_rewrites_only_touched_files(lake, spark):
    d = dt.date(2026, 11, 1)
    lake.write(_df(spark, [("A", "甲", 1.0, d)]), "silver.m")
    lake.write(_df(spark, [("B", "乙", 2.0, d)]), "silver.m", mode="append")
    c = lake.write(_df(spark, [("B", "乙改", 20.0, d), ("N", "新", 5.0, d)]), "silver.m", mode="merge", keys=["uscc"])
    assert c.files_removed == 1  # only B's file
    got = {r.uscc: r.capital for r in lake.read("silver.m").collect()}
    assert got == {"A": 1.0, "B": 20.0, "N": 5.0}
    arrow = DeltaTable(str(lake.path("silver.m"))).to_pyarrow_table()
    assert sorted(arrow.column("uscc").to_pylist()) == ["A", "B", "N"]


def test_empty_write_keeps_schema(lake, spark):
    c = lake.write(_df(spark, []), "bronze.e")
    assert c.rows_written == 0
    df = lake.read("bronze.e")
    assert df.count() == 0 and df.columns == ["uscc", "name", "capital", "load_date"]


def _merged(lake, table, version=None):
    """The table's rows by every reader: Spark, Arrow (delta-rs) and the count from the log."""
    spark_rows = sorted((r.uscc, r.name, r.capital) for r in lake.read(table, version=version).collect())
    arrow = lake.to_arrow(table, version)
    arrow_rows = sorted(zip(*(arrow.column(c).to_pylist() for c in ("uscc", "name", "capital"))))
    assert spark_rows == arrow_rows
    assert lake.row_count(table, version=version) == len(spark_rows)
    return spark_rows


def test_merge_on_read_overlay(lake, spark, monkeypatch):
    from govlake.lakehouse import overlay

    monkeypatch.setattr(overlay, "COMPACT_SHARE", 100.0)  # tiny table: never compact here
    d = dt.date(2026, 11, 1)
    t = "gold.mor"
    base = lake.write(_df(spark, [("A", "甲", 1.0, d), ("B", "乙", 2.0, d), ("B", "乙二", 2.5, d), ("C", "丙", 3.0, d)]), t)
    plain = sorted(DeltaTable(str(lake.path(t))).file_uris())
    # B's two rows replaced by one, N new, C replaced by nothing (in `replace`, no rows).
    c1 = lake.write(_df(spark, [("B", "乙改", 20.0, d), ("N", "新", 5.0, d)]), t, mode="merge_on_read", keys=["uscc"],
                    replace=spark.createDataFrame([("B",), ("N",), ("C",)], "uscc string"), app_id="day1")
    assert (c1.version, c1.rows_written, c1.committed) == (base.version + 1, 2, True)
    assert sorted(DeltaTable(str(lake.path(t))).file_uris()) == plain  # nothing rewritten
    assert _merged(lake, t) == [("A", "甲", 1.0), ("B", "乙改", 20.0), ("N", "新", 5.0)]
    assert _merged(lake, t, version=base.version) == [("A", "甲", 1.0), ("B", "乙", 2.0), ("B", "乙二", 2.5), ("C", "丙", 3.0)]
    assert lake.tables().count(t) == 1 and f"{t}__overlay" not in lake.tables()
    # Filters and column subsets through Arrow (the API's and the policy lookups' path).
    import pyarrow.dataset as pads

    got = lake.to_arrow(t, columns=["capital"], filter=pads.field("uscc").isin(["B", "C"]))
    assert got.column_names == ["capital"] and got.column("capital").to_pylist() == [20.0]
    # A keyed scan (the incremental's since lookup): the merged rows of some keys, decoded.
    import pyarrow as pa

    keyed = list(lake.to_batches(t, ["capital", "uscc"], where_in=("uscc", pa.array(["A", "B", "C"]))))
    assert sorted((r["uscc"], r["capital"]) for b in keyed for r in b.to_pylist()) == [("A", 1.0), ("B", 20.0)]
    assert all(b.schema.field("uscc").type == pa.string() for b in keyed)
    # A re-run of the same day commits nothing; a second day merges into the overlay (latest wins).
    again = lake.write(_df(spark, [("B", "错", 0.0, d)]), t, mode="merge_on_read", keys=["uscc"], app_id="day1")
    assert again.committed is False
    lake.write(_df(spark, [("A", "甲改", 10.0, d), ("N", "新改", 50.0, d)]), t, mode="merge_on_read", keys=["uscc"], app_id="day2")
    assert _merged(lake, t) == [("A", "甲改", 10.0), ("B", "乙改", 20.0), ("N", "新改", 50.0)]
    assert _merged(lake, t, version=c1.version)[0] == ("A", "甲", 1.0)
    # Writes the overlay would shadow are refused; an overwrite ends the overlay atomically.
    import pytest

    with pytest.raises(ValueError, match="overlay"):
        lake.write(_df(spark, [("Q", "q", 1.0, d)]), t, mode="append")
    v = lake.write(_df(spark, [("Z", "某", 9.0, d)]), t).version
    assert _merged(lake, t) == [("Z", "某", 9.0)]
    lake.write(_df(spark, [("Y", "新", 1.0, d)]), t, mode="merge_on_read", keys=["uscc"])
    assert _merged(lake, t) == [("Y", "新", 1.0), ("Z", "某", 9.0)]  # a fresh overlay, not the old one
    assert _merged(lake, t, version=v) == [("Z", "某", 9.0)]


def test_merge_on_read_compacts_past_its_share(lake, spark):
    from govlake.lakehouse import overlay

    d = dt.date(2026, 11, 1)
    t = "gold.mor_compact"
    lake.write(_df(spark, [(f"K{i:03d}", "旧", float(i), d) for i in range(40)]), t)
    lake.write(_df(spark, [("K001", "新", -1.0, d)]), t, mode="merge_on_read", keys=["uscc"])
    assert overlay.pointer(lake.path(t)) is not None  # 1 of 40 rows: stays an overlay
    files = set(DeltaTable(str(lake.path(t))).file_uris())
    lake.write(_df(spark, [(f"K{i:03d}", "新", -1.0, d) for i in range(2, 8)]), t, mode="merge_on_read", keys=["uscc"])
    # 7 + 7 overlay rows (key markers included) of 40: past 10 %, rewritten as plain files
    assert overlay.pointer(lake.path(t)) is None and not files & set(DeltaTable(str(lake.path(t))).file_uris())
    rows = _merged(lake, t)
    assert len(rows) == 40 and sum(1 for r in rows if r[1] == "新") == 7
    plain = sorted(DeltaTable(str(lake.path(t))).to_pyarrow_table().column("uscc").to_pylist())
    assert plain == [f"K{i:03d}" for i in range(40)]  # a plain Delta reader now sees the merged rows


def test_wide_frames_are_written_by_arrow_with_the_same_rows_and_types(lake, spark, monkeypatch):
    """A frame of ARROW_WRITE_MIN_COLUMNS or more columns goes through pyarrow in the workers
    (Spark's row-at-a-time Parquet writer is the cost at 1,500 columns): same rows, same types
    for Spark and delta-rs, row groups of ARROW_ROW_GROUP_ROWS, no file without rows, nulls and
    Chinese text survive."""
    from pyspark.sql import functions as F

    from govlake.lakehouse import delta_local

    n_cols = delta_local.ARROW_WRITE_MIN_COLUMNS
    base = spark.range(0, 50, numPartitions=6).withColumn("uscc", F.format_string("U%03d", "id"))
    cols = [F.col("uscc"), F.when(F.col("id") % 7 == 0, None).otherwise(F.lit("甲公司")).alias("name"),
            F.date_add(F.lit(dt.date(2025, 1, 1)), F.col("id").cast("int")).alias("reg_date"),
            (F.col("id") % 2 == 0).alias("flag"), F.col("id").cast("int").alias("n_int")]
    cols += [F.when(F.col("id") % 5 == 0, None).otherwise(F.col("id") * i / 3.0).alias(f"v{i}")
             for i in range(n_cols - len(cols))]
    df = base.repartition(3, "uscc").select(*cols)
    # Arrow batches of 4 rows gathered into row groups of 10 or more (the last of a file: the rest).
    monkeypatch.setattr(delta_local, "ARROW_ROW_GROUP_ROWS", 10)
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


def test_stage_with_writes_the_rows_derived_from_each_batch_in_the_same_pass(lake, spark):
    """stage_with: the workers that write a frame's files also write the rows a function derives
    from each Arrow batch (the tags from the profile) into the other table's folder; nothing is
    committed until asked, and a failing function leaves no file in either folder."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    df = spark.range(0, 30, numPartitions=3).selectExpr("format_string('U%03d', id) AS uscc", "id % 4 AS k")
    schema = StructType([StructField("uscc", StringType()), StructField("i", LongType())])

    def copies(rb):  # k rows per row: none for k = 0
        import pyarrow as pa

        rows = [(u, i) for u, k in zip(rb.column("uscc").to_pylist(), rb.column("k").to_pylist()) for i in range(k)]
        return pa.RecordBatch.from_arrays([pa.array([r[0] for r in rows], pa.string()),
                                           pa.array([r[1] for r in rows], pa.int64())], names=["uscc", "i"])

    staged, derived = lake.stage_with(df, "gold.base", "gold.derived", copies, schema)
    assert staged.rows == 30 and derived.rows == sum(j % 4 for j in range(30))
    assert sorted(tuple(r) for r in derived.frame(spark).collect()) == sorted(
        (f"U{j:03d}", i) for j in range(30) for i in range(j % 4))
    assert not lake.exists("gold.derived")  # staged, not committed
    assert not [p for t in ("gold.base", "gold.derived") for p in lake.path(t).glob("_tmp-*")]
    lake.commit(derived, app_id="derived@1")
    assert lake.row_count("gold.derived") == 43 and sorted(lake.read("gold.derived").columns) == ["i", "uscc"]

    def boom(rb):
        raise ValueError("derive failed")

    with pytest.raises(Exception, match="derive failed"):
        lake.stage_with(df, "gold.base2", "gold.derived2", boom, schema)
    assert not [p for t in ("gold.base2", "gold.derived2") for p in lake.path(t).rglob("*") if p.is_file()]


def test_stage_batches_with_writes_rows_of_this_process_and_times_each_phase(lake, spark):
    """stage_batches_with: record batches computed in this process (an incremental's profile) go
    through the same writer as a Spark task's; both report the writers' seconds per phase (the
    derived rows' time here: a function that takes 0.1 s a batch)."""
    import time

    import pyarrow as pa
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    schema = StructType([StructField("uscc", StringType()), StructField("k", LongType())])
    dschema = StructType([StructField("uscc", StringType())])

    def slow(rb):
        time.sleep(0.1)
        return rb.select(["uscc"])

    batches = [pa.RecordBatch.from_pydict({"uscc": [f"U{i}{j}" for j in range(5)], "k": list(range(5))}) for i in range(4)]
    staged, derived = lake.stage_batches_with(iter(batches), schema, "gold.local", "gold.local_derived", slow, dschema)
    assert staged.rows == derived.rows == 20 and staged.schema == schema
    assert sorted(r.uscc for r in derived.frame(spark).collect()) == sorted(u for b in batches for u in b.column("uscc").to_pylist())
    assert 0.4 <= staged.task_seconds["derived"] < 5 and set(staged.task_seconds) == {"rows", "write", "derived"}
    df = spark.range(0, 30, numPartitions=3).selectExpr("format_string('U%03d', id) AS uscc", "id AS k")
    spark_staged, _ = lake.stage_with(df, "gold.spark", "gold.spark_derived", slow, dschema)
    assert spark_staged.task_seconds["derived"] >= 0.3  # a batch per task at least
    for s in (staged, derived, spark_staged):
        s.discard()


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
