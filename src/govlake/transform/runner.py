"""Run dbt in-process on our SparkSession.

dbt-spark's `session` method runs every statement on `SparkSession.builder.getOrCreate()`, which
returns the process's first (instantiated) session (ours, from govlake.spark.get_spark) and only
applies runtime-modifiable settings to it; `enableHiveSupport()` there is a static setting and is
ignored. So dbt sees what we registered: bronze Delta snapshots as global temp views.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from govlake.lakehouse import Lakehouse
from govlake.settings import Settings
from govlake.transform.bronze_tables import SPARK_TYPES, load_sources

FAILED = {"error", "fail", "runtime error"}


class DbtRunFailed(RuntimeError):
    """dbt finished with failed models or tests (dbt 构建失败); `.result` holds every node."""

    def __init__(self, message: str, result: "DbtResult"):
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    name: str
    resource_type: str  # model | test | seed | snapshot ...
    status: str  # success | error | pass | fail | warn | skipped
    message: str | None
    seconds: float
    failures: int | None = None  # failing rows of a test


@dataclass
class DbtResult:
    success: bool
    args: list[str]
    nodes: list[NodeResult] = field(default_factory=list)
    target_path: Path | None = None
    error: str | None = None  # dbt could not run at all (parse/compile error)

    @property
    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in FAILED]

    def node(self, name: str) -> NodeResult:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def manifest(self) -> dict:
        return load_manifest(self.target_path)


def target_dir(settings: Settings) -> Path:
    """dbt's target folder for this lake (manifest.json, run_results.json, compiled SQL)."""
    return settings.local_dir / "dbt_target"


def load_manifest(target_path: Path) -> dict:
    path = Path(target_path) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"no dbt manifest at {path}: run `govlake dbt build` first")
    return json.loads(path.read_text(encoding="utf-8"))


def model_statuses(settings: Settings) -> dict[str, str]:
    """unique_id -> status of each node's latest execution, over every dbt run on this lake
    (run_results.json only holds the last invocation, which may have selected a few models)."""
    path = target_dir(settings) / "node_status.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _record_statuses(settings: Settings, nodes: list[NodeResult]) -> None:
    statuses = model_statuses(settings)
    statuses.update({n.unique_id: n.status for n in nodes})
    path = target_dir(settings) / "node_status.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(statuses, indent=1, sort_keys=True), encoding="utf-8")


def bronze_view(source: str) -> str:
    return f"bronze__{source}"


def register_bronze(spark: SparkSession, settings: Settings) -> dict[str, int | None]:
    """Expose every catalog source's bronze Delta snapshot as `global_temp.bronze__<source>`.

    A source not loaded yet gets an empty view with its catalog schema, so the whole project
    still builds (its staging model is empty). Returns source -> Delta version (None: empty).
    """
    lake = Lakehouse(spark, settings)
    return {src.name: lake.expose_view(src.table, bronze_view(src.name), lambda src=src: _bronze_schema(src))
            for src in load_sources(settings.catalog_dir)}


def _bronze_schema(src) -> T.StructType:
    """A source's bronze columns from the catalog, with their labels as comments."""
    return T.StructType([T.StructField(n, T.DataType.fromDDL(SPARK_TYPES[t]), True, {"comment": label})
                         for n, label, t in src.bronze_columns])


def _node_results(res) -> list[NodeResult]:
    out = []
    for r in getattr(getattr(res, "result", None), "results", None) or []:
        node = r.node
        out.append(NodeResult(
            unique_id=node.unique_id, name=node.name, resource_type=str(node.resource_type),
            status=str(r.status), message=r.message, seconds=float(r.execution_time or 0.0),
            failures=r.failures,
        ))
    return out


def _failure_message(command: str, result: DbtResult) -> str:
    if result.error:
        return f"dbt {command} failed before running any model: {result.error}"
    lines = [f"dbt {command} failed: {len(result.failures)} of {len(result.nodes)} nodes failed"]
    for n in result.failures:
        what = "test" if n.resource_type == "test" else n.resource_type
        detail = [d.strip() for d in (n.message or n.status).strip().splitlines() if d.strip()]
        lines.append(f"  - {what} {n.name}: {detail[0]}"
                     + (f" ({n.failures} failing rows)" if n.failures else ""))
        # dbt puts the reason (e.g. the contract's column/type mismatch table) on later lines.
        lines += [f"      {d}" for d in detail[1:15]]
    return "\n".join(lines)


def run_dbt(
    spark: SparkSession,
    settings: Settings,
    args: list[str],
    *,
    parent_run=None,
    load_date: str | None = None,
    raise_on_failure: bool = True,
    emit_lineage: bool = True,
) -> DbtResult:
    """Run a dbt command (e.g. ["build"], ["build", "--select", "staging"]) in this process.

    Registers the bronze views first; target and log folders live under the lake root, so each
    lake has its own manifest. `load_date` (yyyy-MM-dd) becomes var('load_date'). After the
    run, one OpenLineage run per executed model is emitted (job `dbt.<model>`, parent =
    parent_run). Raises DbtRunFailed with every failed node named when anything failed.
    """
    from dbt.cli.main import dbtRunner

    if SparkSession.builder.getOrCreate() is not spark:
        raise RuntimeError("dbt-spark session mode runs on the process's first SparkSession; "
                           "pass that session (govlake.spark.get_spark), not a newSession()")
    register_bronze(spark, settings)
    from govlake.signals.report_sources import register_signal_views  # the reports' group alerts

    register_signal_views(spark, settings)
    target = target_dir(settings)
    command = args[0] if args else "build"
    cli = [
        *args,
        "--project-dir", str(settings.dbt_dir),
        "--profiles-dir", str(settings.dbt_dir),
        "--target", settings.dbt_method,
        "--target-path", str(target),
        "--log-path", str(settings.local_dir / "dbt_logs"),
        "--no-use-colors",
    ]
    if load_date:
        cli += ["--vars", json.dumps({"load_date": str(load_date)})]
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DBT_VERSION_CHECK", "false")

    res = dbtRunner().invoke(cli)
    result = DbtResult(success=bool(res.success), args=cli, nodes=_node_results(res), target_path=target)
    if res.exception is not None:
        result.error = f"{type(res.exception).__name__}: {res.exception}"
    _record_statuses(settings, result.nodes)
    if emit_lineage and result.nodes:
        from govlake.transform.dbt_lineage import emit_dbt_lineage

        emit_dbt_lineage(spark, settings, result.manifest(), result.nodes,
                         parent_run=parent_run, nominal_time=load_date)
    if raise_on_failure and not result.success:
        raise DbtRunFailed(_failure_message(command, result), result)
    return result
