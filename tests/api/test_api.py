from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from govlake.api.app import create_app
from govlake.lineage.emitter import read_events
from govlake.lineage.graph import load_graph

U1, U2 = "914403000000000001", "914403000000000002"


@pytest.fixture
def client(spark, lake, settings):
    prof = "uscc string, ent_name string, contact_phone string, reg_capital_wan double, innovation_score double"
    lake.write(spark.createDataFrame([(U1, "甲科技有限公司", "13800000001", 100.0, 70.0),
                                      (U2, "乙制造有限公司", None, 500.0, float("nan"))], prof), "gold.enterprise_profile")
    lake.write(spark.createDataFrame([(U1, "甲科技（更名）", "13800000001", 120.0, 75.0),
                                      (U2, "乙制造有限公司", None, 500.0, 40.0)], prof), "gold.enterprise_profile")
    lake.write(spark.createDataFrame([(U1, "T01", "高新技术企业", dt.date(2024, 1, 1), "证书"),
                                      (U1, "T02", "专精特新", dt.date(2025, 1, 1), "证书"),
                                      (U2, "T01", "高新技术企业", dt.date(2023, 1, 1), "证书")],
                                     "uscc string, tag_id string, tag_name string, since date, evidence string"),
               "gold.enterprise_tags")
    # gold.policy_matches is built on read from its two stored tables (govlake.policy.matches)
    from govlake.policy.plan import OUTCOME_SCHEMA, key_bucket

    lake.write(spark.createDataFrame([("s1", key_bucket(U1), U1, [0])], "segment string, bucket int, uscc string, keys array<int>"),
               "gold.policy_match_keys", partition_by=["segment", "bucket"])
    lake.write(spark.createDataFrame([("s1", 0, "P001", 1, "h1", "测试政策", "KCJ", dt.date(2026, 11, 1), True, False, 0,
                                       {"c1": "pass"}, [], None, None, "符合：条件一", "{}", 0, None, 0)], OUTCOME_SCHEMA),
               "gold.policy_match_outcomes")
    return TestClient(create_app(settings))


def test_list_products(client, H):
    r = client.get("/products", headers=H("zsj_data_portal"))
    assert r.status_code == 200
    by = {p["name"]: p for p in r.json()["products"]}
    assert by["gold.enterprise_profile"]["version"] == 1 and by["gold.enterprise_profile"]["classification"] == "敏感"
    assert by["gold.enterprise_profile"]["readable"] is False and by["gold.policy_profile"]["readable"] is True
    assert by["gold.policy_profile"]["version"] is None and by["gold.policy_profile"]["owner"] == "QXZX"
    assert client.get("/products").status_code == 401
    # the old identity header is no credential (a forged one in tests/api/test_attacks.py)
    assert client.get("/products", headers={"X-Consumer": "zsj_data_portal"}).status_code == 401


