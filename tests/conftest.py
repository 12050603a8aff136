"""One SparkSession per test session; every test gets its own lake folder; the lake's access store
with API keys and grants for the tests that call the API."""

from __future__ import annotations

import pytest

from govlake import access
from govlake.settings import Settings


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from govlake.spark import get_spark

    base = tmp_path_factory.mktemp("spark")
    s = Settings(lake_root=base, spark_shuffle_partitions=4, spark_driver_memory="2g")
    session = get_spark(s, app_name="govlake-tests")
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)


@pytest.fixture
def lake(spark, settings):
    from govlake.lakehouse import Lakehouse

    return Lakehouse(spark, settings)


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
