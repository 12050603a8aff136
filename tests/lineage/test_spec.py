"""Every OpenLineage event the project emits validates against the spec's JSON schemas
(../shared/openlineage-spec: core and every facet), the events made by the project's own code
paths: pipeline steps with nested job runs, row counts, quality assertions and metrics, column
lineage, failures, API reads, dbt models and their tests from a manifest, an object-store lake,
and a parent Airflow task given through OPENLINEAGE_PARENT_ID."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from govlake.lineage import DatasetRef, job_run
from govlake.lineage.emitter import (
    PRODUCER,
    JobRun,
    RunRef,
    location_dataset,
    read_events,
)
from govlake.lineage.spec import find_spec_dir, load_spec, validate_event, validate_file

FIXTURES = Path(__file__).parent / "fixtures"
AIRFLOW_TASK = RunRef("airflow", "govlake_daily.transform", "01936f3e-8f1a-7c2b-9d4e-5f6a7b8c9d0e")
AIRFLOW_DAG = RunRef("airflow", "govlake_daily", "01936f3e-8000-7000-8000-000000000001")


@pytest.fixture(scope="module")
def spec():
    root = find_spec_dir()
    if root is None:
        pytest.skip("OpenLineage spec schemas not found: put them in ../shared/openlineage-spec "
                    "(OpenLineage.json and facets/*.json from the OpenLineage repository's spec/)")
    return load_spec(root)


def _assert_valid(events: list[dict], spec) -> int:
    bad = {f"{i} {e['job']['name']} {e['eventType']}": errs
           for i, e in enumerate(events) if (errs := validate_event(e, spec))}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    return len(events)


# -- the project's code paths ------------------------------------------------------------------
def _step_events(settings):
    """A pipeline step as pipeline.run_step runs it, with what the jobs inside it emit."""
    with job_run("govlake.ingest", settings, integration="GOVLAKE",
                 nominal_time="2026-11-21T00:00:00+08:00") as step:
        with job_run("ingest_petitions", settings, nominal_time="2026-11-21T00:00:00+08:00", parent=step) as run:
            run.add_input(DatasetRef("landing.petitions", schema=[("ticket_id", "string", "工单编号"),
                                                                  ("content", "string", "诉求内容")]))
            run.add_output(DatasetRef(
                "bronze.petitions", schema=[("ticket_id", "string", "工单编号"), ("content", "string", "诉求内容"),
                                            ("_load_date", "date", None)],
                rows=42, version=3,
                column_lineage={"ticket_id": [("landing.petitions", "ticket_id")],
                                "content": [("landing.petitions", "content")]}))
            run.add_output(DatasetRef("bronze.quarantine", rows=2, version=1))
        with job_run("ingest_departments", settings, parent=step) as run:
            run.add_input(DatasetRef("catalog.departments"))
            run.add_output(DatasetRef("bronze.departments", schema=[("code", "string", "部门代码")], rows=30))
    # the quality gate's run: assertions and data-quality metrics on the checked input
    from govlake.quality.gate import _QualityRun

    q = _QualityRun("quality.bronze.petitions", settings, parent=step)
    q.start()
    q.add_input(DatasetRef("bronze.petitions", schema=[("title", "string", "诉求标题")], rows=5, assertions=[
        {"assertion": "expect_column_values_to_not_be_null", "success": False, "column": "title"},
        {"assertion": "expect_table_row_count_to_be_between", "success": True, "column": None}]))
    q.metrics["bronze.petitions"] = (5, {"title": 1})
    q.complete()
    # a derived table: several sources, a derivation text, an explicit transformation
    with job_run("profile.build", settings, nominal_time="2026-11-21T00:00:00Z") as run:
        run.add_input("bronze.tax_annual")
        run.add_output(DatasetRef(
            "gold.enterprise_profile", rows=100, version=7,
            column_lineage={"uscc": [("bronze.tax_annual", "uscc")],
                            "revenue_3y_wan": [("bronze.tax_annual", "revenue_wan"), ("bronze.tax_annual", "year")],
                            "uscc_hash": [("bronze.tax_annual", "uscc")]},
            transformations={"revenue_3y_wan": "sum of the last 3 years' revenue",
                             "uscc_hash": {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True,
                                           "description": "sha256(uscc)"}},
            # a check of what the run wrote: reported by a quality.<table> child run
            assertions=[{"assertion": "unique", "success": True, "column": "uscc", "severity": "ERROR"}]))
    # a failed run
    with pytest.raises(RuntimeError), job_run("match_policies", settings) as run:
        run.add_input("gold.enterprise_profile")
        raise RuntimeError("政策匹配失败 boom")
    # an API read (a reader: input only, with the rows served)
    api = JobRun("api.zsj_data_portal", settings, job_type="STREAMING", integration="API")
    api.add_input(DatasetRef("gold.enterprise_tags", version=4, rows=20))
    api.start()
    api.complete()
    return read_events(settings.lineage_path)


def _dbt_events(settings, parent=None):
    from govlake.transform.dbt_lineage import emit_dbt_lineage
    from govlake.transform.runner import NodeResult

    class NoCatalog:  # the relations are not built here: the schema comes from the YAML columns
        def table(self, name):
            raise RuntimeError(f"no table {name}")

    manifest = json.loads((FIXTURES / "dbt_manifest.json").read_text(encoding="utf-8"))

    def node(uid, status, failures=None, message=None):
        n = manifest["nodes"][uid]
        return NodeResult(unique_id=uid, name=n["name"], resource_type=n["resource_type"], status=status,
                          message=message, seconds=0.1, failures=failures)

    results = [
        node("model.govlake.stg_departments", "success"),
        node("test.govlake.not_null_stg_departments_code.1a2b", "pass", 0),
        node("test.govlake.unique_stg_departments_code.3c4d", "fail", 2),
        node("model.govlake.dim_departments", "success"),
        node("test.govlake.accepted_values_dim_departments_dept_kind.5e6f", "warn", 1),
        node("test.govlake.unique_key_dim_departments.7a8b", "skipped"),
        node("model.govlake.dim_streets", "error", message="Runtime Error: column street_code not found"),
    ]
    runs = emit_dbt_lineage(NoCatalog(), settings, manifest, results, parent_run=parent, nominal_time="2026-11-21")
    return runs, read_events(settings.lineage_path)


# -- tests -----------------------------------------------------------------------------------------
def test_step_events_validate(settings, spec):
    events = _step_events(settings)
    n = _assert_valid(events, spec)
    assert n == 16  # 8 runs x START/terminal (one is the check run of profile.build's output)
    by_job = {}
    for e in events:
        by_job.setdefault(e["job"]["name"], []).append(e)
    # one producer for every event and facet
    producers = {e["producer"] for e in events} | {
        f["_producer"] for e in events for f in _all_facets(e)}
    assert producers == {PRODUCER}
    # column lineage: transformations with type and subtype, no deprecated field
    bronze = by_job["ingest_petitions"][-1]["outputs"][0]
    f = bronze["facets"]["columnLineage"]["fields"]["ticket_id"]
    assert set(f) == {"inputFields"}
    assert f["inputFields"][0]["transformations"] == [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}]
    assert bronze["namespace"] == "file" and bronze["name"] == str(settings.tables_dir / "bronze" / "petitions")
    assert bronze["facets"]["version"]["datasetVersion"] == "3"
    assert bronze["outputFacets"]["outputStatistics"]["rowCount"] == 42
    dept_in = by_job["ingest_departments"][-1]["inputs"][0]
    assert (dept_in["namespace"], dept_in["name"]) == ("file", str(settings.catalog_dir / "departments.yaml"))
    prof = by_job["profile.build"][-1]["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert prof["revenue_3y_wan"]["inputFields"][1]["transformations"][0] == {
        "type": "DIRECT", "subtype": "TRANSFORMATION", "description": "sum of the last 3 years' revenue"}
    assert prof["uscc_hash"]["inputFields"][0]["transformations"][0]["masking"] is True
    # assertions sit on inputs, as input facets
    q = by_job["quality.bronze.petitions"][-1]["inputs"][0]
    assert "dataQualityAssertions" not in q["facets"]
    assert q["inputFacets"]["dataQualityAssertions"]["assertions"][0]["column"] == "title"
    assert q["inputFacets"]["dataQualityMetrics"]["columnMetrics"]["title"]["nullCount"] == 1
    check = by_job["quality.gold.enterprise_profile"]
    assert [e["eventType"] for e in check] == ["START", "COMPLETE"]
    assert check[-1]["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0]["severity"] == "ERROR"
    parent = check[-1]["run"]["facets"]["parent"]
    assert parent["job"]["name"] == "profile.build" and parent["run"]["runId"] == by_job["profile.build"][0]["run"]["runId"]
    # parents and roots of nested runs
    step_id = by_job["govlake.ingest"][0]["run"]["runId"]
    p = by_job["ingest_petitions"][0]["run"]["facets"]["parent"]
    assert p["run"]["runId"] == step_id and p["root"]["run"]["runId"] == step_id
    assert p["job"] == {"namespace": settings.lineage_namespace, "name": "govlake.ingest"}
    assert "parent" not in by_job["govlake.ingest"][0]["run"]["facets"]
    # FAIL carries the error; the API read its row count
    fail = by_job["match_policies"][-1]
    assert fail["eventType"] == "FAIL" and "政策匹配失败" in fail["run"]["facets"]["errorMessage"]["message"]
    assert by_job["api.zsj_data_portal"][-1]["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 20


def _all_facets(e):
    yield from (e["run"].get("facets") or {}).values()
    yield from (e["job"].get("facets") or {}).values()
    for d in [*e.get("inputs", []), *e.get("outputs", [])]:
        for k in ("facets", "inputFacets", "outputFacets"):
            yield from (d.get(k) or {}).values()


def test_dbt_events_validate(settings, spec):
    step = JobRun("govlake.transform", settings, integration="GOVLAKE")
    runs, events = _dbt_events(settings, parent=step)
    n = _assert_valid(events, spec)
    assert n == 10  # 3 models x START/terminal + 2 test runs x START/COMPLETE
    by_job = {}
    for e in events:
        by_job.setdefault(e["job"]["name"], []).append(e)
    assert [e["eventType"] for e in by_job["dbt.dim_streets"]] == ["START", "FAIL"]
    stg = by_job["dbt.stg_departments"][-1]
    assert stg["job"]["facets"]["jobType"]["jobType"] == "MODEL"
    assert stg["job"]["facets"]["jobType"]["integration"] == "DBT"
    out = stg["outputs"][0]
    assert (out["namespace"], out["name"]) == (settings.lineage_namespace, "dbt.stg_departments")
    assert "dataQualityAssertions" not in out["facets"]
    src = out["facets"]["columnLineage"]["fields"]["code"]["inputFields"][0]
    assert (src["namespace"], src["name"], src["field"]) == ("file", str(settings.tables_dir / "bronze" / "departments"), "code")
    # the dbt tests of a model: a quality.dbt.<model> run reading the model
    tests = by_job["quality.dbt.stg_departments"][-1]
    (inp,) = tests["inputs"]
    assert inp["name"] == "dbt.stg_departments"
    asserts = {(a["assertion"], a["success"], a.get("actual")) for a in inp["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert asserts == {("not_null", True, "0"), ("unique", False, "2")}
    assert tests["run"]["facets"]["parent"]["run"]["runId"] == stg["run"]["runId"]
    dim_tests = by_job["quality.dbt.dim_departments"][-1]["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"], a["severity"]) for a in dim_tests] == [("accepted_values", False, "warn")]
    # derivations are transformation descriptions
    dim = by_job["dbt.dim_departments"][-1]["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert dim["is_street_office"]["inputFields"][0]["transformations"][0]["description"] == "kind = '街道'"
    assert dim["dept_code"]["inputFields"][0]["name"] == "dbt.stg_departments"
    # every dbt run sits under the step, with the step as root
    for e in events:
        if e["job"]["name"].startswith("dbt."):
            assert e["run"]["facets"]["parent"]["run"]["runId"] == step.run_id
            assert e["run"]["facets"]["parent"]["root"]["run"]["runId"] == step.run_id
    assert [r.job for r in runs] == ["dbt.stg_departments", "dbt.dim_departments", "dbt.dim_streets"]


def test_parent_from_airflow_environment(settings, spec, monkeypatch):
    """The DAG passes the task's run (lineage_parent_id) and the DAG run (lineage_root_parent_id):
    the step run is the task's child; everything under it has the DAG run as root."""
    monkeypatch.setenv("OPENLINEAGE_PARENT_ID", str(AIRFLOW_TASK))
    monkeypatch.setenv("OPENLINEAGE_ROOT_PARENT_ID", str(AIRFLOW_DAG))
    with job_run("govlake.transform", settings, integration="GOVLAKE",
                 nominal_time="2026-11-21T00:00:00+08:00") as step:
        _, _ = _dbt_events(settings, parent=step)
    events = read_events(settings.lineage_path)
    _assert_valid(events, spec)
    step_events = [e for e in events if e["job"]["name"] == "govlake.transform"]
    assert len(step_events) == 2
    for e in step_events:
        p = e["run"]["facets"]["parent"]
        assert p["run"]["runId"] == AIRFLOW_TASK.run_id
        assert p["job"] == {"namespace": "airflow", "name": "govlake_daily.transform"}
        assert p["root"] == {"run": {"runId": AIRFLOW_DAG.run_id}, "job": {"namespace": "airflow", "name": "govlake_daily"}}
    for e in events:
        assert e["run"]["facets"]["parent"]["root"]["run"]["runId"] == AIRFLOW_DAG.run_id, e["job"]["name"]
    # without a root the task is the root; a malformed value is an error, not a detached run
    monkeypatch.delenv("OPENLINEAGE_ROOT_PARENT_ID")
    r = JobRun("govlake.match", settings)
    assert r.parent == AIRFLOW_TASK and r.root == AIRFLOW_TASK
    monkeypatch.setenv("OPENLINEAGE_PARENT_ID", "airflow/no-run-id")
    with pytest.raises(ValueError, match="OPENLINEAGE_PARENT_ID"):
        JobRun("govlake.match", settings)
    # namespace with slashes (the provider's namespace may be a URI)
    assert RunRef.parse(f"airflow://host/ns/dag.task/{AIRFLOW_TASK.run_id}") == RunRef(
        "airflow://host/ns", "dag.task", AIRFLOW_TASK.run_id)


