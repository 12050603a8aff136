"""Space needs (空间需求) of growing enterprises in the released profile.

An enterprise needs space when its insured headcount grew by GROWTH or more over the year, or
grew at all while leases covering part of its space end within the year (续租/外迁). The need
(area, rent ceiling, type, facilities, move-in date) follows from what it uses now: its main
building type, space per employee and rent, with seeded variation per enterprise (the same
enterprise gets the same need for the same day)."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa

from govlake.space.parks import RENT
from govlake.space.streets import neighbours, street_names

GROWTH = 0.15
# the profile's space type columns (catalog/enterprise_fields/11_industrial_space.yaml) -> park type
TYPE_COLUMNS = {"space_factory_area_sqm": "厂房", "space_rd_space_area_sqm": "研发用房",
                "space_office_area_sqm": "办公", "space_warehouse_area_sqm": "仓储"}
# GB/T 4754 section -> type when the enterprise uses no space yet
SECTION_TYPE = {"C": "厂房", "M": "研发用房", "I": "研发用房", "G": "仓储"}
SQM_PER_HEAD = {"厂房": 30.0, "研发用房": 15.0, "办公": 10.0, "仓储": 40.0}
COLUMNS = ["uscc", "ent_name", "street_code", "industry_section", "insured_headcount_y1", "insured_headcount_y2",
           "space_active_area_sqm", "space_avg_rent_yuan_sqm", "space_expiring_1y_sqm", *TYPE_COLUMNS]

SCHEMA = pa.schema([
    ("need_id", pa.string()), ("uscc", pa.string()), ("ent_name", pa.string()), ("street_code", pa.string()),
    ("preferred_streets", pa.list_(pa.string())), ("building_type", pa.string()),
    ("min_area_sqm", pa.float64()), ("max_area_sqm", pa.float64()), ("max_rent_yuan_sqm", pa.float64()),
    ("min_floor_height_m", pa.float64()), ("min_elevator_load_kg", pa.int32()), ("min_power_kva", pa.int32()),
    ("eia_class", pa.string()), ("move_in_by", pa.date32()), ("reason_zh", pa.string()), ("as_of", pa.date32()),
])


def _rng(uscc: str, as_of: dt.date) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(f"{uscc}|{as_of}".encode()).hexdigest()[:12], 16))


def _f(v) -> float:
    return 0.0 if v is None else float(v)


def need_of(row: dict, as_of: dt.date) -> dict | None:
    """The space need of one profile row, or None when the enterprise is not growing."""
    hc1, hc2 = _f(row.get("insured_headcount_y1")), _f(row.get("insured_headcount_y2"))
    expiring, area = _f(row.get("space_expiring_1y_sqm")), _f(row.get("space_active_area_sqm"))
    if hc2 < 5 or hc1 <= hc2 or row.get("street_code") not in street_names():
        return None
    growth = hc1 / hc2 - 1
    relocating = expiring > 0
    if growth < GROWTH and not relocating:
        return None
    rng = _rng(row["uscc"], as_of)
    used = {t: _f(row.get(c)) for c, t in TYPE_COLUMNS.items()}
    btype = max(used, key=used.get) if max(used.values()) > 0 else SECTION_TYPE.get(row.get("industry_section") or "", "办公")
    per_head = area / hc1 if area > 0 else SQM_PER_HEAD[btype]
    if relocating:  # moving the expiring part, grown with the headcount
        lo = expiring * (1 + growth)
        why = f"参保人数一年增长{growth:.0%}（{hc2:.0f}→{hc1:.0f}人），{expiring:,.0f}㎡租约一年内到期"
    else:
        lo = (hc1 - hc2) * per_head
        why = f"参保人数一年增长{growth:.0%}（{hc2:.0f}→{hc1:.0f}人），需扩充空间"
    lo = float(np.clip(round(lo, -1), 100, 20000))
    hi = float(round(lo * rng.uniform(1.3, 2.0), -1))
    rent_now = _f(row.get("space_avg_rent_yuan_sqm"))
    # an average over all its leases: kept within the market range of the type it looks for
    lo_rent, hi_rent = RENT[btype]
    base = float(np.clip(rent_now, lo_rent, hi_rent)) if rent_now > 0 else float(np.mean(RENT[btype]))
    cap = float(round(base * rng.uniform(1.0, 1.35), 0))
    prefs = [row["street_code"]] + [s for s in neighbours(row["street_code"])[:1] if rng.random() < 0.6]
    height = load = power = 0
    eia = None
    if btype == "厂房":
        height = float(rng.choice([0, 5.0, 6.0, 8.0], p=[.3, .3, .3, .1]))
        load = int(rng.choice([0, 1000, 2000, 3000], p=[.3, .2, .3, .2]))
        power = int(rng.choice([0, 200, 315, 630], p=[.3, .3, .25, .15]))
        eia = str(rng.choice(["登记表", "报告表"], p=[.6, .4])) if row.get("industry_section") == "C" else "登记表"
    elif btype == "研发用房":
        height = float(rng.choice([0, 4.2], p=[.6, .4]))
        power = int(rng.choice([0, 100, 200], p=[.5, .3, .2]))
    elif btype == "仓储":
        height = float(rng.choice([0, 8.0], p=[.5, .5]))
        load = int(rng.choice([0, 2000, 3000], p=[.4, .3, .3]))
    return {
        "need_id": f"N{row['uscc'][-10:]}{as_of:%y%m%d}", "uscc": row["uscc"], "ent_name": row.get("ent_name") or "",
        "street_code": row["street_code"], "preferred_streets": prefs, "building_type": btype,
        "min_area_sqm": lo, "max_area_sqm": hi, "max_rent_yuan_sqm": cap, "min_floor_height_m": height,
        "min_elevator_load_kg": load, "min_power_kva": power, "eia_class": eia,
        "move_in_by": as_of + dt.timedelta(days=int(rng.integers(30, 181))), "reason_zh": why, "as_of": as_of,
    }


def needs_from_profile(profile: pa.Table, as_of: dt.date) -> pa.Table:
    """The needs of every growing enterprise of a profile table (columns COLUMNS, absent ones null)."""
    cols = [c for c in COLUMNS if c in profile.column_names]
    needs = [n for r in profile.select(cols).to_pylist() if (n := need_of(r, as_of)) is not None]
    return pa.Table.from_pylist(needs, schema=SCHEMA)
