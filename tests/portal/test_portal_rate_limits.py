"""The portal's reads and computations obey the API's rates (限流, govlake.access.reads): a
product's rows page spends the grant's bucket, the policy sandbox and the clean room the
consumer's bucket of route class `sandbox` / `cleanroom`, the very buckets the API spends for the
same consumer (one request goes through the API here). Past the burst: 429, Retry-After, the
message 请求过于频繁，请 N 秒后再试 and an audit row denied with detail rate_limited.

The session's portal lake is shared with the other portal tests, so this one works with a
department of its own (区金融工作局 JRJ: no consumer of the catalog) and its own grants."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from govlake import access
from govlake.access import rate_limits

from portal_lake import PASSWORD, U1

ADMIN, MEMBER, CONSUMER, DEPT = "rl_admin", "jrj_wang", "jrj_rate_app", "JRJ"
TAGS, PROFILE = "gold.enterprise_tags", "gold.enterprise_profile"
SLOW = (0.01, 2)  # slow enough that a loaded machine cannot refill the bucket within the test


@pytest.fixture
def jrj(portal_lake):
    """An account of JRJ, its consumer with a key, and grants: the tags at the slow rate, the
    profile unscoped (what the sandbox and the clean room need)."""
    store = access.open_store(portal_lake["settings"])
    if access.get_account(store, ADMIN) is None:
        access.create_account(store, ADMIN, None, "admin")
        access.create_account(store, MEMBER, PASSWORD, "member", dept=DEPT, display_name="王金融")
        access.add_consumer(store, CONSUMER, "金融工作局·限流测试", DEPT, by=ADMIN)
        for product, rate in ((TAGS, SLOW), (PROFILE, (None, None))):
            a = access.apply(store, CONSUMER, product, "测试用途：门户限流", by=ADMIN, rate_per_s=rate[0],
                             rate_burst=rate[1])
            access.approve(store, a.id, by=ADMIN)
    key = {"Authorization": f"Bearer {access.issue_key(store, CONSUMER, by=ADMIN).token}"}
    yield store, key
    store.close()


def _client(portal_app) -> TestClient:
    client = TestClient(portal_app)
    r = client.post("/portal/login", data={"username": MEMBER, "password": PASSWORD, "next": "/portal/products"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _refused(r, store, action: str) -> dict:
    """The 429 page: Retry-After about one interval at 0.01/s, the Chinese message with the same
    number of seconds, and its audit row (the newest of that action)."""
    assert r.status_code == 429, r.text[:500]
    n = int(r.headers["retry-after"])
    assert 60 <= n <= 100
    assert f"请求过于频繁，请 {n} 秒后再试" in r.text and 'class="error"' in r.text
    row = next(x for x in access.query_audit(store, limit=50) if x["action"] == action)
    assert (row["outcome"], row["status"]) == ("denied", 429) and row["detail"].startswith(rate_limits.REASON)
    return row


def test_rows_page_spends_the_grants_bucket(portal_app, jrj):
    store, key = jrj
    g = access.active_grant(store, CONSUMER, TAGS)
    assert (g.rate_per_s, g.rate_burst) == SLOW
    client = _client(portal_app)
    assert client.get(f"/enterprises/{U1}/tags", headers=key).status_code == 200  # the API takes one
    url = f"/portal/products/{TAGS}/rows?uscc={U1}"
    r = client.get(url)
    assert r.status_code == 200 and 'id="read-summary"' in r.text and "retry-after" not in r.headers
    row = _refused(client.get(url), store, "portal.read")
    assert (row["actor"], row["grant_id"], row["product"]) == (CONSUMER, g.id, TAGS) and not row["rows"]


def test_sandbox_and_cleanroom_spend_the_route_class_buckets(portal_app, jrj, monkeypatch):
    store, key = jrj
    for route_class in ("sandbox", "cleanroom"):
        monkeypatch.setitem(rate_limits.ROUTE_CLASSES, route_class, (*SLOW, "测试 test"))
    client = _client(portal_app)

    # 政策沙盘推演: one run through the API, one through the page (refused by the draft, after the rate)
    assert client.post("/policies/sandbox", json={"draft": "just text"}, headers=key).status_code == 400
    token = _csrf(client.get("/portal/policy-sandbox").text)
    r = client.post("/portal/policy-sandbox", data={"csrf": token, "draft": "just text"})
    assert r.status_code == 200 and "草案" in r.text and "retry-after" not in r.headers
    row = _refused(client.post("/portal/policy-sandbox", data={"csrf": token, "draft": "just text"}), store,
                   "portal.policy_sandbox")
    assert CONSUMER in row["detail"] and "route class sandbox" in row["detail"]

    # 数据沙箱: the same, for route class cleanroom (nothing is run past the rate)
    assert client.post("/cleanroom/jobs", json={"sql": "SELECT 1"}, headers=key).status_code == 400
    token = _csrf(client.get("/portal/cleanroom").text)
    form = {"csrf": token, "consumer": CONSUMER, "kind": "sql", "sql": "SELECT 1"}
    r = client.post("/portal/cleanroom", data=form)
    assert r.status_code == 200 and 'id="cr-refused"' in r.text and "retry-after" not in r.headers
    row = _refused(client.post("/portal/cleanroom", data=form), store, "portal.cleanroom")
    assert row["actor"] == CONSUMER and "route class cleanroom" in row["detail"]
