"""The scale-out deployment, running (make cluster-up): a Spark job on the standalone cluster writes a
Delta table into the object store, delta-rs reads it over S3, both workers ran its tasks, and the
demo DAG runs to success in Airflow (PostgreSQL, LocalExecutor) with its Spark drivers on the cluster."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from govlake.cluster import components
from govlake.cluster.layout import BUCKET, WORKERS, Layout
from govlake.settings import Settings

ROWS = 20_000


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def layout() -> Layout:
    lay = Layout.default()
    down = {k: v for k, v in components.status(lay).items() if v != "up"}
    assert not down, f"cluster components not running: {down}; start them with `make cluster-up`"
    return lay


def test_master_shows_both_workers_alive(layout):
    st = components.master_status(layout)
    assert st["status"] == "ALIVE"
    alive = [w for w in st["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == len(WORKERS), st["workers"]
    assert all(w["cores"] == components.WORKER_CORES for w in alive)


def test_spark_job_writes_delta_to_the_bucket_on_both_workers(layout, tmp_path):
    from deltalake import DeltaTable

    from govlake.cluster.session import cluster_spark

    settings = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4, spark_driver_memory="1g")
    spark, ui_port = cluster_spark(layout, settings, app_name="govlake-cluster-test")
    try:
        sc = spark.sparkContext
        # both executors registered before the job, so its tasks are spread over both workers
        deadline = time.monotonic() + 90
        while sc._jsc.sc().getExecutorMemoryStatus().size() < 1 + len(WORKERS):
            assert time.monotonic() < deadline, "executors did not register on both workers"
            time.sleep(1)
        table = f"s3a://{BUCKET}/tests/{uuid.uuid4().hex[:8]}/enterprises"
        df = spark.range(ROWS, numPartitions=8).selectExpr(
            "id", "concat('91110000', lpad(cast(id as string), 10, '0')) as uscc", "id % 17 as district")
        df.write.format("delta").mode("overwrite").partitionBy("district").save(table)
        assert spark.read.format("delta").load(table).count() == ROWS

        # delta-rs over S3 reads what delta-spark wrote through s3a
        dt = DeltaTable(table.replace("s3a://", "s3://"), storage_options=layout.delta_rs_storage_options())
        arrow = dt.to_pyarrow_table()
        assert arrow.num_rows == ROWS
        assert sorted(set(arrow.column("district").to_pylist())) == list(range(17))

        # the driver's REST API: both executors (one per worker) ran tasks
        app_id = sc.applicationId
        execs = get_json(f"http://127.0.0.1:{ui_port}/api/v1/applications/{app_id}/executors")
        workers_ran = [e for e in execs if e["id"] != "driver" and e["totalTasks"] > 0]
        assert len(workers_ran) == len(WORKERS), [(e["id"], e["hostPort"], e["totalTasks"]) for e in execs]
        # and each worker's own status lists an executor of this application
        for n in WORKERS:
            w = get_json(f"http://127.0.0.1:{layout.port(f'spark_worker{n}_ui')}/json/")
            assert any(e["appid"] == app_id for e in w["executors"] + w.get("finishedexecutors", [])), (n, w)
        # the object store holds the table's log and data files
        s3 = components.s3_filesystem(layout)
        from pyarrow import fs

        key = table.removeprefix("s3a://")
        names = [i.path for i in s3.get_file_info(fs.FileSelector(key, recursive=True))]
        assert any("/_delta_log/00000000000000000000.json" in p for p in names)
        assert sum(p.endswith(".parquet") for p in names) >= 17
    finally:
        spark.stop()
    # openlineage-spark's events name the table in the bucket, s3a as the spec's s3 namespace
    # (Marquez is not deployed here: the file transport)
    events = [json.loads(line) for line in (settings.lineage_path.parent / "spark-events.jsonl").open(encoding="utf-8")]
    outputs = {(o["namespace"], o["name"]) for e in events for o in e.get("outputs", [])}
    assert (f"s3://{BUCKET}", table.removeprefix(f"s3a://{BUCKET}/")) in outputs, outputs


def test_demo_dag_runs_in_airflow_with_spark_on_the_cluster(layout):
    """Triggered through Airflow's REST API as a user would; the scheduler's LocalExecutor runs each
    task, whose Spark driver uses the cluster master (GOVLAKE_SPARK_MASTER). The lake is local:
    Settings.lake_root is a Path (docs/scale-out.md)."""
    import datetime as dt

    import httpx

    before = {a["id"] for a in components.master_status(layout).get("completedapps", [])}
    api = httpx.Client(base_url=f"{layout.airflow_url}/api/v2", timeout=30)
    token = httpx.get(f"{layout.airflow_url}/auth/token", timeout=30).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"
    # the dag-processor parses dags/ on its own schedule: wait until govlake_demo is known
    deadline = time.monotonic() + 300
    while api.get("/dags/govlake_demo").status_code != 200:
        assert time.monotonic() < deadline, "govlake_demo not parsed by the dag-processor"
        time.sleep(5)
    assert api.patch("/dags/govlake_demo", json={"is_paused": False}).status_code == 200
    run_id = f"cluster_test_{uuid.uuid4().hex[:8]}"
    # a logical date: the tasks template {{ ds }}
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    r = api.post("/dags/govlake_demo/dagRuns", json={"dag_run_id": run_id, "logical_date": now})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 1500
    state = None
    while time.monotonic() < deadline:
        state = api.get(f"/dags/govlake_demo/dagRuns/{run_id}").json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(10)
    tasks = {t["task_id"]: t["state"] for t in api.get(f"/dags/govlake_demo/dagRuns/{run_id}/taskInstances").json()["task_instances"]}
    assert state == "success", f"DAG run {run_id}: {state}; tasks {tasks}; logs in {layout.airflow_home / 'logs'}"
    assert set(tasks.values()) == {"success"}, tasks
    # the tasks' Spark applications ran on the cluster's master
    apps = [a for a in components.master_status(layout).get("completedapps", []) if a["id"] not in before]
    assert len(apps) >= 5, [a["name"] for a in apps]
    from govlake.lakehouse import Lakehouse
    from govlake.pipeline import table_summary

    tables = {t["table"]: t["rows"] for t in table_summary(Lakehouse(None, Settings(lake_root=layout.local_lake)))}
    assert tables.get("gold.enterprise_profile", 0) > 0, tables