def test_object_store_lake_names(tmp_path, spec):
    from govlake.settings import Settings

    s = Settings(lake_root="s3a://govlake-lake/lake", lineage_file=tmp_path / "events.jsonl")
    with job_run("ingest_petitions", s) as run:
        run.add_input("landing.petitions")
        run.add_output(DatasetRef("bronze.petitions", rows=1,
                                  column_lineage={"ticket_id": [("landing.petitions", "ticket_id")]}))
    events = read_events(s.lineage_path)
    _assert_valid(events, spec)
    out = events[-1]["outputs"][0]
    assert (out["namespace"], out["name"]) == ("s3://govlake-lake", "lake/tables/bronze/petitions")
    assert events[-1]["inputs"][0]["name"] == "lake/landing/petitions"
    assert location_dataset("/data/lake/tables/gold/x") == ("file", "/data/lake/tables/gold/x")
    assert location_dataset("file:///data/x") == ("file", "/data/x")
    assert location_dataset("hdfs://nn:8020/lake/x") == ("hdfs://nn:8020", "/lake/x")


def test_transports_from_settings(settings, spec, caplog):
    """console and noop are the client's own transports too; the file one appends JSON lines."""
    import logging

    with caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"), \
            job_run("console_job", settings.model_copy(update={"lineage_transport": "console"})):
        pass
    lines = [r.getMessage() for r in caplog.records if r.name == "openlineage.client.transport.console"]
    assert len(lines) == 2 and all(not validate_event(json.loads(m), spec) for m in lines)
    with job_run("quiet_job", settings.model_copy(update={"lineage_transport": "noop"})):
        pass
    assert not settings.lineage_path.exists()
    with pytest.raises(ValueError, match="lineage_transport"):
        JobRun("x", settings.model_copy(update={"lineage_transport": "carrier-pigeon"}))


