"""One settings object. Embedded defaults; every value overridable by a GOVLAKE_* variable.

Cluster profile (documented in README): set
  GOVLAKE_SPARK_MASTER=spark://spark-master:7077
  GOVLAKE_LAKE_ROOT=s3a://govlake/lake        (object store; delta-spark jars on the image)
  GOVLAKE_LINEAGE_URL=http://marquez:5000      (OpenLineage over HTTP instead of the file)
  GOVLAKE_DBT_METHOD=thrift GOVLAKE_DBT_HOST=spark-thrift
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

    spark_master: str = "local[2]"
    spark_driver_memory: str = "3g"
    spark_shuffle_partitions: int = 8

    # "file": OpenLineage events appended to lineage_file; "http": POSTed to lineage_url.
    lineage_transport: str = "file"
    lineage_file: Path | None = None
    lineage_url: str | None = None
    lineage_namespace: str = "govlake"

    dbt_method: str = "session"
    dbt_host: str | None = None

    airflow_home: Path = REPO_ROOT / "airflow_home"

    seed: int = 20261122
    scale: int = 5000

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
