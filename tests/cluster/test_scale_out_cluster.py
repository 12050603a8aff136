"""The scale-out deployment, running (make cluster-up): a Spark job on the standalone cluster writes a
Delta table into the object store, delta-rs reads it over S3, both workers ran its tasks; concurrent
delta-rs commits to the object store never overwrite each other; and the demo DAG runs to success
in Airflow (PostgreSQL, LocalExecutor) with its Spark drivers on the cluster and its lake in the bucket."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid

import pytest

from govlake.cluster import components
from govlake.cluster.layout import BUCKET, WORKERS, Layout
from govlake.settings import Settings

ROWS = 20_000


def get_json(url: str):
    # a driver's UI on a loaded shared machine answered in more than 10 s
    with urllib.request.urlopen(url, timeout=60) as r:
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


# one writer process: n appends of (writer, i) through delta-rs; prints how many were refused
APPEND_ROWS = """
import json, sys
import pyarrow as pa
from deltalake import write_deltalake
uri, options, writer, n = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
failed = 0
for i in range(n):
    try:
        write_deltalake(uri, pa.table({"writer": [writer], "i": [i]}), mode="append", storage_options=options)
    except Exception as e:  # a refused commit is allowed (never a lost one): counted
        failed += 1
        print(type(e).__name__, e, file=sys.stderr)
print(failed)
"""


def test_concurrent_delta_rs_commits_to_the_bucket_never_both_win(layout):
    """Two processes append to one table through delta-rs's S3 store with govlake's storage options
    (a conditional put of each log version, no unsafe rename): every append is in the table, each
    in a version of its own."""
    import subprocess
    import sys

    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    settings = layout.lake_settings()
    from govlake.lakehouse import storage

    table = storage.as_path(f"s3a://{BUCKET}/tests/{uuid.uuid4().hex[:8]}/commits", settings)
    uri, options = storage.delta_uri(table), storage.delta_options(table)
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    write_deltalake(uri, pa.table({"writer": [0], "i": [0]}), storage_options=options)
    n = 8
    procs = [subprocess.Popen([sys.executable, "-c", APPEND_ROWS, uri, json.dumps(options), str(w), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in (1, 2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    failed = sum(int(out.strip().splitlines()[-1]) for out, _ in outs)
    dt = DeltaTable(uri, storage_options=options)
    rows = dt.to_pyarrow_table()
    # a commit that lost the race for a version is retried at the next one (appends do not
    # conflict): every append lands once, none overwritten
    assert failed == 0, [err[-2000:] for _, err in outs]
    pairs = sorted((w, i) for w, i in zip(rows.column("writer").to_pylist(), rows.column("i").to_pylist()) if w)
    assert pairs == [(w, i) for w in (1, 2) for i in range(n)]
    assert dt.version() == 2 * n


def test_demo_dag_runs_in_airflow_with_spark_on_the_cluster(layout):
    """Triggered through Airflow's REST API as a user would; the scheduler's LocalExecutor runs each
    task, whose Spark driver uses the cluster master (GOVLAKE_SPARK_MASTER), with the lake in the
    bucket (GOVLAKE_LAKE_ROOT=s3a://govlake/lake): its tables are there, delta-rs reads them over S3
    and Spark counts the same rows."""
    import datetime as dt

    import httpx
    from pyarrow import fs

    settings = layout.lake_settings()
    assert not settings.lake_is_local, settings.lake_root
    s3 = components.s3_filesystem(layout)
    prefix = settings.lake.key
    # a fresh lake: what the run leaves in the bucket is this run's
    s3.delete_dir_contents(prefix, missing_dir_ok=True)

    before = {a["id"] for a in components.master_status(layout).get("completedapps", [])}
    lineage_dir = layout.work_dir / "lineage"
    seen = {n: _lines(lineage_dir / n) for n in ("events.jsonl", "spark-events.jsonl")}
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
    # the DAG's nine Spark steps on a shared 2-core machine: 25 minutes was not enough under load
    deadline = time.monotonic() + float(os.environ.get("GOVLAKE_CLUSTER_DAG_TIMEOUT", "3600"))
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
    from govlake.lakehouse import Lakehouse, storage
    from govlake.pipeline import table_summary

    # the tables are in the bucket: each with its log there
    keys = [i.path for i in s3.get_file_info(fs.FileSelector(f"{prefix}/tables", recursive=True))]
    logged = {k.split("/_delta_log/")[0].removeprefix(f"{prefix}/tables/").replace("/", ".")
              for k in keys if k.endswith("/_delta_log/00000000000000000000.json")}
    assert {"bronze.enterprise_registry", "gold.enterprise_profile"} <= logged, sorted(logged)
    lake = Lakehouse(None, settings)
    tables = {t["table"]: t["rows"] for t in table_summary(lake)}
    assert set(tables) == logged
    # delta-rs over S3 (s3://, storage options from the settings) and Spark over s3a count alike
    profile = lake.path("gold.enterprise_profile")
    assert storage.delta_uri(profile).startswith(f"s3://{BUCKET}/")
    arrow_rows = lake.to_arrow("gold.enterprise_profile", columns=["uscc"]).num_rows
    assert arrow_rows > 0 and arrow_rows == tables["gold.enterprise_profile"]
    from govlake.cluster.session import cluster_spark

    spark, _ = cluster_spark(layout, layout.lake_settings(spark_driver_memory="1g"), app_name="govlake-cluster-count")
    try:
        assert spark.read.format("delta").load(str(profile)).count() == arrow_rows
    finally:
        spark.stop()
    # the run's lineage, the project's events and Spark's own, as a Marquez would receive them over
    # HTTP (its API server is not served here: docs/scale-out.md): each passes the spec's schemas,
    # and the graph of gold.enterprise_profile reaches its bronze sources, field by field
    from govlake.lineage.graph import LineageGraph
    from govlake.lineage.spec import find_spec_dir, validate_events

    new = {n: _lines(lineage_dir / n)[len(old):] for n, old in seen.items()}
    if find_spec_dir() is not None:
        for name, lines in new.items():
            rep = validate_events(lines)
            assert rep.events > 0 and rep.failed == 0, (name, rep.by_message())
    graph = LineageGraph()
    for line in new["events.jsonl"]:
        graph.add_event(json.loads(line))
    sources = {e.source for _, e in graph.upstream("gold.enterprise_profile")}
    assert "bronze.enterprise_registry" in sources, sorted(sources)
    # the field's derivation from its bronze column, and that column's from the landed extract
    origins = graph.column_origins("gold.enterprise_profile", "reg_capital_ge_100")
    assert [(t, c) for t, c, _ in origins] == [("landing.enterprise_registry", "reg_capital_wan")], origins
    assert origins[0][2][0].inputs == [("bronze.enterprise_registry", "reg_capital_wan")], origins
    assert any(t == "gold.enterprise_profile" for t, _ in graph.columns)


def _lines(path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()] if path.exists() else []
