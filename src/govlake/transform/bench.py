"""Measure how a wide mart should reach Delta: dbt view + publish vs dbt table + publish.

A throw-away dbt project (our macros and profiles, one generated wide model with an enforced
contract and key tests) is built over a generated bronze-like Delta table, once materialised as
a view and once as a table; each is then published through the lakehouse. Figures: docs/dbt.md.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import yaml
from pyspark.sql import SparkSession

from govlake.lakehouse import Lakehouse
from govlake.settings import Settings
from govlake.transform.publish import publish_models
from govlake.transform.runner import run_dbt


def _project(root: Path, src: Settings, cols: int) -> None:
    root.mkdir(parents=True)
    for name in ["dbt_project.yml", "profiles.yml"]:
        shutil.copy(src.dbt_dir / name, root / name)
    shutil.copytree(src.dbt_dir / "macros", root / "macros")
    marts = root / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "_sources.yml").write_text(yaml.safe_dump({"version": 2, "sources": [{
        "name": "bench", "schema": "global_temp", "tables": [{"name": "wide", "identifier": "bench__wide"}]}]}))
    # SQL text, not DataFrame calls: 1,500 expressions (DESIGN.md).
    body = ",\n  ".join(f"round(c{i} * 1.1 + 1, 4) as f{i}" for i in range(cols))
    sql = f"select uscc,\n  {body}\nfrom {{{{ source('bench', 'wide') }}}}\n"
    columns = [{"name": "uscc", "description": "统一社会信用代码", "data_type": "string",
                "data_tests": ["not_null", "unique"]}]
    columns += [{"name": f"f{i}", "description": f"指标{i}", "data_type": "double"} for i in range(cols)]
    for mat in ["view", "table"]:
        (marts / f"wide_{mat}.sql").write_text(sql)
        (marts / f"wide_{mat}.yml").write_text(yaml.safe_dump({"version": 2, "models": [{
            "name": f"wide_{mat}", "config": {"materialized": mat, "contract": {"enforced": True}},
            "columns": columns}]}, allow_unicode=True))


def measure_wide(spark: SparkSession, settings: Settings, rows: int = 20_000, cols: int = 1_500) -> dict:
    """Seconds for dbt build (model + contract + 2 key tests) and for publishing, per materialisation."""
    root = Path(tempfile.mkdtemp(prefix="govlake-bench-"))
    try:
        _project(root / "dbt", settings, cols)
        s = settings.model_copy(update={"dbt_dir": root / "dbt", "lake_root": root / "lake"})
        lake = Lakehouse(spark, s)
        exprs = ", ".join(f"cast((id * {i + 7}) % 1000 as double) / 10 as c{i}" for i in range(cols))
        src = spark.sql(f"select concat('U', cast(id as string)) as uscc, {exprs} from range({rows})")
        lake.write(src, "bronze.bench_wide")
        lake.read("bronze.bench_wide").createOrReplaceGlobalTempView("bench__wide")
        out = {"rows": rows, "cols": cols}
        for mat in ["view", "table"]:
            t0 = time.perf_counter()
            run_dbt(spark, s, ["build", "--select", f"wide_{mat}"], emit_lineage=False)
            t1 = time.perf_counter()
            (commit,) = publish_models(spark, lake, [f"wide_{mat}"], app_id_suffix="bench")
            t2 = time.perf_counter()
            assert commit.rows_written == rows
            out[mat] = {"dbt_build_s": round(t1 - t0, 1), "publish_s": round(t2 - t1, 1),
                        "total_s": round(t2 - t0, 1)}
        spark.sql("drop table if exists marts.wide_table")
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)
