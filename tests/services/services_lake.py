"""A small lake for the services tests, written by delta-rs (no Spark): a profile of a few
hundred generated enterprises, with the fields the key-enterprise rule reads."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

from govlake.lakehouse import Lakehouse

N = 400
STREETS = [f"4403060{i}" for i in range(17, 27)]


def usccs(n: int = N) -> list[str]:
    return [f"91440300{i:010d}" for i in range(n)]


def build(settings) -> Lakehouse:
    rng = np.random.default_rng(7)
    lake = Lakehouse(None, settings)
    tax = np.round(rng.lognormal(3, 1.5, N), 1)
    tax[rng.random(N) < 0.3] = 0.0
    status = np.where(rng.random(N) < 0.1, "注销", "存续")
    write_deltalake(str(lake.path("gold.enterprise_profile")), pa.table({
        "uscc": usccs(), "ent_name": [f"企业{i}" for i in range(N)],
        "street_code": [STREETS[i % len(STREETS)] for i in range(N)], "reg_status": status.tolist(),
        "legal_rep": [f"法人{i}" for i in range(N)], "contact_phone": ["13800000000"] * N,
        "is_above_scale_y1": (rng.random(N) < 0.2).tolist(), "hightech_revenue_y1_wan": np.where(rng.random(N) < 0.1, 100.0, 0.0),
        "total_tax_y1_wan": tax, "revenue_y1_wan": np.round(tax * 12 + rng.uniform(0, 50, N), 1)}))
    return lake
