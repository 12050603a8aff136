"""Merge-on-read for wide tables changed daily in a small random share of their keys.

Why: a copy-on-write merge rewrites every file that holds a changed key, and 1 % of enterprises
changed at random hits every file of the 1,500-column profile (at 900,000 enterprises the merge
wrote the whole table: 250 s for the profile, 231 s for its tags). Delta's own answer, deletion
vectors, cannot be written by our local writer (delta-rs).

How: the recomputed rows go to a companion Delta table `<name>__overlay` (the table's columns plus
`_overlay_key_only`: one such row per replaced key, so a key whose new rows are none, e.g. an
enterprise that lost every tag, still hides its old rows). The base table then gets an empty
commit whose commit info points at the overlay version (`govlake.overlay`), so:
- every change is one new version of the table, and a read at version v sees the base files of v
  with the overlay version v points to (time travel and run lineage keep working);
- a reader through `Lakehouse` sees base rows whose key is not in the overlay, plus the overlay
  rows; the base table alone is the consistent snapshot of the last full write (a plain Delta
  reader sees that, stale but never doubled);
- an overwrite of the table (the next full build, or `compact`) commits `govlake.overlay = -1`
  in the same transaction as its files: the overlay stops applying atomically.
The overlay itself is merged copy-on-write (it is small: compacted past COMPACT_SHARE of the rows).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from govlake.lakehouse import delta_local
from govlake.lakehouse.delta_local import Commit, is_delta

POINTER, KEYS = "govlake.overlay", "govlake.overlay_keys"
MARK = "_overlay_key_only"
COMPACT_SHARE = 0.10  # overlay rows above this share of the base rows: rewrite the table


def companion(path: Path) -> Path:
    return path.with_name(path.name + "__overlay")


def pointer(path: Path, version: int | None = None) -> tuple[int, list[str]] | None:
    """(overlay version, key columns) that apply to the table at `version` (default latest);
    None when no overlay applies. Free for tables that never had one."""
    if not is_delta(companion(path)):
        return None
    for h in DeltaTable(str(path)).history():  # newest first
        if version is not None and h["version"] > version:
            continue
        if POINTER in h:
            v = int(h[POINTER])
            return None if v < 0 else (v, h[KEYS].split(","))
    return None


def reset_metadata(path: Path, metadata: dict | None) -> dict | None:
    """Commit metadata for a write that replaces the whole table: the overlay stops applying in
    the same transaction. Other writes to an overlaid table would be hidden by it: refused."""
    if not is_delta(companion(path)):
        return metadata
    return {**(metadata or {}), POINTER: -1}


def refuse_partial(path: Path, name: str, mode: str) -> None:
    if pointer(path) is not None:
        raise ValueError(f"{name} has an overlay of merged rows (merge_on_read); a {mode} write would be "
                         f"shadowed by it: compact the table first (Lakehouse.compact)")


# -- reads ------------------------------------------------------------------------------------
def read(spark: SparkSession, path: Path, version: int | None = None) -> DataFrame:
    base = delta_local.read(spark, path, version)
    p = pointer(path, version)
    if p is None:
        return base
    ov, keys = p
    over = delta_local.read(spark, companion(path), ov)
    replaced = over.select(*keys).distinct()
    rows = over.where(~F.col(MARK)).drop(MARK)
    # The overlay's keys are few (one day's change): a broadcast anti join is a filter in the scan.
    return base.join(F.broadcast(replaced), keys, "left_anti").unionByName(rows.select(*base.columns))


def _anti(t: pa.Table, replaced: pa.Table, keys: list[str]) -> pa.Table:
    if len(keys) == 1:
        return t.filter(pc.invert(pc.is_in(t.column(keys[0]), value_set=replaced.column(keys[0]))))
    return t.join(replaced, keys, join_type="left anti")


def _overlay(path: Path, ov: int, keys: list[str], columns: list[str] | None = None) -> tuple[pa.Table, pa.Table]:
    """(the overlay's rows without the marker column, its distinct replaced keys) at version ov."""
    over = DeltaTable(str(companion(path)), version=ov).to_pyarrow_table(
        columns=None if columns is None else list(dict.fromkeys([*keys, *columns, MARK])))
    replaced = over.select(keys).group_by(keys).aggregate([])
    return over.filter(pc.invert(over.column(MARK))).drop_columns([MARK]), replaced


def to_arrow(path: Path, version: int | None = None, columns: list[str] | None = None, filter=None) -> pa.Table:
    """The table (optionally some columns, rows matching a pyarrow dataset filter) through delta-rs."""
    import pyarrow.dataset as pads

    p = pointer(path, version)
    base = DeltaTable(str(path), version=version).to_pyarrow_dataset()
    if p is None:
        return base.to_table(columns=columns, filter=filter)
    ov, keys = p
    cols = None if columns is None else list(dict.fromkeys([*keys, *columns]))
    # Only the columns asked for (a filter may read others: then every column).
    rows, replaced = _overlay(path, ov, keys, cols if filter is None else None)
    out = pa.concat_tables([_anti(base.to_table(columns=cols, filter=filter), replaced, keys),
                            pads.dataset(rows).to_table(columns=cols or base.schema.names, filter=filter)
                                .cast(base.schema if cols is None else pa.schema([base.schema.field(c) for c in cols]))])
    return out if columns is None else out.select(columns)


def to_batches(path: Path, columns: list[str]):
    """The latest version's rows (some columns) as record batches: the base files streamed (less
    the overlay's replaced keys), then the overlay's rows."""
    base = DeltaTable(str(path)).to_pyarrow_dataset()
    p = pointer(path)
    if p is None:
        yield from base.to_batches(columns=columns)
        return
    ov, keys = p
    cols = list(dict.fromkeys([*keys, *columns]))
    rows, replaced = _overlay(path, ov, keys, cols)
    for b in base.to_batches(columns=cols):
        yield from _anti(pa.Table.from_batches([b]), replaced, keys).select(columns).to_batches()
    yield from rows.select(columns).cast(pa.schema([base.schema.field(c) for c in columns])).to_batches()


def row_count(path: Path, version: int | None = None) -> int | None:
    """Rows of the merged table at `version`; None when no overlay applies (the caller counts
    from the Delta log's file stats)."""
    import pyarrow.dataset as pads

    p = pointer(path, version)
    if p is None:
        return None
    ov, keys = p
    rows, replaced = _overlay(path, ov, keys, columns=keys)
    base = DeltaTable(str(path), version=version).to_pyarrow_dataset()
    hidden = base.to_table(columns=keys, filter=pads.field(keys[0]).isin(replaced.column(keys[0])))
    hidden = hidden.num_rows if len(keys) == 1 else hidden.join(replaced, keys, join_type="left semi").num_rows
    return delta_local.log_rows(path, version) - hidden + rows.num_rows


# -- writes -----------------------------------------------------------------------------------
def merge_on_read(df: DataFrame, path: Path, name: str, keys: list[str], replace: DataFrame | None = None,
                  app_id: str | None = None, app_version: int = 0, metadata: dict | None = None) -> Commit:
    """Upsert df by keys as an overlay (see the module doc). replace: the keys whose rows df
    replaces (default df's keys); a key in `replace` without rows in df loses its rows."""
    if not keys:
        raise ValueError(f"{name}: merge_on_read needs keys")
    if not is_delta(path):
        raise ValueError(f"{name}: merge_on_read needs an existing table (write it in full first)")
    dt = DeltaTable(str(path))
    if delta_local.already_committed(path, app_id, app_version):
        return Commit(name, dt.version(), 0, 0, 0, committed=False)
    if dt.metadata().partition_columns:
        raise ValueError(f"{name}: merge_on_read is for unpartitioned tables")
    base_cols = dt.to_pyarrow_dataset().schema.names
    if sorted(df.columns) != sorted(base_cols):
        raise ValueError(f"{name}: merge_on_read rows must have the table's columns; "
                         f"missing {sorted(set(base_cols) - set(df.columns))}, extra {sorted(set(df.columns) - set(base_cols))}")
    replaced = (replace if replace is not None else df).select(*keys).distinct()
    marker = F.lit(True).alias(MARK, metadata={"comment": "key-only row: hides this key's base rows (覆盖标记)"})
    rows = df.select(*base_cols, F.lit(False).alias(MARK)).unionByName(
        replaced.select(*keys, marker), allowMissingColumns=True)
    comp = companion(path)
    mode = "merge" if pointer(path) is not None else "overwrite"  # a reset overlay starts again
    oc = delta_local.write(rows, comp, f"{name}__overlay", mode, keys=keys)
    n = df.count()  # the rows given (cheap for staged files: Parquet footers)
    meta = {**(metadata or {}), POINTER: oc.version, KEYS: ",".join(keys), "govlake.overlay_rows_written": n}
    dt.create_write_transaction(actions=[], mode="append", schema=dt.schema(),
                                commit_properties=delta_local._props(app_id, app_version, meta))
    dt.update_incremental()
    return Commit(name, dt.version(), n, oc.files_added, oc.files_removed, committed=True)


def needs_compaction(path: Path) -> bool:
    p = pointer(path)
    if p is None:
        return False
    return delta_local.log_rows(companion(path), p[0]) > COMPACT_SHARE * max(delta_local.log_rows(path), 1)

