"""Each component of the cluster: how it starts, how it is known healthy, how it stops. `up` starts
them in order (object store, PostgreSQL, Spark master, two workers, Airflow) and is a no-op for the
ones already running; `down` stops them all, in reverse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

import pyspark

from govlake.cluster import processes
from govlake.cluster.layout import BUCKET, S3_REGION, WORKERS, Layout
from govlake.cluster.processes import ComponentFailed
from govlake.settings import REPO_ROOT

PG_BIN = Path(os.environ.get("GOVLAKE_PG_BIN", "/usr/lib/postgresql/15/bin"))
# a modest worker: one core each, executors of 1 GB inside it
WORKER_CORES = 1
WORKER_MEMORY = "1536m"
EXECUTOR_MEMORY = "1g"
AIRFLOW_PROCESSES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor")


def _get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


# ---- object store: SeaweedFS (weed server with its S3 gateway) -------------------------------------

def s3_filesystem(layout: Layout):
    from pyarrow import fs

    return fs.S3FileSystem(access_key=layout.s3_access_key, secret_key=layout.s3_secret_key,
                           endpoint_override=layout.s3_endpoint, scheme="http", region=S3_REGION,
                           allow_bucket_creation=True, force_virtual_addressing=False)


def start_object_store(layout: Layout) -> None:
    weed = layout.bin / "weed"
    if not weed.exists():
        with open(layout.log("build-seaweedfs"), "ab") as out:
            r = subprocess.run(["bash", str(REPO_ROOT / "deploy/cluster/build-seaweedfs.sh"), str(layout.bin)],
                               stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise ComponentFailed("object-store", layout.log("build-seaweedfs"), "building SeaweedFS from its Go module failed")
    d = layout.seaweed_dir
    for sub in ("master", "volume", "filer"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    s3_config = d / "s3.json"
    s3_config.write_text(json.dumps({"identities": [{
        "name": "govlake", "credentials": [{"accessKey": layout.s3_access_key, "secretKey": layout.s3_secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    p = layout.port
    processes.start(layout, "object-store", [
        str(weed), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-dir={d / 'volume'}", f"-master.dir={d / 'master'}",
        f"-master.port={p('seaweed_master')}", f"-master.port.grpc={p('seaweed_master_grpc')}",
        # small volumes: a test lake, not 30 GB files
        "-master.volumeSizeLimitMB=256",
        # no usage reports leave the machine (on by default)
        "-master.telemetry=false",
        f"-volume.port={p('seaweed_volume')}", f"-volume.port.grpc={p('seaweed_volume_grpc')}", "-volume.max=64",
        "-filer", f"-filer.port={p('seaweed_filer')}", f"-filer.port.grpc={p('seaweed_filer_grpc')}",
        "-s3", f"-s3.port={p('s3')}", f"-s3.port.grpc={p('s3_grpc')}", f"-s3.config={s3_config}",
    ], cwd=d)

    def bucket_ready() -> str | None:
        from pyarrow import fs

        s3 = s3_filesystem(layout)
        s3.create_dir(BUCKET)
        # a write and a read back: the S3 gateway, filer and volume server all answer
        with s3.open_output_stream(f"{BUCKET}/_health/ping") as f:
            f.write(b"ok")
        with s3.open_input_stream(f"{BUCKET}/_health/ping") as f:
            if f.read() != b"ok":
                return "wrote 'ok' to the bucket and read something else"
        return None if s3.get_file_info(BUCKET).type == fs.FileType.Directory else f"bucket {BUCKET} not listed"

    processes.wait_healthy(layout, "object-store", bucket_ready, timeout=120)


# ---- PostgreSQL (Debian's package) -------------------------------------------------------------------

def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: the Debian package's postgres account runs it
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _pg_ready(layout: Layout) -> str | None:
    r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(layout.port("postgres")), "-U", "postgres"],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stdout + r.stderr).strip() or f"pg_isready exit {r.returncode}"


def start_postgres(layout: Layout) -> None:
    if not (PG_BIN / "pg_ctl").exists():
        raise ComponentFailed("postgres", None, f"{PG_BIN}/pg_ctl not found: apt-get install -y postgresql")
    data, log = layout.pg_data, layout.pg_log
    data.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres", "postgres")
        shutil.chown(log, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        r = subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                         "-E", "UTF8", "--locale=C.UTF-8"]), stdout=open(log, "a"), stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise ComponentFailed("postgres", log, f"initdb exit {r.returncode}")
    if _pg_ready(layout) is not None:
        opts = f"-c listen_addresses=127.0.0.1 -p {layout.port('postgres')} -k {data.parent}"
        r = subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts,
                                         "-w", "-t", "60", "start"]), capture_output=True, text=True)
        if r.returncode != 0:
            raise ComponentFailed("postgres", log, f"pg_ctl start exit {r.returncode}: {r.stdout}{r.stderr}")
    processes.wait_healthy(layout, "postgres", lambda: _pg_ready(layout), timeout=60)
    exists = _psql(layout, "SELECT 1 FROM pg_database WHERE datname = 'airflow'")
    if exists.strip() != "1":
        _psql(layout, "CREATE DATABASE airflow")


def _psql(layout: Layout, sql: str) -> str:
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(layout.port("postgres")), "-U", "postgres", "-tA",
                        "-c", sql], capture_output=True, text=True)
    if r.returncode != 0:
        raise ComponentFailed("postgres", layout.pg_log, f"psql {sql!r}: {r.stderr.strip()}")
    return r.stdout


def stop_postgres(layout: Layout) -> bool:
    if not (layout.pg_data / "postmaster.pid").exists():
        return False
    subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(layout.pg_data), "-m", "fast", "-w", "stop"]),
                   capture_output=True)
    return True


# ---- Spark standalone ----------------------------------------------------------------------------

def spark_home() -> Path:
    return Path(pyspark.__file__).parent


def write_spark_defaults(layout: Layout) -> Path:
    """spark-defaults.conf of every driver that uses the cluster (SPARK_CONF_DIR): s3a on the driver's
    and executors' classpath (a deployment puts the same jars at the same path on every node),
    the object store, the executor size. docker/spark-defaults.conf carries the same settings."""
    from govlake.cluster import s3a_jars

    jars = s3a_jars.ensure()
    cp = ":".join(str(p) for p in jars)
    conf = {
        "spark.driver.extraClassPath": cp,
        "spark.executor.extraClassPath": cp,
        "spark.executor.memory": EXECUTOR_MEMORY,
        "spark.hadoop.fs.s3a.endpoint": layout.s3_endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": S3_REGION,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.access.key": layout.s3_access_key,
        "spark.hadoop.fs.s3a.secret.key": layout.s3_secret_key,
        # Delta on s3a: one writing driver at a time (S3SingleDriverLogStore, Delta's default for s3a)
        "spark.delta.logStore.s3a.impl": "io.delta.storage.S3SingleDriverLogStore",
    }
    layout.spark_conf_dir.mkdir(parents=True, exist_ok=True)
    path = layout.spark_conf_dir / "spark-defaults.conf"
    path.write_text("# written by govlake.cluster (make cluster-up)\n"
                    + "".join(f"{k:44} {v}\n" for k, v in conf.items()))
    return path


def _spark_env(layout: Layout) -> dict[str, str]:
    return {"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_CONF_DIR": str(layout.spark_conf_dir),
            "SPARK_LOG_DIR": str(layout.logs), "PYSPARK_PYTHON": sys.executable}


def master_status(layout: Layout) -> dict:
    return _get_json(f"{layout.spark_master_ui}/json/")


def start_spark(layout: Layout) -> None:
    write_spark_defaults(layout)
    spark_class = str(spark_home() / "bin" / "spark-class")
    p = layout.port
    processes.start(layout, "spark-master", [
        spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
        "--port", str(p("spark_master")), "--webui-port", str(p("spark_master_ui"))], env=_spark_env(layout))

    def master_alive() -> str | None:
        st = master_status(layout).get("status")
        return None if st == "ALIVE" else f"master status {st}"

    processes.wait_healthy(layout, "spark-master", master_alive, timeout=90)
    for n in WORKERS:
        work = layout.spark_dir / f"worker{n}"
        work.mkdir(parents=True, exist_ok=True)
        processes.start(layout, f"spark-worker{n}", [
            spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
            "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY, "--work-dir", str(work),
            "--webui-port", str(p(f"spark_worker{n}_ui")), layout.spark_master_url], env=_spark_env(layout))
    for n in WORKERS:
        ui = f"127.0.0.1:{p(f'spark_worker{n}_ui')}"

        def registered(ui=ui) -> str | None:
            workers = master_status(layout).get("workers", [])
            mine = [w for w in workers if w.get("webuiaddress", "").endswith(ui) and w.get("state") == "ALIVE"]
            return None if mine else f"not ALIVE at the master ({len(workers)} workers known)"

        processes.wait_healthy(layout, f"spark-worker{n}", registered, timeout=90)


# ---- Airflow 3 -----------------------------------------------------------------------------------

def airflow_health(layout: Layout) -> dict:
    return _get_json(f"{layout.airflow_url}/api/v2/monitor/health")


def start_airflow(layout: Layout) -> None:
    env = layout.airflow_env()
    layout.airflow_home.mkdir(parents=True, exist_ok=True)
    # the OpenLineage provider's file transport appends to <work>/lineage/ and does not create it
    (layout.work_dir / "lineage").mkdir(parents=True, exist_ok=True)
    log = layout.log("airflow-db-migrate")
    if processes.read_pid(layout, "airflow-api-server") is None:
        with open(log, "ab") as out:
            r = subprocess.run([_venv_bin("airflow"), "db", "migrate"], env={**os.environ, **env},
                               stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise ComponentFailed("airflow-db-migrate", log, f"airflow db migrate exit {r.returncode}")
    airflow = _venv_bin("airflow")
    processes.start(layout, "airflow-api-server", [airflow, "api-server", "--host", "127.0.0.1",
                                                   "--port", str(layout.port("airflow_api")), "--workers", "1"], env=env)

    def db_ok() -> str | None:
        h = airflow_health(layout)
        return None if h.get("metadatabase", {}).get("status") == "healthy" else json.dumps(h)

    processes.wait_healthy(layout, "airflow-api-server", db_ok, timeout=180)
    processes.start(layout, "airflow-scheduler", [airflow, "scheduler"], env=env)
    processes.start(layout, "airflow-dag-processor", [airflow, "dag-processor"], env=env)
    for name, key in (("airflow-scheduler", "scheduler"), ("airflow-dag-processor", "dag_processor")):
        def ok(key=key) -> str | None:
            h = airflow_health(layout).get(key, {})
            return None if h.get("status") == "healthy" else f"{key}: {h}"

        processes.wait_healthy(layout, name, ok, timeout=180)


# ---- the whole --------------------------------------------------------------------------------

STEPS: tuple[tuple[str, Callable[[Layout], None]], ...] = (
    ("object-store", start_object_store),
    ("postgres", start_postgres),
    ("spark", start_spark),
    ("airflow", start_airflow),
)
PROCESS_NAMES = ("object-store", "spark-master", *(f"spark-worker{n}" for n in WORKERS), *AIRFLOW_PROCESSES)


def up(layout: Layout, echo=print) -> None:
    for name, start in STEPS:
        t = time.monotonic()
        start(layout)
        echo(f"  {name:14} up ({time.monotonic() - t:.1f} s)")


def down(layout: Layout, echo=print) -> None:
    for name in reversed(PROCESS_NAMES):
        if processes.stop(layout, name):
            echo(f"  {name:22} stopped")
        if name == AIRFLOW_PROCESSES[0]:
            # task processes (and their Spark drivers) left by the LocalExecutor in groups of their own
            n = processes.stop_leftovers(layout.root, "AIRFLOW_HOME", str(layout.airflow_home))
            if n:
                echo(f"  {'airflow task processes':22} stopped ({n})")
    if stop_postgres(layout):
        echo(f"  {'postgres':22} stopped")


def status(layout: Layout) -> dict[str, str]:
    """Each component: 'up', 'down', or what its health check says."""
    out: dict[str, str] = {}
    for name in PROCESS_NAMES:
        out[name] = "up" if processes.read_pid(layout, name) else "down"
    if processes.leftovers(layout.root, "AIRFLOW_HOME", str(layout.airflow_home)):
        out["airflow-tasks"] = "up"
    out["postgres"] = "up" if (layout.root / "state.json").exists() and _pg_ready(layout) is None else "down"
    return out
