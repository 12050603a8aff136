"""Files written outside Spark's Delta writer (docs/adr/0001).

The wide profile's rows and its tags are computed by the profile step and written by pyarrow
(`ParquetFileWriter`) in Spark's Python workers or in this process: parquet-mr takes a
1,500-column row one value at a time. This module computes nothing: it writes the batches it is
given, stages the files and commits them. Files land in a `_tmp-*` folder inside the table and
are moved to their final place (`adopt`). A full build commits them as ONE Delta transaction by
delta-rs, with the statistics Delta's own writers record (numRecords, and minValues / maxValues /
nullCount of the first 32 columns) read from each file's footer; an incremental's are added as
they are to a delta-spark transaction that marks the rows they replace in deletion vectors
(`spark_tables.replace_keys_with_files`). Readers only ever see committed files.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    Transaction,
    create_table_with_add_actions,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from govlake.lakehouse import storage
from govlake.lakehouse.commit import Commit
from govlake.lakehouse.storage import AnyPath

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Delta's own writers keep min/max/null statistics for the first 32 columns (Delta's default
# delta.dataSkippingNumIndexedCols, which no table of ours changes); the files committed here too.
INDEXED_COLUMNS = 32
# Delta-spark truncates string statistics to 32 characters; a longer value has no exact bound here.
STRING_PREFIX = 32


def is_delta(path: AnyPath) -> bool:
    log = path / "_delta_log"
    return log.has_files() if isinstance(log, storage.LakePath) else log.is_dir()


def snapshot_schema(dt: DeltaTable) -> StructType:
    # The Delta log stores the schema in Spark's StructType JSON format, comments included.
    return StructType.fromJson(json.loads(dt.schema().to_json()))


def _stat(v):
    """A footer statistic as Delta's JSON stats write it; None where no exact bound can be given."""
    if isinstance(v, bool) or v is None:
        return None  # Delta keeps no min/max for booleans
    if isinstance(v, datetime):
        if v.tzinfo is None:  # timestamp without time zone: no bound rather than a wrong one
            return None
        # milliseconds, as delta-spark writes them (its readers widen the max by 1 ms)
        return v.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):  # exact in a JSON number only up to a double's precision
        return float(v) if len(v.as_tuple().digits) <= 15 else None
    if isinstance(v, str):
        return v if len(v) <= STRING_PREFIX else None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return None


