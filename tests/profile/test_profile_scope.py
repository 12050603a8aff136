"""Incremental profile (govlake.profile.changed): the enterprises in scope are the changed ones,
also those that lost a record re-sent for another enterprise, and their rows, computed by DuckDB
from the bronze files, are the full build's, column for column."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import functions as F

from govlake.profile import changed, compiled, direct, wide

D0, D1, AS_OF = dt.date(2025, 6, 28), dt.date(2025, 6, 29), dt.date(2025, 6, 30)


def _uscc(i: int) -> str:
    return f"91440306MA{i:08d}"  # synthetic.source_frame


@pytest.mark.slow  # keeps make test under 15 min on a fresh clone (make test-slow runs it)
def test_incremental_scope_and_rows_are_the_full_builds(spark, lake, settings, full_profile):
    from govlake.profile.synthetic import write_bronze

    write_bronze(spark, lake, 40, AS_OF, D0)
    ip = lake.read("bronze.ip_records")
    moved = ip.where(F.col("uscc") == _uscc(1)).orderBy("ip_id").limit(1).collect()[0]
    # D1: a record of enterprise 1 moves to enterprise 8 (before the incremental's loads)
    lake.write(ip.where(F.col("ip_id") == moved["ip_id"]).withColumn("uscc", F.lit(_uscc(8)))
               .withColumn("_load_date", F.lit(D1)), "bronze.ip_records", mode="append", partition_by=["_load_date"])
    # AS_OF: enterprise 1 re-registered (a new phone), enterprises 2..4 re-sent in every source
    reg = lake.read("bronze.enterprise_registry")
    lake.write(reg.where(F.col("uscc") == _uscc(1)).withColumn("phone", F.lit("0755-1"))
               .withColumn("_load_date", F.lit(AS_OF)), "bronze.enterprise_registry", mode="append",
               partition_by=["_load_date"])
    write_bronze(spark, lake, 40, AS_OF, AS_OF, seed=11, id_offset=2, id_count=3, mode="append")
    # AS_OF: a record of enterprise 5 is re-sent for enterprise 9 (a patent transferred): 5 lost it
    ip = lake.read("bronze.ip_records").where(F.col("_load_date") == D0)
    transferred = ip.where(F.col("uscc") == _uscc(5)).orderBy("ip_id").limit(1)
    lake.write(transferred.withColumn("uscc", F.lit(_uscc(9))).withColumn("_load_date", F.lit(AS_OF)),
               "bronze.ip_records", mode="append", partition_by=["_load_date"])

    # The full build's rows of every enterprise (Spark's staging and int_enterprise_rows through
    # the workers' projection).
    full = full_profile(direct.model_views(spark, lake, AS_OF)["enterprise_profile"], AS_OF)
    project = wide.projection(settings.catalog_dir, AS_OF, full.schema)
    tz = spark.conf.get("spark.sql.session.timeZone")
    with changed.ChangedEnterprises(lake, AS_OF, AS_OF, tz) as scoped:
        scope = {_uscc(i) for i in (1, 2, 3, 4, 5, 9)}
        assert set(scoped.scope.to_pylist()) == scope
        inc = pa.Table.from_batches(list(scoped.profile(project)), full.schema).sort_by("uscc")
    assert set(inc.column("uscc").to_pylist()) == scope
    want = full.filter(pc.is_in(full.column("uscc"), pa.array(sorted(scope))))
    bad = [c for c in full.column_names if not inc.column(c).equals(want.column(c))]
    assert not bad, bad[:5]
    assert sum(r is not None and r > 0 for r in inc.column("ip_all_valid_count").to_pylist()) >= 1
    # the moved record counts for enterprise 8, no longer for 1
    stg = spark.table("stg_ip_records").where(F.col("ip_id") == moved["ip_id"]).collect()
    assert [r.uscc for r in stg] == [_uscc(8)]


def test_staging_of_a_record_source_filters_its_keys_before_the_window(settings):
    """The incremental's staging is the staging models as dbt compiles them for DuckDB with the
    var changed_since: a source keyed by its own id (ip_id, ...) reads, in the window, the keys
    that ever had a row of an enterprise in scope (its latest row may be another enterprise's:
    dropped after); a uscc-keyed source the enterprises in scope; without the var, every one."""
    def flat(sql: str) -> str:
        return " ".join(sql.split())

    ip = flat(compiled.staging_sql("ip_records", changed=True, dbt_dir=settings.dbt_dir))
    assert "and (ip_id) IN (SELECT ip_id FROM bronze__ip_records WHERE uscc IN (SELECT uscc FROM changed_scope))" in ip
    assert ip.endswith("where _latest_rank = 1 and uscc IN (SELECT uscc FROM changed_scope)")
    tax = flat(compiled.staging_sql("tax_annual", changed=True, dbt_dir=settings.dbt_dir))
    assert "and uscc IN (SELECT uscc FROM changed_scope) ) as ranked where _latest_rank = 1" in tax
    assert "_load_date <= getvariable('as_of')" in tax
    pet = flat(compiled.staging_sql("petitions", changed=True, dbt_dir=settings.dbt_dir))
    assert "related_uscc IN (SELECT uscc FROM changed_scope)" in pet
    assert "changed_scope" not in compiled.staging_sql("enterprise_registry", dbt_dir=settings.dbt_dir)
    full = dict(compiled.spark_models(["int_enterprise_scope"], AS_OF))["int_enterprise_scope"]
    assert "bronze__" not in full and "stg_enterprise_registry" in full  # a full build's scope: the registered ones
