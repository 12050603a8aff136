"""The portal's apply and approve forms carry the rate fields of `govlake access apply|approve
--rate --burst` (限流): what is applied for is stored and shown to the approver, a blank approval
keeps it, bad values are refused with the access package's message, nothing stored."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from govlake import access
from govlake.access import rate_limits

from portal_lake import MEMBER, OWNER, PASSWORD

PRODUCT = "gold.rpt_petition_sla_monthly"


def _login(client: TestClient, username: str) -> None:
    r = client.post("/portal/login", data={"username": username, "password": PASSWORD, "next": "/portal/products"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _mine(store) -> list:
    return access.list_applications(store, product=PRODUCT, consumer="gxj_enterprise_service")


def test_rate_fields_on_apply_and_approve(portal_app, portal_lake):
    store = access.open_store(portal_lake["settings"])
    client = TestClient(portal_app)
    _login(client, MEMBER[0])
    page = client.get(f"/portal/products/{PRODUCT}/apply")
    assert 'id="rate_per_s"' in page.text and 'id="rate_burst"' in page.text
    assert f"留空为默认 {rate_limits.RATE_PER_S:g}" in page.text  # the product has no rate of its own
    data = {"csrf": _csrf(page.text), "consumer": "gxj_enterprise_service", "purpose": "月度时效分析",
            "columns": "", "row_scope": "dept_code=GXJ", "days": "30"}
    before = len(_mine(store))
    for rate, burst, says in (("abc", "", "须为数字"), ("0", "5", "每秒请求数超出范围"), ("2", "0", "突发请求数超出范围"),
                              ("nan", "", "须为数字")):
        r = client.post(f"/portal/products/{PRODUCT}/apply", data={**data, "rate_per_s": rate, "rate_burst": burst})
        assert says in r.text and 'class="error"' in r.text, (rate, burst)
    assert len(_mine(store)) == before  # nothing stored
    r = client.post(f"/portal/products/{PRODUCT}/apply", data={**data, "rate_per_s": "3", "rate_burst": "6"})
    assert "已提交" in r.text
    a = _mine(store)[-1]
    assert (a.status, a.rate_per_s, a.rate_burst) == ("pending", 3.0, 6)

    client.cookies.clear()
    _login(client, OWNER[0])
    r = client.get("/portal/approvals")
    row = re.search(rf'<tr data-application="{a.id}">.*?</tr>', r.text, re.S).group(0)
    assert "3 次/秒，突发 6" in row and 'name="rate_per_s" class="rate" value="3"' in row
    bad = client.post(f"/portal/approvals/{a.id}/approve", data={"csrf": _csrf(r.text), "rate_per_s": "x"})
    assert "未完成" in bad.text and access.get_application(store, a.id).status == "pending"
    r = client.post(f"/portal/approvals/{a.id}/approve", data={"csrf": _csrf(r.text), "rate_per_s": "", "rate_burst": ""})
    assert "限流 3 次/秒、突发 6" in r.text  # blank: as applied for
    g = access.active_grant(store, "gxj_enterprise_service", PRODUCT)
    assert (g.rate_per_s, g.rate_burst) == (3.0, 6)
    store.close()
