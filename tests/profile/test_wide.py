"""The profile's projection in the workers (DuckDB over int_enterprise_sources' Arrow batches)
gives the rows Spark's own run of the generated profile SQL gives, column by column."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from govlake.profile import wide

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture
def sources_and_profile(spark, lake, settings):
    from govlake.profile.direct import profile_views, register_staging
    from govlake.profile.synthetic import write_bronze

    write_bronze(spark, lake, 300, AS_OF, dt.date(2025, 6, 29))
    register_staging(spark, lake, AS_OF)
    prof = profile_views(spark, settings, AS_OF)
    return spark.table(wide.SOURCES), prof


def _rows_by_uscc(table: pa.Table) -> dict:
    return {r["uscc"]: r for r in table.to_pylist()}


def test_projection_equals_spark_profile(sources_and_profile, settings):
    from pyspark.sql.pandas.types import to_arrow_schema

    sources, prof = sources_and_profile
    schema = to_arrow_schema(prof.schema)
    project = wide.projection(settings.catalog_dir, AS_OF, schema)
    # three "tasks" of small batches: one DuckDB query per task over a stream of batches
    table = sources.toArrow()
    got_batches = []
    for part in (table.slice(0, 100), table.slice(100, 150), table.slice(250)):
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
