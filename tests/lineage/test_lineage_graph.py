from __future__ import annotations

from click.testing import CliRunner

from govlake.lineage import DatasetRef, job_run
from govlake.lineage.graph import load_graph


def _pipeline(settings):
    """Three real job runs and one API read, as the pipeline would emit them."""
    with job_run("ingest.petitions", settings) as run:
        run.add_input("landing.petitions")
        run.add_output(DatasetRef("bronze.petitions", rows=10, column_lineage={
            "submit_time": [("landing.petitions", "submit_time")],
            "street_code": [("landing.petitions", "street_code")]}))
    with job_run("ingest.departments", settings) as run:
        run.add_output(DatasetRef("bronze.departments", rows=3))
    with job_run("dbt.petition_facts", settings) as run:
        run.add_input("bronze.petitions")
        run.add_input("bronze.departments")
        run.add_output(DatasetRef("silver.petition_facts", column_lineage={
            "submit_date": [("bronze.petitions", "submit_time")],
            "dept_name": [("bronze.departments", "name")]},
            transformations={"submit_date": "to_date(submit_time)", "dept_name": "join on handling_dept_code"}))
    with job_run("dbt.petition_sla", settings) as run:
        run.add_input("silver.petition_facts")
        run.add_output(DatasetRef("gold.petition_sla_dept_monthly", column_lineage={
            "month": [("silver.petition_facts", "submit_date")]},
            transformations={"month": "date_trunc('month', submit_date)"}))
    with job_run("api.leaders_cockpit", settings) as run:
        run.add_input("gold.petition_sla_dept_monthly")
    # a failed run must not create edges
    try:
        with job_run("broken", settings) as run:
            run.add_input("gold.petition_sla_dept_monthly")
            run.add_output("gold.nothing")
            raise RuntimeError("x")
    except RuntimeError:
        pass


def test_upstream_downstream_and_depth(settings):
    _pipeline(settings)
    g = load_graph(settings.lineage_path)
    up = g.upstream("gold.petition_sla_dept_monthly")
    assert {(lvl, e.source) for lvl, e in up} == {
        (1, "silver.petition_facts"), (2, "bronze.petitions"), (2, "bronze.departments"), (3, "landing.petitions")}
    assert all(e.run_id and e.time for _, e in up)
    assert [e.source for _, e in g.upstream("gold.petition_sla_dept_monthly", depth=1)] == ["silver.petition_facts"]
    down = g.downstream("bronze.petitions")
    assert [(lvl, e.target, e.job) for lvl, e in down] == [
        (1, "silver.petition_facts", "dbt.petition_facts"),
        (2, "gold.petition_sla_dept_monthly", "dbt.petition_sla"),
        (3, "job:api.leaders_cockpit", "api.leaders_cockpit")]
    assert [e.job for e in g.readers("gold.petition_sla_dept_monthly")] == ["api.leaders_cockpit"]
    assert "gold.nothing" not in g.tables


def test_column_origins_follow_the_facets(settings):
    _pipeline(settings)
    g = load_graph(settings.lineage_path)
    origins = g.column_origins("gold.petition_sla_dept_monthly", "month")
    assert [(t, c) for t, c, _ in origins] == [("landing.petitions", "submit_time")]
    path = origins[0][2]
    assert [s.transformation for s in path] == ["date_trunc('month', submit_date)", "to_date(submit_time)", None]
    assert g.column_origins("silver.petition_facts", "dept_name")[0][:2] == ("bronze.departments", "name")


def test_cli(settings, monkeypatch):
    from govlake.lineage.cli import lineage
    from govlake.settings import get_settings

    _pipeline(settings)
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(lineage, ["bronze.petitions"])
        assert r.exit_code == 0, r.output
        assert "<- landing.petitions  via ingest.petitions" in r.output
        assert "used by api.leaders_cockpit" in r.output
        r = CliRunner().invoke(lineage, ["gold.petition_sla_dept_monthly", "--column", "month"])
        assert r.exit_code == 0 and "<- landing.petitions.submit_time" in r.output and "to_date(submit_time)" in r.output
        r = CliRunner().invoke(lineage, ["bronze.petitions", "--downstream", "--depth", "1"])
        assert "upstream" not in r.output and "gold." not in r.output and "silver.petition_facts" in r.output
        r = CliRunner().invoke(lineage, ["gold.unknown"])
        assert r.exit_code != 0 and "no lineage recorded" in r.output
    finally:
        get_settings.cache_clear()
