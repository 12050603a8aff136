"""The only code that touches storage. Tables are named `layer.name` (bronze.petitions)."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from govlake.lakehouse import delta_local, delta_spark, overlay
from govlake.lakehouse.delta_local import Commit
from govlake.settings import Settings, get_settings

__all__ = ["Lakehouse", "Commit"]


class Lakehouse:
    def __init__(self, spark: SparkSession | None, settings: Settings | None = None):
        """spark may be None for Spark-free uses (listing tables, Arrow reads for serving)."""
        self.spark = spark
        self.settings = settings or get_settings()
        # delta-spark jars present (a cluster image): format("delta"); else Spark + delta-rs.
        self._jars = spark is not None and delta_spark.available(spark)

    def path(self, table: str) -> Path:
        layer, _, name = table.partition(".")
        if not name:
            raise ValueError(f"table name must be layer.name, got {table!r}")
        return self.settings.tables_dir / layer / name

    def exists(self, table: str) -> bool:
        return delta_local.is_delta(self.path(table))

    def read(self, table: str, version: int | None = None) -> DataFrame:
        if not self.exists(table):
            raise FileNotFoundError(f"no Delta table {table} at {self.path(table)}")
        if self._jars:
            return delta_spark.read(self.spark, str(self.path(table)), version)
        return overlay.read(self.spark, self.path(table), version)

    def write(
        self,
        df: DataFrame,
        table: str,
        mode: str = "overwrite",
        *,
        keys: list[str] | None = None,
        replace: DataFrame | None = None,
        partition_by: list[str] | None = None,
        app_id: str | None = None,
        app_version: int = 0,
        metadata: dict | None = None,
    ) -> Commit:
        """mode: overwrite | append | replace_partitions | merge (upsert by keys, copy-on-write)
        | merge_on_read (upsert by keys for a small share of a wide table's keys; see
        `overlay`). replace (merge_on_read): the keys whose rows df replaces, when some of them
        may have no rows in df.

        app_id/app_version make the load idempotent: a (app_id, version) already in the
        table's log commits nothing and returns committed=False.
        """
        if self._jars:  # native Delta: MERGE (merge-on-read with deletion vectors where enabled)
            return delta_spark.write(df, str(self.path(table)), table, mode, keys=keys, replace=replace,
                                     partition_by=partition_by, app_id=app_id, app_version=app_version, metadata=metadata)
        path = self.path(table)
        if mode == "merge_on_read":  # df staged, then merged like staged files
            if delta_local.already_committed(path, app_id, app_version):
                return Commit(table, self.version(table), 0, 0, 0, committed=False)
            staged = self.stage(df, table)
            try:
                return self.merge_staged(staged, keys or [], None if replace is None else replace.select(*(keys or [])).toArrow(),
                                         app_id=app_id, app_version=app_version, metadata=metadata)
            finally:
                staged.discard()
        if mode == "overwrite":
            metadata = overlay.reset_metadata(path, metadata)
        elif delta_local.is_delta(path):
            overlay.refuse_partial(path, table, mode)
        return delta_local.write(
            df, path, table, mode, keys=keys, partition_by=partition_by,
            app_id=app_id, app_version=app_version, metadata=metadata,
        )

    def merge_staged(self, staged, keys: list[str], replace=None, *, app_id: str | None = None, app_version: int = 0,
                     metadata: dict | None = None) -> Commit:
        """merge_on_read of staged files (`stage`, `stage_with`), in Arrow: no Spark job. replace:
        a pyarrow Table of the keys whose rows are replaced (default the staged rows' keys). The
        staged files stay: `discard()` them."""
        path = self.path(staged.table)
        c = overlay.merge_staged(staged, path, staged.table, keys, replace, app_id=app_id, app_version=app_version,
                                 metadata=metadata)
        if c.committed and overlay.needs_compaction(path):
            self.compact(staged.table)
        return c

    def compact(self, table: str) -> Commit:
        """Rewrite a merge-on-read table as plain files of its merged rows: an overwrite, which
        ends the overlay in the same commit."""
        return self.write(self.read(table), table, metadata={"govlake.operation": "compact overlay"})

    def stage(self, df: DataFrame, table: str):
        """Write df into the table's folder without committing (readers do not see it); returns
        a handle to query the files (`.frame(spark)`) and to `commit` or `.discard()` them.
        Local Delta (delta-rs) only: with the delta-spark jars use `write`."""
        if self._jars:
            raise NotImplementedError("stage/commit needs the local Delta backend; use write()")
        return delta_local.stage(df, self.path(table), table)

    def stage_with(self, df: DataFrame, table: str, derived_table: str, derive, derived_schema, *, project=None):
        """`stage` df into table and, in the same pass over its rows, the rows `derive` computes
        from each of its Arrow batches (a pyarrow RecordBatch -> RecordBatch of derived_schema)
        into derived_table: (staged, staged derived). For a table computed from another row by
        row (the enterprise tags from the profile) without reading the first back.
        project: (fn, Spark schema): table's rows are fn(each task's Arrow batches of df), of
        that schema (the profile's projection in the workers, govlake.profile.wide)."""
        if self._jars:
            raise NotImplementedError("stage/commit needs the local Delta backend; use write()")
        return delta_local.stage_with(df, self.path(table), table, self.path(derived_table), derived_table,
                                      derive, derived_schema, project)

    def stage_batches_with(self, batches, schema, table: str, derived_table: str, derive, derived_schema):
        """`stage_with` for rows computed in this process: record batches of the Spark schema
        `schema` (a small incremental's profile, govlake.profile.incremental)."""
        if self._jars:
            raise NotImplementedError("stage/commit needs the local Delta backend; use write()")
        return delta_local.stage_batches_with(batches, schema, self.path(table), table, self.path(derived_table),
                                              derived_table, derive, derived_schema)

    def stage_arrow(self, parts, table: str, schema, **write_options):
        """`stage` rows computed in Arrow: an iterable of parts, each an iterable of pyarrow
        RecordBatches with the columns of the Spark schema, streamed into a file of its own."""
        if self._jars:
            raise NotImplementedError("stage/commit needs the local Delta backend; use write()")
        return delta_local.stage_arrow(parts, self.path(table), table, schema, **write_options)

    def to_batches(self, table: str, columns: list[str], where_in=None):
        """The table's rows as pyarrow record batches, streamed from its files (merged with an
        overlay if it has one): for a scan of a table too large to hold. where_in (column,
        pyarrow array): only the rows whose column holds one of the values."""
        return overlay.to_batches(self.path(table), columns, where_in)

    def parquet_files(self, table: str) -> tuple[list[str], dict[str, str]]:
        """The Parquet files of the table's latest version and its partition columns with their
        Delta types, for a reader that scans the files itself (DuckDB's read_parquet with hive
        partitioning): every file lies under its partition values' col=value folders, as our
        writers lay them out (checked). A merge-on-read table's files would miss its overlay."""
        import pyarrow as pa

        path = self.path(table)
        if overlay.pointer(path) is not None:
            raise ValueError(f"{table} is merged on read (an overlay): read it with to_batches or to_arrow")
        dt = delta_local.DeltaTable(str(path))
        parts = list(dt.metadata().partition_columns)
        files = []
        for a in pa.table(dt.get_add_actions(flatten=True)).to_pylist():
            rel = delta_local.unquote(a["path"])
            values = {c: delta_local.HIVE_NULL if a[f"partition.{c}"] is None else a[f"partition.{c}"] for c in parts}
            if any(f"{c}={v}/" not in rel for c, v in values.items()):
                raise ValueError(f"{table}: file {rel} is not under its partition folders {parts}")
            files.append(str(path / rel))
        types = {f.name: f.type.type for f in dt.schema().fields if f.name in parts}
        return files, types

    def commit(self, staged, *, app_id: str | None = None, app_version: int = 0, metadata: dict | None = None) -> Commit:
        """Commit staged files as the table's new content (overwrite) in one transaction. If
        app_id/app_version is already in the log nothing is committed (committed=False) and the
        files stay staged: `discard()` them."""
        return delta_local.commit_staged(staged, app_id=app_id, app_version=app_version,
                                         metadata=overlay.reset_metadata(staged.path, metadata))

    def version(self, table: str) -> int:
        from deltalake import DeltaTable

        return DeltaTable(str(self.path(table))).version()

    def row_count(self, table: str, version: int | None = None, partition: dict[str, str] | None = None) -> int:
        """Rows of a table snapshot (optionally one partition) from the Delta log's file stats,
        no scan (a merge-on-read table: also its keys); independent of any job's own counts
        (reconciliation). 0 if the table is absent."""
        if not self.exists(table):
            return 0
        if partition is None and (n := overlay.row_count(self.path(table), version)) is not None:
            return n
        return delta_local.log_rows(self.path(table), version, partition)

    def history(self, table: str) -> list[dict]:
        return delta_local.history(self.path(table))

    def to_arrow(self, table: str, version: int | None = None, columns: list[str] | None = None, filter=None):
        """For serving and independent checks: read through delta-rs, no Spark. filter: a
        pyarrow dataset expression (pushed into the Parquet scan)."""
        return overlay.to_arrow(self.path(table), version, columns, filter)

    def schema(self, table: str, version: int | None = None):
        """The table's Spark schema (column comments included), from its Delta log: no read planned."""
        if self._jars:
            return self.read(table, version).schema
        return delta_local.snapshot_schema(delta_local.DeltaTable(str(self.path(table)), version=version))

    def arrow_schema(self, table: str, version: int | None = None):
        from deltalake import DeltaTable

        return DeltaTable(str(self.path(table)), version=version).to_pyarrow_dataset().schema

    def tables(self) -> list[str]:
        root = self.settings.tables_dir
        if not root.exists():
            return []
        return sorted(
            f"{p.parent.name}.{p.name}" for p in root.glob("*/*")
            if delta_local.is_delta(p) and not p.name.endswith("__overlay")
        )
