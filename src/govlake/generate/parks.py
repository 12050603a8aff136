"""The generated park inventory (产业园区, source `industrial_parks` of catalog/sources.yaml):
deterministic for a seed, realistic ranges for Bao'an. `govlake generate` lands it as an extract
like the other sources; ingest brings it into bronze.industrial_parks, the enterprise_services step
publishes gold.industrial_parks from there (govlake.space.inventory).

Rents (元/㎡·月) by building type follow the district's published guide ranges roughly (厂房 in
the twenties to forties, 研发用房 higher, 办公 highest, 仓储 lowest), raised near the airport and
the old town (新安, 西乡) and lowered in the north (松岗, 燕罗, 石岩)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from govlake.generate.divisions import load_divisions
from govlake.space.parks import EIA, RENT, SCHEMA, STREET_RENT, TYPES

N_PARKS = 1896
SEED = 28

TYPE_SHARE = (0.46, 0.24, 0.18, 0.12)  # of TYPES
SUFFIX = ("工业园", "科技园", "智造园", "产业园", "创新园", "智慧谷", "物流园")

SURNAMES = list("陈黄李张刘林王吴郑梁何杨罗谢钟邓叶曾朱蔡")


def generate_parks(n: int = N_PARKS, seed: int = SEED, as_of: dt.date | None = None) -> pa.Table:
    """n parks (one building type each), the same for the same (n, seed, as_of)."""
    as_of = as_of or dt.date(2026, 12, 1)
    rng = np.random.default_rng(seed)
    c = load_divisions().communities
    ci = rng.integers(0, len(c), n)
    street = c["street_name"].to_numpy()[ci]
    kind = rng.choice(len(TYPES), n, p=TYPE_SHARE)
    btype = np.array(TYPES)[kind]
    lo = np.array([RENT[t][0] for t in btype])
    hi = np.array([RENT[t][1] for t in btype])
    rent = np.round((lo + (hi - lo) * rng.beta(2, 2, n)) * np.array([STREET_RENT[s] for s in street]), 1)
    total = np.round(np.exp(rng.uniform(np.log(4000), np.log(160000), n)), -1)
    vacancy = np.where(rng.random(n) < 0.12, 0.0, rng.beta(1.6, 6, n))  # some parks are full
    vacant = np.round(total * vacancy, -1)
    factory, rd, store = kind == 0, kind == 1, kind == 3
    height = np.round(np.select([factory, store, rd], [rng.uniform(4.5, 12, n), rng.uniform(6, 14, n),
                                                       rng.uniform(3.9, 6, n)], rng.uniform(3.2, 4.5, n)), 1)
    load = np.select([factory | store, rd], [rng.choice([0, 1000, 2000, 3000, 5000], n, p=[.05, .15, .35, .3, .15]),
                                             rng.choice([0, 1000, 2000], n, p=[.3, .5, .2])], 0)
    power = np.select([factory, rd, store], [rng.choice([200, 315, 500, 630, 800, 1250, 2000], n),
                                             rng.choice([100, 200, 315, 500], n), rng.choice([80, 100, 200], n)],
                      rng.choice([50, 80, 100], n))
    eia = np.select([factory], [rng.choice(3, n, p=[.35, .5, .15])], 0)
    avail = [as_of + dt.timedelta(days=int(d)) for d in np.where(rng.random(n) < 0.7, 0, rng.integers(15, 240, n))]
    stem = c["stem"].to_numpy()[ci]
    suffix = np.where(store, "物流园", np.array(SUFFIX[:6])[rng.integers(0, 6, n)])
    phase = np.array(["", "一期", "二期", "三期"])[rng.integers(0, 4, n)]
    names = [f"{s}{x}{p}" for s, x, p in zip(stem, suffix, phase)]
    seen: dict[str, int] = {}
    for i, nm in enumerate(names):  # same name twice in a community: the second is 第2园区 ...
        seen[nm] = seen.get(nm, 0) + 1
        if seen[nm] > 1:
            names[i] = f"{nm}（{seen[nm]}号区）"
    num = rng.integers(1, 400, n)
    return pa.table({
        "park_id": [f"P{i + 1:05d}" for i in range(n)],
        "park_name": names,
        "street_code": c["street_code"].to_numpy()[ci].tolist(),
        "street_name": street.tolist(),
        "community_name": c["community_name"].to_numpy()[ci].tolist(),
        "address": [f"深圳市宝安区{s}{cm}{st}路{k}号" for s, cm, st, k in
                    zip(street, c["community_name"].to_numpy()[ci], stem, num)],
        "building_type": btype.tolist(),
        "total_area_sqm": total.astype(float), "vacant_area_sqm": vacant.astype(float),
        "rent_yuan_sqm": rent.astype(float), "floor_height_m": height.astype(float),
        "elevator_load_kg": load.astype(np.int32), "power_kva": power.astype(np.int32),
        "eia_class": [EIA[k] for k in eia], "available_from": avail,
        "contact_name": [f"{SURNAMES[k]}经理" for k in rng.integers(0, len(SURNAMES), n)],
        "contact_phone": [f"0755-{k:08d}" for k in rng.integers(23000000, 29999999, n)],
    }, schema=SCHEMA)
