"""Delta tables read and written by Spark through delta-spark (`format("delta")`).

One commit per write. A write with an app id (txnAppId, txnVersion) already in the table's
log commits nothing: Delta skips it and the result says committed=False. MERGE carries the
same transaction identifiers through Delta's session settings.
"""

from __future__ import annotations

import contextlib
import json

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import MapType

from govlake.lakehouse import storage
from govlake.lakehouse.commit import Commit
from govlake.lakehouse.staged import already_committed, is_delta
from govlake.lakehouse.storage import AnyPath

TXN_APP, TXN_VERSION = "spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion"
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


def read(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    r = spark.read.format("delta")
    if version is not None:
        r = r.option("versionAsOf", version)
    return r.load(path)


def _quoted(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


def _last(path: AnyPath) -> dict:
    """The newest commit's version, operation and metrics, from the log by delta-rs (no Spark job)."""
    h = storage.delta_table(path).history(1)[0]
    return {"version": h["version"], "operation": h.get("operation"), "metrics": dict(h.get("operationMetrics") or {})}


def _files(path: AnyPath) -> set[str]:
    return set(storage.delta_table(path).file_uris()) if is_delta(path) else set()


def _commit(path: AnyPath, name: str, before_version: int, before_files: set[str]) -> Commit:
    """What the write did, from the log: its version (committed only if the table moved on),
    the files it added and removed, the rows it wrote (MERGE: inserted + updated, not copied)."""
    last = _last(path)
    if last["version"] == before_version:
        return Commit(name, before_version, 0, 0, 0, committed=False)
    m = {k: int(v) for k, v in last["metrics"].items() if str(v).lstrip("-").isdigit()}
    rows = (m.get("numTargetRowsInserted", 0) + m.get("numTargetRowsUpdated", 0) if last["operation"] == "MERGE"
            else m.get("numOutputRows", 0))
    after = _files(path)
    return Commit(name, last["version"], rows, len(after - before_files), len(before_files - after), committed=True)


@contextlib.contextmanager
def _session_txn(spark: SparkSession, app_id: str | None, app_version: int, metadata: dict | None):
    """Delta's idempotent-write identifiers and commit metadata for SQL commands (MERGE)."""
    conf = {USER_METADATA: json.dumps(metadata, ensure_ascii=False, default=str)} if metadata else {}
    if app_id:
        conf |= {TXN_APP: app_id, TXN_VERSION: str(app_version)}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k in conf:
            spark.conf.unset(k)


def write(df: DataFrame, path: AnyPath, name: str, mode: str, *, keys=None, partition_by=None, app_id=None,
          app_version: int = 0, metadata=None, properties: dict[str, str] | None = None,
          extra_keys: DataFrame | None = None) -> Commit:
    """mode: overwrite | append | replace_partitions (the partitions df has rows for) | merge
    (upsert by keys: MERGE, one row per key) | replace_keys (every row of df's keys replaced by
    df's rows: MERGE that deletes the keys' rows and inserts df's, in one commit).
    properties: the delta.* ones (table features) are set when the write creates the table; the
    descriptive ones (owner, classification) by `set_properties`, in the daily maintenance.
    extra_keys (replace_keys): keys whose rows go although df has none for them."""
    spark = df.sparkSession
    exists = is_delta(path)
    before = _last(path)["version"] if exists else -1
    if already_committed(path, app_id, app_version):
        return Commit(name, before, 0, 0, 0, committed=False)
    files = _files(path)
    if mode in ("merge", "replace_keys") and exists:
        if not keys:
            raise ValueError(f"{name}: {mode} needs keys")
        with _session_txn(spark, app_id, app_version, metadata):
            _merge(df, str(path), keys, replace=mode == "replace_keys", extra_keys=extra_keys)
        return _commit(path, name, before, files)
    w = df.write.format("delta")
    if partition_by:
        w = w.partitionBy(*partition_by)
    if app_id:
        w = w.option("txnAppId", app_id).option("txnVersion", app_version)
    if metadata:
        w = w.option("userMetadata", json.dumps(metadata, ensure_ascii=False, default=str))
    if not exists:  # Delta takes delta.* options as table properties (features) on create
        for k, v in (properties or {}).items():
            if k.startswith("delta."):
                w = w.option(k, v)
        w = w.mode("overwrite")
    elif mode == "overwrite":
        w = w.mode("overwrite").option("overwriteSchema", "true")
    elif mode == "append":
        w = w.mode("append")
    elif mode == "replace_partitions":
        if not partition_by:
            raise ValueError(f"{name}: replace_partitions needs partition_by")
        w = w.mode("overwrite").option("partitionOverwriteMode", "dynamic")
    elif mode not in ("merge", "replace_keys"):
        raise ValueError(f"{name}: unknown write mode {mode!r}")
    w.save(str(path))
    return _commit(path, name, before, files)


def _merge(df: DataFrame, path: str, keys: list[str], replace: bool, extra_keys: DataFrame | None = None) -> None:
    """MERGE df into the table at path. replace: every target row of a key in df goes (deletion
    vectors where the table enables them, so a random 1 % of keys rewrites no file) and df's
    rows come in, in one commit: the source is df's distinct keys (to match and delete) plus
    df's rows under a null merge key (never matched, so inserted)."""
    spark = df.sparkSession
    cols = df.columns
    view = f"_merge_src_{abs(hash((path, id(df))))}"
    if replace:
        keyed = ", ".join(f"`{k}` AS `_mk_{k}`" for k in keys)
        nulls = ", ".join(f"CAST(NULL AS {df.schema[k].dataType.simpleString()}) AS `_mk_{k}`" for k in keys)
        all_cols = ", ".join(f"`{c}`" for c in cols)
        key_rows = ", ".join(f"CAST(NULL AS {f.dataType.simpleString()}) AS `{f.name}`" for f in df.schema.fields)
        df.createOrReplaceTempView(view + "_rows")
        key_set = df.select(*keys) if extra_keys is None else df.select(*keys).unionByName(extra_keys.select(*keys))
        key_set.createOrReplaceTempView(view + "_keys")
        spark.sql(f"""SELECT {keyed}, {key_rows}, false AS _mk_insert FROM (SELECT DISTINCT * FROM {view}_keys)
                      UNION ALL SELECT {nulls}, {all_cols}, true AS _mk_insert FROM {view}_rows""") \
            .createOrReplaceTempView(view)
        cond = " AND ".join(f"t.`{k}` = s.`_mk_{k}`" for k in keys)
        values = ", ".join(f"s.`{c}`" for c in cols)
        sql = (f"MERGE INTO {_quoted(path)} t USING {view} s ON {cond} "
               f"WHEN MATCHED THEN DELETE "
               f"WHEN NOT MATCHED AND s._mk_insert THEN INSERT ({all_cols}) VALUES ({values})")
    else:
        df.createOrReplaceTempView(view)
        cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        # a matched row is rewritten only if a value changed (a snapshot merged again is a no-op)
        values = [f.name for f in df.schema.fields if f.name not in keys]
        comparable = not any(isinstance(df.schema[c].dataType, MapType) for c in values)  # maps have no =
        same = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in values) if comparable and values else "false"
        sql = (f"MERGE INTO {_quoted(path)} t USING {view} s ON {cond} "
               f"WHEN MATCHED AND NOT ({same}) THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    try:
        spark.sql(sql)
    finally:
        spark.catalog.dropTempView(view)
        spark.catalog.dropTempView(view + "_rows")
        spark.catalog.dropTempView(view + "_keys")


def set_properties(spark: SparkSession, path: AnyPath, properties: dict[str, str]) -> dict[str, str]:
    """ALTER TABLE ... SET TBLPROPERTIES for the properties that differ from the table's."""
    have = storage.delta_table(path).metadata().configuration
    todo = {k: v for k, v in properties.items() if have.get(k) != v}
    if todo:
        items = ", ".join(f"'{k}' = '{_sql_str(v)}'" for k, v in todo.items())
        spark.sql(f"ALTER TABLE {_quoted(str(path))} SET TBLPROPERTIES ({items})")
    return todo


def _sql_str(v: str) -> str:
    return v.replace("\\", "\\\\").replace("'", "\\'")


# OPTIMIZE where a partition holds this many files under SMALL_FILE_BYTES: compaction pays
# for its Spark jobs only where readers open many small files.
OPTIMIZE_MIN_SMALL_FILES = 16
SMALL_FILE_BYTES = 32 << 20


def _small_files(path: AnyPath) -> int:
    """The most small files in one partition of the table (from the log, no Spark job)."""
    import pyarrow as pa

    adds = pa.table(storage.delta_table(path).get_add_actions(flatten=True)).to_pylist()
    groups: dict[tuple, int] = {}
    for a in adds:
        if a["size_bytes"] < SMALL_FILE_BYTES:
            key = tuple(sorted((k, str(v)) for k, v in a.items() if k.startswith("partition.")))
            groups[key] = groups.get(key, 0) + 1
    return max(groups.values(), default=0)


def maintain(spark: SparkSession, path: AnyPath, retain_hours: int, zorder: list[str] | None = None) -> dict:
    """OPTIMIZE (compaction, Z-order by the given columns) where small files piled up, then
    VACUUM keeping retain_hours of removed files, so time travel within that window keeps
    working. Each only where there is work: the checks read the log (delta-rs), no Spark job."""

    q = _quoted(str(path))
    out = {"files_added": 0, "files_removed": 0, "files_vacuumed": 0}
    if _small_files(path) >= OPTIMIZE_MIN_SMALL_FILES:
        spark.sql(f"OPTIMIZE {q}" + (f" ZORDER BY ({', '.join(zorder)})" if zorder else "")).collect()
        m = _last(path)["metrics"]
        out |= {"files_added": int(m.get("numAddedFiles", 0)), "files_removed": int(m.get("numRemovedFiles", 0))}
    # delta-rs lists what a vacuum would delete; Delta's own VACUUM (which knows every file a
    # snapshot uses, deletion vectors included) deletes it
    if storage.delta_table(path).vacuum(retention_hours=retain_hours, dry_run=True, enforce_retention_duration=False):
        spark.sql(f"VACUUM {q} RETAIN {retain_hours} HOURS").collect()
        out["files_vacuumed"] = int(_last(path)["metrics"].get("numDeletedFiles", 0))
    return out


def replace_keys_with_files(spark: SparkSession, path: AnyPath, name: str, key: str, values: list, adds: list[dict], *,
                            app_id: str | None = None, app_version: int = 0, metadata: dict | None = None,
                            prepared=None) -> Commit:
    """Every row whose `key` is among `values` replaced by the rows of Parquet files already in
    the table's folder (adds: their add actions as Delta log dicts, statistics included), in ONE
    delta-spark transaction: the rows are marked in deletion vectors (the table enables them;
    `deletion_vectors.prepare`, uncommitted) and the files are added in the same transaction,
    with the txn identifiers. prepared: that marking done already (a `KeyDeletion` of these
    keys or more, started earlier so that it overlaps other work); committed here, or discarded
    if the app transaction is already in the log.

    Why not MERGE: with the change data feed on, MERGE writes each deleted row in full to the
    feed's files, so it reads every file its keys touch whole (a random 1 % of keys touches
    them all). Deletion vectors need no feed files: Delta's feed reader takes a commit's deleted
    rows from the difference of each file's deletion vectors and its inserted rows from the
    added files, so the feed records the change (delete + insert, as MERGE's delete-and-insert
    did) without the old rows being read. Why not Delta's DELETE command for the marking: its
    eleven Spark jobs per table were most of an incremental's time (ADR 0009)."""
    from govlake.lakehouse import deletion_vectors

    if already_committed(path, app_id, app_version):
        if prepared is not None:
            prepared.discard()
        return Commit(name, _last(path)["version"], 0, 0, 0, committed=False)
    if prepared is not None and not prepared.keys >= set(values):
        prepared.discard()  # marked for fewer keys than are replaced (not expected): mark them all again
        prepared = None
    marks = prepared if prepared is not None else deletion_vectors.prepare(spark, path, key, values)
    if not marks.actions and not adds and not app_id:  # nothing to record
        marks.discard()
        return Commit(name, _last(path)["version"], 0, 0, 0, committed=False)
    # userMetadata: the commit reads it from the session. No operation metrics: a MERGE command's
    # are not these (the Commit returned says what was written).
    metrics = "spark.databricks.delta.history.metricsEnabled"
    spark.conf.set(metrics, "false")
    try:
        with _session_txn(spark, None, 0, metadata):
            version = marks.commit([{"add": a} for a in adds], app_id=app_id, app_version=app_version)
    finally:
        spark.conf.unset(metrics)
    rows = sum(json.loads(a["stats"])["numRecords"] for a in adds)
    return Commit(name, version, rows, len(adds), marks.removed, committed=True)
