"""The scoring contract (what the data sandbox calls), the CLI and GET /enterprises/{uscc}/pre-credit
over a profile committed by delta-rs (no Spark)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from deltalake import write_deltalake
from fastapi.testclient import TestClient

from govlake import access
from govlake.lakehouse import Lakehouse
from govlake.precredit import credit_line, outcomes
from govlake.precredit import model as M
from govlake.precredit.features import matrix
from govlake.precredit.score import OUTPUT_SCHEMA, score

N_PROFILE = 40


def _profile_rows() -> pa.Table:
    return outcomes.generate_loans(N_PROFILE, 21).drop(["true_pd", "defaulted"])


@pytest.fixture
def lake(settings) -> Lakehouse:
    lk = Lakehouse(None, settings)
    write_deltalake(str(lk.path("gold.enterprise_profile")), _profile_rows(), mode="append")
    return lk


def test_score_contract(published, settings):
    t = _profile_rows()
    out = score(t, settings)
    assert out.schema.equals(OUTPUT_SCHEMA) and out.num_rows == t.num_rows
    assert out.column("uscc").equals(t.column("uscc"))
    rows = out.to_pylist()
    assert {r["model_version"] for r in rows} == {published.meta["version"]}
    pd_ = np.array([r["pd"] for r in rows])
    assert ((0 < pd_) & (pd_ < 1)).all()
    np.testing.assert_allclose(pd_, published.predict_pd(matrix(t)), atol=1e-6)
    low, high = credit_line.credit_range(pd_, t.column("revenue_y1_wan").to_numpy(zero_copy_only=False),
                                         t.column("total_tax_y1_wan").to_numpy(zero_copy_only=False),
                                         t.column("credit_dishonest_active").fill_null(False).to_numpy(zero_copy_only=False))
    assert [r["credit_high_wan"] for r in rows] == pytest.approx(list(high), abs=0.11)
    assert all(0 <= r["credit_low_wan"] <= r["credit_high_wan"] for r in rows)
    assert all(isinstance(r["reasons"], list) and len(r["reasons"]) <= 3 for r in rows)
    assert any(r["credit_high_wan"] > 0 for r in rows) and any(r["reasons"] for r in rows)
    # an all-null enterprise is scored (every factor in its 缺失 bin); a missing column is refused
    blank = pa.table({c: pa.nulls(1, t.schema.field(c).type) if c != "uscc" else pa.array(["X1"])
                      for c in t.column_names})
    assert score(blank, settings).num_rows == 1
    with pytest.raises(KeyError, match="revenue_y1_wan"):
        score(t.drop(["revenue_y1_wan"]), settings)


def test_no_published_model_is_an_error(settings):
    with pytest.raises(FileNotFoundError, match="precredit train"):
        score(_profile_rows(), settings)


def test_versions_evaluate_and_cli(published, settings, lake, monkeypatch):
    from govlake.precredit.cli import precredit

    root = M.models_root(settings) / published.meta["version"]
    meta = json.loads((root / M.META_FILE).read_text(encoding="utf-8"))
    assert meta["training_data"]["n"] == 5000 and meta["holdout"]["n_test"] == 1250
    assert M.published_version(settings) == published.meta["version"]
    assert M.evaluate(published)["auc"] == meta["holdout"]["metrics"][published.kind]["auc"]
    monkeypatch.setattr("govlake.settings.get_settings", lambda: settings)
    r = CliRunner().invoke(precredit, ["evaluate"])
    assert r.exit_code == 0, r.output
    assert f"AUC {meta['holdout']['metrics'][published.kind]['auc']:.4f}" in r.output
    uscc = _profile_rows().column("uscc")[0].as_py()
    r = CliRunner().invoke(precredit, ["score", "--uscc", uscc, "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["uscc"] == uscc and got == score(_profile_rows().slice(0, 1), settings).to_pylist()[0]
    r = CliRunner().invoke(precredit, ["score", "--uscc", "NOPE"])
    assert r.exit_code != 0 and "无此企业画像" in r.output


@pytest.fixture
def store(settings):
    s = access.open_store(settings)
    access.create_account(s, "admin", None, "admin")
    access.create_account(s, "owner_zsj", None, "owner", "ZSJ")  # gold.enterprise_profile's owner
    yield s
    s.close()


def _grant(store, consumer: str, dept: str, **kw) -> dict:
    if access.get_consumer(store, consumer) is None:
        access.add_consumer(store, consumer, consumer, dept, by="admin")
    a = access.apply(store, consumer, "gold.enterprise_profile", "测试：企业查询本企业预授信", by="admin", **kw)
    access.approve(store, a.id, by="owner_zsj")
    return {"Authorization": f"Bearer {access.issue_key(store, consumer, by='admin').token}"}


def test_route_own_enterprise_only(published, settings, lake, store):
    own, other = (_profile_rows().column("uscc")[i].as_py() for i in (0, 1))
    app = create_client(settings)
    ent = _grant(store, "ent_app_one", "GXJ", row_scope={"uscc": [own]})
    r = app.get(f"/enterprises/{own}/pre-credit", headers=ent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {**score(_profile_rows().slice(0, 1), settings).to_pylist()[0], "profile_version": 0}
    assert app.get(f"/enterprises/{other}/pre-credit", headers=ent).status_code == 403
    assert app.get(f"/enterprises/{own}/pre-credit").status_code == 401
    dept = _grant(store, "dept_finance", "GXJ")
    assert app.get(f"/enterprises/{other}/pre-credit", headers=dept).status_code == 200
    assert app.get("/enterprises/914403069999999999/pre-credit", headers=dept).status_code == 404
    access.add_consumer(store, "no_grant_app", "no grant", "GXJ", by="admin")
    nobody = {"Authorization": f"Bearer {access.issue_key(store, 'no_grant_app', by='admin').token}"}
    assert app.get(f"/enterprises/{own}/pre-credit", headers=nobody).status_code == 403
    audit = access.query_audit(store, product="gold.enterprise_profile", consumer="ent_app_one")
    assert {a["outcome"] for a in audit} >= {"allowed", "denied"}
    spec = app.get("/openapi.json").json()["paths"]["/enterprises/{uscc}/pre-credit"]["get"]["responses"]
    assert {"200", "401", "403", "404", "503"} <= set(spec)


def test_route_without_a_model_is_503(settings, lake, store):
    own = _profile_rows().column("uscc")[0].as_py()
    ent = _grant(store, "ent_app_two", "GXJ", row_scope={"uscc": [own]})
    assert create_client(settings).get(f"/enterprises/{own}/pre-credit", headers=ent).status_code == 503


def create_client(settings) -> TestClient:
    from govlake.api.app import create_app

    return TestClient(create_app(settings))  # the app mounts the pre-credit route


def test_route_street_scoped_grant_is_checked_against_the_row(published, settings, lake, store):
    rows = _profile_rows().select(["uscc", "street_code"]).to_pylist()
    street = next(r["street_code"] for r in rows if r["street_code"])
    inside = next(r["uscc"] for r in rows if r["street_code"] == street)
    outside = next(r["uscc"] for r in rows if r["street_code"] != street)
    h = _grant(store, "street_office", "GXJ", row_scope={"street_code": [street]})
    app = create_client(settings)
    assert app.get(f"/enterprises/{inside}/pre-credit", headers=h).status_code == 200
    assert app.get(f"/enterprises/{outside}/pre-credit", headers=h).status_code == 403
