"""Search parks and match them with needs, both ways, by govlake.space.scoring.

parks_for_need: every park passing the need's hard filters, best score first.
needs_for_park: every need the park passes, best score first (each need scored against this one
park by the same function, so a pair scores the same from either side).
run_space_matching: the top N parks of every need into gold.space_matches (the pipeline step)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from govlake.lakehouse import Lakehouse
from govlake.release import version_of
from govlake.lakehouse.arrow_writes import content_digest, replace_table
from govlake.space.inventory import MATCHES, NEEDS, PARKS, read
from govlake.space.scoring import prepare, reasons_zh, score_parks

TOP_N = 5
PARK_FIELDS = ["park_id", "park_name", "street_code", "street_name", "community_name", "address", "building_type",
               "total_area_sqm", "vacant_area_sqm", "rent_yuan_sqm", "floor_height_m", "elevator_load_kg",
               "power_kva", "eia_class", "available_from", "contact_name", "contact_phone"]
MATCH_SCHEMA = pa.schema([
    ("need_id", pa.string()), ("uscc", pa.string()), ("park_id", pa.string()), ("rank", pa.int32()),
    ("score", pa.float64()), ("rent_fit", pa.float64()), ("area_fit", pa.float64()), ("street_fit", pa.float64()),
    ("facility_fit", pa.float64()), ("reasons_zh", pa.string()), ("as_of", pa.date32()),
])


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v


def record(row: pd.Series) -> dict:
    return {k: _plain(v) for k, v in row.items()}


def search_parks(parks: pd.DataFrame, *, street: str | None = None, max_rent: float | None = None,
                 min_area: float | None = None, building_type: str | None = None) -> pd.DataFrame:
    """Parks by street (code or name), rent ceiling, minimum vacant area and type; cheapest first."""
    m = pd.Series(True, index=parks.index)
    if street:
        m &= (parks["street_code"] == street) | (parks["street_name"] == street)
    if max_rent is not None:
        m &= parks["rent_yuan_sqm"] <= max_rent
    if min_area is not None:
        m &= parks["vacant_area_sqm"] >= min_area
    if building_type:
        m &= parks["building_type"] == building_type
    return parks[m].sort_values(["rent_yuan_sqm", "park_id"])


def _ranked(scored: pd.DataFrame) -> pd.DataFrame:
    """The passing rows, best score first (ties: smaller id first)."""
    ok = scored[scored["ok"].to_numpy()]
    order = np.lexsort((ok["park_id"].to_numpy(), -ok["score"].to_numpy()))
    return ok.iloc[order]


def parks_for_need(need: dict, parks: pd.DataFrame, limit: int | None = TOP_N, *,
                   records: dict[str, dict] | None = None) -> list[dict]:
    """The parks that pass the need's hard filters, best first, each with its fits and reasons.
    records: park_id -> park record, when the caller ranks many needs against the same parks."""
    ranked = _ranked(score_parks(need, parks))
    ranked = ranked if limit is None else ranked.head(limit)
    if records is None:
        records = park_records(parks[parks["park_id"].isin(ranked["park_id"])])
    out = []
    for rank, s in enumerate(ranked.to_dict("records"), 1):
        park = records[s["park_id"]]
        sd = {k: _plain(v) for k, v in s.items()}
        out.append({"rank": rank, **park, **{k: sd[k] for k in ("score", "rent_fit", "area_fit", "street_fit", "facility_fit", "km")},
                    "reasons_zh": reasons_zh(need, park, sd)})
    return out


def park_records(parks: pd.DataFrame) -> dict[str, dict]:
    return {r["park_id"]: {k: _plain(r[k]) for k in PARK_FIELDS} for r in parks.to_dict("records")}


def needs_for_park(park: dict, needs: pd.DataFrame, limit: int | None = None) -> list[dict]:
    """The needs this park passes, best first (same score as from the need's side)."""
    one = prepare(pd.DataFrame([park]))
    rows = []
    for _, n in needs.iterrows():
        need = record(n)
        s = record(score_parks(need, one).iloc[0])
        if s["ok"]:
            rows.append({"need_id": need["need_id"], "uscc": need["uscc"], "ent_name": need["ent_name"],
                         "building_type": need["building_type"], "min_area_sqm": need["min_area_sqm"],
                         "max_area_sqm": need["max_area_sqm"], "max_rent_yuan_sqm": need["max_rent_yuan_sqm"],
                         **{k: s[k] for k in ("score", "rent_fit", "area_fit", "street_fit", "facility_fit", "km")},
                         "reasons_zh": reasons_zh(need, park, s)})
    rows.sort(key=lambda r: (-r["score"], r["need_id"]))
    rows = rows if limit is None else rows[:limit]
    return [{"rank": i, **r} for i, r in enumerate(rows, 1)]


def match_all(needs: pd.DataFrame, parks: pd.DataFrame, as_of: dt.date, top_n: int = TOP_N) -> pa.Table:
    rows = []
    parks, records = prepare(parks), park_records(parks)
    for _, n in needs.iterrows():
        need = record(n)
        for m in parks_for_need(need, parks, top_n, records=records):
            rows.append({"need_id": need["need_id"], "uscc": need["uscc"], "park_id": m["park_id"], "rank": m["rank"],
                         **{k: m[k] for k in ("score", "rent_fit", "area_fit", "street_fit", "facility_fit", "reasons_zh")},
                         "as_of": as_of})
    return pa.Table.from_pylist(rows, schema=MATCH_SCHEMA)


def run_space_matching(lake: Lakehouse, as_of: dt.date, top_n: int = TOP_N, *, versions: dict | None = None,
                       gate=None) -> dict:
    """gold.space_matches from the served versions of parks and needs (or `versions`: the ones
    the daily step has just committed and will release with the matches): the top N parks per
    need. gate: the quality gate (govlake.services.table_gate). Returns reconciled counts: needs,
    needs matched, matches written (counted from the log)."""
    versions = versions or {}
    pv = versions.get(PARKS, version_of(lake, PARKS))
    nv = versions.get(NEEDS, version_of(lake, NEEDS))
    parks, needs = read(lake, PARKS, pv), read(lake, NEEDS, nv)
    data = match_all(needs, parks, as_of, top_n)
    # keyed on the rows: the served versions move under OPTIMIZE without changing them
    out = replace_table(lake, MATCHES, data, f"space_matches@{as_of.isoformat()}-{content_digest(data)}", gate=gate)
    matched = len(set(data.column("need_id").to_pylist()))
    if out["committed"] and out["rows"] != data.num_rows:
        raise RuntimeError(f"{MATCHES}: {data.num_rows} matches computed, {out['rows']} in the log (对账不一致)")
    return {**out, "needs": len(needs), "needs_matched": matched, "parks": len(parks),
            "parks_version": pv, "needs_version": nv}
