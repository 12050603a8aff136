"""The direct engine: the profile's models as dbt compiles them for Spark, run as temp views on a
SparkSession without dbt's materialization and tests (tests, the benchmark). A build with the dbt
engine runs the same compiled SQL through dbt."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession

from govlake.catalog.sources import load_sources
from govlake.lakehouse import Lakehouse
from govlake.profile import compiled

# what a build reads: the profile and its rows (the workers compute the profile from them), the policy marts
MARTS = ("enterprise_profile", "int_enterprise_rows", "policy_profile", "policy_tags")


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


def register_bronze(spark: SparkSession, lake: Lakehouse) -> None:
    """bronze__<source> temp views: every load of each source's bronze table (empty, with the
    catalog's columns, if the source has none yet), as the compiled staging models read them."""
    for src in load_sources(lake.settings.catalog_dir):
        table = f"bronze.{src.name}"
        if lake.exists(table):
            lake.read(table).createOrReplaceTempView(f"bronze__{src.name}")
        else:
            typ = {"long": "bigint"}
            cols = ", ".join(f"CAST(NULL AS {typ.get(c.type, c.type)}) AS {c.name}" for c in src.columns)
            spark.sql(f"SELECT {cols}, CAST(NULL AS DATE) AS _load_date, CAST(NULL AS STRING) AS _source_file, "
                      "CAST(NULL AS STRING) AS _run_id WHERE false").createOrReplaceTempView(f"bronze__{src.name}")


def model_views(spark: SparkSession, lake: Lakehouse, as_of: dt.date, roots: tuple[str, ...] = MARTS) -> dict[str, DataFrame]:
    """Temp views of the models `roots` and their ancestors (staging, the scope, the per-source
    aggregates, ...), each named like its model, as dbt compiles them for Spark on `as_of`, over
    the bronze__<source> views; returns model -> DataFrame."""
    wide_join_settings(spark)
    register_bronze(spark, lake)
    views = {}
    for name, sql in compiled.spark_models(list(roots), as_of, lake.settings.dbt_dir):
        views[name] = spark.sql(sql)
        views[name].createOrReplaceTempView(name)
    return views
