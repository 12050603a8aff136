"""The enterprise profile computed by DuckDB inside Spark's Python workers.

Spark reads bronze, keeps the latest row per staging key and distributes the staging rows by
enterprise (`int_enterprise_rows`: every row the profile reads, one layout of typed slots). Each
task then holds all rows of its enterprises; its Python worker loads them into an in-process
DuckDB and runs the same dbt models as dbt compiles them for DuckDB (`govlake.profile.compiled`):
the 12 per-source aggregates, `int_enterprise_base` (the joins, defaults, types) and
`enterprise_profile` (476 derived fields inlined), one query per task, streamed to the Parquet
writer and the tag kernels (`govlake.profile.profile_files`).

Why: Spark's generated code for ~1,500 aggregates and projected columns, its JIT compiling that
code, and the hand-over of wide rows to Arrow were most of the full build's CPU; DuckDB runs the
same models a vector at a time (docs/profile.md). The dbt models stay the only definition: a test
checks that the rows equal Spark's own run of the generated profile SQL, column by column.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from govlake.catalog.enterprise import USCC_COLUMN, load_enterprise_fields
from govlake.catalog.sources import load_sources
from govlake.profile import compiled, sqlgen

ROWS = "int_enterprise_rows"
BATCH_ROWS = 10_000  # as Spark's Arrow batches (spark.sql.execution.arrow.maxRecordsPerBatch)


@dataclass(frozen=True)
class Projection:
    """Callable on a task's Arrow batches of int_enterprise_rows -> batches of the profile."""

    sql: str                   # enterprise_profile over stg_<source>, as dbt compiles it for DuckDB
    as_of: dt.date             # the profile date (the compiled SQL reads it as a DuckDB variable)
    layout: sqlgen.RowLayout
    schema: pa.Schema          # the profile's columns as Spark types them

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import duckdb

        first = next(batches, None)
        if first is None:
            return
        spill = tempfile.mkdtemp(prefix="govlake-duckdb-")
        # One thread: Spark already runs one task per core.
        con = duckdb.connect(config={"threads": 1, "temp_directory": spill, "preserve_insertion_order": False})
        try:
            # Each source's rows into a DuckDB table stg_<source> as they arrive (the slots it
            # does not use are dropped at once, so a task holds its rows about once).
            picks = [f"SELECT uscc AS {USCC_COLUMN.get(src, 'uscc')}"
                     + "".join(f", {slot} AS {c}" for c, slot in self.layout.columns[src]) + f" FROM batch WHERE src = {i}"
                     for i, src in enumerate(self.layout.sources)]
            con.register("batch", first)
            for src, pick in zip(self.layout.sources, picks):
                con.execute(f"CREATE TABLE stg_{src} AS {pick} AND false")
            batch = first
            while batch is not None:
                con.register("batch", batch)
                for i in np.unique(batch.column("src").to_numpy(zero_copy_only=False)):
                    con.execute(f"INSERT INTO stg_{self.layout.sources[i]} {picks[i]}")
                con.unregister("batch")
                batch = next(batches, None)
            # One query per task, not per batch: planning the ~1,500 aggregates and expressions
            # takes seconds.
            yield from self.run(con)
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)


    def run(self, con) -> Iterator[pa.RecordBatch]:
        """The profile of the enterprises in a DuckDB connection's stg_<source> tables (each
        with the columns this layout carries, under the source's own names)."""
        compiled.set_dates(con, self.as_of)
        for out in con.sql(self.sql).to_arrow_reader(BATCH_ROWS):
            yield out.cast(self.schema)


def projection(catalog_dir: Path, as_of: dt.date, schema: pa.Schema, dbt_dir: Path | None = None) -> Projection:
    """The profile's computation for `as_of` in the workers; schema: the profile's Arrow schema
    (from Spark's analysis of the generated profile SQL, so types follow the contract); dbt_dir:
    the dbt project whose models run (default: the settings')."""
    layout = sqlgen.row_layout(load_enterprise_fields(catalog_dir), load_sources(catalog_dir))
    return Projection(compiled.profile_sql(dbt_dir), as_of, layout, schema)
