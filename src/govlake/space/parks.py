"""The park inventory's vocabulary: building types, rents, 环评类别 and the inventory's columns.
The runtime space modules read it from here; the inventory's generator (govlake.generate.parks)
uses it too, and the parks land as an extract, ingested like any source before the space
tables read them."""

from __future__ import annotations

import pyarrow as pa

TYPES = ("厂房", "研发用房", "办公", "仓储")
# (low, high) monthly rent 元/㎡ before the street factor
RENT = {"厂房": (22.0, 42.0), "研发用房": (38.0, 75.0), "办公": (55.0, 120.0), "仓储": (18.0, 36.0)}
STREET_RENT = {"新安街道": 1.25, "西乡街道": 1.18, "航城街道": 1.10, "福永街道": 1.0, "福海街道": 1.0,
               "沙井街道": 0.95, "新桥街道": 0.95, "松岗街道": 0.88, "燕罗街道": 0.85, "石岩街道": 0.88}
# 环评类别 a park's permits and infrastructure accept, from least to most demanding
EIA = ("登记表", "报告表", "报告书")

SCHEMA = pa.schema([
    ("park_id", pa.string()), ("park_name", pa.string()), ("street_code", pa.string()),
    ("street_name", pa.string()), ("community_name", pa.string()), ("address", pa.string()),
    ("building_type", pa.string()), ("total_area_sqm", pa.float64()), ("vacant_area_sqm", pa.float64()),
    ("rent_yuan_sqm", pa.float64()), ("floor_height_m", pa.float64()), ("elevator_load_kg", pa.int32()),
    ("power_kva", pa.int32()), ("eia_class", pa.string()), ("available_from", pa.date32()),
    ("contact_name", pa.string()), ("contact_phone", pa.string()),
])
