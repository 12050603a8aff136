"""The portal in a real browser (conftest.py's `browser`: chromium against uvicorn) over the small
lake of conftest.py.

A member of 工信局 finds a product and applies, the owner of 政数局 approves, the member reads
the rows in the portal and the department's consumer through the API with its key, and the
owner sees both reads in the usage page's audit rows. With GOVLAKE_PORTAL_SCREENSHOTS=<dir> the
main pages are saved there (docs/screenshots/)."""

from __future__ import annotations

import os
import re

import pytest

from portal_lake import MEMBER, OWNER, PASSWORD

PRODUCT = "gold.rpt_petition_sla_weekly"


@pytest.fixture
def page(browser, portal_app):
    return browser(portal_app)


def log_in(page, who) -> None:
    page.log_in(who[0], PASSWORD)
    assert who[3] in page.inner_text("#who")


def log_out(page) -> None:
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/portal/login$"))


def test_apply_approve_read_audit_in_a_browser(page, portal_lake):
    log_in(page, MEMBER)
    page.shoot("login-catalog")
    row = page.locator(f'tr[data-product="{PRODUCT}"]')
    assert "未授权" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_selector("#product-title")
    assert PRODUCT in page.inner_text("#product-title")
    page.shoot("product")
    page.click("#apply-link")
    page.select_option("#consumer", "gxj_enterprise_service")
    page.fill("#purpose", "工业企业诉求周度时效分析")
    page.fill("#row_scope", "dept_code=GXJ")
    page.fill("#days", "90")
    page.fill("#rate_per_s", "2")      # 限流, as `govlake access apply --rate 2 --burst 4`
    page.fill("#rate_burst", "4")
    page.shoot("apply")
    page.click("#submit-apply")
    page.wait_for_selector("#flash")
    assert "已提交" in page.inner_text("#flash")
    app_row = page.locator("#applications tr", has_text=PRODUCT)
    assert "待审批" in app_row.inner_text()
    log_out(page)

    log_in(page, OWNER)
    page.click("#nav-approvals")
    pending = page.locator("#pending tr", has_text=PRODUCT)
    assert "gxj_enterprise_service" in pending.inner_text() and "工业企业诉求周度时效分析" in pending.inner_text()
    assert "2 次/秒，突发 4" in pending.inner_text()  # the rate applied for
    assert pending.locator("input.rate").input_value() == "2"
    page.shoot("approvals")
    pending.locator("input.rate").fill("1.5")  # the owner grants another rate
    pending.locator("input.burst").fill("3")
    pending.locator("button.approve").click()
    page.wait_for_selector("#flash")
    assert "已批准" in page.inner_text("#flash") and "限流 1.5 次/秒、突发 3" in page.inner_text("#flash")
    log_out(page)

    log_in(page, MEMBER)
    page.click("#nav-grants")
    grant = page.locator(f'#grants tr[data-product="{PRODUCT}"]')
    assert "有效" in grant.inner_text() and "1.5 次/秒，突发 3" in grant.locator("td.rate").inner_text()
    grant.locator("a", has_text="读取").click()
    page.wait_for_selector("#read-summary")
    weeks = 3  # 2026-11-01..12 in weekly periods; the row scope keeps 工信局's row of each
    assert f"共 {weeks} 行" in page.inner_text("#read-summary")
    depts = page.locator("#rows tr td:nth-child(2)").all_inner_texts()
    assert depts == ["GXJ"] * weeks
    page.shoot("read")
    log_out(page)
    # the same consumer through the API with a key issued to it: the same grant and row scope
    import httpx

    from govlake import access

    store = access.open_store(portal_lake["settings"])
    token = access.issue_key(store, "gxj_enterprise_service", by="system", days=1).token
    store.close()
    r = httpx.get(f"{page.base}/products/{PRODUCT}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == weeks and {x["dept_code"] for x in r.json()["rows"]} == {"GXJ"}

    log_in(page, OWNER)
    page.goto(page.base + f"/portal/usage?product={PRODUCT}&consumer=gxj_enterprise_service")
    text = page.locator("#audit tr", has_text="portal.read").first.inner_text()
    assert "gxj_enterprise_service" in text and f"portal:{MEMBER[0]}" in text and "allowed" in text
    text = page.locator("#audit tr", has_text=f"GET /products/{PRODUCT}").first.inner_text()
    assert "gxj_enterprise_service" in text and "allowed" in text
    assert page.locator("#usage-summary").inner_text().startswith("成功请求 2 次")
    page.shoot("usage")
    if os.environ.get("GOVLAKE_PORTAL_SCREENSHOTS"):  # the other main pages, for docs/portal.md
        for name, url in (("lineage", "/portal/products/gold.enterprise_tags/lineage"),
                          ("field-lineage", "/portal/products/gold.enterprise_tags/fields/tag_name/lineage"),
                          ("profile-fields", "/portal/products/gold.enterprise_profile"),
                          ("sla", "/portal/petitions/sla?period=daily"), ("dispatch", "/portal/petitions/dispatch")):
            page.goto(page.base + url)
            page.shoot(name)
