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


def replace_table(lake: Lakehouse, table: str, data: pa.Table, app_id: str, *, gate=None) -> dict:
    """{"table", "rows", "version", "committed"}; raises if the log's count differs from data's.
    gate: a check of the staged rows before the commit, gate(staged, table, app_id), raising to
    block it (the quality gate, govlake.services.table_gate); the staged files are then removed and
    the table keeps the version readers serve. An app_id already committed skips staging and gate."""
    from govlake.lakehouse.staged import already_committed

    if already_committed(lake.path(table), app_id, 0):
        v = lake.version(table)
        return {"table": table, "rows": lake.row_count(table, v), "version": v, "committed": False}
    staged = lake.stage_arrow([data.to_batches()], table, spark_schema(data.schema))
    if gate is not None:
        try:
            gate(staged, table, app_id)
        except BaseException:
            staged.discard()
            raise
    commit = lake.commit(staged, app_id=app_id, metadata={"rows": data.num_rows})
    if not commit.committed:
        staged.discard()
    counted = lake.row_count(table, commit.version)
    if commit.committed and counted != data.num_rows:
        raise RuntimeError(f"{table}: wrote {data.num_rows} rows, the Delta log counts {counted} (对账不一致)")
    return {"table": table, "rows": counted, "version": commit.version, "committed": commit.committed}


def append_rows(lake: Lakehouse, table: str, data: pa.Table, app_id: str) -> dict:
    """Append rows computed in Arrow (an intake table written without Spark, such as a request
    submitted through the API) in one delta-rs commit, idempotent by app_id; creates the table on
    its first rows. {"table", "rows" (appended), "version", "committed"}."""
    from deltalake.schema import Schema as DeltaSchema

    from govlake.lakehouse import staged as st
    from govlake.lakehouse import storage

    path = lake.path(table)
    if st.already_committed(path, app_id, 0):
        return {"table": table, "rows": 0, "version": lake.version(table), "committed": False}
    files = lake.stage_arrow([data.to_batches()], table, spark_schema(data.schema))
    if not lake.exists(table):
        c = lake.commit(files, app_id=app_id, metadata={"rows": data.num_rows})
        return {"table": table, "rows": c.rows_written, "version": c.version, "committed": c.committed}
    dt = storage.delta_table(path)
    dt.create_write_transaction(actions=files.adds, mode="append", schema=DeltaSchema.from_json(files.schema.json()),
                                commit_properties=st._props(app_id, 0, {"rows": data.num_rows}))
    dt.update_incremental()
    return {"table": table, "rows": data.num_rows, "version": dt.version(), "committed": True}
