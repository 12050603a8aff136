"""Publish dbt marts to Delta, once, through the lakehouse.

Marts are views in the Spark session catalog (docs/dbt.md: measured against tables); publishing
computes each one and writes it as `gold.<name>` (or the table in `meta: {publish: ...}`), with
the model YAML's column descriptions (Chinese labels) as column comments in the Delta schema.
Views live in the session catalog of this process: publish right after `run_dbt`, same process.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from govlake.lakehouse import Commit, Lakehouse
from govlake.lineage.emitter import DatasetRef, schema_of
from govlake.transform.dbt_lineage import DbtJobRun, _meta, model_dataset
from govlake.transform.runner import load_manifest, model_statuses, target_dir


def published_table(node: dict) -> str | None:
    """The Delta table a model publishes to, or None if it is not a public mart."""
    table = _meta(node).get("publish")
    if table:
        return str(table)
    if node["resource_type"] == "model" and node["path"].replace("\\", "/").startswith("marts/"):
        return f"gold.{node['name']}"
    return None


def public_marts(manifest: dict) -> dict[str, dict]:
    """model name -> manifest node, for every model that publishes."""
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and published_table(n)}


def with_comments(df: DataFrame, node: dict) -> DataFrame:
    """Set each column's YAML description as its comment (one projection, even for 1,500 columns)."""
    desc = {n: c.get("description") for n, c in node["columns"].items() if c.get("description")}
    if not desc:
        return df
    return df.select([
        F.col(f"`{f.name}`").alias(f.name, metadata={**f.metadata, "comment": desc[f.name]})
        if f.name in desc else F.col(f"`{f.name}`")
        for f in df.schema.fields
    ])


def publish_models(
    spark: SparkSession,
    lake: Lakehouse,
    models: list[str] | None = None,
    *,
    gate: Callable | None = None,
    app_id_suffix: str,
    parent_run=None,
) -> list[Commit]:
    """Write each public mart (all whose latest dbt run succeeded, or `models`) to Delta.

    gate(df, table[, parent_run=...]) runs before the write and raises to stop it (e.g.
    govlake.quality.gate). Writes are idempotent: app_id = publish.<model>@<app_id_suffix>.
    """
    settings = lake.settings
    manifest = load_manifest(target_dir(settings))
    marts = public_marts(manifest)
    statuses = model_statuses(settings)
    if models is None:
        chosen = [n for n, node in marts.items() if statuses.get(node["unique_id"]) == "success"]
    else:
        unknown = [m for m in models if m not in marts]
        if unknown:
            raise ValueError(f"not public marts (no meta.publish and not under marts/): {unknown}")
        not_built = [m for m in models if statuses.get(marts[m]["unique_id"]) != "success"]
        if not_built:
            raise RuntimeError(f"models whose latest dbt run did not succeed, not published: {not_built}")
        chosen = list(models)

    gate_takes_parent = gate is not None and _accepts(gate, "parent_run")
    commits = []
    for name in sorted(chosen):
        node = marts[name]
        table = published_table(node)
        run = DbtJobRun(f"publish.{name}", settings, integration="SPARK", parent=parent_run)
        run.add_input(model_dataset(name))
        run.start()
        try:
            df = with_comments(spark.table(node["relation_name"].replace("`", "")), node)
            if gate is not None:
                # The gate and the write both compute the view: compute it once.
                df = df.persist(StorageLevel.MEMORY_AND_DISK)
                gate(df, table, parent_run=run) if gate_takes_parent else gate(df, table)
            commit = lake.write(
                df, table, mode="overwrite", app_id=f"publish.{name}@{app_id_suffix}",
                metadata={"dbt_model": node["unique_id"], "published_by": "govlake.transform.publish"},
            )
            if gate is not None:
                df.unpersist()
            run.add_output(DatasetRef(
                table, schema=schema_of(df), rows=commit.rows_written if commit.committed else None,
                version=commit.version, column_lineage={c: [(model_dataset(name), c)] for c in df.columns},
            ))
        except BaseException as e:
            run.fail(e)
            raise
        run.complete()
        commits.append(commit)
    return commits


def _accepts(fn: Callable, param: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return param in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
