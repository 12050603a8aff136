"""Fixtures of the services tests: the small lake (services_lake.py) and API keys and grants."""

from __future__ import annotations

import pytest

from govlake import access


@pytest.fixture
def services_lake(settings):
    from services_lake import build

    return build(settings)


@pytest.fixture
def store(settings):
    s = access.open_store(settings)
    access.create_account(s, "admin", None, "admin")
    yield s
    s.close()


@pytest.fixture
def H(store):
    keys: dict[str, dict] = {}

    def headers(consumer: str) -> dict:
        if consumer not in keys:
            keys[consumer] = {"Authorization": f"Bearer {access.issue_key(store, consumer, by='admin').token}"}
        return keys[consumer]
    return headers


@pytest.fixture
def grant(store, settings):
    from govlake.products import get_product

    def give(consumer: str, product: str, **kw) -> access.Grant:
        owner = get_product(product, settings).owner
        name = f"owner_{owner.lower()}"
        if access.get_account(store, name) is None:
            access.create_account(store, name, None, "owner", owner)
        a = access.apply(store, consumer, product, "测试用途：一企一档验收", by="admin", **kw)
        return access.approve(store, a.id, by=name)
    return give
