from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from govlake.lakehouse import Lakehouse
from govlake.space.streets import street_names

AS_OF = dt.date(2026, 12, 1)


def write_profile(lake: Lakehouse, n: int = 80, seed: int = 5) -> pa.Table:
    """A generated profile with the columns the needs read (delta-rs, as the profile build commits)."""
    rng = np.random.default_rng(seed)
    streets = sorted(street_names())
    hc2 = rng.integers(3, 300, n)
    hc1 = np.round(hc2 * rng.uniform(0.8, 1.6, n)).astype(int)
    area = np.round(hc1 * rng.uniform(8, 40, n), -1)
    kind = rng.integers(0, 4, n)
    cols = ["space_factory_area_sqm", "space_rd_space_area_sqm", "space_office_area_sqm", "space_warehouse_area_sqm"]
    t = pa.table({
        "uscc": [f"91440300{i:010d}" for i in range(n)],
        "ent_name": [f"测试企业{i}" for i in range(n)],
        "street_code": [streets[i % len(streets)] for i in range(n)],
        "industry_section": ["CMGF"[i % 4] for i in range(n)],
        "insured_headcount_y1": hc1.astype(np.int32), "insured_headcount_y2": hc2.astype(np.int32),
        "space_active_area_sqm": area, "space_avg_rent_yuan_sqm": np.round(rng.uniform(20, 90, n), 1),
        "space_expiring_1y_sqm": np.where(rng.random(n) < 0.3, np.round(area * 0.5, -1), 0.0),
        **{c: np.where(kind == k, area, 0.0) for k, c in enumerate(cols)},
    })
    write_deltalake(str(lake.path("gold.enterprise_profile")), t, mode="overwrite")
    return t


@pytest.fixture(scope="module")
def space_settings(tmp_path_factory):
    from govlake.settings import Settings

    base = tmp_path_factory.mktemp("space")
    return Settings(lake_root=base / "lake")


@pytest.fixture(scope="module")
def space_lake(space_settings):
    """A lake with a profile, 400 parks and the needs derived from the profile (no Spark)."""
    from govlake.space.inventory import write_needs, write_parks
    from govlake.generate.parks import generate_parks

    lake = Lakehouse(None, space_settings)
    write_profile(lake)
    write_parks(lake, AS_OF, parks=generate_parks(400, as_of=AS_OF))
    write_needs(lake, AS_OF)
    return lake
