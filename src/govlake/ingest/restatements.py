"""ops.restatements: what a corrected extract changed in a load date already in bronze.

    previous_load(lake, source, load_date) -> PreviousLoad   hash and txn version of the last commit
    diff(old, new, key) -> Restatement counts and keys       rows added / removed / changed by key
    record(lake, row, app_id, app_version)                    one row, idempotent per restatement

A landing folder re-landed for a loaded date is told apart by the content hash of its files
(kept in the bronze commit's metadata): the same hash commits nothing, another hash replaces the
partition under the next txnVersion of the load's app id and is recorded here first, so a crash
between this record and the bronze commit repeats the same record (skipped by its app id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from govlake.lakehouse import Lakehouse

RESTATEMENTS = "ops.restatements"
# Keys listed per kind of change; the counts are always exact.
MAX_KEYS_LISTED = 1000
SCHEMA = ("source string, load_date date, run_id string, old_hash string, new_hash string, txn_version bigint, "
          "bronze_version_before bigint, rows_before bigint, rows_after bigint, rows_added bigint, "
          "rows_removed bigint, rows_changed bigint, quarantined_before bigint, quarantined_after bigint, "
          "added_keys array<string>, removed_keys array<string>, changed_keys array<string>, recorded_at timestamp")


@dataclass
class PreviousLoad:
    content_hash: str | None      # None: never loaded, or loaded before hashes were kept
    bronze_txn: int | None        # txnVersion of the load's app id in bronze (None: never committed)
    quarantine_txn: int | None
    bronze_version: int | None

    @property
    def loaded(self) -> bool:
        return self.bronze_txn is not None


def _txn(lake: Lakehouse, table: str, app_id: str) -> int | None:
    from govlake.lakehouse import storage

    return storage.delta_table(lake.path(table)).transaction_version(app_id) if lake.exists(table) else None


def previous_load(lake: Lakehouse, table: str, quarantine: str, source: str, load_date: dt.date,
                  app_id: str) -> PreviousLoad:
    b = _txn(lake, table, app_id)
    if b is None:
        return PreviousLoad(None, None, _txn(lake, quarantine, app_id), None)
    digest = None
    for h in lake.history(table):  # newest first
        if h.get("source") == source and h.get("load_date") == load_date.isoformat() and h.get("content_hash"):
            digest = h["content_hash"]
            break
    return PreviousLoad(digest, b, _txn(lake, quarantine, app_id), lake.version(table))


def _key_text(df: DataFrame, key: list[str]) -> DataFrame:
    cols = [c for c in df.columns if not c.startswith("_")]
    row = F.sha2(F.to_json(F.struct(*[F.col(f"`{c}`") for c in cols])), 256)
    k = F.concat_ws("|", *[F.coalesce(F.col(f"`{c}`").cast("string"), F.lit("")) for c in key]) if key else row
    return df.select(k.alias("k"), row.alias("h"))


def diff(old: DataFrame, new: DataFrame, key: list[str]) -> dict:
    """Rows added, removed and changed (same key, other values) from old to new; without a key,
    rows are their values (added / removed only)."""
    o, n = _key_text(old, key).alias("o"), _key_text(new, key).alias("n")
    if not key:  # a multiset of rows: number each copy so repeats pair up
        w = Window.partitionBy("k").orderBy("k")
        o = o.withColumn("k", F.concat("k", F.lit("#"), F.row_number().over(w))).alias("o")
        n = n.withColumn("k", F.concat("k", F.lit("#"), F.row_number().over(w))).alias("n")
    j = o.join(n, F.col("o.k") == F.col("n.k"), "full_outer").select(
        F.when(F.col("o.k").isNull(), "added").when(F.col("n.k").isNull(), "removed")
         .when(F.col("o.h") != F.col("n.h"), "changed").otherwise("same").alias("change"),
        F.coalesce(F.col("n.k"), F.col("o.k")).alias("k")).where("change <> 'same'").persist()
    try:
        counts = {r["change"]: r["count"] for r in j.groupBy("change").count().collect()}
        w = Window.partitionBy("change").orderBy("k")
        listed = (j.withColumn("i", F.row_number().over(w)).where(F.col("i") <= MAX_KEYS_LISTED)
                  .groupBy("change").agg(F.sort_array(F.collect_list("k")).alias("keys")).collect())
    finally:
        j.unpersist()
    keys = {r["change"]: list(r["keys"]) for r in listed}
    return {f"rows_{c}": int(counts.get(c, 0)) for c in ("added", "removed", "changed")} | {
        f"{c}_keys": keys.get(c, []) for c in ("added", "removed", "changed")}


def record(lake: Lakehouse, row: dict, app_id: str, app_version: int):
    df = lake.spark.createDataFrame([{**row, "recorded_at": dt.datetime.now()}], SCHEMA)
    return lake.write(df, RESTATEMENTS, mode="append", app_id=f"restate_{app_id}", app_version=app_version)
