"""The space routes through the API app: authorised as gold.industrial_parks (公开: any valid key)
and gold.space_needs (内部: a grant), audited, and the portal page 产业空间."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from govlake import access
from govlake.space.inventory import NEEDS, PARKS, read
from govlake.space.matching import record


@pytest.fixture(scope="module")
def env(space_lake, space_settings):
    from govlake.api.app import create_app
    from govlake.products import get_product

    app = create_app(space_settings)  # the app mounts the space routes and the portal page
    store = app.state.store
    access.create_account(store, "admin", None, "admin")
    access.create_account(store, "owner_gxj", None, "owner", "GXJ")

    def key(consumer):
        return {"Authorization": f"Bearer {access.issue_key(store, consumer, by='admin').token}"}

    def give(consumer, product):
        a = access.apply(store, consumer, product, "测试用途：产业空间撮合", by="admin")
        return access.approve(store, a.id, by="owner_gxj")
    assert get_product(NEEDS, space_settings).classification == "内部"
    return TestClient(app), key, give, store


def test_parks_search_needs_a_key(env, space_lake):
    client, key, _, _ = env
    assert client.get("/space/parks").status_code == 401
    r = client.get("/space/parks", params={"type": "厂房", "max_rent": 40, "min_area": 300}, headers=key("street_grid"))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] > 0 and all(p["building_type"] == "厂房" and p["rent_yuan_sqm"] <= 40
                                     and p["vacant_area_sqm"] >= 300 for p in body["parks"])
    assert client.get("/space/parks", params={"type": "别墅"}, headers=key("street_grid")).status_code == 422


def test_need_routes_need_a_grant_and_agree(env, space_lake):
    client, key, give, store = env
    needs, parks = read(space_lake, NEEDS), read(space_lake, PARKS)
    need = record(needs.iloc[0])
    h = key("zsj_data_portal")
    r = client.get(f"/space/needs/{need['need_id']}/parks", headers=h)
    assert r.status_code == 403 and "未获授权" in r.json()["detail"]
    give("zsj_data_portal", NEEDS)
    r = client.get(f"/space/needs/{need['need_id']}/parks", headers=h)
    assert r.status_code == 200
    got = r.json()["parks"]
    assert got and all(p["building_type"] == need["building_type"] for p in got)
    top = got[0]
    r = client.get(f"/space/parks/{top['park_id']}/needs", params={"limit": 500}, headers=h)
    assert r.status_code == 200
    mine = [n for n in r.json()["needs"] if n["need_id"] == need["need_id"]]
    assert len(mine) == 1 and mine[0]["score"] == top["score"]
    assert client.get("/space/needs/N000/parks", headers=h).status_code == 404
    assert client.get(f"/space/parks/{parks.park_id.iloc[0]}/needs", headers=key("street_grid")).status_code == 403
    from govlake.access.audit import query_audit

    events = query_audit(store, consumer="zsj_data_portal", limit=50)
    assert any(e["outcome"] == "denied" and e["product"] == NEEDS for e in events)
    assert any(e["outcome"] == "allowed" and e["rows"] for e in events)


def test_portal_page(env, space_lake):
    client, _, give, store = env
    access.create_account(store, "zhang_gxj", "space-pass-123", "member", "GXJ")
    r = client.post("/portal/login", data={"username": "zhang_gxj", "password": "space-pass-123", "next": "/portal/space"},
                    follow_redirects=False)
    assert r.status_code == 303
    need = read(space_lake, NEEDS).need_id.iloc[0]
    r = client.get("/portal/space", params={"type": "仓储", "need": need})
    assert r.status_code == 200 and 'id="parks"' in r.text and "产业空间" in r.text
    # gxj_enterprise_service holds the catalog's initial grant on gold.space_needs
    assert 'id="needs"' in r.text and 'id="matches-title"' in r.text
