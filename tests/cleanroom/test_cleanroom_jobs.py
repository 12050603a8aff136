"""Allowed sandbox jobs give the right figures (computed here from the generated rows), and every
job is audited and appears in lineage; the CLI, the HTTP route and the authorisations table."""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict

import pytest
from cleanroom_lake import OTHER, PARTY, PROFILE, STREETS

from govlake import access, cleanroom
from govlake.cleanroom.authorisations import TABLE, _append, all_authorisations, record
from govlake.lineage.emitter import read_events

SQL = ("SELECT street_code, count(*) AS n, avg(revenue_y1_wan) AS avg_rev, sum(insured_headcount_y1) AS staff "
       "FROM gold.enterprise_profile GROUP BY street_code ORDER BY street_code")


def _by_street(rows):
    out = defaultdict(list)
    for x in rows:
        out[x["street_code"]].append(x)
    return out


def test_aggregate_numbers_audit_and_lineage(settings, store, lake, rows):
    r = cleanroom.submit_sql(settings, PARTY, SQL, store=store)
    want = []
    for street, xs in sorted(_by_street(rows).items()):
        revs = [x["revenue_y1_wan"] for x in xs if x["revenue_y1_wan"] is not None]
        want.append({"street_code": street, "n": len(xs), "avg_rev": pytest.approx(statistics.fmean(revs)),
                     "staff": sum(x["insured_headcount_y1"] for x in xs)})
    assert r.rows == want and r.columns == ["street_code", "n", "avg_rev", "staff"]
    assert (r.cells_released, r.cells_suppressed, r.enterprises) == (3, 0, len(rows))
    assert r.inputs == {PROFILE: lake.version(PROFILE)}

    a = [x for x in access.query_audit(store, consumer=PARTY) if x["id"] == r.audit_id][0]
    assert (a["action"], a["outcome"], a["rows"], a["product"], a["version"]) == \
        ("cleanroom.job", "allowed", 3, PROFILE, lake.version(PROFILE))
    assert a["filters"]["code_sha256"] == hashlib.sha256(SQL.encode()).hexdigest() == r.code_sha256
    assert a["filters"]["inputs"] == {PROFILE: lake.version(PROFILE)} and a["filters"]["job_id"] == r.job_id
    assert f"enterprises {len(rows)}" in a["detail"] and a["grant_id"] is not None
    assert access.verify_audit(store).ok

    runs = [e for e in read_events(settings.lineage_path) if e["run"]["runId"] == r.run_id]
    assert [e["eventType"] for e in runs] == ["START", "COMPLETE"]
    assert runs[-1]["job"]["name"] == f"cleanroom.{PARTY}"
    (inp,) = runs[-1]["inputs"]
    assert inp["facets"]["symlinks"]["identifiers"][0]["name"] == PROFILE
    assert inp["facets"]["version"]["datasetVersion"] == str(lake.version(PROFILE))

    job = cleanroom.Ledger(settings).jobs(PARTY)[0]
    assert (job["id"], job["outcome"], job["cells_released"], job["audit_id"], job["code"]) == \
        (r.job_id, "allowed", 3, r.audit_id, SQL)


def test_refused_job_fails_its_lineage_run(settings, store):
    with pytest.raises(cleanroom.JobRefused) as e:
        cleanroom.submit_sql(settings, OTHER, "SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY 1",
                             store=store)
    runs = [x for x in read_events(settings.lineage_path) if x["job"]["name"] == f"cleanroom.{OTHER}"]
    assert [x["eventType"] for x in runs] == ["START", "FAIL"]
    assert runs[-1]["inputs"][0]["facets"]["symlinks"]["identifiers"][0]["name"] == PROFILE
    assert "no grant" in runs[-1]["run"]["facets"]["errorMessage"]["message"]
    assert e.value.status == 403


def test_k_per_consumer_and_row_scope(settings, store, rows):
    ledger = cleanroom.Ledger(settings)
    ledger.set_k(PARTY, 22, by="admin", at="2026-12-06T00:00:00Z")
    with pytest.raises(ValueError):
        ledger.set_k(PARTY, 2, by="admin", at="2026-12-06T00:00:00Z")
    r = cleanroom.submit_sql(settings, PARTY, "SELECT street_code, count(*) AS n FROM gold.enterprise_profile "
                             "GROUP BY street_code", store=store, ledger=ledger)
    assert r.k == 22 and {x["street_code"]: x["n"] for x in r.rows} == {s: n for s, n in STREETS.items() if n >= 22}
    assert r.cells_suppressed == sum(1 for n in STREETS.values() if n < 22)

    street = "440306018"
    a = access.apply(store, OTHER, PROFILE, "保险风险评估（沙箱）", by="admin", row_scope={"street_code": [street]})
    access.approve(store, a.id, by="owner_zsj")
    r = cleanroom.submit_sql(settings, OTHER, "SELECT industry_code, count(*) AS n FROM gold.enterprise_profile "
                             "GROUP BY industry_code", store=store, ledger=ledger)
    counts = defaultdict(int)
    for x in rows:
        if x["street_code"] == street:
            counts[x["industry_code"]] += 1
    assert {x["industry_code"]: x["n"] for x in r.rows} == {i: n for i, n in counts.items() if n >= 10}
    ledger.close()


