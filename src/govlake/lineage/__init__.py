"""OpenLineage for every job: START, then COMPLETE or FAIL, with schema, row counts,
column lineage and data-quality facets. To a JSON-lines file by default, HTTP when configured."""

from govlake.lineage.emitter import DatasetRef, JobRun, job_run

__all__ = ["DatasetRef", "JobRun", "job_run"]
