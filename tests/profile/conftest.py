from __future__ import annotations

import datetime as dt
import re

import pytest


def spark_sql_of(dbt_text: str, as_of: dt.date) -> str:
    """Spark SQL of a tag query sqlgen renders for tags a test makes up (no model of the
    project, so dbt does not compile it): its refs as view names, the date as a literal."""
    sql = re.sub(r"\{\{ ref\('(\w+)'\) \}\}", r"\1", dbt_text).replace("{{ profile_as_of() }}", f"DATE '{as_of}'")
    assert "{{" not in sql and "{%" not in sql, sql[:300]
    return sql


@pytest.fixture
def full_profile(spark, settings):
    """fn(profile frame, as_of) -> every enterprise's profile as a full build computes it (Spark's
    int_enterprise_rows through the workers' DuckDB projection, as one task), sorted by uscc; the
    views of `direct.model_views` for as_of must be registered."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    from govlake.profile import wide

    def compute(prof, as_of):
        schema = to_arrow_schema(prof.schema)
        project = wide.projection(settings.catalog_dir, as_of, schema)
        batches = project(iter(spark.table(wide.ROWS).toArrow().to_batches()))
        return pa.Table.from_batches(list(batches), schema).sort_by("uscc")
    return compute
