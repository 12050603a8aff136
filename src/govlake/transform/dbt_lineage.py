"""OpenLineage for dbt, from the manifest and the run results (`dbt-ol` refuses session mode).

One run per executed model, job `dbt.<model>`: inputs are its sources (`bronze.<source>`, lake
folders) and refs (`dbt.<model>`, the relation in the Spark catalog, in the job namespace); the
output `dbt.<model>` carries the schema (Chinese labels as descriptions) and column lineage. The
results of the model's dbt tests are a child run `quality.dbt.<model>` that reads the model with
them as its dataQualityAssertions input facet (the spec's place for assertions, as dbt-ol reports
tests). Publishing a mart is a separate run (`publish.<model>`) from `dbt.<model>` to its Delta
table, see publish.py. The runs are children of `parent_run` (the pipeline step), or of the
Airflow task named by OPENLINEAGE_PARENT_ID when there is none (govlake.lineage.emitter).

Column lineage: staging models map each column to the same column of their bronze source.
Other models declare it in their YAML (docs/dbt.md):
    columns:
      - name: revenue_y1_wan
        config: {meta: {sources: [stg_tax_annual.revenue_wan], derivation: "revenue of year y1"}}
"""

from __future__ import annotations

from govlake.lineage.emitter import DatasetRef, JobRun
from govlake.settings import Settings


class DbtJobRun(JobRun):
    """A JobRun whose `dbt.<model>` datasets are catalog relations, not lake folders."""

    def dataset_name(self, table: str) -> tuple[str, str]:
        if table.startswith("dbt."):
            return self.settings.lineage_namespace, table
        return super().dataset_name(table)


def model_dataset(name: str) -> str:
    return f"dbt.{name}"


def _meta(d: dict) -> dict:
    """meta set either top-level or under config (dbt >= 1.10 prefers config.meta)."""
    return {**(d.get("meta") or {}), **((d.get("config") or {}).get("meta") or {})}


def source_table(source: dict) -> str:
    return _meta(source).get("table") or f"bronze.{source['name']}"


def _resolver(manifest: dict):
    """'stg_x' / 'bronze.x' / a source name -> dataset name used in lineage."""
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    sources = {s["name"]: source_table(s) for s in manifest["sources"].values()}

    def resolve(table: str) -> str:
        if table in models:
            return model_dataset(table)
        if table in sources:
            return sources[table]
        return table

    return resolve


def column_lineage(node: dict, manifest: dict, columns: list[str]):
    """(column -> [(dataset, column)], column -> derivation) for one model."""
    parents = node["depends_on"]["nodes"]
    lineage: dict[str, list[tuple[str, str]]] = {}
    derivations: dict[str, str] = {}
    if node["name"].startswith("stg_") and len(parents) == 1 and parents[0] in manifest["sources"]:
        src = manifest["sources"][parents[0]]
        src_table = source_table(src)
        for c in columns:
            if c in src["columns"] or not src["columns"]:
                lineage[c] = [(src_table, c)]
        return lineage, derivations
    resolve = _resolver(manifest)
    for name, col in node["columns"].items():
        meta = _meta(col)
        refs = meta.get("sources") or []
        if isinstance(refs, str):
            refs = [refs]
        pairs = []
        for ref in refs:
            table, _, column = ref.rpartition(".")
            if table and column:
                pairs.append((resolve(table), column))
        if pairs:
            lineage[name] = pairs
        if meta.get("derivation"):
            derivations[name] = str(meta["derivation"])
    return lineage, derivations


def _assertions(manifest: dict, results, model_uid: str) -> list[dict]:
    out = []
    for r in results:
        if r.resource_type != "test" or r.status == "skipped":
            continue
        test = manifest["nodes"].get(r.unique_id) or {}
        if test.get("attached_node") != model_uid:
            continue
        a = {"assertion": (test.get("test_metadata") or {}).get("name") or test.get("name", r.name),
             "success": r.status == "pass", "name": test.get("name") or r.unique_id.split(".")[-1]}
        if test.get("column_name"):
            a["column"] = test["column_name"]
        severity = (test.get("config") or {}).get("severity")
        if severity:
            a["severity"] = str(severity).lower()
        if getattr(r, "failures", None) is not None:
            a["actual"] = str(r.failures)  # failing rows
        out.append(a)
    return out


def _schema(spark, node: dict, ok: bool):
    """Schema facet fields from the built relation (analysis only, no job runs)."""
    described = {n: c.get("description") or None for n, c in node["columns"].items()}
    if ok and node.get("relation_name"):
        try:
            fields = spark.table(node["relation_name"].replace("`", "")).schema.fields
            return [(f.name, f.dataType.simpleString(), described.get(f.name)) for f in fields]
        except Exception:  # the relation may be gone (dropped by a later run); fall back to YAML
            pass
    return [(n, c.get("data_type") or "unknown", described[n]) for n, c in node["columns"].items()] or None


def emit_dbt_lineage(spark, settings: Settings, manifest: dict, results, *, parent_run=None,
                     nominal_time: str | None = None) -> list[JobRun]:
    """Emit START + COMPLETE/FAIL for every model that ran; returns the runs."""
    if nominal_time and "T" not in nominal_time:
        nominal_time = f"{nominal_time}T00:00:00+08:00"  # a load date; OpenLineage wants a time
    runs = []
    for r in results:
        if r.resource_type != "model" or r.status == "skipped":
            continue
        node = manifest["nodes"][r.unique_id]
        ok = r.status == "success"
        run = DbtJobRun(f"dbt.{node['name']}", settings, integration="DBT", parent=parent_run,
                        nominal_time=nominal_time, job_kind="MODEL")
        for uid in node["depends_on"]["nodes"]:
            if uid in manifest["sources"]:
                run.add_input(source_table(manifest["sources"][uid]))
            elif uid in manifest["nodes"] and manifest["nodes"][uid]["resource_type"] == "model":
                run.add_input(model_dataset(manifest["nodes"][uid]["name"]))
        schema = _schema(spark, node, ok)
        lineage, derivations = column_lineage(node, manifest, [f[0] for f in schema or []])
        run.add_output(DatasetRef(
            model_dataset(node["name"]), schema=schema, column_lineage=lineage or None,
            transformations=derivations or None, assertions=_assertions(manifest, results, r.unique_id) or None,
        ))
        run.start()
        if ok:
            run.complete()
        else:
            run.fail(RuntimeError(f"dbt model {node['name']} {r.status}: {r.message}"))
        runs.append(run)
    return runs
