"""The match score of a park for a space need (空间匹配得分): hard filters, then a weighted fit.

Hard filters (any one fails: no match): same building type (类型), vacant area at least the
need's minimum (空置面积), rent at most the need's maximum (租金上限), every required facility
(层高, 货梯承重, 配电容量, 环评类别), available by the move-in date (可入驻日期), and within
MAX_KM of a preferred street.

Fit, each in [0, 1], weighted into a score out of 100:
  租金 rent      (max_rent - rent) / max_rent                         cheaper is better
  面积 area      1 if vacant >= max_area else (vacant - min) / (max - min)   room to grow
  街道 street    1 in a preferred street, else 1 - km / MAX_KM to the nearest one
  设施 facility  mean over required items of 0.5 + 0.5 * min(1, value / required - 1); 1 if none required

One function scores a need against a frame of parks (vectorised); both directions of the
matching call it, so a pair has the same score whichever side asks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from govlake.space.parks import EIA
from govlake.space.streets import street_km, street_names

WEIGHTS = {"rent": 0.30, "area": 0.25, "street": 0.25, "facility": 0.20}
LABELS = {"rent": "租金", "area": "面积", "street": "街道", "facility": "设施"}
MAX_KM = 15.0
# need column -> (park column, label, unit) for the numeric facility requirements
FACILITIES = {
    "min_floor_height_m": ("floor_height_m", "层高", "米"),
    "min_elevator_load_kg": ("elevator_load_kg", "货梯承重", "千克"),
    "min_power_kva": ("power_kva", "配电容量", "kVA"),
}


def _num(v) -> float:
    return 0.0 if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def _date(v) -> dt.date:
    return v.date() if isinstance(v, pd.Timestamp) else v


def street_distance(need: dict, codes: np.ndarray) -> np.ndarray:
    """km from each park's street to the nearest of the need's preferred streets (0 inside one)."""
    prefs = list(need["preferred_streets"]) or [need["street_code"]]
    table = {c: min(street_km(c, p) for p in prefs) for c in street_names()}
    return np.array([table.get(c, np.inf) for c in codes], dtype=float)


def prepare(parks: pd.DataFrame) -> pd.DataFrame:
    """parks with the columns the scorer compares as numbers (环评 rank, available date), once."""
    if "_eia" in parks.columns:
        return parks
    return parks.assign(_eia=parks["eia_class"].map({e: i for i, e in enumerate(EIA)}).to_numpy(int),
                        _available=pd.to_datetime(parks["available_from"]).to_numpy().astype("datetime64[D]"))


def score_parks(need: dict, parks: pd.DataFrame) -> pd.DataFrame:
    """For each park: ok (every hard filter passed), failed (the first hard filter failed, Chinese),
    the four fits, score (0..100, one decimal) and km to the nearest preferred street."""
    rent = parks["rent_yuan_sqm"].to_numpy(float)
    vacant = parks["vacant_area_sqm"].to_numpy(float)
    lo, hi, cap = _num(need["min_area_sqm"]), _num(need["max_area_sqm"]), _num(need["max_rent_yuan_sqm"])
    km = street_distance(need, parks["street_code"].to_numpy())
    eia_need = EIA.index(need["eia_class"]) if need.get("eia_class") else 0
    parks = prepare(parks)
    eia_park = parks["_eia"].to_numpy()
    move_in = _date(need["move_in_by"])
    avail = parks["_available"].to_numpy() <= np.datetime64(move_in, "D")

    checks = [  # (passes, what failed) in the order the reasons name them
        (parks["building_type"].to_numpy() == need["building_type"], f"类型不符（需{need['building_type']}）"),
        (vacant >= lo, f"空置面积不足{lo:,.0f}㎡"),
        (rent <= cap, f"租金高于上限{cap:g}元/㎡·月"),
    ]
    fac_fit, n_req = np.zeros(len(parks)), 0
    for ncol, (pcol, label, unit) in FACILITIES.items():
        req = _num(need.get(ncol))
        if req > 0:
            val = parks[pcol].to_numpy(float)
            checks.append((val >= req, f"{label}低于{req:g}{unit}"))
            fac_fit += 0.5 + 0.5 * np.clip(val / req - 1, 0, 1)
            n_req += 1
    checks.append((eia_park >= eia_need, f"环评类别不接受{need.get('eia_class') or EIA[0]}"))
    checks.append((avail, f"{move_in}前不可入驻"))
    checks.append((km <= MAX_KM, f"距意向街道超过{MAX_KM:g}公里"))
    ok = np.ones(len(parks), dtype=bool)
    failed = np.full(len(parks), "", dtype=object)
    for passes, what in checks:
        failed[(~passes) & ok] = what
        ok &= passes

    fits = {
        "rent": np.clip((cap - rent) / cap, 0, 1) if cap > 0 else np.zeros(len(parks)),
        "area": np.clip((vacant - lo) / (hi - lo), 0, 1) if hi > lo else (vacant >= lo).astype(float),
        "street": np.clip(1 - km / MAX_KM, 0, 1),
        "facility": fac_fit / n_req if n_req else np.ones(len(parks)),
    }
    score = np.round(100 * sum(WEIGHTS[k] * v for k, v in fits.items()), 1)
    out = pd.DataFrame({"park_id": parks["park_id"].to_numpy(), "ok": ok, "failed": failed,
                        **{f"{k}_fit": np.round(v, 4) for k, v in fits.items()}, "score": score, "km": np.round(km, 1)},
                       index=parks.index)
    return out


def reasons_zh(need: dict, park: dict, s: dict) -> str:
    """Why this park fits this need, in Chinese, with the figures the score used."""
    cap, lo, hi = _num(need["max_rent_yuan_sqm"]), _num(need["min_area_sqm"]), _num(need["max_area_sqm"])
    rent, vacant = float(park["rent_yuan_sqm"]), float(park["vacant_area_sqm"])
    parts = [f"类型相符（{park['building_type']}）",
             f"租金{rent:g}元/㎡·月，低于上限{cap:g}元{(cap - rent) / cap:.0%}" if rent < cap else f"租金{rent:g}元/㎡·月，等于上限",
             f"空置{vacant:,.0f}㎡，" + ("可满足需求上限" if vacant >= hi else f"满足需求下限{lo:,.0f}㎡"),
             f"位于意向街道{park['street_name']}" if s["km"] == 0 else
             f"{park['street_name']}距意向街道约{s['km']:g}公里"]
    fac = []
    for ncol, (pcol, label, unit) in FACILITIES.items():
        req = _num(need.get(ncol))
        if req > 0:
            fac.append(f"{label}{_num(park[pcol]):g}{unit}≥{req:g}{unit}")
    if need.get("eia_class"):
        fac.append(f"环评可至{park['eia_class']}")
    if fac:
        parts.append("设施满足：" + "，".join(fac))
    parts.append("得分" + " + ".join(f"{LABELS[k]}{WEIGHTS[k] * s[f'{k}_fit'] * 100:.1f}" for k in WEIGHTS)
                 + f" = {s['score']:g}")
    return "；".join(parts)
