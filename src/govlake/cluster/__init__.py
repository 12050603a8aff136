"""The scale-out deployment started as separate processes on one machine, as they would run on several:
an S3-compatible object store (SeaweedFS), PostgreSQL, a Spark standalone master and two workers, and
Airflow 3 on PostgreSQL with the LocalExecutor. `make cluster-up` / `make cluster-down`
(python -m govlake.cluster up|down|status), state under .cluster/ (docs/scale-out.md)."""
