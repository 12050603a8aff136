"""Portal page 数据沙箱 (/portal/cleanroom) over a small profile committed by delta-rs (no Spark):
through the app's HTTP stack (who may use it, forms, download, audit) and in chromium (a member
of 工信局 logs in, submits an aggregate, sees the suppressed cells marked, then sees a
differencing query refused with its reason and both jobs in the list, and downloads the result).
The catalog grants gold.enterprise_profile to gxj_enterprise_service (工信局). The lake is the
clean-room tests' (tests/cleanroom_lake.py), the browser conftest.py's `browser`."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

import pytest
from cleanroom_lake import PROFILE, enterprises, make_lake
from fastapi.testclient import TestClient

from govlake import access
from govlake.settings import Settings

PASSWORD = "cleanroom-pass-2026"
MEMBER, OUTSIDER = ("gxj_zhao", "member", "GXJ", "赵工信"), ("swj_qian", "member", "SWJ", "钱商务")
CONSUMER = "gxj_enterprise_service"
BREAKDOWN = ("SELECT street_code, enterprise_size, count(*) AS n FROM gold.enterprise_profile "
             "GROUP BY street_code, enterprise_size")
BY_STREET = ("SELECT street_code, count(*) AS n, sum(revenue_y1_wan) AS rev FROM gold.enterprise_profile "
             "{where}GROUP BY street_code")


@pytest.fixture
def world(tmp_path):
    settings = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)
    make_lake(settings)
    store = access.open_store(settings)   # the catalog's grants are imported on first open
    access.create_account(store, "admin", None, "admin")
    for username, role, dept, name in (MEMBER, OUTSIDER):
        access.create_account(store, username, PASSWORD, role, dept=dept, display_name=name)
    assert access.active_grant(store, CONSUMER, PROFILE) is not None
    yield settings, store
    store.close()


@pytest.fixture
def app(world):
    from govlake.api.app import create_app

    return create_app(world[0])


def _login(client: TestClient, who) -> None:
    r = client.post("/portal/login", data={"username": who[0], "password": PASSWORD, "next": "/portal/cleanroom"},
                    follow_redirects=False)
    assert r.status_code == 303


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _expected_breakdown(k: int = 10) -> tuple[dict, int]:
    cells = Counter((x["street_code"], x["enterprise_size"]) for x in enterprises())
    return {c: n for c, n in cells.items() if n >= k}, sum(1 for n in cells.values() if n < k)


def test_page_submit_download_and_audit(app, world):
    settings, store = world
    client = TestClient(app)
    r = client.get("/portal/cleanroom", follow_redirects=False)
    assert r.status_code == 303 and "/portal/login" in r.headers["location"]
    _login(client, MEMBER)
    page = client.get("/portal/cleanroom")
    assert page.status_code == 200 and CONSUMER in page.text and 'id="nav-cleanroom"' in page.text
    token = _csrf(page.text)
    assert client.post("/portal/cleanroom", data={"csrf": "x", "consumer": CONSUMER, "sql": BREAKDOWN}).status_code == 403
    assert client.post("/portal/cleanroom", data={"csrf": token, "consumer": "kcj_policy_portal",
                                                  "sql": BREAKDOWN}).status_code == 403   # another department's
    r = client.post("/portal/cleanroom", data={"csrf": token, "consumer": CONSUMER, "kind": "sql", "sql": BREAKDOWN})
    assert r.status_code == 200 and 'id="cr-result"' in r.text
    released, suppressed = _expected_breakdown()
    assert suppressed > 0 and f"已抑制 {suppressed} 个单元" in r.text
    job_id = int(re.search(r"作业 #(\d+) 结果", r.text).group(1))
    csv_r = client.get(f"/portal/cleanroom/jobs/{job_id}.csv")
    assert csv_r.status_code == 200 and csv_r.headers["content-type"].startswith("text/csv")
    got = list(csv.DictReader(io.StringIO(csv_r.text.lstrip("\ufeff"))))
    assert {(x["street_code"], x["enterprise_size"]): int(x["n"]) for x in got} == released
    # a model run for an enterprise that did not authorise the consumer: refused, reason shown
    r = client.post("/portal/cleanroom", data={"csrf": token, "consumer": CONSUMER, "kind": "model",
                                               "model": "precredit", "uscc": enterprises()[0]["uscc"]})
    assert 'id="cr-refused"' in r.text and "HTTP 403" in r.text and "未授权" in r.text
    refused_id = int(re.search(r"作业 #(\d+) 被拒绝", r.text).group(1))
    assert client.get(f"/portal/cleanroom/jobs/{refused_id}.csv").status_code == 404
    audit = access.query_audit(store, consumer=CONSUMER, limit=20)
    actions = Counter((a["action"], a["outcome"]) for a in audit)
    assert actions[("cleanroom.job", "allowed")] == 1 and actions[("cleanroom.job", "denied")] == 1
    assert actions[("portal.cleanroom", "allowed")] == 1 and actions[("portal.cleanroom", "denied")] == 1
    assert actions[("portal.cleanroom.download", "allowed")] == 1
    assert all(a["client"] == f"portal:{MEMBER[0]}" for a in audit if a["action"].startswith("portal."))

    # a member of a department without a sandbox grant: told so, no form, no download of others' jobs
    other = TestClient(app)
    _login(other, OUTSIDER)
    page = other.get("/portal/cleanroom")
    assert "本部门没有可用于数据沙箱的授权" in page.text and 'id="cr-sql-form"' not in page.text
    assert f'data-job="{job_id}"' not in page.text
    assert other.get(f"/portal/cleanroom/jobs/{job_id}.csv").status_code == 404


# -- in a browser ---------------------------------------------------------------------------------
def test_cleanroom_in_a_browser(browser, app):
    page = browser(app, height=900)
    page.log_in(MEMBER[0], PASSWORD)
    page.click("#nav-cleanroom")
    page.wait_for_selector("#cr-sql-form")
    assert page.locator("#cr-consumer").input_value() == CONSUMER

    # an aggregate with small cells: the released cells are shown, the suppressed ones marked
    page.fill("#cr-sql", BREAKDOWN)
    page.click("#cr-submit-sql")
    page.wait_for_selector("#cr-result")
    released, suppressed = _expected_breakdown()
    assert page.locator("#cr-rows tr").count() == 1 + len(released) + 1   # header, cells, the suppressed row
    assert f"已抑制 {suppressed} 个单元" in page.inner_text("#cr-suppressed")
    shown = {tuple(page.locator("#cr-rows tr").nth(i).locator("td").all_inner_texts()[:3])
             for i in range(1, 1 + len(released))}
    assert shown == {(s, z, str(n)) for (s, z), n in released.items()}
    page.shoot("cleanroom-result", full_page=True)
    got = page.request.get(page.base + page.get_attribute("#cr-download", "href"))
    assert got.status == 200 and got.text().lstrip("\ufeff").splitlines()[0] == "street_code,enterprise_size,n"

    # the street totals, then the same leaving one enterprise out: refused, with the reason
    page.fill("#cr-sql", BY_STREET.format(where=""))
    page.click("#cr-submit-sql")
    page.wait_for_selector("#cr-result")
    assert "已抑制" not in page.inner_text("#cr-rows")
    page.fill("#cr-sql", BY_STREET.format(where="WHERE ent_name <> '企业5' "))
    page.click("#cr-submit-sql")
    page.wait_for_selector("#cr-refused")
    text = page.inner_text("#cr-refused")
    assert "HTTP 403" in text and "差分攻击防护" in text and "differencing" in text
    assert page.locator("#cr-result").count() == 0
    outcomes = page.locator("#cr-jobs tr[data-job]").evaluate_all("rs => rs.map(r => r.dataset.outcome)")
    assert outcomes == ["denied", "allowed", "allowed"]                    # newest first
    assert "differencing" in page.locator('#cr-jobs tr[data-outcome="denied"]').inner_text()
    page.shoot("cleanroom-refused", full_page=True)
