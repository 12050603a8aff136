from __future__ import annotations

import pytest

from govlake import access
from govlake.lakehouse import Lakehouse


@pytest.fixture
def store(settings):
    """The lake's access store (catalog grants imported), with an admin and an owner per department."""
    s = access.open_store(settings)
    access.create_account(s, "admin", None, "admin")
    yield s
    s.close()


def owner_of(store, dept: str) -> str:
    name = f"owner_{dept.lower()}"
    if access.get_account(store, name) is None:
        access.create_account(store, name, None, "owner", dept)
    return name


@pytest.fixture
def H(store):
    """consumer id -> request headers carrying a key issued to it (one key per consumer)."""
    keys: dict[str, dict] = {}

    def headers(consumer: str) -> dict:
        if consumer not in keys:
            keys[consumer] = {"Authorization": f"Bearer {access.issue_key(store, consumer, by='admin').token}"}
        return keys[consumer]
    return headers


@pytest.fixture
def grant(store, settings):
    """Apply (as admin) and approve (as the product's owner department): the new grant."""
    from govlake.products import get_product

    def give(consumer: str, product: str, purpose: str = "测试用途：接口验收", **kw) -> access.Grant:
        a = access.apply(store, consumer, product, purpose, by="admin", **kw)
        return access.approve(store, a.id, by=owner_of(store, get_product(product, settings).owner))
    return give


@pytest.fixture
def small_lake(settings) -> Lakehouse:
    """A profile, its tags (deletion vectors on: the SQL read path) and a street report, a few rows each."""
    from small_lake import build

    return build(settings)
