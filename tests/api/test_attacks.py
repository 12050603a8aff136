"""Attacks on the data-product API: each is refused (or served nothing it should not), recorded in
the audit trail, and no protected value reaches the response. Tables are written with delta-rs
(no Spark), a few rows each."""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from govlake import access
from govlake.api.app import create_app

from small_lake import ADDRESS, EQUITY, MY_STREET, OTHER_STREET, PHONE, U1, U2, write_table as _write


@pytest.fixture
def lake(small_lake):
    return small_lake


@pytest.fixture
def client(lake, settings, store):
    return TestClient(create_app(settings))


def _audit(store, **kw) -> list[dict]:
    return access.query_audit(store, **{"limit": 1000, **kw})


def _leaks(r, *secrets) -> list:
    return [s for s in secrets if str(s) in r.text]


def test_no_credentials_and_forged_identity_header(client, store, H):
    routes = ["/products", "/products/gold.enterprise_profile", f"/enterprises/{U1}/profile",
              f"/enterprises/{U1}/tags", "/products/gold.enterprise_profile/rows.csv"]
    for url in routes:
        for headers in ({}, {"X-Consumer": "kcj_policy_portal"}, {"Authorization": "Bearer not-a-key"},
                        {"Authorization": "Basic a2NqOnB3"}):
            r = client.get(url, headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (url, headers, r.text)
            assert not _leaks(r, PHONE, "甲科技")
    denied = _audit(store, outcome="denied")
    assert len(denied) == 4 * len(routes) and {d["status"] for d in denied} == {401}
    assert all(d["client"] == "testclient" and d["actor"] is None for d in denied)
    assert sum("X-Consumer header ignored" in (d["detail"] or "") for d in denied) == len(routes)
    # a well-formed key, guessed: refused the same way, its key id kept for the investigation
    fake = "glk_" + "0" * 12 + "_" + "A" * 43
    r = client.get("/products", headers={"Authorization": f"Bearer {fake}"})
    assert r.status_code == 401 and _audit(store, limit=1)[0]["key_id"] == "0" * 12


def test_expired_and_revoked_keys(client, store, monkeypatch):
    k = access.issue_key(store, "kcj_policy_portal", by="admin", days=1)
    auth = {"Authorization": f"Bearer {k.token}"}
    assert client.get(f"/enterprises/{U1}/profile", headers=auth).status_code == 200
    import govlake.access.consumers as consumers

    later = consumers.now() + dt.timedelta(days=2)
    monkeypatch.setattr(consumers, "now", lambda: later)  # two days on: the key has expired
    r = client.get(f"/enterprises/{U1}/profile", headers=auth)
    assert r.status_code == 401 and "expired" in r.json()["detail"] and not _leaks(r, PHONE)
    monkeypatch.undo()
    assert client.get(f"/enterprises/{U1}/profile", headers=auth).status_code == 200
    access.revoke_key(store, k.key_id, by="admin")
    r = client.get(f"/enterprises/{U1}/profile", headers=auth)
    assert r.status_code == 401 and "revoked" in r.json()["detail"] and not _leaks(r, PHONE)
    rows = _audit(store, product=None)
    refused = [x for x in rows if x["key_id"] == k.key_id and x["outcome"] == "denied"]
    assert [x["status"] for x in refused] == [401, 401]
    # nobody can un-revoke: the store keeps decisions
    with pytest.raises(Exception, match="only gains its revocation"):
        with store.write() as db:
            db.execute("UPDATE api_keys SET revoked_at = NULL WHERE key_id = ?", (k.key_id,))


def test_row_scope_of_a_street_office(client, store, H):
    url = "/products/gold.rpt_petition_sla_daily"
    r = client.get(url, headers=H("street_grid"))  # its catalog grant: street_code 440306017 only
    assert r.status_code == 200 and r.json()["total"] == 2
    assert {x["street_code"] for x in r.json()["rows"]} == {MY_STREET}
    r = client.get(url, params={"street_code": OTHER_STREET}, headers=H("street_grid"))
    assert r.status_code == 403 and "outside the grant" in r.json()["detail"] and '"tickets"' not in r.text
    assert client.get(url, headers=H("leaders_cockpit")).json()["total"] == 3  # unscoped grant
    denied = _audit(store, consumer="street_grid", outcome="denied")
    assert len(denied) == 1 and denied[0]["filters"] == {"street_code": OTHER_STREET} and denied[0]["grant_id"]
    ok = _audit(store, consumer="street_grid", outcome="allowed")
    assert ok[0]["rows"] == 2 and ok[0]["purpose"].startswith("诉求办理时效日报") and ok[0]["actor_kind"] == "consumer"


def test_masking_follows_the_catalog_and_masked_columns_cannot_be_filtered(client, store, H, settings, tmp_path):
    r = client.get(f"/enterprises/{U1}/profile", headers=H("gxj_enterprise_service"))  # grant without 敏感
    prof = r.json()["profile"]
    assert r.status_code == 200 and prof["ent_name"] == "甲科技"
    # 敏感 by the field catalog (contact_phone, legal_rep, the financing category) or products.yaml (reg_address)
    assert {c: prof[c] for c in ("contact_phone", "reg_address", "legal_rep", "equity_financing_3y_wan")} == \
        dict.fromkeys(("contact_phone", "reg_address", "legal_rep", "equity_financing_3y_wan"), "***")
    assert not _leaks(r, PHONE, ADDRESS, "张三", EQUITY)
    r = client.get("/products/gold.enterprise_profile", params={"uscc": U2}, headers=H("gxj_enterprise_service"))
    assert r.json()["rows"][0]["contact_phone"] == "***"  # a null is masked too: no telling which are empty
    # the ?columns= selection gets nothing more
    r = client.get("/products/gold.enterprise_profile", params={"columns": "contact_phone,reg_address"},
                   headers=H("gxj_enterprise_service"))
    assert r.status_code == 200 and r.json()["columns"] == ["uscc", "contact_phone", "reg_address"]
    assert not _leaks(r, PHONE, ADDRESS)
    r = client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal"))  # 敏感 in its grant
    assert r.json()["profile"]["contact_phone"] == PHONE and r.json()["masked_columns"] == []

    # a key column classified 敏感: filtering on it would confirm values row by row
    import shutil

    cat = tmp_path / "catalog"
    shutil.copytree(settings.catalog_dir, cat)
    text = (cat / "products.yaml").read_text(encoding="utf-8")
    (cat / "products.yaml").write_text(text.replace("column_levels: {reg_address: 敏感}",
                                                    "column_levels: {reg_address: 敏感, uscc: 敏感}"), encoding="utf-8")
    client2 = TestClient(create_app(settings.model_copy(update={"catalog_dir": cat})))
    r = client2.get("/products/gold.enterprise_profile", params={"uscc": U1}, headers=H("gxj_enterprise_service"))
    assert r.status_code == 403 and "no filtering" in r.json()["detail"] and not _leaks(r, "甲科技")
    assert client2.get(f"/enterprises/{U1}/profile", headers=H("gxj_enterprise_service")).status_code == 403
    assert client2.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal")).status_code == 200
    assert len(_audit(store, consumer="gxj_enterprise_service", outcome="denied")) == 2


@pytest.mark.parametrize("value", ["' OR '1'='1", "x' OR 1=1 --", f"{U1}' OR uscc <> '", "\" OR \"\"=\"",
                                   f"{U1}'; DROP TABLE audit; --", "%", "*"])
def test_sql_like_filters_match_nothing(client, store, H, value):
    for url in ("/products/gold.enterprise_profile", "/products/gold.enterprise_tags"):
        r = client.get(url, params={"uscc": value}, headers=H("kcj_policy_portal"))
        assert r.status_code == 200 and r.json()["total"] == 0 and not _leaks(r, PHONE, "甲科技"), r.text
    from urllib.parse import quote

    r = client.get(f"/enterprises/{quote(value, safe='')}/profile", headers=H("kcj_policy_portal"))
    assert r.status_code in (404, 422) and not _leaks(r, PHONE, "甲科技")
    assert access.verify_audit(store).ok
    assert _audit(store, limit=1)[0]["action"].startswith("GET /enterprises/")


@pytest.mark.parametrize("path", ["/products/..%2F..%2F_platform%2Faccess.db", "/products/../../etc/passwd",
                                  "/products/gold.enterprise_profile%2F..%2F..%2F_platform",
                                  "/products/gold..%2Fenterprise_profile", "/products/%2Fetc%2Fpasswd",
                                  "/products/gold.nope", "/products/bronze.enterprise_registry",
                                  "/products/gold.enterprise_profile%00.csv"])
def test_product_names_are_catalog_names_only(client, store, H, path):
    r = client.get(path, headers=H("kcj_policy_portal"))
    assert r.status_code in (404, 422), (path, r.status_code, r.text)
    assert "SQLite" not in r.text and "root:" not in r.text and not _leaks(r, PHONE)
    assert _audit(store, limit=1)[0]["outcome"] == "denied"


def test_huge_and_negative_versions(client, store, H):
    for v in ("9223372036854775807", "99999999999999999999999999", "1000000", "1"):
        t = time.perf_counter()
        r = client.get("/products/gold.enterprise_profile", params={"version": v}, headers=H("kcj_policy_portal"))
        assert r.status_code in (404, 422) and time.perf_counter() - t < 2, (v, r.status_code)
    r = client.get(f"/enterprises/{U1}/profile", params={"version": "9223372036854775807"}, headers=H("kcj_policy_portal"))
    assert r.status_code == 404
    assert client.get("/products/gold.enterprise_profile", params={"version": -1},
                      headers=H("kcj_policy_portal")).status_code == 422
    assert client.get("/products/gold.policy_matches", params={"version": 9223372036854775807},
                      headers=H("kcj_policy_portal")).status_code == 404
    assert client.get("/products/gold.enterprise_profile", params={"version": 0},
                      headers=H("kcj_policy_portal")).status_code == 200
    statuses = [r["status"] for r in _audit(store, consumer="kcj_policy_portal")]
    assert statuses[0] == 200 and set(statuses[1:]) <= {404, 422} and len(statuses) == 8


def test_enumeration_stops_at_the_caps(client, store, H, grant):
    g = grant("zsj_data_portal", "gold.rpt_petition_sla_daily", daily_rows=4)
    url = "/products/gold.rpt_petition_sla_daily"
    assert client.get(url, params={"limit": 1001}, headers=H("zsj_data_portal")).status_code == 422
    assert client.get(url, params={"offset": 100_001}, headers=H("zsj_data_portal")).status_code == 422
    pages = [client.get(url, params={"limit": 2, "offset": o}, headers=H("zsj_data_portal")) for o in (0, 2, 0, 0)]
    # 2 + 1 rows (the table's 3), then 1 (the cap of 4 reached), then refused from then on
    assert [len(p.json()["rows"]) for p in pages[:3]] == [2, 1, 1]
    assert pages[3].status_code == 429 and "rows" in pages[3].json()["detail"] and '"rows"' not in pages[3].text
    served = sum(x["rows"] or 0 for x in _audit(store, consumer="zsj_data_portal", outcome="allowed"))
    assert served == 4 == g.daily_rows
    # bulk export needs a grant that says so
    r = client.get(url + "/rows.csv", headers=H("leaders_cockpit"))
    assert r.status_code == 403 and "export" in r.json()["detail"]


def test_tag_evidence_does_not_quote_masked_values(client, store, H, grant):
    r = client.get(f"/enterprises/{U1}/tags", headers=H("gxj_enterprise_service"))  # tags grant without 敏感
    by = {t["tag_id"]: t for t in r.json()["tags"]}
    assert by["equity_3y_ge_1000"]["evidence"] == "***" and by["T_PLAIN"]["evidence"] == "证书"
    assert r.json()["masked_columns"] == ["evidence"] and not _leaks(r, EQUITY)
    grant("gxj_enterprise_service", "gold.enterprise_tags", sensitive=True)
    r = client.get(f"/enterprises/{U1}/tags", headers=H("gxj_enterprise_service"))
    assert str(EQUITY) in {t["tag_id"]: t for t in r.json()["tags"]}["equity_3y_ge_1000"]["evidence"]


def test_policy_explanations_do_not_quote_masked_values(client, lake, store, H, grant, settings):
    from govlake.catalog.policies import parse_policy
    from govlake.policy.compile import compile_policies
    from govlake.policy.fields import field_catalog
    from govlake.policy.plan import key_bucket, outcome_rows, outcome_width

    as_of = dt.date(2026, 11, 1)
    policy = parse_policy({
        "policy_id": "FIN1", "name_zh": "股权融资奖励", "kind": "synthetic", "dept": "KCJ", "version": 1,
        "effective_from": "2020-01-01", "doc_no": "测试",
        "clauses": [{"id": "cap", "label_zh": "注册资本", "rule": "reg_capital_wan >= 50"},
                    {"id": "fin", "label_zh": "近三年股权融资", "rule": "equity_financing_3y_wan >= 5000"}]})
    cps = compile_policies([policy], as_of, field_catalog(settings.catalog_dir))
    rows = outcome_rows(cps, outcome_width(cps), as_of)
    names = ["k", "policy_id", "policy_version", "rule_hash", "policy_name_zh", "dept_code", "as_of", "eligible",
             "near_miss", "n_failed", "clause_results", "missing", "unmet_clause", "unmet_status",
             "explanation_prefix", "policy_def"]
    cols = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    n = len(rows)
    _write(lake, "gold.policy_match_outcomes", {
        "segment": ["s1"] * n, "k": pa.array(cols["k"], pa.int32()), **{c: cols[c] for c in names[1:10] if c != "k"},
        "policy_version": pa.array(cols["policy_version"], pa.int32()), "n_failed": pa.array(cols["n_failed"], pa.int32()),
        "clause_results": pa.array([list(d.items()) for d in cols["clause_results"]], pa.map_(pa.string(), pa.string())),
        "missing": pa.array(cols["missing"], pa.list_(pa.string())), "unmet_clause": cols["unmet_clause"],
        "unmet_status": cols["unmet_status"], "explanation_prefix": cols["explanation_prefix"],
        "policy_def": cols["policy_def"], "profile_version": pa.nulls(n, pa.int64()),
        "tags_version": pa.nulls(n, pa.int64()), "keys_version": pa.array([0] * n, pa.int64())})
    near = next(r[0] for r in rows if r[12] == "fin" and r[13] == "fail")
    _write(lake, "gold.policy_match_keys", {"segment": ["s1"], "bucket": pa.array([key_bucket(U1)], pa.int32()),
                                            "uscc": [U1], "keys": pa.array([[near]], pa.list_(pa.int32()))})
    r = client.get(f"/enterprises/{U1}/policy-matches", headers=H("policy_push"))  # no 敏感 in its grant
    (m,) = r.json()["matches"]
    assert r.status_code == 200 and m["missing"] == ["fin"] and "近三年股权融资" in m["explanation_zh"]
    assert "脱敏" in m["explanation_zh"] and not _leaks(r, EQUITY, "4,321", "4321")
    grant("policy_push", "gold.policy_matches", sensitive=True)
    r = client.get(f"/enterprises/{U1}/policy-matches", headers=H("policy_push"))
    assert "4321" in r.json()["matches"][0]["explanation_zh"].replace(",", "")
    # a view scoped to other enterprises: only filtered inside the scope
    grant("policy_push", "gold.policy_matches", row_scope={"uscc": [U2]})
    assert client.get("/products/gold.policy_matches", headers=H("policy_push")).status_code == 403
    r = client.get(f"/enterprises/{U1}/policy-matches", headers=H("policy_push"))
    assert r.status_code == 403 and not _leaks(r, "FIN1", "股权融资奖励")
    assert client.get(f"/enterprises/{U2}/policy-matches", headers=H("policy_push")).json()["matches"] == []


def test_every_refusal_is_in_an_intact_chain(client, store, H):
    H("zsj_data_portal")
    client.get("/products")
    client.get("/products/gold.enterprise_profile", headers=H("zsj_data_portal"))  # 敏感, no grant
    client.get("/products/gold.enterprise_tags", params={"tag_name": "x"}, headers=H("zsj_data_portal"))
    rows = _audit(store, since="2000-01-01")
    assert [(x["status"], x["outcome"]) for x in rows[:3]] == [(400, "denied"), (403, "denied"), (401, "denied")]
    assert rows[1]["product"] == "gold.enterprise_profile" and rows[1]["actor"] == "zsj_data_portal"
    assert access.verify_audit(store).ok
    # an edit behind the platform's back (triggers dropped) is found, at that row
    victim = rows[1]["id"]
    with store.write() as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET outcome = 'allowed' WHERE id = ?", (victim,))
    check = access.verify_audit(store)
    assert not check.ok and check.first_broken == victim and "edited" in check.reason
    json.dumps(rows, ensure_ascii=False)  # the rows are plain data for a report
