"""The bronze rows an incremental profile build can read: those of the enterprises it may
recompute, found by Arrow scans and handed to Spark as small in-memory tables.

A day's change is a random 1 % of enterprises. Their rows are in every Parquet file and row
group of every bronze source, so nothing prunes; Spark's scans with the generated SQL's broadcast
filters (`sqlgen.scope_sql`, `sqlgen._scope_filter`) read every source in full, up to three times
for a source keyed by a record id, in ~30 stages (~45 task-s at 900,000 enterprises; the
incremental's largest fixed cost, docs/profile.md). Filtered Arrow scans read each source once or
twice in C++ threads, and the generated SQL then runs unchanged on ~1 % of the rows.

The rows kept are a superset of what the SQL reads, so its result is the same (the
incremental-equals-full-rebuild test): for the candidate enterprises (every uscc of a row loaded
since `since`, and every enterprise that ever held a record re-sent since then), a source keyed by
uscc keeps all their rows, and a source keyed by a record id keeps every row of each record any
of them ever held, so staging's latest row per record is the same as over all of bronze. The
SQL's own scope (registered enterprises among the candidates) and filters then run as before.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from govlake.catalog.profile import USCC_COLUMN
from govlake.catalog.sources import load_sources
from govlake.lakehouse import Lakehouse


def _unique(parts: list[pa.ChunkedArray], typ) -> pa.Array:
    if not parts:
        return pa.array([], typ)
    return pc.unique(pa.chunked_array([c.cast(typ) for p in parts for c in p.chunks], typ)).drop_null()


def _by_record(source) -> bool:
    """Keyed by a record id, not by the enterprise (ip_id, cert_id, ...)."""
    return USCC_COLUMN.get(source.name, "uscc") not in source.key and len(source.key) == 1


def candidates(lake: Lakehouse, sources, since: dt.date) -> pa.Array:
    """usccs of every bronze row loaded on/after `since` and of every holder of a record
    (by its id) re-sent since then."""
    loaded = pc.field("_load_date") >= pa.scalar(since, pa.date32())
    found = []
    for s in sources:
        u = USCC_COLUMN.get(s.name, "uscc")
        if _by_record(s):
            k = s.key[0]
            keys = lake.to_arrow(f"bronze.{s.name}", columns=[k], filter=loaded).column(k)
            found.append(lake.to_arrow(f"bronze.{s.name}", columns=[u], filter=pc.field(k).isin(pc.unique(keys))).column(u))
        else:
            found.append(lake.to_arrow(f"bronze.{s.name}", columns=[u], filter=loaded).column(u))
    return _unique(found, pa.string())


def rows_of(lake: Lakehouse, source, usccs: pa.Array) -> pa.Table:
    """Every bronze row of `source` the SQL may read for the enterprises `usccs`."""
    u = USCC_COLUMN.get(source.name, "uscc")
    mine = pc.field(u).isin(usccs)
    if u in source.key:
        return lake.to_arrow(f"bronze.{source.name}", filter=mine)
    # Every row of each record the enterprises ever held (whoever holds it now).
    held = lake.to_arrow(f"bronze.{source.name}", columns=list(source.key), filter=mine)
    first = source.key[0]
    rows = lake.to_arrow(f"bronze.{source.name}", filter=pc.field(first).isin(pc.unique(held.column(first))))
    if len(source.key) > 1:  # the rest of a composite key
        rows = rows.join(held.group_by(list(source.key)).aggregate([]), list(source.key), join_type="left semi")
    return rows


def changed_bronze(spark: SparkSession, lake: Lakehouse, since: dt.date) -> dict[str, DataFrame]:
    """source name -> a Spark DataFrame of its bronze rows for an incremental build (the same
    schema as the bronze table), for every source with a bronze table."""
    sources = [s for s in load_sources(lake.settings.catalog_dir) if lake.exists(f"bronze.{s.name}")]
    usccs = candidates(lake, sources, since)
    out = {}
    # Handed over as RDDs of Arrow batches, never as LocalRelations (Spark's choice under 48 MB):
    # with those in the 1,500-column plan the 3 GB driver heap ran out at 900,000 enterprises.
    key = "spark.sql.execution.arrow.localRelationThreshold"
    was = spark.conf.get(key)
    spark.conf.set(key, "0")
    try:
        for s in sources:
            schema = lake.read(f"bronze.{s.name}").schema
            out[s.name] = spark.createDataFrame(rows_of(lake, s, usccs).select(schema.names), schema=schema)
    finally:
        spark.conf.set(key, was)
    return out
