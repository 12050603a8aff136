"""One dbt build on a tiny bronze: staging dedupes, contracts hold, marts publish to Delta with
comments, lineage comes out of the manifest."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from govlake.lineage.emitter import read_events
from govlake.transform.publish import publish_models
from govlake.transform.runner import run_dbt


def test_dbt_uses_our_session(spark, built):
    # dbt-spark's cursor calls SparkSession.builder.enableHiveSupport().getOrCreate().
    assert SparkSession.builder.enableHiveSupport().getOrCreate() is spark
    settings, lake, result, _ = built
    assert result.success
    built_models = {n.name for n in result.nodes if n.resource_type == "model"}
    assert built_models == {"stg_petitions", "stg_tax_annual", "stg_departments", "dim_departments"}
    assert all(n.status == "pass" for n in result.nodes if n.resource_type == "test")


def test_staging_keeps_latest_row_per_key(spark, built, tb):
    D1, D2 = tb.D1, tb.D2
    rows = {r.ticket_id: (r.status, r._load_date) for r in spark.table("global_temp.stg_petitions").collect()}
    assert rows == {"T1": ("已办结", D2), "T2": ("已受理", D1), "T3": ("处理中", D2)}
    tax = {(r.uscc, r.year): r.revenue_wan for r in spark.table("global_temp.stg_tax_annual").collect()}
    assert tax == {("U1", 2024): 100.0, ("U1", 2025): 125.0}
    # Catalog column names, plus _load_date; bronze's _source_file/_run_id stay behind.
    cols = spark.table("global_temp.stg_petitions").columns
    assert cols[0] == "ticket_id" and cols[-1] == "_load_date" and "_run_id" not in cols


def test_load_date_var_sees_only_earlier_loads(spark, built, tb):
    settings, *_ = built
    D1, D2 = tb.D1, tb.D2
    run_dbt(spark, settings, ["run", "--select", "stg_petitions"], load_date=str(D1), emit_lineage=False)
    try:
        rows = {r.ticket_id: r.status for r in spark.table("global_temp.stg_petitions").collect()}
        assert rows == {"T1": "已受理", "T2": "已受理"}
    finally:  # put the D2 view back for the other tests of this module
        run_dbt(spark, settings, ["run", "--select", "stg_petitions"], load_date=str(D2), emit_lineage=False)


def test_publish_writes_delta_with_comments_once(spark, built, tb):
    settings, lake, _, parent = built
    D2 = tb.D2
    gated = []
    commits = publish_models(spark, lake, gate=lambda df, table: gated.append((table, df.count())),
                             app_id_suffix=str(D2), parent_run=parent)
    assert [(c.table, c.rows_written, c.committed) for c in commits] == [("gold.dim_departments", 3, True)]
    assert gated == [("gold.dim_departments", 3)]

    dt_ = DeltaTable(str(lake.path("gold.dim_departments")))
    fields = {f["name"]: f for f in json.loads(dt_.schema().to_json())["fields"]}
    assert fields["dept_name"]["metadata"]["comment"] == "部门名称"
    assert fields["issues_policies"]["type"] == "boolean"
    got = {r["dept_code"]: r["is_street_office"] for r in dt_.to_pyarrow_table().to_pylist()}
    assert got == {c: k == "街道" for c, _, k, _, _ in tb.DEPARTMENTS}

    again = publish_models(spark, lake, ["dim_departments"], app_id_suffix=str(D2))
    assert not again[0].committed and dt_.version() == lake.version("gold.dim_departments")


def test_failing_gate_blocks_publish(spark, built):
    settings, lake, *_ = built

    class Blocked(Exception):
        pass

    def gate(df, table, *, suite=None, parent_run=None):
        assert parent_run is not None and parent_run.job == "publish.dim_departments"
        raise Blocked(f"{table}: quality gate failed")

    before = lake.version("gold.dim_departments") if lake.exists("gold.dim_departments") else None
    with pytest.raises(Blocked):
        publish_models(spark, lake, ["dim_departments"], gate=gate, app_id_suffix="gate-test")
    after = lake.version("gold.dim_departments") if lake.exists("gold.dim_departments") else None
    assert before == after
    fails = [e for e in read_events(settings.lineage_path)
             if e["job"]["name"] == "publish.dim_departments" and e["eventType"] == "FAIL"]
    assert fails and "quality gate failed" in fails[-1]["run"]["facets"]["errorMessage"]["message"]


def test_lineage_per_model_with_column_lineage(built, tb):
    settings, lake, _, parent = built
    D2 = tb.D2
    events = read_events(settings.lineage_path)
    by_job = {}
    for e in events:
        by_job.setdefault(e["job"]["name"], []).append(e)
    for model in ["stg_petitions", "stg_tax_annual", "stg_departments", "dim_departments"]:
        assert [e["eventType"] for e in by_job[f"dbt.{model}"]][:2] == ["START", "COMPLETE"]

    done = [e for e in by_job["dbt.stg_petitions"] if e["eventType"] == "COMPLETE"][0]
    assert done["run"]["facets"]["parent"]["run"]["runId"] == parent.run_id
    assert done["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith(str(D2))
    (inp,) = done["inputs"]
    assert inp["name"] == str(lake.path("bronze.petitions"))
    out = done["outputs"][0]
    assert out["name"] == "dbt.stg_petitions"
    schema = {f["name"]: f for f in out["facets"]["schema"]["fields"]}
    assert schema["ticket_id"]["description"] == "工单编号"
    cl = out["facets"]["columnLineage"]["fields"]
    assert [(f["namespace"], f["name"], f["field"]) for f in cl["status"]["inputFields"]] == [
        ("file", inp["name"], "status")]
    # dbt tests: a quality.dbt.<model> run reads the model, assertions as its input facet (the spec's place)
    assert "dataQualityAssertions" not in out["facets"]
    (checked,) = [e for e in by_job["quality.dbt.stg_petitions"] if e["eventType"] == "COMPLETE"][0]["inputs"]
    assert checked["name"] == "dbt.stg_petitions"
    asserts = {(a["assertion"], a.get("column")) for a in checked["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert {("not_null", "ticket_id"), ("unique", "ticket_id"), ("accepted_values", "status")} <= asserts

    dim = [e for e in by_job["dbt.dim_departments"] if e["eventType"] == "COMPLETE"][0]
    assert [i["name"] for i in dim["inputs"]] == ["dbt.stg_departments"]
    cl = dim["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert cl["dept_code"]["inputFields"][0]["name"] == "dbt.stg_departments"
    assert cl["dept_code"]["inputFields"][0]["field"] == "code"
    assert cl["is_street_office"]["inputFields"][0]["transformations"][0]["description"] == "kind = '街道'"

    # every event valid against the OpenLineage spec (when ../shared/openlineage-spec is there)
    from govlake.lineage.spec import find_spec_dir, validate_event

    if find_spec_dir() is not None:
        bad = {f"{e['job']['name']} {e['eventType']}": errs for e in events if (errs := validate_event(e))}
        assert not bad, bad
