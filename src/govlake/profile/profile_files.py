"""The profile's and the tags' staged files, computed and written in one pass over the rows.

A full build: each Spark task's Python worker gets its enterprises' int_enterprise_rows as Arrow
batches, runs the profile's projection on them (DuckDB, `govlake.profile.wide`), writes the
profile rows to a Parquet file of the profile's staging folder and, from each profile batch, the
tag rows (catalog rules as Arrow kernels, `tag_kernels.tagger`) to a file of the tags' staging
folder: the tag rows never pass through Spark's rows and writer, and the rule columns are not
read back. An incremental: the same writing over the batches computed in this process
(`govlake.profile.changed`). The storage layer only writes the batches it is given and stages
the files (`lakehouse.staged.ParquetFileWriter`, `Lakehouse.adopt`).
"""

from __future__ import annotations

import time

import pyarrow as pa

from govlake.lakehouse import Lakehouse, staged, storage
from govlake.lakehouse.staged import ParquetFileWriter
from govlake.lakehouse.storage import AnyPath

# Task-seconds spent getting the rows (from Spark, through the projection), writing them, and
# computing and writing the tags: the build reports where its time goes.
PHASES = ("rows", "write", "tags")
OUTPUT = pa.schema([("file", pa.string()), ("phase", pa.string()), ("seconds", pa.float64())])


def writer(folder: AnyPath, tags_folder: AnyPath, tagger, project=None):
    """fn(iterator of record batches) -> one record batch naming the files it wrote and its
    seconds per phase. project: fn(iterator of batches) -> iterator of profile batches (the
    projection in the workers); none: the batches are the profile's rows already."""
    group_rows = staged.ARROW_ROW_GROUP_ROWS

    def write(batches):
        spent = dict.fromkeys(PHASES, 0.0)
        main = ParquetFileWriter(folder, group_rows=group_rows)
        tags = ParquetFileWriter(tags_folder, gather=False)
        rows = iter(project(batches) if project is not None else batches)
        try:
            while True:
                t = time.perf_counter()
                batch = next(rows, None)
                spent["rows"] += (t1 := time.perf_counter()) - t
                if batch is None:
                    break
                main.write(batch)
                spent["write"] += (t2 := time.perf_counter()) - t1
                out = tagger(batch)
                if out.num_rows:
                    tags.write(out)
                spent["tags"] += time.perf_counter() - t2
            t = time.perf_counter()
            names = [n for n in (main.close(), tags.close()) if n]
            spent["write"] += time.perf_counter() - t
        except BaseException:
            main.abort()
            tags.abort()
            raise
        yield pa.RecordBatch.from_pydict({"file": names + [None] * len(spent), "phase": [None] * len(names) + list(spent),
                                          "seconds": [0.0] * len(names) + list(spent.values())}, schema=OUTPUT)
    return write


def _task_seconds(out: pa.Table) -> dict[str, float]:
    """The writers' seconds per phase, summed over the tasks."""
    sums = dict.fromkeys(PHASES, 0.0)
    for phase, seconds in zip(out.column("phase").to_pylist(), out.column("seconds").to_pylist()):
        if phase is not None:
            sums[phase] += seconds
    return {p: round(s, 2) for p, s in sums.items()}


def _staged(lake: Lakehouse, run, table: str, tags_table: str, schema, tags_schema):
    """Run `run(folder, tags_folder)` -> the writers' output table; the two tables' staged files."""
    folder, tags_folder = lake.staging_folder(table), lake.staging_folder(tags_table)
    try:
        out = run(folder, tags_folder)
    except BaseException:
        storage.rmtree(folder)
        storage.rmtree(tags_folder)
        raise
    files = set(out.column("file").drop_null().to_pylist())
    seconds = _task_seconds(out)
    return (lake.adopt(folder, table, schema, keep=files, task_seconds=seconds),
            lake.adopt(tags_folder, tags_table, tags_schema, keep=files))


def stage_from_rows(lake: Lakehouse, rows, project, schema, table: str, tags_table: str, tagger, tags_schema):
    """A full build's files: the projection over each task's batches of rows (a Spark DataFrame
    of int_enterprise_rows) in Spark's Python workers; schema: the profile's (Spark) schema."""
    def run(folder, tags_folder):
        return rows.mapInArrow(writer(folder, tags_folder, tagger, project), "file string, phase string, seconds double").toArrow()
    return _staged(lake, run, table, tags_table, schema, tags_schema)


def stage_from_batches(lake: Lakehouse, batches, schema, table: str, tags_table: str, tagger, tags_schema):
    """An incremental's files: profile record batches computed in this process (columns of
    schema), written by the same writer as a Spark task's, a file per table."""
    def run(folder, tags_folder):
        return pa.Table.from_batches(list(writer(folder, tags_folder, tagger)(iter(batches))), OUTPUT)
    return _staged(lake, run, table, tags_table, schema, tags_schema)
