"""End to end: the demo DAG (generate + the daily chain) runs with dag.test(), twice for one date.
The second run must commit nothing: every table keeps its version, no second notification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # about 8 minutes on 2 cores: make test-slow (CI runs it after make test)
def test_demo_dag_runs_and_is_idempotent(tmp_path):
    env = {
        **os.environ,
        "GOVLAKE_LAKE_ROOT": str(tmp_path / "lake"),
        "GOVLAKE_SCALE": "400",
        "GOVLAKE_SPARK_SHUFFLE_PARTITIONS": "4",
        "GOVLAKE_SPARK_DRIVER_MEMORY": "2g",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        # the provider's own task events (the parents of the steps' and Spark's runs)
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "govlake",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(tmp_path / "lake" / "lineage" / "airflow-events.jsonl"),
             "append": True}),
        "GOVLAKE_TEST_DS": "2026-11-21",
        "GOVLAKE_TEST_OUT": str(tmp_path / "result.json"),
    }
    proc = subprocess.run([sys.executable, str(REPO / "tests/e2e/run_dag.py")], env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert out["states"] == ["success", "success"] or all(s.endswith("SUCCESS") or s == "success" for s in out["states"]), out["states"]
    first = {t["table"]: (t["version"], t["rows"]) for t in out["first"]}
    second = {t["table"]: (t["version"], t["rows"]) for t in out["second"]}
    for table in ["bronze.petitions", "bronze.enterprise_registry", "bronze.quarantine",
                  "gold.enterprise_profile", "gold.enterprise_tags", "gold.policy_match_keys", "gold.policy_match_outcomes",
                  "gold.petition_dispatch", "gold.petition_alerts", "gold.petition_merge_groups",
                  "gold.group_petition_alerts", "gold.hot_topics", "ops.push_outbox"]:
        # ops.approval_decisions is not among them: at this scale the 秒批 trees' real items
        # (两化融合, 知识产权贯标, 国高) get no application; make run's 5,000 enterprises decide some
        # the generator injects sensitive texts, repeats and group bursts: each signal must fire
        assert table in first, f"{table} missing; have {sorted(first)}"
        assert first[table][1] > 0, f"{table} is empty"
    # ops.ingest_runs is the append-only log of load attempts: the re-run is recorded there
    # (committed = false); every other table must be untouched.
    attempts = first.pop("ops.ingest_runs"), second.pop("ops.ingest_runs")
    assert attempts[1][0] > attempts[0][0]
    assert second == first, "second run of the same date changed tables"
    # every table as both readers (delta-spark, delta-rs) see it, at every version; MERGE with
    # deletion vectors, OPTIMIZE and VACUUM: tests/test_lakehouse.py
    assert out["readers_disagree"] == []
    events = (tmp_path / "lake" / "lineage" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = {json.loads(e)["eventType"] for e in events}
    assert {"START", "COMPLETE"} <= kinds and "FAIL" not in kinds
    # every lineage event of the run, the project's and Spark's own, passes the spec's schemas
    from govlake.lineage.spec import find_spec_dir, validate_file

    if find_spec_dir() is not None:
        for name in ("events.jsonl", "spark-events.jsonl"):
            rep = validate_file(tmp_path / "lake" / "lineage" / name)
            assert rep.events > 0 and rep.failed == 0, (name, rep.by_message())
        spark_events = [json.loads(e) for e in (tmp_path / "lake" / "lineage" / "spark-events.jsonl").open(encoding="utf-8")]
        parents = {e["run"]["facets"].get("parent", {}).get("job", {}).get("name") for e in spark_events}
        assert any(p and p.startswith("govlake_demo.") for p in parents), parents  # under an Airflow task


_CHECK_WIRING = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(sys.argv[1])
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "dags": {d: {t: sorted(task.upstream_task_ids) for t, task in dag.task_dict.items()}
                           for d, dag in bag.dags.items()}}))
"""


def test_daily_dag_is_the_chain_without_generated_data(tmp_path):
    """The production DAG starts at ingest; only the demo DAG generates extracts. Both wire
    govlake.pipeline.UPSTREAM, one function per task."""
    from govlake.pipeline import STEPS, UPSTREAM

    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run([sys.executable, "-c", _CHECK_WIRING, str(REPO / "dags")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    daily, demo = out["dags"]["govlake_daily"], out["dags"]["govlake_demo"]
    assert set(daily) == set(UPSTREAM) == set(STEPS) - {"generate"}
    assert set(demo) == set(STEPS) and demo["ingest"] == ["generate"]
    for name, upstream in UPSTREAM.items():
        assert daily[name] == sorted(upstream), name
