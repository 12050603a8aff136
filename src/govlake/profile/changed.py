"""The incremental profile's rows, computed in this process by DuckDB.

A day's change touches ~1 % of the enterprises: a few MB of bronze rows. Through Spark, its
fixed costs were most of the incremental's time (900,000 enterprises: 77 s, of which planning
the scope and 12 staging windows, ~20 stages scanning bronze and starting the Python workers;
docs/profile.md). Here one DuckDB connection reads the bronze tables' Parquet files (their Delta
snapshots' files, by DuckDB's reader), finds the enterprises in scope (the dbt model
`int_enterprise_scope` with the var changed_since, as dbt compiles it for DuckDB:
govlake.profile.compiled), keeps the latest row per staging key of their rows (the staging models `stg_<source>`
as dbt compiles them for DuckDB with that var: the macro latest_per_key) and runs on them the projection a full build's workers run
(`wide.Projection`: the compiled source aggregates, base and profile)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator

import pyarrow as pa

from govlake.catalog.enterprise import USCC_COLUMN
from govlake.catalog.sources import Source, load_sources
from govlake.lakehouse import Lakehouse
from govlake.profile import compiled, wide

SCOPE = "changed_scope"
DUCKDB_TYPES = {"string": "VARCHAR", "int": "INTEGER", "long": "BIGINT", "double": "DOUBLE", "date": "DATE",
                "timestamp": "TIMESTAMPTZ", "boolean": "BOOLEAN"}


def _bucket_dataset(lake: Lakehouse, table: str, files: list[str], parts: dict[str, str]):
    """A lake in the bucket: the snapshot's files as a pyarrow dataset over S3 (hive partitions,
    the table's schema), for DuckDB to scan (its own reader would need its httpfs extension)."""
    import pyarrow.dataset as pads

    from govlake.lakehouse import storage

    fs, base = storage.filesystem(lake.path(table))
    schema = lake.arrow_schema(table)
    keys = [storage.as_path(f, lake.settings).key for f in files]
    partitioning = pads.partitioning(pa.schema([schema.field(c) for c in parts]), flavor="hive") if parts else None
    return pads.dataset(keys, schema=schema, format="parquet", filesystem=fs, partitioning=partitioning,
                        partition_base_dir=base)


def _bronze_sql(lake: Lakehouse, src: Source, time_zone: str, con=None) -> str:
    """The source's bronze rows for DuckDB: the Parquet files of its Delta snapshot, read by
    DuckDB's own reader (which pushes down the columns, the _load_date partitions and the scope's
    join filter: 900,000 enterprises' bronze in ~5 s, ~10 s as pyarrow datasets), or no rows if
    never loaded. Timestamps as the Spark session's wall-clock time, as int_enterprise_rows hands
    them to a full build's workers: Spark writes them as UTC instants (INT96, read as TIMESTAMP;
    or TIMESTAMPTZ), cast in the connection's UTC, then to the wall clock of the session's zone."""
    files, parts = lake.parquet_files(f"bronze.{src.name}") if lake.exists(f"bronze.{src.name}") else ([], {})
    stamps = [c.name for c in src.columns if c.type == "timestamp"]
    wall = (" REPLACE (" + ", ".join(f"timezone('{time_zone}', CAST({c} AS TIMESTAMPTZ)) AS {c}" for c in stamps) + ")"
            if stamps else "")
    if files and not lake.settings.lake_is_local and con is not None:
        con.register(f"_bucket_bronze__{src.name}", _bucket_dataset(lake, f"bronze.{src.name}", files, parts))
        return f"SELECT *{wall} FROM _bucket_bronze__{src.name}"
    if files:
        types = ", ".join(f"'{c}': '{DUCKDB_TYPES[t]}'" for c, t in parts.items())
        paths = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        return (f"SELECT *{wall} FROM read_parquet([{paths}], hive_partitioning = true, hive_types = {{{types}}}, "
                "union_by_name = true)")
    cols = [(c.name, c.type) for c in src.columns] + [("_load_date", "date")]
    return (f"SELECT *{wall} FROM (SELECT " + ", ".join(f"CAST(NULL AS {DUCKDB_TYPES[t]}) AS {c}" for c, t in cols)
            + " WHERE false)")


class ChangedEnterprises:
    """An incremental build's enterprises in scope for `as_of` (the registered ones with a bronze
    row loaded on or after changed_since, or that held a record re-sent since: the dbt model
    int_enterprise_scope with the var changed_since, as dbt compiles it for DuckDB)
    and their profile, in a DuckDB connection of this process. A context manager:

        with ChangedEnterprises(lake, as_of, changed_since, time_zone) as changed:
            changed.scope        # their uscc (pyarrow array)
            changed.profile(projection)  # their profile rows (record batches)
    """

    def __init__(self, lake: Lakehouse, as_of: dt.date, changed_since: dt.date, time_zone: str,
                 threads: int | None = None):
        self.lake, self.as_of, self.changed_since, self.time_zone = lake, as_of, changed_since, time_zone
        self.dbt_dir = lake.settings.dbt_dir
        self.threads = threads or os.cpu_count() or 1
        self.sources = load_sources(lake.settings.catalog_dir)

    def __enter__(self) -> ChangedEnterprises:
        import duckdb

        self._spill = tempfile.mkdtemp(prefix="govlake-duckdb-")
        self.con = duckdb.connect(config={"threads": self.threads, "temp_directory": self._spill,
                                          "preserve_insertion_order": False})
        try:
            self.con.execute("SET TimeZone = 'UTC'")  # (ICU, built in: a setting, not a connect option)
            for src in self.sources:
                self.con.execute(f"CREATE VIEW bronze__{src.name} AS {_bronze_sql(self.lake, src, self.time_zone, self.con)}")
            # the scope reads stg_enterprise_registry (every registered enterprise): a view,
            # filtered by the scope's IN on its key before the window
            compiled.set_dates(self.con, self.as_of, self.changed_since)
            self.con.execute("CREATE VIEW stg_enterprise_registry AS "
                             + compiled.staging_sql("enterprise_registry", dbt_dir=self.dbt_dir))
            self.con.execute(f"CREATE TABLE {SCOPE} AS " + compiled.scope_sql(self.dbt_dir))
            self.con.execute("DROP VIEW stg_enterprise_registry")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.con.close()
        shutil.rmtree(self._spill, ignore_errors=True)

    @property
    def scope(self) -> pa.Array:
        return self.con.sql(f"SELECT uscc FROM {SCOPE}").arrow().read_all().column("uscc").combine_chunks()

    def profile(self, projection: wide.Projection) -> Iterator[pa.RecordBatch]:
        """Their profile rows, record batches of projection.schema: their staging rows as tables
        stg_<source> (the columns the projection reads), then the projection's query."""
        for src in projection.layout.sources:
            keep = list(dict.fromkeys([USCC_COLUMN.get(src, "uscc"), *self.sources[src].key,
                                       *(c for c, _ in projection.layout.columns[src])]))
            self.con.execute(f"CREATE OR REPLACE TABLE stg_{src} AS SELECT {', '.join(keep)} FROM ("
                             + compiled.staging_sql(src, changed=True, dbt_dir=self.dbt_dir) + ")")
        yield from projection.run(self.con)
