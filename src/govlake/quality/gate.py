"""The quality gate: validate a DataFrame against its suite, record the result in
ops.quality_results, emit OpenLineage (job `quality.<table>`) and raise when anything failed."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field

from govlake.lineage.emitter import DatasetRef, JobRun, schema_of
from govlake.quality.engine import evaluate
from govlake.quality.outcome import Outcome
from govlake.quality.suites import load_suite, product_suite

RESULTS_TABLE = "ops.quality_results"


@dataclass
class ValidationResult:
    table: str
    suite: str
    run_id: str
    success: bool
    outcomes: list[Outcome]
    row_count: int
    null_counts: dict[str, int]
    engine: str
    seconds: float
    validated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def n_expectations(self) -> int:
        return len(self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        head = (f"{self.table} (suite {self.suite}): {self.n_expectations - len(self.failed)}/"
                f"{self.n_expectations} expectations passed on {self.row_count} rows [{self.engine}, {self.seconds:.1f}s]")
        return "\n".join([head] + [f"  - {o.describe(self.row_count)}" for o in self.failed])


class QualityGateFailed(Exception):
    """Raised by `gate` when any expectation fails; `.result` holds the ValidationResult."""

    def __init__(self, result: ValidationResult):
        self.result = result
        super().__init__(f"Quality gate failed (质量校验未通过) for {result.summary()}")


def resolve_suite(table: str, suite, settings) -> dict:
    if isinstance(suite, dict):
        return suite
    return load_suite(suite or table, settings)


def validate(df, table: str, suite: str | dict | None = None, *, engine: str = "auto", lake=None,
             settings=None, parent_run=None, record: bool = True,
             record_key: str | None = None, arrow=None) -> ValidationResult:
    """Validate without raising. Records to ops.quality_results (when a lake or settings is known)
    and emits the `quality.<table>` lineage run. record_key (e.g. the load date) makes the record
    idempotent: the same table and key is recorded once, so a re-run commits nothing."""
    from govlake.settings import get_settings

    settings = lake.settings if lake is not None else (settings or get_settings())
    s = resolve_suite(table, suite, settings)
    run = _QualityRun(f"quality.{table}", settings, parent=parent_run)
    run.start()
    t0 = time.perf_counter()
    at = dt.datetime.now(dt.timezone.utc)
    try:
        nulls: dict[str, int] = {}
        outcomes, used = evaluate(df, table, s, engine, settings=settings, run_name=run.run_id, run_time=at,
                                  null_counts=nulls, arrow=arrow)
        rows = next((o.observed for o in outcomes if o.type == "expect_table_row_count_to_be_between"
                     and o.observed is not None), None)
        if used == "gx":  # GX's BOOLEAN_ONLY pass reports no counts: the lineage facet's, one scan
            rows, nulls = null_counts(df)
        elif rows is None:
            rows = df.count()
        result = ValidationResult(table=table, suite=s.get("name", table), run_id=run.run_id,
                                  success=all(o.success for o in outcomes), outcomes=outcomes,
                                  row_count=rows, null_counts=nulls, engine=used,
                                  seconds=time.perf_counter() - t0, validated_at=at)
        run.add_input(DatasetRef(table, schema=schema_of(df), rows=rows, assertions=[
            {"assertion": o.type, "success": o.success, "column": o.column} for o in outcomes]))
        run.metrics[table] = (rows, nulls)
        if record:
            _record(df.sparkSession, result, lake, settings, record_key)
    except BaseException as e:
        run.fail(e)
        raise
    # The check itself ran: COMPLETE; a failed expectation is in the assertions facet.
    run.complete()
    return result


def gate(df, table: str, *, suite: str | dict | None = None, parent_run=None, engine: str = "auto",
         lake=None, settings=None, record_key: str | None = None, arrow=None) -> ValidationResult:
    """Validate and raise QualityGateFailed (listing the failing expectations with the column's
    中文 label) when any expectation fails. suite defaults to expectations/<layer>/<name>.json."""
    result = validate(df, table, suite, engine=engine, lake=lake, settings=settings, parent_run=parent_run,
                      record_key=record_key, arrow=arrow)
    if not result.success:
        raise QualityGateFailed(result)
    return result


def null_counts(df) -> tuple[int, dict[str, int]]:
    """Row count and every column's null count, in one Spark aggregation (the lineage facet's
    dataQualityMetrics)."""
    from pyspark.sql import functions as F

    names = df.columns
    row = df.agg(F.count(F.lit(1)).alias("n"),
                 *[F.sum(F.col(c).isNull().cast("int")).alias(f"z{j}") for j, c in enumerate(names)]).collect()[0]
    return int(row["n"]), {c: int(row[f"z{j}"] or 0) for j, c in enumerate(names)}


def _row(result: ValidationResult) -> tuple:
    # every expectation's outcome, passed ones too: the Data Docs (quality/data_docs.py) render
    # from this row each validation whose page GX's Checkpoint did not make (the Arrow engine's)
    details = {"engine": result.engine, "rows": result.row_count, "seconds": round(result.seconds, 3),
               "outcomes": [o.to_dict() for o in result.outcomes]}
    return (result.table, result.suite, result.run_id, result.success, result.n_expectations,
            len(result.failed), json.dumps(details, ensure_ascii=False), result.validated_at.replace(tzinfo=None))


_RESULTS_SCHEMA = ("table string, suite string, run_id string, success boolean, "
                   "n_expectations int, n_failed int, details string, validated_at timestamp")


def _record(spark, result: ValidationResult, lake, settings, record_key: str | None = None) -> None:
    from govlake.lakehouse import Lakehouse

    lake = lake or Lakehouse(spark, settings)
    df = spark.createDataFrame([_row(result)], _RESULTS_SCHEMA)
    key = f"{result.table}@{record_key}" if record_key else result.run_id
    lake.write(df, RESULTS_TABLE, mode="append", app_id=f"quality@{key}")


def record_results(lake, results: list[ValidationResult], app_id: str) -> None:
    """Record several validations (`validate(..., record=False)`) in one append: a step that gates
    many small tables pays one Delta commit instead of one per table. app_id: idempotent."""
    if results:
        lake.write(lake.spark.createDataFrame([_row(r) for r in results], _RESULTS_SCHEMA), RESULTS_TABLE,
                   mode="append", app_id=f"quality@{app_id}")


class _QualityRun(JobRun):
    """JobRun that also attaches the dataQualityMetrics input facet (row count, null counts),
    which DatasetRef cannot carry yet."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.metrics: dict[str, tuple[int, dict[str, int]]] = {}

    def _event(self, state, error=None):
        from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqm

        ev = super()._event(state, error)
        for ref, ds in zip(self.inputs, ev.inputs):
            if ref.table in self.metrics:
                rows, nulls = self.metrics[ref.table]
                ds.inputFacets = {**(ds.inputFacets or {}), "dataQualityMetrics": dqm.DataQualityMetricsInputDatasetFacet(
                    rowCount=rows, columnMetrics={c: dqm.ColumnMetrics(nullCount=n) for c, n in nulls.items()})}
        return ev


def publish(df, product: str, lake, *, app_id: str, parent_run=None, metadata: dict | None = None):
    """Gate `df` against the product's suite, then write it as one Delta commit.

    Raises QualityGateFailed (nothing written, previous version still served) when the gate fails.
    Returns the lakehouse Commit. app_id makes a re-run of the same logical date commit nothing.
    """
    from govlake.products import get_product

    p = get_product(product, lake.settings)
    # the results row is keyed like the write: a re-run that commits nothing records nothing
    result = gate(df, p.name, suite=product_suite(p, lake.settings), parent_run=parent_run, lake=lake,
                  record_key=app_id)
    meta = {"product": p.name, "owner": p.owner, "classification": p.classification,
            "quality_run_id": result.run_id, **(metadata or {})}
    return lake.write(df, p.name, mode=p.write.mode, keys=p.contract.key, partition_by=p.write.partition_by,
                      app_id=app_id, metadata=meta)
