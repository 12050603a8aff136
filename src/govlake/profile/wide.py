"""The wide profile's projection, run by DuckDB inside Spark's Python workers.

Spark reads staging, aggregates each source per enterprise and joins the 12 aggregates to the
scope (`int_enterprise_sources`: uscc + one struct per source, ~1,000 fields). The last two
models, `int_enterprise_base` (unpack, defaults, types) and `enterprise_profile` (476 derived
fields inlined), are one projection per row: each task's Arrow batches go through their
generated SQL (duckdb rendering, the same template) in an in-process DuckDB, one query per task,
streamed, on their way to the Parquet writer and the tag kernels (`Lakehouse.stage_with`).

Why: Spark's row-at-a-time code for 1,500 projected columns, the hand-over of 1,500 flat columns
to Arrow, and the JIT compiling that code were most of the full build's CPU (docs/profile.md,
"2026-12-04 (3)"); DuckDB evaluates the same expressions a vector at a time. A test checks that
the rows equal Spark's own run of the generated profile SQL, column by column.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from govlake.catalog.profile import load_enterprise_fields
from govlake.profile import sqlgen

SOURCES = "int_enterprise_sources"
BATCH_ROWS = 10_000  # as Spark's Arrow batches (spark.sql.execution.arrow.maxRecordsPerBatch)


@dataclass(frozen=True)
class Projection:
    """Callable on a task's Arrow batches of int_enterprise_sources -> batches of the profile."""

    sql: str          # int_enterprise_base and enterprise_profile over SOURCES, duckdb rendering
    schema: pa.Schema  # the profile's columns as Spark types them

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import duckdb

        first = next(batches, None)
        if first is None:
            return
        # One query per task, not per batch: planning the 1,500 inlined expressions takes seconds.
        # One thread: Spark already runs one task per core.
        con = duckdb.connect(config={"threads": 1})
        try:
            con.register(SOURCES, pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches)))
            for batch in con.sql(self.sql).to_arrow_reader(BATCH_ROWS):
                yield batch.cast(self.schema)
        finally:
            con.close()


def projection(catalog_dir: Path, as_of: dt.date, schema: pa.Schema) -> Projection:
    """The profile's projection for `as_of`; schema: the profile's Arrow schema (from Spark's
    analysis of the generated profile SQL, so types follow the contract)."""
    catalog = load_enterprise_fields(catalog_dir)
    d = sqlgen.Dialect("duckdb", as_of=as_of)
    sql = (f"WITH int_enterprise_base AS (\n{sqlgen.base_sql(catalog, d, packed=True)})\n"
           + sqlgen.profile_sql(catalog, d))
    return Projection(sql, schema)
