"""The portal's pages over a small lake (tests/portal/conftest.py), through the app's own HTTP
stack: login, what each account sees, the charts' figures against the rows they come from."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from portal_lake import MEMBER, OWNER, PASSWORD, U1


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/portal/login", data={"username": username, "password": password, "next": "/portal/products"},
                       follow_redirects=False)


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def client(portal_app):
    return TestClient(portal_app)


def test_login_required_and_wrong_password(client):
    r = client.get("/portal/products", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?next=/portal/products")
    r = login(client, MEMBER[0], "wrong-password-x")
    assert r.status_code == 200 and "账号或密码错误" in r.text and "govlake_portal" not in r.cookies
    client.cookies.set("govlake_portal", "forged.cookie.value")
    assert client.get("/portal/products", follow_redirects=False).status_code == 303
    client.cookies.clear()
    r = login(client, MEMBER[0])
    assert r.status_code == 303 and r.headers["location"] == "/portal/products"
    r = client.get("/portal/products")
    assert r.status_code == 200 and "张工信" in r.text and "部门成员" in r.text
    # logout needs the form's token
    assert client.post("/portal/logout", data={"csrf": "x"}).status_code == 403
    r = client.post("/portal/logout", data={"csrf": csrf(r.text)}, follow_redirects=False)
    assert r.status_code == 303 and client.get("/portal/products", follow_redirects=False).status_code == 303


def test_catalog_freshness_quality_history_and_profile_fields(client, portal_lake):
    from govlake.lakehouse import Lakehouse

    lake = Lakehouse(None, portal_lake["settings"])
    login(client, MEMBER[0])
    r = client.get("/portal/products")
    row = re.search(r'<tr data-product="gold.enterprise_tags">(.*?)</tr>', r.text, re.S).group(1)
    released = lake.history("gold.enterprise_tags")[0]
    assert "v1 · " in row and "通过" in row and "已授权" in row and "gxj_enterprise_service" in row
    assert released["version"] == 1
    row = re.search(r'<tr data-product="gold.policy_profile">(.*?)</tr>', r.text, re.S).group(1)
    assert "尚未发布" in row and "无记录" in row
    r = client.get("/portal/products/gold.enterprise_tags")
    assert "4/4" in r.text or re.search(r"(\d+)/\1 项期望通过", r.text), r.text
    assert re.findall(r"<tr><td>v(\d+)</td>", r.text) == ["1", "0"] and "当前发布" in r.text
    assert "标签名称" in r.text and "field" in r.text
    # the profile: 1,500 fields from the field catalog, one category per page
    r = client.get("/portal/products/gold.enterprise_profile")
    n = int(re.search(r"字段 Fields（(\d+)）", r.text).group(1))
    assert n >= 1500
    cats = re.findall(r'<a href="\?category=([^"]+)"', r.text)
    assert len(cats) > 5
    shown = set()
    for c in cats:  # every page of every category
        url = f"/portal/products/gold.enterprise_profile?category={c}"
        pages = set(re.findall(r'href="\?category=' + c + r'&page=(\d+)"', client.get(url).text)) or {"1"}
        for i in pages:
            shown |= set(re.findall(r'<tr data-field="([^"]+)">', client.get(f"{url}&page={i}").text))
    assert len(shown) == n and {"uscc", "ent_name", "reg_capital_wan"} <= shown


def test_lineage_pictures(client):
    login(client, MEMBER[0])
    r = client.get("/portal/products/gold.enterprise_tags/lineage")
    svg = re.search(r'<svg[^>]*class="lineage".*?</svg>', r.text, re.S).group(0)
    nodes = set(re.findall(r'data-node="([^"]+)"', svg))
    assert {"gold.enterprise_tags", "silver.certificates", "silver.enterprise_registry", "bronze.certificates"} <= nodes
    # three build edges and the quality check reading the product, plus one per consumer that read
    # it (other tests of the session's lake read it through the API and the portal)
    readers = {n for n in nodes if n.startswith(("job:api.", "job:portal."))}
    assert svg.count('class="edge"') == 4 + len(readers) and "job:quality.gold.enterprise_tags" in nodes
    r = client.get("/portal/products/gold.enterprise_tags/fields/tag_name/lineage")
    svg = re.search(r'<svg[^>]*class="lineage".*?</svg>', r.text, re.S).group(0)
    assert set(re.findall(r'data-node="([^"]+)"', svg)) == {
        "gold.enterprise_tags.tag_name", "silver.certificates.cert_type", "bronze.certificates.cert_type"}
    assert "标签规则：证照类型映射为标签名称" in r.text


def test_apply_approve_read_and_usage(client, portal_lake):
    from govlake import access

    login(client, MEMBER[0])
    product = "gold.rpt_petition_sla_daily"
    r = client.get(f"/portal/products/{product}/rows")
    assert "无有效授权" in r.text and 'id="rows"' not in r.text
    page = client.get(f"/portal/products/{product}/apply")
    assert 'value="gxj_enterprise_service"' in page.text
    data = {"csrf": csrf(page.text), "consumer": "gxj_enterprise_service", "purpose": "工业企业诉求时效分析",
            "columns": "", "row_scope": "dept_code=GXJ", "days": "30"}
    assert client.post(f"/portal/products/{product}/apply", data={**data, "csrf": "bad"}).status_code == 403
    assert client.post(f"/portal/products/{product}/apply", data={**data, "consumer": "mysb_platform"}).status_code == 403
    r = client.post(f"/portal/products/{product}/apply", data=data)
    assert "已提交" in r.text
    # a member cannot approve; the owner of 政数局 can
    assert client.get("/portal/approvals").status_code == 403
    client.cookies.clear()
    login(client, OWNER[0])
    r = client.get("/portal/approvals")
    app_id = re.search(r'<tr data-application="(\d+)">', r.text).group(1)
    r = client.post(f"/portal/approvals/{app_id}/approve", data={"csrf": csrf(r.text)})
    assert "已批准" in r.text
    client.cookies.clear()
    login(client, MEMBER[0])
    r = client.get(f"/portal/products/{product}/rows")
    expected = sum(1 for x in portal_lake["fact"] if x[2] == "GXJ")  # one report row per day and dept here
    days = len({x[1] for x in portal_lake["fact"] if x[2] == "GXJ"})
    assert f"共 {days} 行" in r.text and expected > days
    assert set(re.findall(r"<td>(KCJ|SWJ|GXJ)</td>", r.text)) == {"GXJ"}  # the grant's row scope
    # key filters within the grant's row scope; outside it, refused
    r = client.get(f"/portal/products/{product}/rows", params={"dept_code": "GXJ", "period_start": "2026-11-03"})
    assert "共 1 行" in r.text and "<td>2026-11-03</td>" in r.text
    assert "超出授权数据范围" in client.get(f"/portal/products/{product}/rows", params={"dept_code": "KCJ"}).text
    assert "取值格式错误" in client.get(f"/portal/products/{product}/rows", params={"period_start": "x"}).text
    store = access.open_store(portal_lake["settings"])
    rows = access.query_audit(store, product=product, consumer="gxj_enterprise_service")
    assert [(r["outcome"], r["status"], r["rows"]) for r in rows[:4]] == [
        ("denied", 400, None), ("denied", 403, None), ("allowed", 200, 1), ("allowed", 200, days)]
    rows = rows[3:]
    assert rows[0]["rows"] == days and rows[0]["client"] == f"portal:{MEMBER[0]}"
    assert access.verify_audit(store).ok
    # the owner sees the read in the usage page; the member sees its own consumer's only
    client.cookies.clear()
    login(client, OWNER[0])
    r = client.get("/portal/usage")
    assert f'data-audit="{rows[0]["id"]}"' in r.text and "gxj_enterprise_service" in r.text


def test_tag_evidence_quoting_a_hidden_field_is_masked(client):
    login(client, MEMBER[0])  # 工信局's grant on the tags has no 敏感 columns
    r = client.get("/portal/products/gold.enterprise_tags/rows", params={"uscc": U1})
    assert "共 3 行" in r.text and "脱敏字段 evidence" in r.text
    assert "4321.5" not in r.text and "<td>***</td>" in r.text and "<td>证书</td>" in r.text


def test_sla_and_dispatch_dashboards(client, portal_lake):
    login(client, OWNER[0])
    r = client.get("/portal/petitions/sla?period=weekly")
    assert r.status_code == 200 and 'id="sla-rates"' in r.text, r.text
    fact = portal_lake["fact"]
    table = re.search(r'<table id="sla-periods">.*?</table>', r.text, re.S).group(0)
    shown = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\d+)</td><td>([\d.]+)%</td>", table)
    assert sum(int(n) for _, n, _ in shown) == len(fact) and len(shown) == 3  # weeks of 2026-11-01..12
    for week, n, rate in shown:  # 按时办结率 of the week's tickets, from the fact rows
        rows = [x for x in fact if x[1] - dt.timedelta(days=x[1].weekday()) == dt.date.fromisoformat(week)]
        assert int(n) == len(rows) and rate == f"{sum(x[5] for x in rows) / len(rows) * 100:.1f}"
    assert 'id="sla-headline"' in r.text  # sla_summary by department over the fact table
    r = client.get("/portal/petitions/dispatch")
    top1 = sum(1 for i in range(len(fact)) if i % 3 != 0) / len(fact)
    assert f"首位命中率 {top1 * 100:.1f}%" in r.text and "前三命中率 100.0%" in r.text
    # a member of 工信局 holds no grant on the dispatch table
    client.cookies.clear()
    login(client, MEMBER[0])
    r = client.get("/portal/petitions/dispatch")
    assert "无有效授权" in r.text and 'id="dispatch-summary"' not in r.text


def test_charts_escape_text_and_scale_to_the_largest_value():
    from govlake.portal.svg_charts import bar_chart, line_chart

    svg = bar_chart([("<script>alert(1)</script>", 10.0), ("乙", 5.0), ("丙", None)], title="a&b")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg and "无数据" in svg
    widths = [float(w) for w in re.findall(r'class="bar" x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and abs(widths[0] / widths[1] - 2.0) < 0.01
    svg = line_chart({"按时办结率": [("2026-11-01", 0.5), ("2026-11-02", None), ("2026-11-03", 1.0)]},
                     title="t", percent=True)
    assert svg.count("<circle") == 2 and "100.0%" in svg


def test_session_secret_is_per_lake_and_private(tmp_path, monkeypatch):
    from govlake.portal import login_session
    from govlake.settings import Settings

    monkeypatch.delenv("GOVLAKE_PORTAL_SECRET", raising=False)
    a, b = Settings(lake_root=tmp_path / "a"), Settings(lake_root=tmp_path / "b")
    cookie = login_session.issue(a, "someone")
    assert login_session.read(a, cookie)["u"] == "someone"
    assert login_session.read(b, cookie) is None  # another lake's secret
    assert (tmp_path / "a" / "_platform" / "portal_secret").stat().st_mode & 0o077 == 0
    assert login_session.read(a, cookie[:-2] + "xx") is None
