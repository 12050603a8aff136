"""One settings object. Embedded defaults; every value overridable by a GOVLAKE_* variable.

A cluster sets, for instance, GOVLAKE_SPARK_MASTER=spark://spark-master:7077 and
GOVLAKE_LINEAGE_TRANSPORT=http GOVLAKE_LINEAGE_URL=http://marquez:5000 (docker/README.md).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVLAKE_", extra="ignore", populate_by_name=True)

    repo_root: Path = REPO_ROOT
    # The lake, a URI: a local path (or file://…) keeps everything on this machine, as by default;
    # s3a://bucket/prefix (or s3://…) puts the tables and the landing zone in the object store
    # (docs/scale-out.md). Paths into it: govlake.lakehouse.storage.
    lake_root: str = Field(default=str(REPO_ROOT / "lakehouse"), description="Delta tables and landing zone (URI)")
    # Process-local files that cannot live in an object store: the run lock (flock), the SQLite
    # stores (access, clean room, push outbox), job state (models, staging), lineage event files,
    # dbt's target, Spark's warehouse. Default: the lake itself when it is local; under the repo
    # (.govlake-work) when the lake is in the bucket. On a cluster: a disk of the machine that runs
    # the Airflow task processes (the LocalExecutor's).
    work_dir: Path | None = None
    catalog_dir: Path = REPO_ROOT / "catalog"
    dbt_dir: Path = REPO_ROOT / "dbt"
    shared_data_dir: Path = REPO_ROOT.parent / "shared" / "data"

    # The pinned Spark jars (jvm/pom.xml), fetched once from Maven Central (govlake.jars).
    jars_cache_dir: Path = Path.home() / ".cache" / "govlake" / "jars"

    # Time travel kept for audit: VACUUM never removes files younger than this, nor the log.
    retention_days: int = 30

    spark_master: str = "local[2]"
    spark_driver_memory: str = "3g"
    spark_shuffle_partitions: int = 8

    # "file": OpenLineage events appended to lineage_file; "http": POSTed to lineage_url.
    lineage_transport: str = "file"
    lineage_file: Path | None = None
    lineage_url: str | None = None
    lineage_namespace: str = "govlake"

    dbt_method: str = "session"

    # The object store of an s3a:// lake (SeaweedFS, MinIO, S3). Unset values fall back to the
    # AWS_* variables. An http:// endpoint (a store inside the district's network) is allowed as such.
    s3_endpoint: str | None = Field(default=None, validation_alias=AliasChoices("GOVLAKE_S3_ENDPOINT", "AWS_ENDPOINT_URL"))
    s3_access_key: str | None = Field(default=None, validation_alias=AliasChoices("GOVLAKE_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"))
    s3_secret_key: str | None = Field(default=None, validation_alias=AliasChoices("GOVLAKE_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"))
    s3_region: str = Field(default="us-east-1", validation_alias=AliasChoices("GOVLAKE_S3_REGION", "AWS_REGION"))

    seed: int = 20261122
    scale: int = 5000

    # A second `govlake run` (or Airflow step) on a lake another one holds waits this long for the
    # run lock (<lake_root>/_govlake.lock), then stops with an error naming the holder; 0: at once.
    run_lock_wait_seconds: float = 0
    # Runs on several machines against one lake (a lake in the bucket): a PostgreSQL URL makes the
    # run lock an advisory lock there instead of a local file (govlake.runlock).
    run_lock_url: str | None = None

    @field_validator("lake_root", mode="before")
    @classmethod
    def _lake_uri(cls, v):
        from govlake.lakehouse.storage import normalise_uri

        return normalise_uri(v)

    @property
    def lake_is_local(self) -> bool:
        from govlake.lakehouse.storage import is_remote

        return not is_remote(self.lake_root)

    @property
    def lake(self):
        """The lake's root as a path: a pathlib.Path when local, a storage.LakePath in the bucket."""
        from govlake.lakehouse.storage import lake_path

        return lake_path(self)

    @property
    def local_dir(self) -> Path:
        """Process-local files (see work_dir)."""
        if self.work_dir is not None:
            return Path(self.work_dir)
        return Path(self.lake_root) if self.lake_is_local else self.repo_root / ".govlake-work"

    @property
    def landing_dir(self):
        """Raw extracts: in the lake (the bucket when it is there, for executors on other machines)."""
        return self.lake / "landing"

    @property
    def tables_dir(self):
        return self.lake / "tables"

    @property
    def state_dir(self) -> Path:
        """Job state that is not a table: trained models, run records, SQLite stores (local)."""
        return self.local_dir / "state"

    @property
    def scratch_dir(self):
        """Scratch files Spark's executors read (an ingest's cleaned copies of its extracts): the
        local state dir with a local lake, `<lake>/_scratch` in the bucket (executors on other
        machines reach it)."""
        return self.state_dir if self.lake_is_local else self.lake / "_scratch"

    @property
    def lineage_path(self) -> Path:
        """OpenLineage events, appended (local: an object store has no append)."""
        return self.lineage_file or (self.local_dir / "lineage" / "events.jsonl")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
