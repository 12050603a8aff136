"""Airflow DAG: the govlake daily chain (每日全链路). Wiring only; the steps live in govlake.pipeline.

ingest -> validate_bronze -> transform -> match -> push -> approve -> maintain
                          |             \\-> enterprise_services ------/
                          |             \\-> precredit (融资预授信) ----/
                          \\-> dispatch ---------------------------/
                          \\-> signals ----------------------------/

Each task calls one function, govlake.pipeline.run_airflow_task(step, ds). On a cluster the same
task runs the Spark driver and GOVLAKE_SPARK_MASTER points its executors at the cluster.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import dag, task

from govlake.pipeline import UPSTREAM


def _run(step: str, ds: str) -> dict:
    from govlake.pipeline import run_airflow_task

    return run_airflow_task(step, ds)


@dag(
    dag_id="govlake_daily",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=5)},
    tags=["govlake"],
    doc_md=__doc__,
)
def govlake_daily():
    tasks = {name: task(task_id=name)(_run)(name, ds="{{ ds }}") for name in UPSTREAM}
    for name, upstream in UPSTREAM.items():
        for up in upstream:
            tasks[up] >> tasks[name]


govlake_daily_dag = govlake_daily()