def test_profile_masking_and_time_travel(client, settings, H):
    r = client.get(f"/enterprises/{U1}/profile", headers=H("gxj_enterprise_service"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile"]["ent_name"] == "甲科技（更名）" and body["version"] == 1
    # contact_phone is 敏感 in the field catalog; gxj's grant does not include 敏感 columns
    assert body["profile"]["contact_phone"] == "***" and body["masked_columns"] == ["contact_phone"]
    r = client.get(f"/enterprises/{U1}/profile", headers=H("kcj_policy_portal"))
    assert r.json()["profile"]["contact_phone"] == "13800000001" and r.json()["masked_columns"] == []
    r = client.get(f"/enterprises/{U1}/profile", params={"version": 0}, headers=H("kcj_policy_portal"))
    assert r.json()["profile"]["ent_name"] == "甲科技有限公司"
    assert client.get("/enterprises/X/profile", headers=H("kcj_policy_portal")).status_code == 404
    # 敏感 product, not a listed consumer
    assert client.get(f"/enterprises/{U1}/profile", headers=H("zsj_data_portal")).status_code == 403  # no grant


def test_product_page_filters_and_consumer_lineage(client, settings, H):
    r = client.get("/products/gold.enterprise_tags", params={"uscc": U1}, headers=H("zsj_data_portal"))
    assert r.status_code == 200 and r.json()["total"] == 2 and {x["tag_id"] for x in r.json()["rows"]} == {"T01", "T02"}
    r = client.get("/products/gold.enterprise_profile", params={"limit": 1, "offset": 1},
                   headers=H("kcj_policy_portal"))
    assert r.json()["count"] == 1 and r.json()["total"] == 2
    r = client.get("/products/gold.enterprise_profile", params={"version": 0, "uscc": U2}, headers=H("kcj_policy_portal"))
    assert r.json()["rows"][0]["innovation_score"] is None  # NaN served as null
    assert client.get("/products/gold.enterprise_tags", params={"tag_name": "x"},
                      headers=H("zsj_data_portal")).status_code == 400
    assert client.get("/products/gold.enterprise_profile", params={"version": 9},
                      headers=H("kcj_policy_portal")).status_code == 404
    assert client.get("/products/gold.nope", headers=H("zsj_data_portal")).status_code == 404
    r = client.get(f"/enterprises/{U1}/policy-matches", headers=H("policy_push"))
    assert r.status_code == 200 and r.json()["matches"][0]["policy_id"] == "P001"
    assert r.json()["matches"][0]["explanation_zh"] == "符合：条件一" and r.json()["matches"][0]["eligible"] is True
    assert client.get(f"/enterprises/{U2}/policy-matches", headers=H("policy_push")).json()["matches"] == []
    r = client.get("/products/gold.policy_matches", params={"policy_id": "P001"}, headers=H("policy_push"))
    assert r.status_code == 200 and r.json()["total"] == 1 and r.json()["rows"][0]["uscc"] == U1
    r = client.get(f"/enterprises/{U1}/tags", headers=H("policy_push"))
    assert len(r.json()["tags"]) == 2
    # who used it: each read is an api.<consumer> run with the product as input
    reads = [e for e in read_events(settings.lineage_path) if e["job"]["name"].startswith("api.")]
    assert {e["job"]["name"] for e in reads} >= {"api.zsj_data_portal", "api.kcj_policy_portal", "api.policy_push"}
    g = load_graph(settings.lineage_path)
    assert {e.job for e in g.readers("gold.enterprise_tags")} == {"api.zsj_data_portal", "api.policy_push"}
    assert {e.job for e in g.readers("gold.enterprise_profile")} == {"api.kcj_policy_portal"}


LINK = '=HYPERLINK("http://example.invalid/x","点击查看")'


def _csv(r) -> list[list[str]]:
    import csv
    import io

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8" and r.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))


def test_csv_export_neutralises_formulas_and_keeps_the_lake_raw(client, spark, lake, settings, H, grant):
    grant("zsj_data_portal", "gold.enterprise_tags", export=True)
    lake.write(spark.createDataFrame([(U1, "T03", LINK, dt.date(2026, 1, 1), "+86 证书"),
                                      (U1, "T04", "-1 @ 负面清单", dt.date(2026, 1, 1), "\t备注")],
                                     "uscc string, tag_id string, tag_name string, since date, evidence string"),
               "gold.enterprise_tags", mode="append")
    r = client.get("/products/gold.enterprise_tags/rows.csv", params={"uscc": U1}, headers=H("zsj_data_portal"))
    header, *rows = _csv(r)
    assert header == ["uscc", "tag_id", "tag_name", "since", "evidence"]
    by = {row[1]: row for row in rows}
    assert set(by) == {"T01", "T02", "T03", "T04"} and r.headers["x-total-count"] == "4"
    assert by["T03"][2:] == ["'" + LINK, "2026-01-01", "'+86 证书"]
    assert by["T04"][2:] == ["'-1 @ 负面清单", "2026-01-01", "'\t备注"]
    assert by["T01"] == [U1, "T01", "高新技术企业", "2024-01-01", "证书"]  # plain text as it is
    # the JSON API and the lake keep the value as received
    r = client.get("/products/gold.enterprise_tags", params={"uscc": U1, "limit": 10}, headers=H("zsj_data_portal"))
    assert {x["tag_id"]: x["tag_name"] for x in r.json()["rows"]}["T03"] == LINK
    stored = lake.to_arrow("gold.enterprise_tags", where={"tag_id": "T03"}).to_pylist()
    assert [(x["tag_name"], x["evidence"]) for x in stored] == [(LINK, "+86 证书")]


def test_csv_export_has_the_grants_masking_and_audit_of_the_json_route(client, settings, H, grant):
    url = "/products/gold.enterprise_profile/rows.csv"
    assert client.get(url).status_code == 401
    r = client.get(url, headers=H("zsj_data_portal"))  # 敏感 product, no grant
    assert r.status_code == 403 and "has no grant for gold.enterprise_profile" in r.json()["detail"]
    assert client.get("/products/gold.nope/rows.csv", headers=H("zsj_data_portal")).status_code == 404
    # the catalog's grant may read but not export (bulk export needs a grant that says so)
    r = client.get(url, params={"uscc": U1}, headers=H("gxj_enterprise_service"))
    assert r.status_code == 403 and "export" in r.json()["detail"]
    grant("gxj_enterprise_service", "gold.enterprise_profile", export=True)
    grant("kcj_policy_portal", "gold.enterprise_profile", export=True, sensitive=True)
    assert client.get(url, params={"contact_phone": "x"}, headers=H("gxj_enterprise_service")).status_code == 400
    assert load_graph(settings.lineage_path).readers("gold.enterprise_profile") == []  # refusals are not reads
    header, *rows = _csv(client.get(url, params={"uscc": U1}, headers=H("gxj_enterprise_service")))
    row = dict(zip(header, rows[0]))
    assert len(rows) == 1 and row["ent_name"] == "甲科技（更名）" and row["contact_phone"] == "***"  # as in JSON
    header, *rows = _csv(client.get(url, params={"version": 0, "uscc": U2}, headers=H("kcj_policy_portal")))
    assert dict(zip(header, rows[0]))["innovation_score"] == ""  # NaN, null in JSON: an empty cell
    reads = [e for e in read_events(settings.lineage_path) if e["job"]["name"].startswith("api.")]
    # one run per export, as per JSON read: the consumer, the product (a dataset of the lake), the rows sent
    assert [(e["job"]["name"], e["inputs"][0]["name"].endswith("gold/enterprise_profile"),
             e["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"]) for e in reads] == [
        ("api.gxj_enterprise_service", True, 1), ("api.kcj_policy_portal", True, 1)]
    assert {e.job for e in load_graph(settings.lineage_path).readers("gold.enterprise_profile")} == {
        "api.gxj_enterprise_service", "api.kcj_policy_portal"}


@pytest.mark.parametrize("value, exported", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("a=b", "a=b"), ("甲科技", "甲科技"), ("", ""), (-1.5, -1.5), (None, None)])
def test_neutralised(value, exported):
    from govlake.api.csv_export import neutralised

    assert neutralised(value) == exported


# A real hotline message (欠薪 in a factory of 固戍社区): the district's most common matter.
HOTLINE = {"title": "工厂拖欠工资", "content": "我在宝安区西乡街道固戍社区的一家电子厂上班，公司已经拖欠我们三个月工资了，"
           "老板现在联系不上，社保也没有给我们交，请劳动部门帮帮我们。"}


@pytest.fixture(scope="module")
def trained_dispatch_model(tmp_path_factory):
    """A small model trained the way `govlake petitions train` does (model.train + save_model),
    on generated petitions labelled with their handling department."""
    from govlake.generate import labelled_sample
    from govlake.petitions.model import save_model, train
    from govlake.settings import get_settings

    df = labelled_sample(get_settings(), n=1500)
    d = tmp_path_factory.mktemp("dispatch_model")
    save_model(train(df["text"].tolist(), df["handling_dept_code"].tolist()), d,
               training_data={"path": "generated", "rows": len(df)})
    return d


@pytest.fixture
def dispatch_client(settings):
    return TestClient(create_app(settings))


def test_dispatch_returns_top3_departments_with_reasons(dispatch_client, settings, trained_dispatch_model, H):
    from govlake.petitions.job import publish_model
    from govlake.petitions.scoring import default_model_dir

    publish_model(trained_dispatch_model, default_model_dir(settings))
    r = dispatch_client.post("/petitions/dispatch", json={**HOTLINE, "ticket_id": "BA1"}, headers=H("mysb_platform"))
    assert r.status_code == 200, r.text
    body = r.json()
    deps = body["departments"]
    assert body["ticket_id"] == "BA1" and body["model_version"]
    assert [d["rank"] for d in deps] == [1, 2, 3]
    assert [d["probability"] for d in deps] == sorted((d["probability"] for d in deps), reverse=True)
    top = deps[0]
    assert (top["dept_code"], top["dept_name"]) == ("RLJ", "区人力资源局")  # a name, not the code
    assert "模型概率" in top["reason"] and "历史占比" in top["reason"]
    duty = top["reason"].split("权责清单: ", 1)[1]  # the keywords hit, in the catalog's order
    assert all(k in duty for k in ("拖欠工资", "社保")) and "工资," in duty.replace("拖欠工资", "")
    by = {d["dept_code"]: d for d in deps}
    # 属地 by the standard address: 固戍社区 is in 西乡街道, whose office is ST018
    assert by["ST018"]["dept_name"] == "西乡街道办事处"
    assert "属地: 西乡街道（标准地址 西乡街道固戍社区" in by["ST018"]["reason"]
    # the same ticket without a place has no 属地 candidate
    r = dispatch_client.post("/petitions/dispatch", json={"content": "公司拖欠工资三个月，请帮忙追讨"},
                             headers=H("mysb_platform"))
    assert r.status_code == 200 and not any("属地" in d["reason"] for d in r.json()["departments"])
    assert dispatch_client.post("/petitions/dispatch", json={"title": ""}, headers=H("mysb_platform")).status_code == 422
    form = body["form"]  # 智能填单 comes with the dispatch
    assert (form["category_l3"], form["request_type"], form["community_name"]) == ("拖欠工资", "投诉", "固戍社区")


def test_petition_form_needs_no_model(dispatch_client, settings, H):
    r = dispatch_client.post("/petitions/form", json={**HOTLINE, "requester_id": "U1"}, headers=H("street_grid"))
    assert r.status_code == 200, r.text
    f = r.json()["form"]
    assert (f["category_l1"], f["category_l2"], f["category_l3"]) == ("劳动和社会保障", "工资福利", "拖欠工资")
    assert f["address_standard"] == "宝安区西乡街道固戍社区" and f["address_confidence"] >= 0.9
    assert f["street_code"] == "440306018" and f["requester"] == "员工" and f["subject"] == "电子厂" and f["keywords"]
    assert dispatch_client.post("/petitions/form", json={}, headers=H("street_grid")).status_code == 422
    assert dispatch_client.post("/petitions/form", json=HOTLINE, headers=H("zsj_data_portal")).status_code == 403


def test_dispatch_without_model_is_503(dispatch_client, settings, H):
    from govlake.petitions.scoring import default_model_dir

    assert not (default_model_dir(settings) / "model.json").exists()  # really no model
    r = dispatch_client.post("/petitions/dispatch", json=HOTLINE, headers=H("mysb_platform"))
    assert r.status_code == 503, r.text
    assert "尚未训练" in r.json()["detail"]
    assert dispatch_client.post("/petitions/dispatch", json={"title": "x"},
                                headers=H("zsj_data_portal")).status_code == 403
