"""The profile computed in the workers (DuckDB over each task's rows of int_enterprise_rows)
gives the rows Spark's own run of the generated profile SQL gives, column by column; Spark hands
a task every row of its enterprises."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from govlake.profile import wide

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def rows_and_profile(spark, tmp_path_factory):
    """One lake for the module's tests (its bronze, staging views and profile take ~20 s)."""
    from govlake.lakehouse import Lakehouse
    from govlake.profile.direct import profile_views, register_staging
    from govlake.profile.synthetic import write_bronze
    from govlake.settings import Settings

    settings = Settings(lake_root=tmp_path_factory.mktemp("wide") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, settings)
    write_bronze(spark, lake, 300, AS_OF, dt.date(2025, 6, 29))
    register_staging(spark, lake, AS_OF)
    prof = profile_views(spark, settings, AS_OF)
    return spark.table(wide.ROWS), prof


def _rows_by_uscc(table: pa.Table) -> dict:
    return {r["uscc"]: r for r in table.to_pylist()}


def test_workers_profile_equals_spark_profile(rows_and_profile, settings):
    import zlib

    from pyspark.sql.pandas.types import to_arrow_schema

    rows, prof = rows_and_profile
    schema = to_arrow_schema(prof.schema)
    project = wide.projection(settings.catalog_dir, AS_OF, schema)
    # three "tasks", each every row of its enterprises, in batches of 32 rows that mix sources:
    # one DuckDB query per task over a stream of batches
    table = rows.toArrow()
    task = pa.array([zlib.crc32(u.encode()) % 3 for u in table["uscc"].to_pylist()])
    got_batches = []
    for t in range(3):
        part = table.filter(pc.equal(task, t))
        got_batches += list(project(iter(part.to_batches(max_chunksize=32))))
    got = pa.Table.from_batches(got_batches, schema)
    assert got.schema == schema
    want = prof.toArrow()
    assert got.num_rows == want.num_rows == 300
    got_rows, want_rows = _rows_by_uscc(got), _rows_by_uscc(want)
    assert got_rows.keys() == want_rows.keys()
    floats = {f.name for f in schema if pa.types.is_floating(f.type)}
    differ = {}
    for uscc, w in want_rows.items():
        g = got_rows[uscc]
        for name, value in w.items():
            # power() differs in the last bits between the JVM and C (a few ulp); anything
            # wider, such as Spark's decimal rounding of `100.0 * x / y`, fails here
            same = (g[name] == value or (value is not None and g[name] is not None and name in floats
                                         and math.isclose(g[name], value, rel_tol=1e-14)))
            if not same:
                differ.setdefault(name, (uscc, value, g[name]))
    assert not differ, f"{len(differ)} columns differ from Spark's, e.g. {list(differ.items())[:5]}"
    # the data exercises the derived fields: not all null, not all equal
    for name in ("enterprise_size", "revenue_cagr_3y", "export_ratio_3y"):
        assert len({r[name] for r in want_rows.values()}) > 1, name


def test_task_without_rows_yields_nothing(settings):
    project = wide.projection(settings.catalog_dir, AS_OF, pa.schema([("uscc", pa.string())]))
    assert list(project(iter([]))) == []


def test_rows_of_an_enterprise_are_in_one_task(rows_and_profile, spark):
    """The union of the staging views keeps their distribution by enterprise, with AQE's
    partition coalescing on and off."""
    from pyspark.sql import functions as F

    rows, _ = rows_and_profile
    for coalesce in ("true", "false"):
        spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", coalesce)
        try:
            tagged = rows.select("uscc", "src", F.spark_partition_id().alias("task"))
            per_uscc = tagged.groupBy("uscc").agg(F.countDistinct("task").alias("tasks"), F.countDistinct("src").alias("srcs"))
            assert per_uscc.where("tasks != 1").count() == 0
            assert per_uscc.where("srcs >= 10").count() > 0  # enterprises with rows of most sources
            if coalesce == "false":
                assert tagged.select("task").distinct().count() > 1
        finally:
            spark.conf.unset("spark.sql.adaptive.coalescePartitions.enabled")
