"""The lakehouse writes valid Delta: checked with independent readers (delta-rs, DuckDB)."""

from __future__ import annotations

import datetime as dt

import duckdb
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
