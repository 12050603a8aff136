"""Delta through the delta-spark jars (cluster images that have them): `format("delta")`.

Same contract as delta_local: one commit per write, app transactions for idempotent loads.
Selected when the session has Delta's SQL extension configured. These machines cannot fetch
the jars (DESIGN.md), so this path is exercised only on a cluster.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from govlake.lakehouse.delta_local import Commit


def available(spark: SparkSession) -> bool:
    return "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions", "")


def _table(spark, path: str):
    from delta.tables import DeltaTable  # shipped with delta-spark

    return DeltaTable.forPath(spark, path)


def read(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    r = spark.read.format("delta")
    if version is not None:
        r = r.option("versionAsOf", version)
    return r.load(path)


def _last_version(spark, path: str) -> int:
    return _table(spark, path).history(1).select("version").first()[0]


def already_committed(spark, path: str, app_id: str | None, app_version: int) -> bool:
    # delta-spark skips a write whose (txnAppId, txnVersion) is already in the log; report that.
    if not app_id:
        return False
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, path):
        return False
    hist = _table(spark, path).history().where("operationParameters is not null")
    return any(
        (r["userMetadata"] or "") == f"{app_id}:{app_version}" for r in hist.select("userMetadata").collect()
    )


def write(df: DataFrame, path: str, name: str, mode: str, keys=None, partition_by=None,
          app_id=None, app_version: int = 0, metadata=None, replace=None) -> Commit:
    spark = df.sparkSession
    if already_committed(spark, path, app_id, app_version):
        return Commit(name, _last_version(spark, path), 0, 0, 0, committed=False)
    tag = f"{app_id}:{app_version}" if app_id else None
    if mode == "merge_on_read":
        # Every row of a replaced key goes (many rows per key, e.g. tags), then df is appended:
        # Delta's MERGE writes deletion vectors where the table enables them. A re-run after a
        # failed append deletes nothing more and appends once (the append carries the app id).
        from delta.tables import DeltaTable

        if DeltaTable.isDeltaTable(spark, path):
            keyset = df.select(*keys)
            if replace is not None:
                keyset = keyset.unionByName(replace.select(*keys))
            cond = " and ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
            _table(spark, path).alias("t").merge(keyset.distinct().alias("s"), cond).whenMatchedDelete().execute()
        mode = "append"
    if mode == "merge":
        from delta.tables import DeltaTable

        if not DeltaTable.isDeltaTable(spark, path):
            mode = "overwrite"
        else:
            cond = " and ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
            if tag:
                spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", tag)
            (_table(spark, path).alias("t").merge(df.alias("s"), cond)
             .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
            spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")
            return Commit(name, _last_version(spark, path), -1, -1, -1, committed=True)
    w = df.write.format("delta")
    if partition_by:
        w = w.partitionBy(*partition_by)
    if tag:
        w = w.option("txnAppId", app_id).option("txnVersion", app_version).option("userMetadata", tag)
    if mode == "replace_partitions":
        w = w.mode("overwrite").option("partitionOverwriteMode", "dynamic")
    else:
        w = w.mode(mode)
    w.save(path)
    return Commit(name, _last_version(spark, path), -1, -1, -1, committed=True)


def history(spark, path: str) -> list[dict]:
    return [r.asDict(recursive=True) for r in _table(spark, path).history().collect()]