def file_stats(path: AnyPath, indexed: int = INDEXED_COLUMNS) -> dict:
    """Delta statistics of one Parquet file from its footer: numRecords, and minValues,
    maxValues and nullCount of its first `indexed` top-level primitive columns (a column whose
    row groups lack a bound gets no min/max, only its null count)."""
    fs, key = storage.filesystem(path)
    with fs.open_input_file(key) as f:
        md = pq.read_metadata(f)
    stats: dict = {"numRecords": md.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
    schema = md.schema.to_arrow_schema()
    leaves = {md.schema.column(i).path: i for i in range(md.num_columns)}
    for f in list(schema)[:indexed]:
        i = leaves.get(f.name)
        if i is None:  # nested: no statistics
            continue
        lo = hi = None
        nulls, bounded = 0, True
        for g in range(md.num_row_groups):
            st = md.row_group(g).column(i).statistics
            if st is None or not st.has_null_count:
                bounded, nulls = False, None
                break
            nulls += st.null_count
            if not st.has_min_max and st.null_count < md.row_group(g).num_rows:
                bounded = False  # values without bounds (the writer dropped them)
            elif st.has_min_max:
                a, b = _stat(st.min), _stat(st.max)
                if a is None or b is None:
                    bounded = False
                else:
                    lo = a if lo is None else min(lo, a)
                    hi = b if hi is None else max(hi, b)
        if nulls is None:
            continue
        stats["nullCount"][f.name] = nulls
        if bounded and lo is not None:
            stats["minValues"][f.name], stats["maxValues"][f.name] = lo, hi
    return stats


# Rows per Parquet row group of the staged files. Spark's Arrow batches are 10,000 rows at most;
# a row group each made the profile gate's Arrow scan (a batch per row group and column) ~2.7x
# the CPU of 32,768-row groups. Costs ~4 batches of memory per task.
ARROW_ROW_GROUP_ROWS = 32_768


class ParquetFileWriter:
    """One Parquet file of a staging folder, written from the Arrow batches it is given: pyarrow,
    zstd. gather: batches are gathered into row groups of ARROW_ROW_GROUP_ROWS rows (the wide
    profile: dictionaries off, like the session's writer); otherwise a row group per batch and
    dictionaries on (repeated text: tag ids, names, dates), no Arrow schema stored (dictionary
    arrays read back as plain columns, as the table's schema says). The file is opened at the
    first batch: no batch, no file. group_rows: ARROW_ROW_GROUP_ROWS as the driver sees it when
    the writer runs in a Python worker."""

    def __init__(self, folder: AnyPath, gather: bool = True, group_rows: int | None = None):
        # local or the bucket: written through pyarrow's filesystem, the file named by its path in it
        self.folder, self.gather = folder, gather
        self._fs, self._base = storage.filesystem(folder)
        self.group_rows = group_rows or ARROW_ROW_GROUP_ROWS
        self.name: str | None = None
        self._writer = None
        self._group: list[pa.RecordBatch] = []

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.name = f"{self._base}/part-{uuid.uuid4().hex}.parquet"
            options = {"use_dictionary": False} if self.gather else {"store_schema": False}
            self._writer = pq.ParquetWriter(self.name, batch.schema, compression="zstd", filesystem=self._fs, **options)
        if not self.gather:
            self._writer.write_batch(batch)
            return
        self._group.append(batch)
        if sum(b.num_rows for b in self._group) >= self.group_rows:  # a few batches
            self._flush()

    def _flush(self) -> None:
        table = pa.Table.from_batches(self._group)
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._group.clear()

    def close(self) -> str | None:
        """Finish the file; its name (None: no batch, no file)."""
        if self._writer is not None:
            if self._group:
                self._flush()
            self._writer.close()
        return self.name

    def abort(self) -> None:
        """Close and delete the file (a failed task leaves none for its retry to double)."""
        if self._writer is not None:
            self._writer.close()
            self._fs.delete_file(self.name)


def staging_folder(path: AnyPath) -> AnyPath:
    """A new folder in the table's folder (path) for files to stage: Delta readers skip it."""
    return path / f"_tmp-{uuid.uuid4().hex[:12]}"


def adopt(folder: AnyPath, path: AnyPath, name: str, schema: StructType, keep=None,
          task_seconds: dict[str, float] | None = None) -> Staged:
    """The Parquet files written into a staging folder, staged for the table at path: moved
    into the table's folder (invisible to readers until committed). keep: the names of the files
    to take (those of the task attempts Spark took the results of); the others are deleted."""
    if keep is not None:
        keep = set(keep)
        for f in folder.glob("*.parquet"):
            if storage.fs_path(f) not in keep:
                f.unlink()
    tag = folder.name.removeprefix("_tmp-")
    return Staged(name, path, _adds(folder, path, tag), schema, dict(task_seconds or {}))


def _frame_writer(folder: AnyPath):
    """fn(iterator of record batches) -> one record batch naming the file it wrote: run by each
    task of `stage` in its Python worker."""
    group_rows = ARROW_ROW_GROUP_ROWS

    def write(batches):
        out = ParquetFileWriter(folder, group_rows=group_rows)
        try:
            for batch in batches:
                out.write(batch)
        except BaseException:
            out.abort()
            raise
        name = out.close()
        yield pa.RecordBatch.from_pydict({"file": [name] if name else []}, schema=pa.schema([("file", pa.string())]))
    return write


def _adds(tmp: AnyPath, path: AnyPath, tag: str) -> list[AddAction]:
    """Move the Parquet files written into tmp (flat: staged tables are unpartitioned) into the
    table folder (path); their add actions."""
    actions: list[AddAction] = []
    now_ms = int(time.time() * 1000)
    for f in sorted(tmp.glob("*.parquet")):
        dest = path / f"{tag}-{f.name}"
        f.rename(dest)  # in the bucket: a server-side copy, then the source removed
        stats = file_stats(dest)
        if stats["numRecords"] == 0:
            # Spark leaves empty files for empty tasks; the schema lives in the log, drop them.
            dest.unlink()
            continue
        actions.append(
            AddAction(
                path=quote(dest.relative_to(path).as_posix(), safe="/="),
                size=dest.stat().st_size,
                partition_values={},
                modification_time=now_ms,
                data_change=True,
                stats=json.dumps(stats, ensure_ascii=False, allow_nan=False),
            )
        )
    storage.rmtree(tmp)
    return actions


def _rows(actions: list[AddAction]) -> int:
    return sum(json.loads(a.stats)["numRecords"] for a in actions)


def _props(app_id: str | None, app_version: int, metadata: dict | None) -> CommitProperties:
    txns = [Transaction(app_id, app_version)] if app_id else None
    meta = {k: str(v) for k, v in (metadata or {}).items()}
    return CommitProperties(app_transactions=txns, custom_metadata=meta or None)


def already_committed(path: AnyPath, app_id: str | None, app_version: int) -> bool:
    if not app_id or not is_delta(path):
        return False
    done = storage.delta_table(path).transaction_version(app_id)
    return done is not None and done >= app_version


def _commit(path: AnyPath, name: str, schema: DeltaSchema, props: CommitProperties, adds: list[AddAction],
            dt: DeltaTable | None = None,
            configuration: dict[str, str] | None = None) -> Commit:
    """One Delta transaction: create the table with `adds` (dt None) and its properties
    (configuration), or replace every file of the existing table dt by `adds`."""
    if dt is None:
        create_table_with_add_actions(storage.delta_uri(path), schema, adds, mode="error",
                                      name=name, configuration=configuration or None, commit_properties=props,
                                      storage_options=storage.delta_options(path))
        return Commit(name, 0, _rows(adds), len(adds), 0, committed=True)
    # delta-rs writes the overwrite's remove actions itself, with each file's deletion vector
    # (a remove without it would leave a file that has one in the snapshot).
    before = len(dt.file_uris())
    dt.create_write_transaction(actions=adds, mode="overwrite", schema=schema,
                                commit_properties=props)
    dt.update_incremental()
    return Commit(name, dt.version(), _rows(adds), len(adds), before, committed=True)


@dataclass
class Staged:
    """Parquet files written into a table's folder but not committed: readers of the table do
    not see them. Query them with `frame`, then `commit` them as one transaction or `discard`."""

    table: str
    path: AnyPath
    adds: list[AddAction]
    schema: StructType
    task_seconds: dict[str, float] = field(default_factory=dict)  # the writing step's seconds per phase

    @property
    def rows(self) -> int:
        return _rows(self.adds)

    @property
    def files(self) -> list[AnyPath]:
        return [self.path / unquote(a.path) for a in self.adds]

    def frame(self, spark: SparkSession) -> DataFrame:
        if not self.adds:
            return spark.createDataFrame([], self.schema)
        return spark.read.schema(self.schema).parquet(*map(str, self.files))

    def dataset(self):
        """The staged files as a pyarrow dataset (Arrow readers, e.g. the quality gate)."""
        import pyarrow.dataset as ds

        fs, _ = storage.filesystem(self.path)
        return ds.dataset([storage.fs_path(f) for f in self.files], format="parquet", filesystem=fs)

    def to_table(self, columns: list[str]) -> pa.Table:
        """Some columns of the staged rows as a pyarrow Table (no files: an empty one)."""
        if self.files:
            return self.dataset().to_table(columns=columns)
        from pyspark.sql.pandas.types import to_arrow_schema

        return to_arrow_schema(StructType([self.schema[c] for c in columns])).empty_table()

    def discard(self) -> None:
        for f in self.files:
            f.unlink(missing_ok=True)
        self.adds = []


def add_dicts(staged: Staged) -> list[dict]:
    """The staged files' add actions as Delta log entries (for a commit by delta-spark)."""
    return [{"path": a.path, "partitionValues": dict(a.partition_values), "size": a.size,
             "modificationTime": a.modification_time, "dataChange": a.data_change, "stats": a.stats}
            for a in staged.adds]


def stage(df: DataFrame, path: AnyPath, name: str) -> Staged:
    """Write df's rows as Parquet files into the table folder without committing them: by
    pyarrow from Spark's Arrow batches in the Python workers, a file per task."""
    path.mkdir(parents=True, exist_ok=True)
    tmp = staging_folder(path)
    try:
        out = df.mapInArrow(_frame_writer(tmp), "file string").toArrow()
    except BaseException:
        storage.rmtree(tmp)
        raise
    return adopt(tmp, path, name, df.schema, keep=out.column("file").to_pylist())


def stage_arrow(parts, path: AnyPath, name: str, schema: StructType, **write_options) -> Staged:
    """Stage rows computed in Arrow, like `stage`: parts is an iterable of parts, each an iterable
    of RecordBatches with the columns of schema, streamed into one Parquet file (a part without
    batches makes none). write_options: for pyarrow's writer (zstd and 32,768-row groups unless given)."""
    tmp = staging_folder(path)
    tmp.mkdir(parents=True)
    fs, base = storage.filesystem(tmp)
    options = {"compression": "zstd", **write_options}
    group = options.pop("row_group_size", ARROW_ROW_GROUP_ROWS)
    cols = schema.fieldNames()
    try:
        for i, part in enumerate(parts):
            writer = None
            for batch in part:
                batch = batch.select(cols)
                writer = writer or pq.ParquetWriter(f"{base}/part-{i:05d}.parquet", batch.schema, filesystem=fs, **options)
                writer.write_batch(batch, row_group_size=group)
            if writer:
                writer.close()
    except BaseException:
        storage.rmtree(tmp)
        raise
    return adopt(tmp, path, name, schema)


def commit_staged(staged: Staged, app_id: str | None = None, app_version: int = 0,
                  metadata: dict | None = None, configuration: dict[str, str] | None = None) -> Commit:
    """Commit staged files as the table's new content (overwrite), one Delta transaction."""
    path, name = staged.path, staged.table
    if already_committed(path, app_id, app_version):
        # Nothing committed; the staged files stay readable (the caller may still query them)
        # until the caller discards them.
        return Commit(name, storage.delta_table(path).version(), 0, 0, 0, committed=False)
    props = _props(app_id, app_version, metadata)
    schema = DeltaSchema.from_json(staged.schema.json())
    if not is_delta(path):
        return _commit(path, name, schema, props, staged.adds, configuration=configuration)
    dt = storage.delta_table(path)
    return _commit(path, name, schema, props, staged.adds, dt=dt)


def history(path: AnyPath) -> list[dict]:
    return storage.delta_table(path).history()
