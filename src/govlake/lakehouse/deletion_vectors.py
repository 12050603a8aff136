"""Rows of a Delta table marked deleted by key, in deletion vectors computed from the files' key column.

A day's profile change replaces a random 1 % of the keys: every file holds some of them. Delta's
DELETE command finds their rows with Spark jobs (a scan of the key column with row indexes, an
aggregation into bitmaps per file, the DV writes, a join of the touched files with the log's
statistics: eleven jobs per table, most of an incremental's commit time). Here the positions are
read by pyarrow from the key column of each file the keys' min/max statistics can touch (the
dictionary-encoded column: one lookup per distinct key of a row group), and the rest is Delta's
own code called on the transaction: its bitmaps (RoaringBitmapArray, merged with a file's
existing vector), its DV writer and file layout, AddFile.removeRows for the actions, and the
transaction's conflict detection and commit (`KeyDeletion.commit`). Nothing is committed until
then; `discard` deletes the vectors' file of a deletion that is not committed.

Used through py4j on delta-spark internals pinned by jvm/pom.xml (ADR 0009); a change there
fails tests/test_lakehouse.py's deletion-vector test, which reads every version by Spark and
delta-rs and checks the change data feed.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from govlake.lakehouse import storage
from govlake.lakehouse.storage import AnyPath


def _seq(jvm, items):
    lst = jvm.java.util.ArrayList()
    for i in items:
        lst.add(i)
    return jvm.scala.jdk.javaapi.CollectionConverters.asScala(lst).toList()


def _scala_object(package, name: str):
    return getattr(getattr(package, name + "$"), "MODULE$")


def positions(fs, path: str, key: str, values: pa.Array) -> np.ndarray:
    """Row indexes (physical, from 0, as Delta's deletion vectors count them) of the rows of a
    Parquet file whose `key` is among `values`, read row group by row group (bounded memory).
    A dictionary-encoded string column is matched on its dictionary, then taken by its indices."""
    found, offset = [], 0
    with fs.open_input_file(path) as source:
        f = pq.ParquetFile(source, read_dictionary=[key])
        if key not in f.schema_arrow.names:  # a file written before the column existed: all null
            return np.zeros(0, np.int64)
        for g in range(f.num_row_groups):
            for chunk in f.read_row_group(g, columns=[key]).column(key).chunks:
                if isinstance(chunk, pa.DictionaryArray):
                    hit = pc.take(pc.is_in(chunk.dictionary, value_set=values), chunk.indices)
                else:
                    hit = pc.is_in(chunk, value_set=values)
                found.append(pc.indices_nonzero(pc.fill_null(hit, False)).to_numpy().astype(np.int64) + offset)
                offset += len(chunk)
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _may_hold(stats: str | None, key: str, low: str, high: str) -> bool:
    """Whether a file's statistics allow a string key in [low, high] (no statistics: it may).
    Delta truncates long strings' bounds to a prefix (min) and a prefix with a high character
    appended (max): still bounds. Python orders str by code point, as UTF-8 bytes order."""
    if not stats:
        return True
    s = json.loads(stats)
    lo, hi = s.get("minValues", {}).get(key), s.get("maxValues", {}).get(key)
    return (not isinstance(lo, str) or lo <= high) and (not isinstance(hi, str) or hi >= low)


def _option(opt, default=None):
    return opt.get() if opt.isDefined() else default


class KeyDeletion:
    """An open delta-spark transaction of a table and the actions that mark its rows of some keys
    deleted (vectors written, not committed). `commit` adds other actions (the new rows' files)
    and commits them in one transaction; `discard` drops it."""

    def __init__(self, spark, txn, actions: list, removed: int, marked: int, dv_file, keys: frozenset):
        self.spark, self.txn, self.actions = spark, txn, actions
        self.removed, self.marked, self._dv_file, self.keys = removed, marked, dv_file, keys
        self.done = False

    def commit(self, extra: list[dict], *, app_id: str | None = None, app_version: int = 0) -> int:
        """Commit the marks with `extra` actions (Delta log dicts, e.g. {"add": …}) and the txn
        identifiers, as operation MERGE (what the day's replace was before). Returns the version.
        The commit's user metadata and operation metrics are session settings: the caller's."""
        jvm = self.spark._jvm
        delta = jvm.org.apache.spark.sql.delta
        actions = list(self.actions) + [delta.actions.Action.fromJson(json.dumps(a)) for a in extra]
        if app_id:
            txn = {"txn": {"appId": app_id, "version": app_version, "lastUpdated": int(time.time() * 1000)}}
            actions.append(delta.actions.Action.fromJson(json.dumps(txn)))
        none = _seq(jvm, [])
        op = delta.DeltaOperations.Merge(*[jvm.scala.Option.empty()] * 4, none, none, none)
        # from here its vectors are never deleted: a commit that raised may still be in the log
        # (a post-commit hook's failure); an unreferenced vectors' file is VACUUM's
        self.done = True
        return int(self.txn.commit(_seq(jvm, actions), op))

    def discard(self) -> None:
        """Drop an uncommitted deletion: its vectors' file is deleted (nothing refers to it)."""
        if self.done or self._dv_file is None:
            return
        self.done = True
        self._dv_file.getFileSystem(self.txn.deltaLog().newDeltaHadoopConf()).delete(self._dv_file, False)


def prepare(spark, path: AnyPath, key: str, values, *, threads: int | None = None) -> KeyDeletion:
    """Start a transaction on the Delta table at path and mark every row whose `key` is among
    `values` in deletion vectors (the table must enable them), uncommitted.

    The transaction reads the whole table (a concurrent change to any of its files makes the
    commit fail), as the replaced keys may be in every file."""
    jvm, jss = spark._jvm, spark._jsparkSession
    delta = jvm.org.apache.spark.sql.delta
    txn = delta.DeltaLog.forTable(jss, str(path)).startTransaction()
    meta = txn.metadata()
    conf = meta.configuration()
    if _option(conf.get("delta.enableDeletionVectors")) != "true":
        raise ValueError(f"{path}: marking rows by key needs deletion vectors (delta.enableDeletionVectors)")
    if _option(conf.get("delta.columnMapping.mode"), "none") != "none" or meta.partitionColumns().contains(key):
        raise ValueError(f"{path}: {key} must be a data column of a table without column mapping")
    delta.DeltaLog.assertRemovable(txn.snapshot())  # not an append-only table
    # the snapshot's state computed here, not in the commit: a prepared marking takes it off the
    # commit's path
    txn.snapshot().numOfFiles()
    listed = txn.snapshot().allFiles().collectAsList()  # with their statistics and vectors
    files = [listed.get(i) for i in range(listed.size())]
    txn.readWholeTable()
    txn.trackFilesRead(_seq(jvm, files))
    keys = frozenset(values)
    if not keys or not files:
        return KeyDeletion(spark, txn, [], 0, 0, None, keys)
    arrow_values = pa.array(sorted(keys))
    low, high = arrow_values[0].as_py(), arrow_values[-1].as_py()
    strings = isinstance(low, str)
    candidates = [f for f in files if not strings or _may_hold(f.stats(), key, low, high)]
    fs, base = storage.filesystem(path)

    def find(f):
        rel = unquote(f.path())
        if "://" in rel or rel.startswith("file:"):
            raise ValueError(f"{path}: absolute file path {rel} in the log is not supported")
        return positions(fs, f"{base}/{rel}", key, arrow_values)

    with ThreadPoolExecutor(max(1, min(len(candidates), threads or os.cpu_count() or 1))) as pool:
        found = list(pool.map(find, candidates))
    touched = [(f, p) for f, p in zip(candidates, found) if len(p)]
    return _mark(spark, txn, touched, keys)


def _mark(spark, txn, touched, keys) -> KeyDeletion:
    """The actions for the touched files (file, sorted row indexes): a file all of whose rows go
    is removed; the others are re-added with their vector grown (merged with the one they had,
    written by Delta's DV writer into one new file), statistics kept with wide bounds."""
    jvm = spark._jvm
    delta = jvm.org.apache.spark.sql.delta
    if not touched:
        return KeyDeletion(spark, txn, [], 0, 0, None, keys)
    log = txn.deltaLog()
    table = log.dataPath()
    store = _scala_object(delta.storage.dv, "DeletionVectorStore").createInstance(log.newDeltaHadoopConf())
    writer = None

    def write(bitmap):
        """Delta's DV writer, one file for this commit's vectors (opened with the first)."""
        nonlocal writer, ctx
        if writer is None:
            prefix = delta.util.Utils.getRandomPrefix(delta.util.Utils.getRandomPrefixLength(txn.metadata()))
            made = delta.commands.DeletionVectorWriter.createWriter(store, store.pathWithFileSystem(table), prefix)
            writer = made._1()
            ctx = getattr(delta.commands, "DeletionVectorWriter$DeletionVectorMapperContext")(
                store, writer, table, made._2(), prefix)
        return delta.commands.DeletionVectorWriter.storeSerializedBitmap(
            ctx, bitmap.serializeAsByteArray(portable), bitmap.cardinality())

    ctx = None
    bitmaps = jvm.org.apache.spark.sql.delta.deletionvectors
    portable = _scala_object(bitmaps, "RoaringBitmapArrayFormat").Portable()
    gateway = spark.sparkContext._gateway
    now = int(time.time() * 1000)
    actions, removed, marked, dv_file = [], 0, 0, None
    try:
        for f, rows in touched:
            # the indexes cross py4j as one byte array, unpacked into a long[] in the JVM
            longs = gateway.new_array(jvm.long, len(rows))
            buf = jvm.java.nio.ByteBuffer.wrap(rows.astype("<i8").tobytes())
            buf.order(jvm.java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(longs)
            bitmap = bitmaps.RoaringBitmapArray.apply(jvm.scala.collection.immutable.ArraySeq.unsafeWrapArray(longs))
            before = 0
            if f.deletionVector() is not None:  # rows already deleted stay deleted; count only new ones
                old = store.read(f.deletionVector(), table)
                before = old.cardinality()
                old.merge(bitmap)
                bitmap = old
            if bitmap.cardinality() == before:
                continue
            marked += bitmap.cardinality() - before
            physical = f.numPhysicalRecords()
            if physical.isDefined() and bitmap.cardinality() >= physical.get():
                actions.append(f.removeWithTimestamp(now, True))
            else:
                dv = write(bitmap)
                dv_file = dv.absolutePath(table)
                pair = f.removeRows(dv, True, True)  # statistics kept, tightBounds false
                actions += [pair._1(), pair._2()]
            removed += 1
    finally:
        if writer is not None:
            writer.close()
    return KeyDeletion(spark, txn, actions, removed, marked, dv_file, keys)
