"""One SparkSession per test session; every test gets its own lake folder."""

from __future__ import annotations

import pytest

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