# -- the validator itself ------------------------------------------------------------------------
def _event(**over):
    ev = {"eventType": "COMPLETE", "eventTime": "2026-11-21T02:00:00+08:00", "producer": PRODUCER,
          "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
          "run": {"runId": str(uuid.uuid4()), "facets": {}}, "job": {"namespace": "govlake", "name": "j", "facets": {}},
          "inputs": [], "outputs": []}
    ev.update(over)
    return ev


def _facet(name, **fields):
    base = {"DataQualityAssertionsDatasetFacet": "1-1-0", "ColumnLineageDatasetFacet": "1-2-0",
            "ParentRunFacet": "1-2-0"}[name]
    return {"_producer": PRODUCER,
            "_schemaURL": f"https://openlineage.io/spec/facets/{base}/{name}.json#/$defs/{name}", **fields}


def test_validator_rejects_what_the_issue_measured(spec):
    assert validate_event(_event(), spec) == []
    # deprecated column-lineage fields
    cl = _facet("ColumnLineageDatasetFacet", fields={"a": {
        "inputFields": [{"namespace": "file", "name": "/x", "field": "a"}],
        "transformationType": "IDENTITY", "transformationDescription": "copy"}})
    errs = validate_event(_event(outputs=[{"namespace": "file", "name": "/y", "facets": {"columnLineage": cl}}]), spec)
    assert len(errs) == 2 and all("deprecated" in e for e in errs), errs
    assert any(e.startswith("outputs[0].facets.columnLineage.fields.a.transformationType") for e in errs)
    # assertions among the dataset facets instead of inputFacets
    dq = _facet("DataQualityAssertionsDatasetFacet", assertions=[{"assertion": "not_null", "success": True}])
    errs = validate_event(_event(inputs=[{"namespace": "file", "name": "/x", "facets": {"dataQualityAssertions": dq}}]), spec)
    assert errs == [("inputs[0].facets.dataQualityAssertions: DataQualityAssertionsDatasetFacet is an "
                     "InputDatasetFacet, it belongs under inputFacets (found under facets)")]
    assert validate_event(_event(inputs=[{"namespace": "file", "name": "/x", "inputFacets": {"dataQualityAssertions": dq}}]), spec) == []
    # facet contents, formats and the core schema
    bad_dq = _facet("DataQualityAssertionsDatasetFacet", assertions=[{"assertion": "not_null"}])
    errs = validate_event(_event(inputs=[{"namespace": "file", "name": "/x", "inputFacets": {"dataQualityAssertions": bad_dq}}]), spec)
    assert errs == ["inputs[0].inputFacets.dataQualityAssertions.assertions[0]: 'success' is a required property"]
    parent = _facet("ParentRunFacet", run={"runId": "not-a-uuid"}, job={"namespace": "a", "name": "b"})
    errs = validate_event(_event(run={"runId": str(uuid.uuid4()), "facets": {"parent": parent}}), spec)
    assert errs == ["run.facets.parent.run.runId: 'not-a-uuid' is not a 'uuid'"]
    assert any("eventTime" in e for e in validate_event(_event(eventTime="2026-11-21"), spec))
    assert any("producer" in e for e in validate_event(_event(producer="not a uri"), spec))
    assert any("eventType" in e for e in validate_event(_event(eventType="DONE"), spec))
    # a facet found by name when its _schemaURL is not in the spec folder; custom facets pass
    by_name = dict(dq, _schemaURL="https://example.org/old/DataQualityAssertionsDatasetFacet.json")
    assert validate_event(_event(inputs=[{"namespace": "f", "name": "x", "facets": {"dataQualityAssertions": by_name}}]), spec)
    custom = {"_producer": PRODUCER, "_schemaURL": "https://example.org/Custom.json", "anything": 1}
    assert validate_event(_event(run={"runId": str(uuid.uuid4()), "facets": {"govlake_custom": custom}}), spec) == []


def test_cli_validate(settings, spec, monkeypatch, tmp_path):
    from govlake.lineage.cli import lineage
    from govlake.settings import get_settings

    events = _step_events(settings)
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(lineage, ["validate"])
        assert r.exit_code == 0, r.output
        assert f"{len(events)} events, {len(events)} pass, 0 fail" in r.output
        # the old table form still works
        r = CliRunner().invoke(lineage, ["bronze.petitions", "--upstream"])
        assert r.exit_code == 0 and "<- landing.petitions  via ingest_petitions" in r.output, r.output
    finally:
        get_settings.cache_clear()
    bad = tmp_path / "old.jsonl"
    old = _event(outputs=[{"namespace": "file", "name": "/y", "facets": {"columnLineage": _facet(
        "ColumnLineageDatasetFacet", fields={"a": {"inputFields": [], "transformationType": "IDENTITY"}})}}])
    bad.write_text(json.dumps(old) + "\n" + json.dumps(_event()) + "\n", encoding="utf-8")
    r = CliRunner().invoke(lineage, ["validate", str(bad)])
    assert r.exit_code == 1
    assert "2 events, 1 pass, 1 fail" in r.output and "transformationType: deprecated" in r.output
    assert validate_file(bad, spec).failed == 1
