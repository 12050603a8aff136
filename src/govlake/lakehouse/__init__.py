"""The only code that touches storage. Tables are named `layer.name` (bronze.petitions).

The lake is a local folder or a prefix in an object store (Settings.lake_root, a URI): a table's
path is a pathlib.Path or a storage.LakePath, and every reader takes it through `storage`.

Spark reads and writes Delta through delta-spark (`spark_tables`); files computed outside Spark
(the profile and its tags, written by the Python workers) are committed by delta-rs with their
statistics (`staged`); readers without Spark go through delta-rs (`arrow_reads`). Every table
can be read by both at every version (docs/adr/0001-delta-writers.md).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from govlake.lakehouse import arrow_reads, spark_tables, staged
from govlake.lakehouse.commit import Commit
from govlake.lakehouse.storage import AnyPath
from govlake.settings import Settings, get_settings

__all__ = ["Lakehouse", "Commit"]


class Lakehouse:
    def __init__(self, spark: SparkSession | None, settings: Settings | None = None):
        """spark may be None for Spark-free uses (listing tables, Arrow reads for serving)."""
        self.spark = spark
        self.settings = settings or get_settings()

    def path(self, table: str) -> AnyPath:
        layer, _, name = table.partition(".")
        if not name:
            raise ValueError(f"table name must be layer.name, got {table!r}")
        return self.settings.tables_dir / layer / name

    def exists(self, table: str) -> bool:
        return staged.is_delta(self.path(table))

    def properties(self, table: str) -> dict[str, str]:
        """Table properties: every table keeps `retention_days` of history for audit (removed
        files and log entries); a product's owner, classification, description and features
        come from the catalog."""
        from govlake.products import table_properties

        days = f"interval {self.settings.retention_days} days"
        return {"delta.deletedFileRetentionDuration": days, "delta.logRetentionDuration": days,
                **table_properties(table, self.settings)}

    # -- Spark ------------------------------------------------------------------------------
    def read(self, table: str, version: int | None = None) -> DataFrame:
        if not self.exists(table):
            raise FileNotFoundError(f"no Delta table {table} at {self.path(table)}")
        return spark_tables.read(self.spark, str(self.path(table)), version)

    def expose_view(self, table: str, view: str, empty_schema) -> int | None:
        """Expose the table's snapshot as `global_temp.<view>` (for dbt's models); a table not
        written yet gets an empty view of `empty_schema()` (a StructType), so the models reading
        it still build. -> the Delta version (None: empty)."""
        if self.exists(table):
            df, version = self.read(table), self.version(table)
        else:
            df, version = self.spark.createDataFrame([], empty_schema()), None
        df.createOrReplaceGlobalTempView(view)
        return version

    def write(
        self,
        df: DataFrame,
        table: str,
        mode: str = "overwrite",
        *,
        keys: list[str] | None = None,
        partition_by: list[str] | None = None,
        app_id: str | None = None,
        app_version: int = 0,
        metadata: dict | None = None,
        extra_keys: DataFrame | None = None,
    ) -> Commit:
        """One Delta commit by delta-spark. mode: overwrite | append | replace_partitions |
        merge (upsert by keys) | replace_keys (every row of df's keys, and of extra_keys, replaced
        by df's rows). app_id/app_version make the load idempotent: a (app_id, version) already
        in the table's log commits nothing and returns committed=False."""
        return spark_tables.write(df, self.path(table), table, mode, keys=keys, partition_by=partition_by,
                                  app_id=app_id, app_version=app_version, metadata=metadata,
                                  properties=self.properties(table), extra_keys=extra_keys)

    def maintain(self, table: str, zorder: list[str] | None = None) -> dict:
        """OPTIMIZE, then VACUUM keeping `settings.retention_days` of time travel (audit)."""
        return spark_tables.maintain(self.spark, self.path(table), self.settings.retention_days * 24, zorder)

    def set_properties(self, table: str) -> dict[str, str]:
        """Bring an existing table's properties in line with the catalog; returns what changed."""
        return spark_tables.set_properties(self.spark, self.path(table), self.properties(table))

    # -- files written outside Spark, committed by delta-rs ---------------------------------
    def stage(self, df: DataFrame, table: str):
        """Write df into the table's folder without committing (readers do not see it); returns
        a handle to query the files (`.frame(spark)`) and to `commit` or `.discard()` them."""
        return staged.stage(df, self.path(table), table)

    def staging_folder(self, table: str) -> AnyPath:
        """A new folder inside the table's for files a step writes itself (e.g. in Spark's Python
        workers, `staged.ParquetFileWriter`); `adopt` stages them."""
        return staged.staging_folder(self.path(table))

    def adopt(self, folder: AnyPath, table: str, schema, *, keep=None, task_seconds=None):
        """Stage the Parquet files written into `staging_folder(table)` (keep: only the files of
        these names, the others go): a handle as `stage` returns, to commit or discard."""
        return staged.adopt(folder, self.path(table), table, schema, keep=keep, task_seconds=task_seconds)

    def stage_arrow(self, parts, table: str, schema, **write_options):
        """`stage` rows computed in Arrow: an iterable of parts, each an iterable of pyarrow
        RecordBatches with the columns of the Spark schema, streamed into a file of its own."""
        return staged.stage_arrow(parts, self.path(table), table, schema, **write_options)

    def commit(self, files, *, app_id: str | None = None, app_version: int = 0, metadata: dict | None = None) -> Commit:
        """Commit staged files as the table's new content (overwrite) in one transaction, by
        delta-rs. If app_id/app_version is already in the log nothing is committed
        (committed=False) and the files stay staged: `discard()` them."""
        # delta-rs accepts only delta.* properties (features) on create; the catalog's others are
        # set by `set_properties` in the daily maintenance, as for Spark's writes.
        props = {k: v for k, v in self.properties(files.table).items() if k.startswith("delta.")}
        return staged.commit_staged(files, app_id=app_id, app_version=app_version, metadata=metadata,
                                    configuration=props)

    def merge_staged(self, files, keys: list[str], replace=None, *, staged_keys=None, app_id: str | None = None,
                     app_version: int = 0, metadata: dict | None = None, prepared=None) -> Commit:
        """Replace every row of the staged rows' keys (and of the keys in `replace`, a pyarrow
        Table of keys that may have no new rows) by the staged rows, in one delta-spark commit:
        the old rows marked in deletion vectors, the staged files added as they are (they become
        the table's: do not discard them after a commit). One key column. staged_keys: the staged
        rows' key column as a pyarrow Table (`files.to_table(keys)`) when the caller read it
        already; else read from the files. prepared: the marking of `prepare_replace`, started
        earlier (its keys must include these; it is committed here or discarded)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if len(keys) != 1:
            raise ValueError(f"{files.table}: merge_staged replaces by one key column, got {keys}")
        (key,) = keys
        own = staged_keys if staged_keys is not None else files.to_table([key])
        parts = [own.column(key)] + ([replace.column(key)] if replace is not None else [])
        values = pc.unique(pa.chunked_array([c for p in parts for c in p.chunks], parts[0].type)).to_pylist()
        return spark_tables.replace_keys_with_files(self.spark, self.path(files.table), files.table, key, values,
                                                    staged.add_dicts(files), app_id=app_id, app_version=app_version,
                                                    metadata=metadata, prepared=prepared)

    def prepare_replace(self, table: str, key: str, values, *, app_id: str | None = None, app_version: int = 0):
        """The first half of `merge_staged`, started early: every row of the table whose key is
        among `values` marked in deletion vectors, uncommitted (a `deletion_vectors.KeyDeletion`
        to pass to merge_staged, or to `.discard()`). None if the app transaction is in the log
        already (a re-run: nothing to mark)."""
        from govlake.lakehouse import deletion_vectors

        if staged.already_committed(self.path(table), app_id, app_version):
            return None
        return deletion_vectors.prepare(self.spark, self.path(table), key, values)

    # -- delta-rs reads ---------------------------------------------------------------------
    def to_arrow(self, table: str, version: int | None = None, columns: list[str] | None = None, where=None):
        """For serving and independent checks: read through delta-rs, no Spark. where: column ->
        value (equality) or list of values (membership), pushed into the scan."""
        return arrow_reads.to_arrow(self.path(table), version, columns, where)

    def to_batches(self, table: str, columns: list[str], where_in=None):
        """The table's rows as pyarrow record batches, streamed: for a scan of a table too large
        to hold. where_in (column, pyarrow array): only the rows whose column holds one of the values."""
        return arrow_reads.to_batches(self.path(table), columns, where_in)

    def parquet_files(self, table: str) -> tuple[list[str], dict[str, str]]:
        """The Parquet files of the table's latest version and its partition columns with their
        Delta types, for a reader that scans the files itself (DuckDB's read_parquet with hive
        partitioning): every file lies under its partition values' col=value folders (checked).
        Refused for a table with deletion vectors (the files alone would show deleted rows)."""
        import pyarrow as pa

        path = self.path(table)
        dt = arrow_reads.open_table(path)
        if arrow_reads.has_deletion_vectors(dt):
            raise ValueError(f"{table} has deletion vectors: read it with to_batches or to_arrow")
        parts = list(dt.metadata().partition_columns)
        files = []
        for a in pa.table(dt.get_add_actions(flatten=True)).to_pylist():
            rel = staged.unquote(a["path"])
            values = {c: staged.HIVE_NULL if a[f"partition.{c}"] is None else a[f"partition.{c}"] for c in parts}
            if any(f"{c}={v}/" not in rel for c, v in values.items()):
                raise ValueError(f"{table}: file {rel} is not under its partition folders {parts}")
            files.append(str(path / rel))
        types = {f.name: f.type.type for f in dt.schema().fields if f.name in parts}
        return files, types

    def version(self, table: str) -> int:
        return arrow_reads.open_table(self.path(table)).version()

    def row_count(self, table: str, version: int | None = None, partition: dict[str, str] | None = None) -> int:
        """Rows of a table snapshot (optionally one partition) from the Delta log's statistics (a
        table with deletion vectors: counted by delta-rs); independent of any job's own counts
        (reconciliation). 0 if the table is absent."""
        if not self.exists(table):
            return 0
        return arrow_reads.row_count(self.path(table), version, partition)

    def history(self, table: str) -> list[dict]:
        """The table's commits, newest first. A commit's metadata appears as keys of its entry
        whichever writer made it (delta-rs keeps it in commitInfo, delta-spark as userMetadata JSON)."""
        import json

        out = []
        for h in staged.history(self.path(table)):
            try:
                meta = json.loads(h.get("userMetadata") or "{}")
            except ValueError:
                meta = {}
            out.append({**(meta if isinstance(meta, dict) else {}), **h})
        return out

    def schema(self, table: str, version: int | None = None):
        """The table's Spark schema (column comments included), from its Delta log: no read planned."""
        return staged.snapshot_schema(arrow_reads.open_table(self.path(table), version))

    def arrow_schema(self, table: str, version: int | None = None):
        return arrow_reads.schema(arrow_reads.open_table(self.path(table), version))

    def tables(self) -> list[str]:
        root = self.settings.tables_dir
        if not root.exists():
            return []
        return sorted(f"{p.parent.name}.{p.name}" for p in root.glob("*/*") if staged.is_delta(p))
