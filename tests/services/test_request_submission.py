"""诉求直达 submission through the API: a grant on ops.enterprise_requests covering the enterprise,
the service's form validated with its Chinese labels, a ticket and a due date in working days,
idempotent by client request id, audited, and taken into the daily requests table."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from services_lake import usccs
from govlake import access
from govlake.api.app import create_app
from govlake.catalog.work_calendar import load_work_calendar
from govlake.services.enterprise_requests import REQUESTS, run_requests
from govlake.services.request_intake import SUBMISSIONS

URL = "/enterprise-requests"
GOOD = {"contact_name": "王伟", "contact_phone": "13800138000", "description": "申请对接银行流动资金贷款，金额约五百万元",
        "amount_wan": 500, "loan_purpose": "流动资金"}


def test_submit_validate_ticket_idempotent_audited_and_dispatched(services_lake, settings, store, H, grant):
    client = TestClient(create_app(settings))
    mine, other = usccs()[:2]
    body = {"client_request_id": "portal-0001", "uscc": mine, "service_id": "finance_01", "form": GOOD}
    assert client.post(URL, json=body).status_code == 401
    assert client.post(URL, json=body, headers=H("zsj_data_portal")).status_code == 403  # no grant
    grant("zsj_data_portal", "ops.enterprise_requests", row_scope={"uscc": [mine]})
    r = client.post(URL, json={**body, "uscc": other}, headers=H("zsj_data_portal"))
    assert r.status_code == 403 and "超出授权企业范围" in r.json()["detail"]

    bad = {**GOOD, "loan_purpose": "买房"}
    bad.pop("contact_phone")
    r = client.post(URL, json={**body, "form": bad}, headers=H("zsj_data_portal"))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "联系电话 (contact_phone) is required (必填)" in detail and "资金用途 (loan_purpose)" in detail
    r = client.post(URL, json={**body, "service_id": "finance_99"}, headers=H("zsj_data_portal"))
    assert r.status_code == 422 and "未知服务事项" in r.json()["detail"]
    assert not services_lake.exists(SUBMISSIONS)  # nothing refused was recorded

    r = client.post(URL, json=body, headers=H("zsj_data_portal"))
    assert r.status_code == 201, r.text
    t = r.json()
    day = dt.date.fromisoformat(t["submitted_on"])
    # the service's 10 working days, weekends and holidays of the calendar skipped
    assert t["deadline"] == load_work_calendar(settings.catalog_dir).workdays_after(day, 10)[1].isoformat()
    assert t["ticket_id"].startswith(f"QD{day:%Y%m%d}") and t["dept_code"] == "JRJ" and t["status_zh"] == "已受理登记"

    again = client.post(URL, json=body, headers=H("zsj_data_portal"))
    assert again.status_code == 200 and again.json()["ticket_id"] == t["ticket_id"] and again.json()["duplicate"]
    assert services_lake.row_count(SUBMISSIONS) == 1
    r = client.post(URL, json={**body, "form": {**GOOD, "amount_wan": 600}}, headers=H("zsj_data_portal"))
    assert r.status_code == 409 and t["ticket_id"] in r.json()["detail"]

    audit = [e for e in access.query_audit(store, limit=100) if e["product"] == "ops.enterprise_requests"]
    assert [e["status"] for e in audit].count(201) == 1 and any(t["ticket_id"] in (e["detail"] or "") for e in audit)
    assert any(e["outcome"] == "denied" and e["status"] == 403 for e in audit)

    # the daily step dispatches it beside the generated requests
    out = run_requests(services_lake, day)
    assert out["submitted"] == 1
    row = services_lake.to_arrow(REQUESTS, where={"request_id": t["ticket_id"]}).to_pylist()
    assert len(row) == 1 and row[0]["uscc"] == mine and row[0]["status"] == "received"
    assert row[0]["deadline"].isoformat() == t["deadline"] and row[0]["dept_code"] == "JRJ"
