"""govlake.access.reads is the one place a read is authorised: the portal's reads of a 公开
product without a grant get the API's daily cap, and the portal shows the refusal the API would
answer (same status in the audit). Tables written with delta-rs, a few rows each."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from govlake import access
from govlake.access import reads
from govlake.lakehouse import Lakehouse
from govlake.portal import grant_reads
from govlake.products import load_products

PUBLIC = "gold.policy_profile"  # 公开; street_grid (department ST017) holds no grant on it


@pytest.fixture
def lake(settings):
    lk = Lakehouse(None, settings)
    write_deltalake(str(lk.path(PUBLIC)), pa.table({"policy_id": ["P1", "P2", "P3"], "title": ["甲", "乙", "丙"]}))
    return lk


def test_portal_reads_of_a_public_product_share_the_api_daily_cap(lake, settings, monkeypatch):
    store = access.open_store(settings)
    account = access.create_account(store, "grid_member", None, "member", "ST017")
    p = load_products(settings)[PUBLIC]
    assert access.active_grant(store, "street_grid", PUBLIC) is None
    monkeypatch.setattr(reads, "PUBLIC_DAILY_ROWS", 4)
    page = grant_reads.read(store, lake, account, p, limit=3)
    assert page.consumer == "street_grid" and page.grant_id is None and len(page.rows) == 3
    with pytest.raises(grant_reads.ReadRefused, match="超出每日行数上限"):  # 1 row left, the dashboard needs 3
        grant_reads.read(store, lake, account, p, whole=True)
    assert len(grant_reads.read(store, lake, account, p, limit=3).rows) == 1  # a page: what is left
    with pytest.raises(grant_reads.ReadRefused, match="今日行数已用完"):
        grant_reads.read(store, lake, account, p, limit=3)
    rows = access.query_audit(store, product=PUBLIC, consumer="street_grid")
    assert [(r["outcome"], r["status"], r["rows"]) for r in rows] == [
        ("denied", 429, None), ("allowed", 200, 1), ("denied", 429, None), ("allowed", 200, 3)]
    # the API's rule, called directly, says the same
    with pytest.raises(reads.AccessDenied) as e:
        reads.daily_remaining(store, "street_grid", p, None)
    assert e.value.status == 429
    store.close()


def test_portal_filters_follow_the_api_rules(lake, settings):
    store = access.open_store(settings)
    account = access.create_account(store, "grid_member", None, "member", "ST017")
    p = load_products(settings)[PUBLIC]
    assert [r["policy_id"] for r in grant_reads.read(store, lake, account, p, filters={"policy_id": "P2"}).rows] == ["P2"]
    with pytest.raises(grant_reads.ReadRefused, match="key columns"):
        grant_reads.read(store, lake, account, p, filters={"title": "甲"})
    assert access.query_audit(store, limit=1)[0]["status"] == 400
    store.close()
