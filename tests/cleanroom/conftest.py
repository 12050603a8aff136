"""Fixtures over cleanroom_lake: per test, and one shared lake per module for refusal cases."""

from __future__ import annotations

import pyarrow as pa
import pytest
from cleanroom_lake import PARTY, STREETS, enterprises, make_catalog, make_lake, make_store
from deltalake import write_deltalake

from govlake import access
from govlake.lakehouse import Lakehouse
from govlake.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(lake_root=tmp_path / "lake", catalog_dir=make_catalog(tmp_path), spark_shuffle_partitions=4)


@pytest.fixture
def rows() -> list[dict]:
    return enterprises()


@pytest.fixture
def lake(settings) -> Lakehouse:
    return make_lake(settings)


@pytest.fixture
def store(settings, lake):
    s = make_store(settings)
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """(settings, store) of one lake for a module's many refusal cases (refusals record no cells)."""
    base = tmp_path_factory.mktemp("cleanroom")
    s = Settings(lake_root=base / "lake", catalog_dir=make_catalog(base), spark_shuffle_partitions=4)
    make_lake(s)
    st = make_store(s)
    yield s, st
    st.close()


@pytest.fixture
def ledger(settings):
    from govlake.cleanroom import Ledger

    led = Ledger(settings)
    yield led
    led.close()


@pytest.fixture
def tags(settings, lake, store, rows) -> dict[str, set[str]]:
    """gold.enterprise_tags: T_A on every enterprise of the first street, T_B on the same but
    one, T_C on every enterprise; bank_a granted the tags. Returns tag -> enterprises."""
    street = next(iter(STREETS))
    a = {x["uscc"] for x in rows if x["street_code"] == street}
    given = {"T_A": a, "T_B": a - {min(a)}, "T_C": {x["uscc"] for x in rows}}
    data = [{"uscc": u, "tag_id": t, "tag_name": t, "evidence": "测试"} for t, us in given.items() for u in sorted(us)]
    write_deltalake(str(lake.path("gold.enterprise_tags")), pa.Table.from_pylist(data), mode="append")
    from govlake.products import get_product

    owner = get_product("gold.enterprise_tags", settings).owner
    name = f"owner_{owner.lower()}"
    if access.get_account(store, name) is None:
        access.create_account(store, name, None, "owner", owner)
    app = access.apply(store, PARTY, "gold.enterprise_tags", "融资风险评估（沙箱）", by="admin")
    access.approve(store, app.id, by=name)
    return given
