"""Files written outside Spark's Delta writer (docs/adr/0001).

The wide profile's rows and its tags are computed and written by pyarrow in Spark's Python
workers (or in this process): parquet-mr takes a 1,500-column row one value at a time. Those
files land in a `_tmp-*` folder inside the table and are moved to their final place. A full
build commits them as ONE Delta transaction by delta-rs, with the statistics Delta's own writers
record (numRecords, and minValues / maxValues / nullCount of the first 32 columns) read from
each file's footer; an incremental's are the source of a delta-spark MERGE, then discarded.
Readers only ever see committed files.
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


PHASES = ("rows", "write", "derived")
WRITER_OUTPUT = pa.schema([("file", pa.string()), ("phase", pa.string()), ("seconds", pa.float64())])


def _batch_writer(folder: AnyPath, derived=None, project=None):
    """fn(iterator of record batches) -> one record batch naming the files it wrote into folder,
    and its seconds per phase (PHASES):
    Parquet by pyarrow, zstd, no dictionaries (like the session's writer). Run by each task of
    `_write_arrow` in its Python worker, or in this process on batches computed here.

    project: fn(iterator of record batches) -> iterator of record batches, run on the batches
    before anything else: the rows written are its output (the profile's projection,
    govlake.profile.wide).

    derived: (folder, fn), fn(record batch) -> record batch: another table's rows computed from
    each batch on its way to the file (the enterprise tags from the profile rows), written by the
    same worker into a file of that folder, one row group per batch, dictionaries on (its text
    repeats: tag ids, names, dates). The rows are not read back from the first files."""
    folder.mkdir(parents=True, exist_ok=True)
    # local or the bucket: the workers write through pyarrow's filesystem (files named by their
    # path inside it)
    fs, target = storage.filesystem(folder)
    dtarget, fn = (storage.fs_path(derived[0]), derived[1]) if derived else (None, None)
    if dtarget:
        derived[0].mkdir(parents=True, exist_ok=True)

    def write(batches):
        files: dict[str, tuple] = {}  # "main" / "derived" -> (name, writer)
        group = []

        def open_file(kind, folder_, schema, **options):
            name = f"{folder_}/part-{uuid.uuid4().hex}.parquet"
            files[kind] = (name, pq.ParquetWriter(name, schema, compression="zstd", filesystem=fs, **options))
            return files[kind][1]

        def flush():
            table = pa.Table.from_batches(group)
            files["main"][1].write_table(table, row_group_size=table.num_rows)
            group.clear()

        # Task-seconds spent getting the rows (from Spark, through the projection), writing them,
        # and deriving and writing the derived rows: the build reports where its time goes.
        spent = dict.fromkeys(PHASES, 0.0)
        rows = iter(project(batches) if project is not None else batches)
        try:
            while True:
                t = time.perf_counter()
                batch = next(rows, None)
                spent["rows"] += (t1 := time.perf_counter()) - t
                if batch is None:
                    break
                if "main" not in files:
                    open_file("main", target, batch.schema, use_dictionary=False)
                group.append(batch)
                if sum(b.num_rows for b in group) >= ARROW_ROW_GROUP_ROWS:  # a few batches
                    flush()
                spent["write"] += (t2 := time.perf_counter()) - t1
                if fn is not None:
                    out = fn(batch)
                    if out.num_rows:
                        if "derived" not in files:  # no Arrow schema stored: its dictionary
                            # arrays read back as plain columns, as the table's schema says
                            open_file("derived", dtarget, out.schema, store_schema=False)
                        files["derived"][1].write_batch(out)
                    spent["derived"] += time.perf_counter() - t2
            t = time.perf_counter()
            if group:
                flush()
        except BaseException:
            for name, writer in files.values():  # a failed attempt leaves no file for a retry to double
                writer.close()
                fs.delete_file(name)
            raise
        for _, writer in files.values():
            writer.close()
        spent["write"] += time.perf_counter() - t
        names = [files[k][0] for k in files]
        yield pa.RecordBatch.from_pydict({"file": names + [None] * len(spent), "phase": [None] * len(names) + list(spent),
                                          "seconds": [0.0] * len(names) + list(spent.values())},
                                         schema=WRITER_OUTPUT)
    return write


def _task_seconds(out: pa.Table) -> dict[str, float]:
    """The writer's seconds per phase, summed over its tasks."""
    phases = out.filter(out.column("phase").is_valid())
    return {p: round(sum(s for q, s in zip(phases.column("phase").to_pylist(), phases.column("seconds").to_pylist()) if q == p), 2)
            for p in PHASES}


def _write_arrow(df: DataFrame, folder: AnyPath, derived=None, project=None) -> dict[str, float]:
    """Write df as Parquet files (one per partition of df) into folder, from Spark's Arrow
    batches by pyarrow in the Python workers (`_batch_writer`); returns the tasks' seconds per
    phase."""
    write = _batch_writer(folder, derived, project)
    dtarget = derived[0] if derived else None
    out = df.mapInArrow(write, "file string, phase string, seconds double").toArrow()
    # Row counts come from the footers, in _adds.
    written = set(out.column("file").drop_null().to_pylist())
    for f in [*folder.glob("*.parquet"), *(dtarget.glob("*.parquet") if dtarget else [])]:
        if storage.fs_path(f) not in written:  # only the files of the attempts Spark took the result of
            f.unlink()
    return _task_seconds(out)


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


def _stage_files(df: DataFrame, path: AnyPath) -> list[AddAction]:
    """Write df as Parquet inside the table folder by the Arrow writer; add actions for the new files."""
    tag = uuid.uuid4().hex[:12]
    tmp = path / f"_tmp-{tag}"
    try:
        _write_arrow(df, tmp)
    except BaseException:
        storage.rmtree(tmp)
        raise
    return _adds(tmp, path, tag)


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
    task_seconds: dict[str, float] = field(default_factory=dict)  # writers' seconds per phase (stage_with)

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


def stage(df: DataFrame, path: AnyPath, name: str) -> Staged:
    """Write df's rows as Parquet files into the table folder without committing them."""
    path.mkdir(parents=True, exist_ok=True)
    return Staged(name, path, _stage_files(df, path), df.schema)


def stage_with(df: DataFrame, path: AnyPath, name: str, dpath: AnyPath, dname: str, fn, dschema: StructType,
               project=None) -> tuple[Staged, Staged]:
    """Stage df (as `stage`, by the Arrow writer whatever its width) and, in the same pass, the rows
    fn derives from each of its Arrow batches (schema dschema) into the table at dpath.
    project: (fn over a task's batches, schema): the staged rows are fn's output, not df's."""
    tag = uuid.uuid4().hex[:12]
    tmp, dtmp = path / f"_tmp-{tag}", dpath / f"_tmp-{tag}"
    try:
        spent = _write_arrow(df, tmp, derived=(dtmp, fn), project=project[0] if project else None)
    except BaseException:
        storage.rmtree(tmp)
        storage.rmtree(dtmp)
        raise
    schema = project[1] if project else df.schema
    return (Staged(name, path, _adds(tmp, path, tag), schema, spent),
            Staged(dname, dpath, _adds(dtmp, dpath, tag), dschema))


def stage_batches_with(batches, schema: StructType, path: AnyPath, name: str, dpath: AnyPath, dname: str, fn,
                       dschema: StructType) -> tuple[Staged, Staged]:
    """`stage_with` for record batches computed in this process (columns of schema): written by
    the same writer as a Spark task's batches, into one file per table."""
    tag = uuid.uuid4().hex[:12]
    tmp, dtmp = path / f"_tmp-{tag}", dpath / f"_tmp-{tag}"
    try:
        spent = _task_seconds(pa.Table.from_batches(list(_batch_writer(tmp, derived=(dtmp, fn))(batches)), WRITER_OUTPUT))
    except BaseException:
        storage.rmtree(tmp)
        storage.rmtree(dtmp)
        raise
    return (Staged(name, path, _adds(tmp, path, tag), schema, spent),
            Staged(dname, dpath, _adds(dtmp, dpath, tag), dschema))


def stage_arrow(parts, path: AnyPath, name: str, schema: StructType, **write_options) -> Staged:
    """Stage rows computed in Arrow, like `stage`: parts is an iterable of parts, each an iterable
    of RecordBatches with the columns of schema, streamed into one Parquet file (a part without
    batches makes none). write_options: for pyarrow's writer (zstd and 32,768-row groups unless given)."""
    tag = uuid.uuid4().hex[:12]
    tmp = path / f"_tmp-{tag}"
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
    return Staged(name, path, _adds(tmp, path, tag), schema)


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
