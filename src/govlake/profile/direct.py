"""Run the generated profile SQL directly on a SparkSession (no dbt): temp views named like the
dbt refs, from sqlgen's spark rendering (what dbt compiles from the committed models for Spark:
tests/profile/test_profile_sql.py checks it model for model). Used by tests and the benchmark."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession

from govlake.catalog.enterprise import distribution_column, load_enterprise_fields
from govlake.catalog.sources import load_sources
from govlake.lakehouse import Lakehouse
from govlake.profile import sqlgen


def wide_join_settings(spark: SparkSession) -> None:
    """Session settings for the wide profile plan (runtime settings; set before building).

    Join the wide per-category outputs by shuffle, never by broadcast: dozens of broadcast
    hash relations of 100-300 wide rows exhausted a 2 GB driver ("Could not allocate memory to
    grow BytesToBytesMap") even at 60 enterprises."""
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    # The derived fields are computed in ~10 stacked projections of 1,500 columns; collapsing
    # them inlines every derived expression into the next level and the optimizer spent minutes
    # rewriting the resulting trees. Keep the projections as written.
    spark.conf.set("spark.sql.optimizer.excludedRules", "org.apache.spark.sql.catalyst.optimizer.CollapseProject")
    # Whole-stage codegen of the 1,200-column joins exceeds Java's 64 KB method limit; Spark
    # then falls back after a failed compile. Skip the attempt (measured 46 s -> 32 s at 100 rows).
    spark.conf.set("spark.sql.codegen.maxFields", "300")
    # HotSpot does not JIT-compile a method above 8,000 bytes of bytecode; it runs interpreted.
    # The source aggregates' whole-stage code had several (hashAgg output 18 KB, processNext
    # 23 KB, logged by CodeGenerator at INFO). With the limit at 8,000 Spark runs those subtrees
    # without whole-stage codegen instead (the value Spark's docs suggest for HotSpot).
    spark.conf.set("spark.sql.codegen.hugeMethodLimit", "8000")
    # Every query execution renders its plan for the listener bus (explain string, plan info);
    # with the session's maxToStringFields=2000 each of the ~30 wide operators printed all its
    # 1,500 columns and aggregates, seconds per query (seen in jstack: ExplainUtils,
    # AggregateExpression.toString). Spark's defaults truncate.
    spark.conf.set("spark.sql.debug.maxToStringFields", "25")
    spark.conf.set("spark.sql.ui.explainMode", "simple")


def register_staging(spark: SparkSession, lake: Lakehouse, load_date: dt.date | None = None) -> list[str]:
    """stg_<source> temp views = the latest bronze row per source key (the dbt staging contract),
    over bronze__<source> temp views (every load; empty if the source has no bronze table yet)."""
    names = []
    for src in load_sources(lake.settings.catalog_dir):
        table = f"bronze.{src.name}"
        if lake.exists(table):
            lake.read(table).createOrReplaceTempView(f"bronze__{src.name}")
        else:
            typ = {"long": "bigint"}
            cols = ", ".join(f"CAST(NULL AS {typ.get(c.type, c.type)}) AS {c.name}" for c in src.columns)
            spark.sql(f"SELECT {cols}, CAST(NULL AS DATE) AS _load_date, CAST(NULL AS STRING) AS _source_file, "
                      "CAST(NULL AS STRING) AS _run_id WHERE false").createOrReplaceTempView(f"bronze__{src.name}")
        where = f"WHERE _load_date <= DATE '{load_date}'" if load_date else ""
        keys = ", ".join(src.key)
        col = distribution_column(src.name, [c.name for c in src.columns])
        dist = f"DISTRIBUTE BY {col}" if col else ""
        inside, after = (dist, "") if col in src.key else ("", dist)  # as dbt's latest_per_key
        spark.sql(f"""
            SELECT * EXCEPT (_rn, _source_file, _run_id) FROM (
              SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY _load_date DESC) AS _rn
              FROM (SELECT * FROM bronze__{src.name} {where} {inside})) WHERE _rn = 1 {after}""").createOrReplaceTempView(f"stg_{src.name}")
        names.append(src.name)
    return names


def rows_view(spark: SparkSession, settings, as_of: dt.date) -> DataFrame:
    """Create the int_enterprise_scope and int_enterprise_rows temp views (what a build computes in
    Spark, over the stg_ views); returns int_enterprise_rows."""
    wide_join_settings(spark)
    catalog = load_enterprise_fields(settings.catalog_dir)
    sources = load_sources(settings.catalog_dir)
    d = sqlgen.Dialect("spark", as_of=as_of)
    spark.sql(sqlgen.scope_sql([s.name for s in sources], d)).createOrReplaceTempView("int_enterprise_scope")
    rows = spark.sql(sqlgen.rows_sql(catalog, sources, d))
    rows.createOrReplaceTempView("int_enterprise_rows")
    return rows


def profile_views(spark: SparkSession, settings, as_of: dt.date) -> DataFrame:
    """Create int_enterprise_scope, int_enterprise_src_*, int_enterprise_sources, int_enterprise_rows,
    int_enterprise_base and enterprise_profile temp views from the generated SQL (spark
    dialect); returns the profile DataFrame."""
    rows_view(spark, settings, as_of)
    catalog = load_enterprise_fields(settings.catalog_dir)
    d = sqlgen.Dialect("spark", as_of=as_of)
    for src in sqlgen.source_models(catalog):
        spark.sql(sqlgen.source_sql(src, catalog, d)).createOrReplaceTempView(f"int_enterprise_src_{src}")
    spark.sql(sqlgen.sources_sql(catalog, d)).createOrReplaceTempView("int_enterprise_sources")
    spark.sql(sqlgen.base_sql(catalog, d)).createOrReplaceTempView("int_enterprise_base")
    df = spark.sql(sqlgen.profile_sql(catalog, d))
    df.createOrReplaceTempView("enterprise_profile")
    return df
