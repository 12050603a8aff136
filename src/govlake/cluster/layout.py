"""Where the cluster lives: its state folder, the ports it chose once, and the environment its clients
(the Airflow tasks, the test's Spark driver, delta-rs) use to reach it."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from govlake.settings import REPO_ROOT

BUCKET = "govlake"
S3_REGION = "us-east-1"
# The ports each component needs; chosen free once, then kept in <state>/ports.json so that a second
# `cluster up` finds the running components where the first put them.
PORT_NAMES = ("s3", "seaweed_master", "seaweed_master_grpc", "seaweed_volume", "seaweed_volume_grpc",
              "seaweed_filer", "seaweed_filer_grpc", "s3_grpc", "postgres", "spark_master", "spark_master_ui",
              "spark_worker1_ui", "spark_worker2_ui", "airflow_api")
WORKERS = (1, 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable_by_others(path: Path) -> bool:
    """Whether every existing folder on the way to path lets other accounts through (o+x)."""
    return all(a.stat().st_mode & 0o001 for a in (path, *path.parents) if a.exists())


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def default(cls) -> "Layout":
        return cls(Path(os.environ.get("GOVLAKE_CLUSTER_DIR", REPO_ROOT / ".cluster")).resolve())

    # folders
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def seaweed_dir(self) -> Path:
        return self.root / "seaweedfs"

    @property
    def pg_dir(self) -> Path:
        """PostgreSQL's folder (data, socket, server log). Run as root, the server runs as the
        postgres account, which must reach it: a state folder under a private directory (a clone
        in a `mktemp -d` folder) moves to /var/lib/postgresql (Debian's, the account's own), one
        folder per state folder. GOVLAKE_PG_DIR sets it."""
        if os.environ.get("GOVLAKE_PG_DIR"):
            return Path(os.environ["GOVLAKE_PG_DIR"]).resolve()
        if os.geteuid() == 0 and not _reachable_by_others(self.root):
            tag = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
            return Path("/var/lib/postgresql") / f"govlake-{tag}"
        return self.root / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        """The server's log, where the postgres account can write it."""
        return self.pg_dir / "server.log"

    @property
    def spark_dir(self) -> Path:
        return self.root / "spark"

    @property
    def spark_conf_dir(self) -> Path:
        return self.spark_dir / "conf"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def lake_uri(self) -> str:
        """The lake of the Airflow DAG runs: in the bucket (GOVLAKE_CLUSTER_LAKE_ROOT moves it, a
        local path included)."""
        return os.environ.get("GOVLAKE_CLUSTER_LAKE_ROOT", f"s3a://{BUCKET}/lake")

    @property
    def work_dir(self) -> Path:
        """The DAG runs' process-local files (run lock, SQLite stores, models, lineage events):
        Settings.work_dir, on the machine of the LocalExecutor's task processes."""
        return self.root / "work"

    def log(self, component: str) -> Path:
        """The component's log file; its folder made on first use (a fresh clone has none)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"{component}.log"

    # ports and secrets, chosen once
    def _state(self) -> dict:
        path = self.root / "state.json"
        if path.exists():
            state = json.loads(path.read_text())
        else:
            state = {}
        changed = False
        ports = state.setdefault("ports", {})
        for name in PORT_NAMES:
            if name not in ports:
                ports[name] = _free_port()
                changed = True
        for key in ("s3_secret", "airflow_jwt_secret"):
            if key not in state:
                state[key] = secrets.token_hex(16)
                changed = True
        if changed:
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(state, indent=2))
        return state

    def port(self, name: str) -> int:
        return self._state()["ports"][name]

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port('s3')}"

    @property
    def s3_access_key(self) -> str:
        return "govlake"

    @property
    def s3_secret_key(self) -> str:
        return self._state()["s3_secret"]

    @property
    def spark_master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port('spark_master')}"

    @property
    def spark_master_ui(self) -> str:
        return f"http://127.0.0.1:{self.port('spark_master_ui')}"

    @property
    def postgres_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port('postgres')}/airflow"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.port('airflow_api')}"

    def s3_options(self):
        """The object store as govlake's settings name it (govlake.lakehouse.storage builds the
        delta-rs options and Spark's s3a settings from it)."""
        from govlake.lakehouse.storage import S3Options

        return S3Options(self.s3_endpoint, self.s3_access_key, self.s3_secret_key, S3_REGION)

    def delta_rs_storage_options(self) -> dict[str, str]:
        return self.s3_options().delta()

    def lake_settings(self, **overrides):
        """Settings of a client of the DAG runs' lake in the bucket (the test, a benchmark)."""
        from govlake.settings import Settings

        return Settings(**{"lake_root": self.lake_uri, "work_dir": self.work_dir, "s3_endpoint": self.s3_endpoint,
                           "s3_access_key": self.s3_access_key, "s3_secret_key": self.s3_secret_key,
                           "s3_region": S3_REGION, "run_lock_url": self.postgres_url, **overrides})

    def client_env(self) -> dict[str, str]:
        """What a Spark driver on this machine (an Airflow task, the cluster test) needs to use the
        cluster: the master, spark-defaults.conf with s3a, the lake and the object store's keys."""
        return {
            "GOVLAKE_SPARK_MASTER": self.spark_master_url,
            "SPARK_CONF_DIR": str(self.spark_conf_dir),
            "AWS_ACCESS_KEY_ID": self.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_REGION": S3_REGION,
            # govlake's own settings of the object store (govlake.lakehouse.storage builds the
            # delta-rs options and Spark's s3a settings from these)
            "GOVLAKE_S3_ENDPOINT": self.s3_endpoint,
            "GOVLAKE_S3_ACCESS_KEY": self.s3_access_key,
            "GOVLAKE_S3_SECRET_KEY": self.s3_secret_key,
            "GOVLAKE_S3_REGION": S3_REGION,
        }

    def airflow_env(self) -> dict[str, str]:
        """Airflow 3 on the cluster's PostgreSQL, LocalExecutor, the repo's dags/; its tasks run the
        Spark driver against the cluster master, the lake in the bucket (docs/scale-out.md)."""
        api = self.airflow_url
        return {
            **self.client_env(),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # 2 cores: two task processes at most, each a Spark driver
            "AIRFLOW__CORE__PARALLELISM": "2",
            # a task queued behind two running ones (transform, and a sibling waiting for the lake's
            # run lock) waits for a slot; the default (600 s) failed it while still queued
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "14400",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            # paused until asked: govlake_daily (catchup off) would otherwise start its latest interval at once
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port("airflow_api")),
            "AIRFLOW__API__BASE_URL": api,
            # the api-server, scheduler and task processes sign and check the same task tokens
            "AIRFLOW__API_AUTH__JWT_SECRET": self._state()["airflow_jwt_secret"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "govlake",
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(self.work_dir / "lineage" / "airflow-events.jsonl"),
                 "append": True}),
            "GOVLAKE_LAKE_ROOT": self.lake_uri,
            "GOVLAKE_WORK_DIR": str(self.work_dir),
            # one run at a time on the lake in the bucket, whichever machine runs the task
            "GOVLAKE_RUN_LOCK_URL": self.postgres_url,
            "GOVLAKE_SCALE": os.environ.get("GOVLAKE_CLUSTER_SCALE", "400"),
            "GOVLAKE_SPARK_SHUFFLE_PARTITIONS": "4",
            "GOVLAKE_SPARK_DRIVER_MEMORY": "1g",
        }
