"""dbt for govlake: staging generated from the catalog, run in-process on our SparkSession,
marts published once to Delta, lineage emitted from the manifest. See docs/dbt.md."""

from govlake.transform.publish import publish_models
from govlake.transform.runner import DbtResult, DbtRunFailed, register_bronze, run_dbt
from govlake.transform.staging import generate_staging

__all__ = ["DbtResult", "DbtRunFailed", "generate_staging", "publish_models", "register_bronze", "run_dbt"]
