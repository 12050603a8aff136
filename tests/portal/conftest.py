"""A small published lake for the portal (built once per session): enterprise tags with two
versions, the petition SLA fact, reports and dispatch table, a recorded quality result, lineage
events and a release; plus people's accounts in the access store (catalog grants imported on
first open). And `browser`: the portal in chromium, for the browser tests of any portal app."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from portal_lake import FACT_SCHEMA, MEMBER, OWNER, PASSWORD, REPORT_SCHEMA, U1, U2, commit_rows, petition_rows, report_rows


@pytest.fixture(scope="session")
def portal_lake(spark, tmp_path_factory):
    """Built once for the portal's tests (page tests and the browser test use different
    products and accounts' actions, so they do not see each other's applications)."""
    from govlake import access, release
    from govlake.lakehouse import Lakehouse
    from govlake.settings import Settings

    settings = Settings(lake_root=tmp_path_factory.mktemp("portal") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, settings)
    from govlake.lineage.emitter import DatasetRef, JobRun
    from govlake.quality.gate import validate

    # the first tag's rule reads a 敏感 profile field, which its evidence quotes
    tag_rows = [(U1, "equity_3y_ge_1000", "近三年股权融资超千万", dt.date(2026, 1, 1), "equity_financing_3y_wan=4321.5 >= 1000"),
                (U1, "T01", "高新技术企业", dt.date(2024, 1, 1), "证书"), (U1, "T02", "专精特新", dt.date(2025, 1, 1), "证书"),
                (U2, "T01", "高新技术企业", dt.date(2023, 1, 1), "证书")]
    tag_ddl = "uscc string, tag_id string, tag_name string, since date, evidence string"
    commit_rows(lake, spark, "gold.enterprise_tags", tag_rows, tag_ddl)
    commit_rows(lake, spark, "gold.enterprise_tags", tag_rows[:3], tag_ddl)  # a second version for the history
    fact, dispatch = petition_rows()
    commit_rows(lake, spark, "gold.fct_petition_sla", fact, FACT_SCHEMA)
    commit_rows(lake, spark, "gold.petition_dispatch", dispatch, "ticket_id string, rank int, dept_code string, "
                                                                 "dept_name string, probability double, reason string")
    periods = {"daily": lambda d: d, "weekly": lambda d: d - dt.timedelta(days=d.weekday()),
               "monthly": lambda d: d.replace(day=1)}
    for name, period in periods.items():
        commit_rows(lake, spark, f"gold.rpt_petition_sla_{name}", report_rows(fact, period), REPORT_SCHEMA)
    validate(spark.createDataFrame(tag_rows[:3], tag_ddl), "gold.enterprise_tags", engine="arrow", lake=lake)
    release.publish(lake, "test-run", ["gold.enterprise_tags", "gold.fct_petition_sla", "gold.petition_dispatch",
                                       "gold.rpt_petition_sla_daily"], step="test")
    # lineage as the build reports it: the tags from the silver registry and certificates
    run = JobRun("dbt.enterprise_tags", settings)
    run.add_input(DatasetRef("silver.certificates"))
    run.add_input(DatasetRef("silver.enterprise_registry"))
    run.add_output(DatasetRef("gold.enterprise_tags", column_lineage={
        "tag_name": [("silver.certificates", "cert_type")], "uscc": [("silver.enterprise_registry", "uscc")]},
        transformations={"tag_name": "标签规则：证照类型映射为标签名称"}))
    run.complete()
    run = JobRun("dbt.certificates", settings)
    run.add_input(DatasetRef("bronze.certificates"))
    run.add_output(DatasetRef("silver.certificates", column_lineage={"cert_type": [("bronze.certificates", "cert_type")]}))
    run.complete()
    store = access.open_store(settings)
    for username, role, dept, name in (MEMBER, OWNER):
        access.create_account(store, username, PASSWORD, role, dept=dept, display_name=name)
    store.close()
    return {"fact": fact, "dispatch": dispatch, "settings": settings}


@pytest.fixture
def portal_app(portal_lake):
    from govlake.api.app import create_app

    return create_app(portal_lake["settings"])  # the API app serves the portal under /portal


# -- the portal in a real browser -------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def _served(app):
    """uvicorn serving `app` on a free port, in a thread; yields its URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert t.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(10)


def _log_in(page, username: str, password: str) -> None:
    """Log in through the login form a protected page sends to; lands on the catalog."""
    page.goto(page.base + "/portal/products")
    assert "/portal/login" in page.url  # not logged in: sent to the login page
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/portal/products$"))


def _shoot(page, name: str, full_page: bool = False) -> None:
    """With GOVLAKE_PORTAL_SCREENSHOTS=<dir>, the page saved there (docs/screenshots/)."""
    folder = os.environ.get("GOVLAKE_PORTAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


@pytest.fixture
def browser():
    """open(app, height=800) -> a chromium page (Debian's chromium driven by playwright's wheel
    driver, no `playwright install`; zh-CN, 1280 px wide) on `app` served by uvicorn on a free
    port. The page carries `base` (the app's URL), `log_in(username, password)` and
    `shoot(name, full_page=False)`. Skips without chromium; all closed after the test."""
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        def open_page(app, height: int = 800):
            base = stack.enter_context(_served(app))
            pw = stack.enter_context(sync_playwright())
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            stack.callback(chromium.close)
            context = chromium.new_context(viewport={"width": 1280, "height": height}, locale="zh-CN")
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.base = base
            page.log_in = lambda username, password: _log_in(page, username, password)
            page.shoot = lambda name, full_page=False: _shoot(page, name, full_page)
            return page

        yield open_page
