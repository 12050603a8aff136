"""The profile computed in the workers (DuckDB over each task's rows of int_enterprise_rows, the
dbt models as dbt compiles them for DuckDB) gives the rows Spark's own run of the generated
profile SQL gives, column by column; Spark hands a task every row of its enterprises."""

from __future__ import annotations

import datetime as dt
import math
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from govlake.profile import sqlgen, wide

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def rows_and_profile(spark, tmp_path_factory):
    """One lake for the module's tests (its bronze, staging views and profile take ~20 s)."""
    from govlake.lakehouse import Lakehouse
    from govlake.profile.direct import model_views
    from govlake.profile.synthetic import write_bronze
    from govlake.settings import Settings

    settings = Settings(lake_root=tmp_path_factory.mktemp("wide") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, settings)
    write_bronze(spark, lake, 300, AS_OF, dt.date(2025, 6, 29))
    prof = model_views(spark, lake, AS_OF)["enterprise_profile"]
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


_ARROW = {"string": pa.string(), "int": pa.int32(), "long": pa.int64(), "double": pa.float64(), "date": pa.date32(),
          "timestamp": pa.timestamp("us"), "boolean": pa.bool_()}


def _one_enterprise(layout: sqlgen.RowLayout, rows: list[tuple[str, dict]]) -> pa.RecordBatch:
    """A batch of int_enterprise_rows of enterprise U1: (source, {staging column: value}) each."""
    cols = {"uscc": pa.array(["U1"] * len(rows)), "src": pa.array([layout.sources.index(s) for s, _ in rows], pa.int8())}
    for slot, _ in layout.slots:
        values = [next((v.get(c) for c, sl in layout.columns[s] if sl == slot), None) for s, v in rows]
        cols[slot] = pa.array(values, _ARROW[slot.rsplit("_", 1)[0]])
    return pa.RecordBatch.from_pydict(cols)


def test_workers_run_the_models_dbt_compiles(settings, tmp_path):
    """What the workers run is dbt's compile of the project's models (not a second rendering): a
    model edited in a copy of the dbt project changes what they compute. One compile serves
    every date (the dates are DuckDB variables)."""
    from govlake.catalog.enterprise import load_enterprise_fields

    catalog = load_enterprise_fields(settings.catalog_dir)
    schema = pa.schema([(f.id, _ARROW[f.type]) for f in catalog.fields])
    copy = tmp_path / "dbt"
    shutil.copytree(settings.dbt_dir, copy, ignore=shutil.ignore_patterns("target", "logs"))
    model = copy / "models" / "intermediate" / "int_enterprise_src_tax_annual.sql"
    text = model.read_text(encoding="utf-8")
    assert text.count("THEN revenue_wan END) AS revenue_y1_wan") == 1
    model.write_text(text.replace("THEN revenue_wan END) AS revenue_y1_wan",
                                  "THEN revenue_wan END) * 10 AS revenue_y1_wan"), encoding="utf-8")

    def revenue_y1(as_of, dbt_dir=None):
        project = wide.projection(settings.catalog_dir, as_of, schema, dbt_dir=dbt_dir)
        batch = _one_enterprise(project.layout, [("enterprise_registry", {"reg_date": dt.date(2010, 1, 1)}),
                                                 ("tax_annual", {"year": 2024, "revenue_wan": 1.5})])
        (out,) = list(project(iter([batch])))
        return project.sql, out.column("revenue_y1_wan").to_pylist()

    sql, committed = revenue_y1(AS_OF)
    edited_sql, edited = revenue_y1(AS_OF, copy)
    assert committed == [1.5] and edited == [15.0]
    assert "* 10 AS revenue_y1_wan" in edited_sql and "* 10 AS revenue_y1_wan" not in sql
    # a year later 2024 is y2: the same SQL, other values
    later_sql, later = revenue_y1(dt.date(2026, 6, 30))
    assert later_sql == sql and later == [None]
