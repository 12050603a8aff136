"""Portal page 数据沙箱 (/portal/cleanroom) over a small profile committed by delta-rs (no Spark):
through the app's HTTP stack (who may use it, forms, download, audit) and in chromium (a member
of 工信局 logs in, submits an aggregate, sees the suppressed cells marked, then sees a
differencing query refused with its reason and both jobs in the list, and downloads the result).
The catalog grants gold.enterprise_profile to gxj_enterprise_service (工信局)."""

from __future__ import annotations

import csv
import io
import os
import random
import re
import shutil
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from fastapi.testclient import TestClient

from govlake import access
from govlake.lakehouse import Lakehouse
from govlake.settings import Settings

PASSWORD = "cleanroom-pass-2026"
MEMBER, OUTSIDER = ("gxj_zhao", "member", "GXJ", "赵工信"), ("swj_qian", "member", "SWJ", "钱商务")
CONSUMER = "gxj_enterprise_service"
PROFILE = "gold.enterprise_profile"
STREETS = {"440306017": 26, "440306018": 21, "440306019": 13}
BREAKDOWN = ("SELECT street_code, enterprise_size, count(*) AS n FROM gold.enterprise_profile "
             "GROUP BY street_code, enterprise_size")
BY_STREET = ("SELECT street_code, count(*) AS n, sum(revenue_y1_wan) AS rev FROM gold.enterprise_profile "
             "{where}GROUP BY street_code")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _rows() -> list[dict]:
    rnd = random.Random(7)
    rows, n = [], 0
    for street, count in STREETS.items():
        for _ in range(count):
            n += 1
            rows.append({"uscc": f"91440300{n:010d}", "ent_name": f"企业{n}", "street_code": street,
                         "industry_code": rnd.choice(["C39", "I65", "F51"]),
                         "enterprise_size": rnd.choice(["小型", "微型", "中型"]),
                         "revenue_y1_wan": None if n % 9 == 0 else round(rnd.uniform(50, 5000), 1)})
    return rows


@pytest.fixture
def world(tmp_path):
    settings = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(None, settings)
    schema = pa.schema([("uscc", pa.string()), ("ent_name", pa.string()), ("street_code", pa.string()),
                        ("industry_code", pa.string()), ("enterprise_size", pa.string()),
                        ("revenue_y1_wan", pa.float64())])
    write_deltalake(str(lake.path(PROFILE)), pa.Table.from_pylist(_rows(), schema), mode="append")
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
    cells = Counter((x["street_code"], x["enterprise_size"]) for x in _rows())
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
                                               "model": "precredit", "uscc": _rows()[0]["uscc"]})
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
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def browser_page(app):
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    import uvicorn
    from playwright.sync_api import sync_playwright

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert t.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            context.set_default_timeout(15_000)
            pg = context.new_page()
            pg.base = f"http://127.0.0.1:{port}"
            yield pg
            browser.close()
    finally:
        srv.should_exit = True
        t.join(10)


def _shoot(page, name: str) -> None:
    folder = os.environ.get("GOVLAKE_PORTAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_cleanroom_in_a_browser(browser_page, world):
    page = browser_page
    page.goto(page.base + "/portal/products")
    assert "/portal/login" in page.url
    page.fill("#username", MEMBER[0])
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/portal/products$"))
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
    _shoot(page, "cleanroom-result")
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
    _shoot(page, "cleanroom-refused")
