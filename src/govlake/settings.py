"""One settings object. Embedded defaults; every value overridable by a GOVLAKE_* variable.

A cluster sets, for instance, GOVLAKE_SPARK_MASTER=spark://spark-master:7077 and
GOVLAKE_LINEAGE_TRANSPORT=http GOVLAKE_LINEAGE_URL=http://marquez:5000 (docker/README.md).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVLAKE_", extra="ignore")

    repo_root: Path = REPO_ROOT
    lake_root: Path = Field(default=REPO_ROOT / "lakehouse", description="Delta tables and landing zone")
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

    seed: int = 20261122
    scale: int = 5000

    # A second `govlake run` (or Airflow step) on a lake another one holds waits this long for the
    # run lock (<lake_root>/_govlake.lock), then stops with an error naming the holder; 0: at once.
    run_lock_wait_seconds: float = 0

    @property
    def landing_dir(self) -> Path:
        return self.lake_root / "landing"

    @property
    def tables_dir(self) -> Path:
        return self.lake_root / "tables"

    @property
    def state_dir(self) -> Path:
        """Job state that is not a table: trained models, run records."""
        return self.lake_root / "state"

    @property
    def lineage_path(self) -> Path:
        return self.lineage_file or (self.lake_root / "lineage" / "events.jsonl")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
