"""Airflow DAG: the daily chain on generated extracts (演示: 生成数据 + 每日全链路), triggered by
hand. Wiring only: `generate` writes the day's synthetic extracts to landing/, then the same
steps as govlake_daily (govlake.pipeline.UPSTREAM)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from govlake.pipeline import UPSTREAM


def _run(step: str, ds: str) -> dict:
    from govlake.pipeline import run_airflow_task

    return run_airflow_task(step, ds)


@dag(
    dag_id="govlake_demo",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["govlake", "demo"],
    doc_md=__doc__,
)
def govlake_demo():
    tasks = {name: task(task_id=name)(_run)(name, ds="{{ ds }}") for name in ("generate", *UPSTREAM)}
    tasks["generate"] >> tasks["ingest"]
    for name, upstream in UPSTREAM.items():
        for up in upstream:
            tasks[up] >> tasks[name]


govlake_demo_dag = govlake_demo()
