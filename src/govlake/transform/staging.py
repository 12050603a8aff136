"""Generate the dbt staging layer from the catalog: one `stg_<source>` model (SQL + YAML) per
bronze table and the `bronze` dbt source. The output is committed; re-run after a catalog change:
`govlake dbt generate-staging`."""

from __future__ import annotations

from pathlib import Path

import yaml

from govlake.catalog.enterprise import distribution_column
from govlake.catalog.petition_service import dbt_macros, load_petition_service
from govlake.catalog.work_calendar import load_work_calendar
from govlake.settings import Settings, get_settings
from govlake.transform.bronze_tables import SPARK_TYPES, Source, load_sources

HEADER = "GENERATED from catalog/ by `govlake dbt generate-staging`; do not edit by hand."

# Session target: bronze Delta snapshots registered as global temp views `bronze__<source>` by
# the runner. Any other target (cluster): real Delta tables `bronze.<source>` in the metastore.
# Both can be overridden with --vars '{bronze_schema: ..., bronze_prefix: ...}'.
SOURCE_SCHEMA = "{{ var('bronze_schema', 'global_temp' if target.name == 'session' else 'bronze') }}"
SOURCE_PREFIX = "{{ var('bronze_prefix', 'bronze__' if target.name == 'session' else '') }}"


def _dump(doc: dict) -> str:
    return f"# {HEADER}\n" + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)


def sources_yaml(sources: list[Source]) -> str:
    tables = []
    for s in sources:
        tables.append({
            "name": s.name,
            "identifier": SOURCE_PREFIX + s.name,
            "description": f"{s.label}（{s.system}）" if s.system else s.label,
            "config": {"meta": {"table": s.table, "key": list(s.key)}},
            "columns": [{"name": n, "description": label, "data_type": SPARK_TYPES[t]}
                        for n, label, t in s.bronze_columns],
        })
    return _dump({"version": 2, "sources": [{
        "name": "bronze",
        "description": "Bronze Delta tables written by govlake.ingest (typed, one partition per _load_date).",
        "schema": SOURCE_SCHEMA,
        "tables": tables,
    }]})


def model_sql(s: Source) -> str:
    cols = [c.name for c in s.columns]
    desc = f"-- {s.label}（{s.system}）"
    if s.snapshot:
        body = ("select\n    " + ",\n    ".join(cols) + f"\nfrom {{{{ source('bronze', '{s.name}') }}}}\n")
        return f"-- {HEADER}\n{desc}: the whole reference table, one row per {', '.join(s.key)}.\n{body}"
    keys = ", ".join(f"'{k}'" for k in s.key)
    col_list = ",\n    ".join(f"'{c}'" for c in [*cols, "_load_date"])
    col = distribution_column(s.name, cols)
    dist = f",\n  distribute_by='{col}'" if col else ""
    return (
        f"-- {HEADER}\n{desc}: the latest row per {', '.join(s.key)} across bronze loads.\n"
        f"{{{{ latest_per_key(\n  source('bronze', '{s.name}'),\n  [{keys}],\n  [\n    {col_list}\n  ]{dist}\n) }}}}\n"
    )


def model_yaml(s: Source) -> str:
    composite = len(s.key) > 1
    columns = []
    for c in s.columns:
        tests: list = []
        if c.name in s.key:
            tests.append("not_null")
            if not composite:
                tests.append("unique")
        if c.enum:
            tests.append({"accepted_values": {"arguments": {"values": list(c.enum)}}})
        col = {"name": c.name, "description": c.label, "data_type": SPARK_TYPES[c.type]}
        if tests:
            col["data_tests"] = tests
        columns.append(col)
    if not s.snapshot:
        columns.append({"name": "_load_date", "description": "加载日期（该记录最新一次到达的批次）",
                        "data_type": "date"})
    model = {
        "name": f"stg_{s.name}",
        "description": (f"{s.label}（{s.system}）. "
                        + ("Reference table as loaded." if s.snapshot else
                           f"Latest row per {', '.join(s.key)} across bronze loads (_load_date).")),
        "config": {"meta": {"source_table": s.table, "key": list(s.key),
                            "generated_by": "govlake.transform.staging"}},
    }
    if composite:
        model["data_tests"] = [{"unique_key": {"arguments": {"columns": list(s.key)}}}]
    model["columns"] = columns
    return _dump({"version": 2, "models": [model]})


def generate_staging(settings: Settings | None = None, out_dir: Path | None = None) -> list[Path]:
    """Write models/staging/_sources.yml and stg_<source>.sql/.yml for every catalog source.

    Generated files for sources no longer in the catalog are removed. Returns the files written.
    """
    s = settings or get_settings()
    out = Path(out_dir or s.dbt_dir / "models" / "staging")
    out.mkdir(parents=True, exist_ok=True)
    sources = load_sources(s.catalog_dir)
    written = [out / "_sources.yml"]
    written[0].write_text(sources_yaml(sources), encoding="utf-8")
    for src in sources:
        for path, text in [(out / f"stg_{src.name}.sql", model_sql(src)),
                           (out / f"stg_{src.name}.yml", model_yaml(src))]:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    keep = {p.name for p in written}
    for stale in out.glob("stg_*.*"):
        if stale.name not in keep and HEADER in stale.read_text(encoding="utf-8"):
            stale.unlink()
    return written


def generate_petition_macros(settings: Settings | None = None, out_path: Path | None = None) -> Path:
    """Write dbt/macros/petition_service.sql from catalog/petition_service.yaml (service levels and
    the 不满意回退 / 专项督办 rule the petition marts use)."""
    s = settings or get_settings()
    path = Path(out_path or s.dbt_dir / "macros" / "petition_service.sql")
    calendar = load_work_calendar(s.catalog_dir)
    path.write_text(dbt_macros(load_petition_service(s.catalog_dir), calendar, HEADER), encoding="utf-8")
    return path
