"""Delta tables read without Spark, through delta-rs: the serving path (API, policy lookups,
DuckDB over Arrow) and the independent counts of reconciliation.

A table with deletion vectors (the profile and its tags, merged daily in a random 1 % of their
keys) is read through delta-rs's DataFusion engine, which applies them; its pyarrow dataset
does not and refuses such a table. Other tables are scanned as pyarrow datasets (filters pushed
into the Parquet scan, dictionaries kept for keyed scans).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from deltalake import DeltaTable, QueryBuilder

from govlake.lakehouse import storage
from govlake.lakehouse.storage import AnyPath

# A condition: column -> one value (equality) or a list / Arrow array of values (membership).
Where = Mapping[str, object]


def open_table(path: AnyPath, version: int | None = None) -> DeltaTable:
    return storage.delta_table(path, version)


def has_deletion_vectors(dt: DeltaTable) -> bool:
    return "deletionVectors" in (dt.protocol().reader_features or [])


def schema(dt: DeltaTable) -> pa.Schema:
    return pa.schema(dt.schema().to_arrow())


def _many(v) -> bool:
    return isinstance(v, (list, tuple, set, frozenset, pa.Array, pa.ChunkedArray))


def _expression(where: Where | None):
    expr = None
    for col, v in (where or {}).items():
        e = pads.field(col).isin(pa.array(list(v)) if not isinstance(v, (pa.Array, pa.ChunkedArray)) else v) \
            if _many(v) else pads.field(col) == v
        expr = e if expr is None else expr & e
    return expr


def _literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, datetime):
        return f"TIMESTAMP '{v.isoformat(sep=' ')}'"
    if isinstance(v, date):
        return f"DATE '{v.isoformat()}'"
    return "'" + str(v).replace("'", "''") + "'"


def _sql_where(where: Where | None) -> str:
    parts = []
    for col, v in (where or {}).items():
        c = '"' + col.replace('"', '""') + '"'
        if _many(v):
            values = v.to_pylist() if isinstance(v, (pa.Array, pa.ChunkedArray)) else list(v)
            parts.append(f"{c} IN ({', '.join(map(_literal, values))})" if values else "false")
        else:
            parts.append(f"{c} IS NULL" if v is None else f"{c} = {_literal(v)}")
    return (" WHERE " + " AND ".join(parts)) if parts else ""


def _query(dt: DeltaTable, columns: list[str], where: Where | None) -> pa.RecordBatchReader:
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    sql = f"SELECT {cols} FROM t{_sql_where(where)}"
    return pa.RecordBatchReader.from_stream(QueryBuilder().register("t", dt).execute(sql))


def to_arrow(path: AnyPath, version: int | None = None, columns: list[str] | None = None,
             where: Where | None = None) -> pa.Table:
    """The table (optionally some columns, and the rows matching `where`) as a pyarrow Table in
    the table's own Arrow types."""
    dt = open_table(path, version)
    full = schema(dt)
    types = full if columns is None else pa.schema([full.field(c) for c in columns])
    if not has_deletion_vectors(dt):
        return dt.to_pyarrow_dataset().to_table(columns=columns, filter=_expression(where))
    return _queried(dt, types, where)


def _queried(dt: DeltaTable, types: pa.Schema, where: Where | None) -> pa.Table:
    """The rows of a table with deletion vectors (DataFusion applies them), in the table's types."""
    return pa.Table.from_batches([b.cast(types) for b in _query(dt, types.names, where)], schema=types)


def lazy_scan(path: AnyPath, version: int | None, columns: list[str],
              where: Where | None = None) -> pads.Dataset | pa.RecordBatchReader:
    """The rows matching `where` of a snapshot, not read yet: for a plain table a pyarrow dataset
    with the filter in it (a reader such as DuckDB pushes its own projections and filters into the
    Parquet scan, and may scan it more than once); with deletion vectors, DataFusion's stream of
    `columns` (read once)."""
    dt = open_table(path, version)
    if not has_deletion_vectors(dt):
        ds = dt.to_pyarrow_dataset()
        expr = _expression(where)
        return ds if expr is None else ds.filter(expr)
    return _query(dt, columns, where)


def snapshot_dataset(path: AnyPath, version: int | None = None) -> pads.Dataset:
    """A snapshot as a pyarrow dataset (an Arrow reader that scans it as it likes, e.g. the
    quality gate's arrow engine): the Delta table's own dataset; with deletion vectors, which
    that dataset does not apply, the rows read through DataFusion and held in memory."""
    dt = open_table(path, version)
    if has_deletion_vectors(dt):
        return pads.dataset(_queried(dt, schema(dt), None))
    return dt.to_pyarrow_dataset()


def to_batches(path: AnyPath, columns: list[str], where_in: tuple[str, pa.Array] | None = None) -> Iterator[pa.RecordBatch]:
    """The latest version's rows (some columns) as record batches, streamed. where_in (column,
    values): only rows whose column is among values; on a plain table the string columns are then
    read as dictionaries and the test runs on each row group's dictionary (the tags' files carry
    them), and the kept rows are decoded."""
    dt = open_table(path)
    full = schema(dt)
    types = pa.schema([full.field(c) for c in columns])
    cols = list(dict.fromkeys([*columns, *([where_in[0]] if where_in else [])]))
    if has_deletion_vectors(dt):
        for b in _query(dt, cols, None if where_in is None else {where_in[0]: where_in[1]}):
            yield pa.RecordBatch.from_arrays([b.column(c).cast(types.field(c).type) for c in columns], schema=types)
        return
    text = {c for c in cols if pa.types.is_string(full.field(c).type) or pa.types.is_large_string(full.field(c).type)} \
        if where_in is not None else set()
    base = dt.to_pyarrow_dataset(parquet_read_options=pads.ParquetReadOptions(dictionary_columns=text))
    for b in base.to_batches(columns=cols):
        if where_in is not None:
            col = b.column(where_in[0])
            mask = (pc.take(pc.is_in(col.dictionary, value_set=where_in[1]), col.indices)
                    if pa.types.is_dictionary(col.type) else pc.is_in(col, value_set=where_in[1]))
            b = b.filter(mask)
        yield pa.RecordBatch.from_arrays(
            [(b.column(c).dictionary_decode() if pa.types.is_dictionary(b.column(c).type) else b.column(c))
             .cast(types.field(c).type) for c in columns], schema=types)


def row_count(path: AnyPath, version: int | None = None, partition: dict[str, str] | None = None) -> int:
    """Rows of a snapshot (optionally one partition): from the Delta log's file statistics, no
    scan; with deletion vectors, counted by DataFusion (which applies them)."""
    dt = open_table(path, version)
    if has_deletion_vectors(dt):
        sql = f"SELECT count(*) AS n FROM t{_sql_where(partition)}"
        return pa.RecordBatchReader.from_stream(QueryBuilder().register("t", dt).execute(sql)).read_all().column(0)[0].as_py()
    adds = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    return sum(a["num_records"] for a in adds
               if all(str(a.get(f"partition.{k}")) == v for k, v in (partition or {}).items()))