def test_join_on_uscc(settings, store, rows, tags):
    r = cleanroom.submit_sql(settings, PARTY, "SELECT p.street_code, t.tag_id, count(*) AS n, "
                             "count(DISTINCT uscc) AS ents FROM gold.enterprise_profile p "
                             "JOIN gold.enterprise_tags t USING (uscc) WHERE t.tag_id = 'T_C' "
                             "GROUP BY p.street_code, t.tag_id", store=store)
    assert {x["street_code"]: x["n"] for x in r.rows} == STREETS
    assert all(x["ents"] == x["n"] for x in r.rows) and set(r.inputs) == {PROFILE, "gold.enterprise_tags"}


def test_authorisations_table_is_append_only_and_idempotent(settings, lake):
    a = record(settings, "91440300" + "0" * 9 + "1", PARTY, "融资预授信", days=90, by="admin")
    assert lake.row_count(TABLE) == 1
    _append(lake, {**a.__dict__})            # a retried write of the same row commits nothing
    assert lake.row_count(TABLE) == 1
    cleanroom.revoke_authorisation(settings, a.authorisation_id, by="admin")
    assert lake.row_count(TABLE) == 2 and len(lake.history(TABLE)) == 2
    (now,) = all_authorisations(settings)
    assert now.revoked_at is not None and not now.active()
    with pytest.raises(cleanroom.AuthorisationError):
        record(settings, "not-a-uscc", PARTY, "融资预授信", days=90, by="admin")


def test_cli(settings, store, rows, monkeypatch):
    from click.testing import CliRunner

    from govlake.cli import main
    from govlake.settings import get_settings

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    monkeypatch.setenv("GOVLAKE_CATALOG_DIR", str(settings.catalog_dir))
    get_settings.cache_clear()
    try:
        run = CliRunner().invoke
        out = run(main, ["cleanroom", "authorise", rows[0]["uscc"], "--party", PARTY, "--purpose", "融资预授信",
                         "--days", "30", "--by", "admin"])
        assert out.exit_code == 0 and "authorises bank_a" in out.output, out.output
        out = run(main, ["cleanroom", "submit", "--consumer", PARTY, "--model", "tiny_score", "--uscc", rows[0]["uscc"]])
        assert out.exit_code == 0 and rows[0]["uscc"] in out.output, out.output
        out = run(main, ["cleanroom", "submit", "--consumer", PARTY, "--model", "tiny_score", "--uscc", rows[1]["uscc"]])
        assert out.exit_code == 1 and "not authorised" in out.output
        out = run(main, ["cleanroom", "submit", "--consumer", PARTY, "--sql", SQL])
        assert out.exit_code == 0 and "released 3" in out.output, out.output
        out = run(main, ["cleanroom", "submit", "--consumer", PARTY, "--sql", "SELECT * FROM gold.enterprise_profile"])
        assert out.exit_code == 1 and "refused" in out.output
        out = run(main, ["cleanroom", "jobs", "--consumer", PARTY])
        assert out.exit_code == 0 and out.output.count("#") >= 4 and "denied" in out.output
        out = run(main, ["cleanroom", "set-k", PARTY, "12", "--by", "owner_zsj"])
        assert out.exit_code == 1                                   # admins only
    finally:
        get_settings.cache_clear()


def test_http_route(settings, store, rows):
    from fastapi.testclient import TestClient

    from govlake.api.app import create_app

    app = create_app(settings)  # the app mounts POST /cleanroom/jobs
    c = TestClient(app)
    h = {"Authorization": f"Bearer {access.issue_key(app.state.store, PARTY, by='admin').token}"}
    r = c.post("/cleanroom/jobs", json={"sql": SQL}, headers=h)
    assert r.status_code == 200 and [x["n"] for x in r.json()["rows"]] == [STREETS[s] for s in sorted(STREETS)]
    assert c.post("/cleanroom/jobs", json={"sql": SQL}).status_code == 401
    r = c.post("/cleanroom/jobs", json={"sql": "SELECT uscc, count(*) FROM gold.enterprise_profile GROUP BY uscc"},
               headers=h)
    assert r.status_code == 400 and "uscc" in r.json()["detail"]
    r = c.post("/cleanroom/jobs", json={"model": "tiny_score", "uscc": [rows[0]["uscc"]]}, headers=h)
    assert r.status_code == 403 and "not authorised" in r.json()["detail"]
    assert c.post("/cleanroom/jobs", json={"model": "nope"}, headers=h).status_code == 404
    assert c.post("/cleanroom/jobs", json={"sql": SQL, "model": "tiny_score"}, headers=h).status_code == 422
    audit = access.query_audit(app.state.store, consumer=PARTY, limit=20)
    requests = [x for x in audit if x["action"].startswith("POST /cleanroom/jobs")]
    jobs = [x for x in audit if x["action"] == "cleanroom.job"]
    assert len(requests) == 5 and len(jobs) == 4   # the 422 ran no job
    assert sorted(x["status"] for x in requests) == [200, 400, 403, 404, 422]


def test_registry_names_the_precredit_model(settings):
    """The registered pre-credit model loads, reads only fields it declares, and its code hash is
    its module's source."""
    from govlake.cleanroom.model_registry import load_registry
    from govlake.precredit.score import INPUT_COLUMNS

    m = load_registry(settings)["precredit"]
    assert callable(m.load()) and m.purpose == "融资预授信" and m.input == PROFILE
    assert set(m.columns) | {"uscc"} == set(INPUT_COLUMNS)
    assert m.code_sha256() == hashlib.sha256(m.source_file().read_bytes()).hexdigest()
