"""Replace a small table computed in Arrow (services, space, ...) by delta-rs through the
Lakehouse: the whole table in one commit, idempotent by app_id, its rows counted back from the
Delta log (reconciled)."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import types as T

from govlake.lakehouse import Lakehouse

_SPARK = {pa.string(): T.StringType(), pa.int64(): T.LongType(), pa.int32(): T.IntegerType(),
          pa.float64(): T.DoubleType(), pa.bool_(): T.BooleanType(), pa.date32(): T.DateType(),
          pa.list_(pa.string()): T.ArrayType(T.StringType())}


def spark_schema(schema: pa.Schema) -> T.StructType:
    return T.StructType([T.StructField(f.name, _SPARK[f.type], True) for f in schema])


def content_digest(data: pa.Table) -> str:
    """A digest of the rows themselves: an app_id keyed on it commits nothing when a re-run
    computes the same table from inputs whose versions moved without changing (OPTIMIZE)."""
    import hashlib

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as w:
        w.write_table(data.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def replace_table(lake: Lakehouse, table: str, data: pa.Table, app_id: str) -> dict:
    """{"table", "rows", "version", "committed"}; raises if the log's count differs from data's."""
    staged = lake.stage_arrow([data.to_batches()], table, spark_schema(data.schema))
    commit = lake.commit(staged, app_id=app_id, metadata={"rows": data.num_rows})
    if not commit.committed:
        staged.discard()
    counted = lake.row_count(table, commit.version)
    if commit.committed and counted != data.num_rows:
        raise RuntimeError(f"{table}: wrote {data.num_rows} rows, the Delta log counts {counted} (对账不一致)")
    return {"table": table, "rows": counted, "version": commit.version, "committed": commit.committed}
