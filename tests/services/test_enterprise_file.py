from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from fastapi.testclient import TestClient

from services_lake import usccs
from govlake.api.app import create_app
from govlake.services import key_enterprises as ke
from govlake.services.enterprise_file import enterprise_file
from govlake.services.enterprise_requests import REQUESTS, run_requests
from govlake.services.relocation import WARNINGS, run_relocation

AS_OF = dt.date(2026, 12, 1)


def publish_policy_outcomes(lake, uscc: str) -> None:
    """One policy match and one 秒批 decision for uscc, in the tables the policy jobs write."""
    from govlake.policy.plan import key_bucket

    write_deltalake(str(lake.path("gold.policy_match_keys")), pa.table({
        "segment": ["s1"], "bucket": pa.array([key_bucket(uscc)], pa.int32()), "uscc": [uscc],
        "keys": pa.array([[0]], pa.list_(pa.int32()))}), partition_by=["segment", "bucket"])
    write_deltalake(str(lake.path("gold.policy_match_outcomes")), pa.table({
        "segment": ["s1"], "k": pa.array([0], pa.int32()), "policy_id": ["P001"], "policy_version": pa.array([1], pa.int32()),
        "rule_hash": ["h1"], "policy_name_zh": ["测试政策"], "dept_code": ["KCJ"], "as_of": pa.array([AS_OF], pa.date32()),
        "eligible": [True], "near_miss": [False], "n_failed": pa.array([0], pa.int32()),
        "clause_results": pa.array([[("c1", "pass")]], pa.map_(pa.string(), pa.string())),
        "missing": pa.array([[]], pa.list_(pa.string())), "unmet_clause": pa.array([None], pa.string()),
        "unmet_status": pa.array([None], pa.string()), "explanation_prefix": ["符合：条件一"], "policy_def": ["{}"],
        "profile_version": [0], "tags_version": pa.array([None], pa.int64()), "keys_version": [0]}))
    write_deltalake(str(lake.path("ops.approval_decisions")), pa.table({
        "decision_id": ["D1", "D2"], "application_id": ["A1", "A2"], "uscc": [uscc, usccs()[1]], "policy_id": ["P001"] * 2,
        "outcome": ["approve", "reject"], "outcome_zh": ["批准", "不予批准"], "amount_approved_wan": [10.0, None],
        "as_of": pa.array([AS_OF] * 2, pa.date32())}))


@pytest.fixture
def served_lake(services_lake):
    publish_policy_outcomes(services_lake, usccs()[0])
    run_requests(services_lake, AS_OF)
    run_relocation(services_lake, AS_OF)
    return services_lake


def test_file_gathers_requests_visits_and_officials(served_lake):
    key = next(k for k in served_lake.to_arrow(ke.KEY).to_pylist() if k["uscc"] != usccs()[0])
    f = enterprise_file(served_lake, key["uscc"])
    assert f["profile"]["ent_name"] == key["ent_name"] and f["profile"]["legal_rep"].startswith("法人")
    assert f["key_enterprise"]["specialist_id"] == key["specialist_id"]
    mine = served_lake.to_arrow(REQUESTS, where={"uscc": key["uscc"]}).num_rows
    assert len(f["requests"]) == mine and f["summary"]["诉求 requests"] == mine
    assert f["visits"] and all(v["official_id"] in (key["specialist_id"], key["leader_id"]) for v in f["visits"])
    assert f["policies"] == {"matched": [], "received": [], "decisions": []}  # nothing published for it
    first = enterprise_file(served_lake, usccs()[0])
    assert [m["policy_id"] for m in first["policies"]["matched"]] == ["P001"]
    assert [a["decision_id"] for a in first["policies"]["received"]] == ["D1"] and len(first["policies"]["decisions"]) == 1
    warned = served_lake.to_arrow(WARNINGS).to_pylist()[0]
    assert enterprise_file(served_lake, warned["uscc"])["relocation_warning"]["reasons"] == warned["reasons"]
    with pytest.raises(KeyError, match="企业画像中无此企业"):
        enterprise_file(served_lake, "9144030000000000XX")


def test_route_needs_a_grant_covering_the_enterprise(served_lake, settings, store, H, grant):
    app = create_app(settings)  # the app mounts the services' routes
    client = TestClient(app)
    mine, other = usccs()[:2]
    assert client.get(f"/enterprises/{mine}/file").status_code == 401
    assert client.get(f"/enterprises/{mine}/file", headers=H("zsj_data_portal")).status_code == 403  # no grant
    grant("zsj_data_portal", "gold.enterprise_profile", row_scope={"uscc": [mine]}, daily_rows=3)
    r = client.get(f"/enterprises/{mine}/file", headers=H("zsj_data_portal"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["uscc"] == mine and body["profile"]["ent_name"] == "企业0"
    # 法定代表人 and 联系电话 are 敏感: masked for a grant without sensitive
    assert body["profile"]["legal_rep"] == "***" and body["profile"]["contact_phone"] == "***"
    r = client.get(f"/enterprises/{other}/file", headers=H("zsj_data_portal"))
    assert r.status_code == 403 and "超出授权数据范围" in r.json()["detail"]
    # outside the scope: refused whether the enterprise exists or not
    assert client.get("/enterprises/914403000000009999/file", headers=H("zsj_data_portal")).status_code == 403
    assert client.get("/enterprises/914403000000009999/file", headers=H("gxj_enterprise_service")).status_code == 404
    # a file is one profile row against the grant's rows per day
    codes = [client.get(f"/enterprises/{mine}/file", headers=H("zsj_data_portal")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    spec = app.openapi()["paths"]["/enterprises/{uscc}/file"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422", "429"} <= set(spec)
