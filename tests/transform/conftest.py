"""A tiny bronze as the ingest writes it (petitions and tax_annual over two load dates,
departments) and ONE shared dbt build over it: dbt's start-up costs seconds, so the assertions
share the run. Helpers reach the tests through the `tb` fixture (no sibling imports: they break
under other import modes)."""

from __future__ import annotations

import datetime as dt
import types

import pytest

from govlake.settings import Settings
from govlake.transform.bronze_tables import SPARK_TYPES, load_sources

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def bronze_df(spark, settings, source: str, rows: list[dict]):
    """Rows as the ingest writes them: every catalog column (missing -> null) + load columns."""
    from pyspark.sql import types as T

    src = {s.name: s for s in load_sources(settings.catalog_dir)}[source]
    schema = T.StructType([T.StructField(n, T.DataType.fromDDL(SPARK_TYPES[t]), True, {"comment": label})
                           for n, label, t in src.bronze_columns])
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def departments_df(spark, settings, rows):
    return bronze_df(spark, settings, "departments", [
        {"code": c, "name": n, "kind": k, "street_code": sc, "issues_policies": p} for c, n, k, sc, p in rows
    ])


DEPARTMENTS = [
    ("FGJ", "区发展和改革局", "职能部门", None, True),
    ("CGJ", "区城市管理和综合执法局", "职能部门", None, False),
    ("ST017", "新安街道办事处", "街道", "440306017", False),
]


def write_tiny_bronze(spark, lake, settings):
    def pet(tid, status, d, title="噪音扰民"):
        return {"ticket_id": tid, "channel": "12345热线", "submit_time": dt.datetime(2026, 10, 30, 9, 0),
                "requester_id": "R1", "title": title, "content": "夜间施工噪音", "status": status,
                "_load_date": d, "_source_file": f"petitions/{d}/a.csv", "_run_id": f"run-{d}"}

    def tax(uscc, year, revenue, d):
        return {"uscc": uscc, "year": year, "revenue_wan": revenue, "total_tax_wan": revenue / 10,
                "tax_credit_grade": "A", "_load_date": d, "_source_file": "t.csv", "_run_id": f"run-{d}"}

    lake.write(bronze_df(spark, settings, "petitions", [pet("T1", "已受理", D1), pet("T2", "已受理", D1)]),
               "bronze.petitions", mode="append", partition_by=["_load_date"])
    # Load 2 re-sends T1 with a new status and adds T3: staging keeps T1@D2, T2@D1, T3@D2.
    lake.write(bronze_df(spark, settings, "petitions", [pet("T1", "已办结", D2), pet("T3", "处理中", D2)]),
               "bronze.petitions", mode="append", partition_by=["_load_date"])
    lake.write(bronze_df(spark, settings, "tax_annual", [tax("U1", 2024, 100.0, D1), tax("U1", 2025, 120.0, D1)]),
               "bronze.tax_annual", mode="append", partition_by=["_load_date"])
    lake.write(bronze_df(spark, settings, "tax_annual", [tax("U1", 2025, 125.0, D2)]),
               "bronze.tax_annual", mode="append", partition_by=["_load_date"])
    lake.write(departments_df(spark, settings, DEPARTMENTS), "bronze.departments")


# Only what the tests need: one dbt build over 4 models and their tests.
SELECT = ["stg_petitions", "stg_tax_annual", "+dim_departments"]


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """(settings, lake, DbtResult) of one `dbt build` on the tiny bronze, as of load date D2."""
    from govlake.lakehouse import Lakehouse
    from govlake.lineage.emitter import JobRun
    from govlake.transform.runner import run_dbt

    settings = Settings(lake_root=tmp_path_factory.mktemp("dbt") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, settings)
    write_tiny_bronze(spark, lake, settings)
    parent = JobRun("pipeline.test", settings)
    result = run_dbt(spark, settings, ["build", "--select", *SELECT], load_date=str(D2), parent_run=parent)
    return settings, lake, result, parent


@pytest.fixture(scope="session")
def tb():
    return types.SimpleNamespace(D1=D1, D2=D2, DEPARTMENTS=DEPARTMENTS, departments_df=departments_df)
