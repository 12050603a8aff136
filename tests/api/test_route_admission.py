"""Rates for the routes that are not product reads (govlake.access.reads.admit_route through
govlake.api.deps.admit): 企业服务, 民生诉求分拨, 政策沙盘推演, 数据沙箱 are limited per consumer and
route class, answer 429 with Retry-After and the bilingual message, and are audited as denied
with reason rate_limited; another consumer's bucket is its own."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from govlake import access
from govlake.access import rate_limits
from govlake.api.app import create_app

PROFILE = "gold.enterprise_profile"

# route class -> (method, path, JSON body, the product the caller is granted first)
ROUTES = {
    "petitions": ("POST", "/petitions/form", {"title": "噪音扰民", "content": "夜间施工噪音"}, "gold.petition_forms"),
    "services": ("POST", "/enterprise-requests", {"client_request_id": "r-1", "uscc": "914403000000000001",
                                                  "service_id": "NO_SUCH_SERVICE", "form": {}},
                 "ops.enterprise_requests"),
    "sandbox": ("POST", "/policies/sandbox", {"draft": "just text"}, PROFILE),
    "cleanroom": ("POST", "/cleanroom/jobs", {"sql": "SELECT 1"}, None),
}


@pytest.fixture
def client(small_lake, settings, store):
    return TestClient(create_app(settings))


def test_route_classes_are_rate_limited_per_consumer_and_audited(client, store, H, grant, monkeypatch):
    for route_class, (method, path, body, product) in sorted(ROUTES.items()):
        # a rate slow enough that a loaded machine (or a first request loading a model) cannot refill it
        monkeypatch.setitem(rate_limits.ROUTE_CLASSES, route_class, (0.01, 2, "测试 test"))
        if product:
            grant("mysb_platform", product)
            grant("leaders_cockpit", product)
        codes = [client.request(method, path, json=body, headers=H("mysb_platform")).status_code for _ in range(2)]
        assert 429 not in codes and all(c < 500 for c in codes), (route_class, codes)  # the route's own answers
        r = client.request(method, path, json=body, headers=H("mysb_platform"))
        assert r.status_code == 429, (route_class, r.text)
        assert 60 <= int(r.headers["retry-after"]) <= 100  # about one interval at 0.01/s, in whole seconds
        detail = r.json()["detail"]
        assert detail.startswith("rate_limited: mysb_platform may make 0.01 requests per second")
        assert f"route class {route_class}" in detail and "(请求过于频繁，已限流)" in detail
        row = access.query_audit(store, consumer="mysb_platform", limit=1)[0]
        assert (row["action"], row["outcome"], row["status"]) == (f"{method} {path}", "denied", 429)
        assert row["detail"].startswith("rate_limited")
        # per consumer: another caller of the same class is admitted
        assert client.request(method, path, json=body, headers=H("leaders_cockpit")).status_code != 429


def test_every_limited_route_declares_429(client):
    spec = client.get("/openapi.json").json()["paths"]
    for method, path, _, _ in ROUTES.values():
        assert "429" in spec[path][method.lower()]["responses"], path
    for path in ("/petitions/dispatch", "/petitions/tickets/{ticket_id}/return",
                 "/petitions/tickets/{ticket_id}/arbitrate", "/enterprise-requests/{request_id}/actions",
                 "/enterprise-requests/queue", "/enterprises/{uscc}/file"):
        ops = spec[path]
        assert all("429" in op["responses"] for op in ops.values()), path
