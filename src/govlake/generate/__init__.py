"""Seeded source extracts for every source in catalog/sources.yaml (landing CSV + manifest).

    generate_all(settings, scale, seed, load_date)       full extract of every source
    generate_changes(settings, seed, base_date, load_date) the day's delta after a full load

Same seed + scale + date -> byte-identical files. The manifest records rows and the injected
bad rows per rule, which ingestion must quarantine exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib

import numpy as np
import pandas as pd

from govlake.catalog import load_certificate_types, load_departments, load_sources
from govlake.generate.divisions import load_divisions
from govlake.generate.enterprises import build_population, certificates, events, registry, yearly
from govlake.generate.extract import format_frame, inject_defects, write_parts
from govlake.generate.parks import N_PARKS, SEED as PARKS_SEED, generate_parks
from govlake.generate.tickets import generate_petitions
from govlake.settings import Settings

__all__ = ["generate_all", "generate_changes", "land_parks", "manifest_path", "read_manifest", "petition_count"]

BAD_SHARE = 0.01


def _rng(seed: int, *stream) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def petition_count(scale: int) -> int:
    """Petitions per year at the district's ratio (Bao'an: ~188,000 a year for ~900,000
    enterprises), at least 3,000 so a small run still has bursts and repeats to detect."""
    return max(3000, round(scale * 188_000 / 900_000))


def manifest_path(settings: Settings, load_date: dt.date):
    return settings.landing_dir / "_manifests" / f"{load_date.isoformat()}.json"


def read_manifest(settings: Settings, load_date: dt.date) -> dict:
    p = manifest_path(settings, load_date)
    if not p.exists():
        raise FileNotFoundError(f"no generator manifest for {load_date} at {p}; run `govlake generate` first")
    return json.loads(p.read_text(encoding="utf-8"))


def _population(settings: Settings, scale: int, seed: int, as_of: dt.date) -> pd.DataFrame:
    return build_population(_rng(seed, 1), scale, as_of, load_divisions(settings))


def _land(settings: Settings, src, df: pd.DataFrame, seed: int, load_date: dt.date, bad_share: float,
          min_per_rule: int = 1) -> dict:
    """One source's extract (landing/<source>/<date>/) with its injected bad rows, from the
    source's own random stream: {"rows", "bad_rows", "bad_total", "files"} as in the manifest."""
    text = format_frame(df, src)
    rng = _rng(seed, 6, load_date.toordinal(), zlib.crc32(src.name.encode()))
    text, bad = inject_defects(text, src, rng, bad_share, min_per_rule)
    files = write_parts(text, settings.landing_dir / src.name / load_date.isoformat())
    return {"rows": len(text), "bad_rows": bad, "bad_total": sum(bad.values()), "files": files}


def _write(settings: Settings, frames: dict[str, pd.DataFrame], seed: int, load_date: dt.date,
           bad_share: float, meta: dict, min_per_rule: int = 1) -> dict:
    catalog = load_sources(settings.catalog_dir)
    sources = {}
    for src in catalog:
        df = frames.get(src.name)
        if df is None:
            df = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in src.columns})
        sources[src.name] = _land(settings, src, df, seed, load_date, bad_share, min_per_rule)
    manifest = {"load_date": load_date.isoformat(), "seed": seed, "bad_share": bad_share, **meta, "sources": sources}
    p = manifest_path(settings, load_date)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def parks_frame(load_date: dt.date, n: int = N_PARKS) -> pd.DataFrame:
    """The district's park inventory as the industrial-space platform exports it: the whole
    inventory whatever the scale (it counts parks, not enterprises), the same for the same date."""
    df = generate_parks(n, PARKS_SEED, load_date).to_pandas()
    df["available_from"] = pd.to_datetime(df["available_from"])
    return df


def land_parks(settings: Settings, load_date: dt.date, *, n: int = N_PARKS, seed: int = PARKS_SEED,
               bad_share: float = BAD_SHARE) -> dict:
    """The park inventory's extract alone (landing/industrial_parks/<date>/), with its share of bad
    rows: for a lake that lands only this source (tests, a re-export of the inventory).
    {"rows", "bad_rows", "bad_total", "files"} as in the manifest."""
    src = load_sources(settings.catalog_dir)["industrial_parks"]
    return _land(settings, src, parks_frame(load_date, n), seed, load_date, bad_share)


def generate_all(settings: Settings, scale: int, seed: int, load_date: dt.date, *, bad_share: float = BAD_SHARE) -> dict:
    """Full extract of every source for load_date; returns (and writes) the manifest."""
    t0 = time.perf_counter()
    pop = _population(settings, scale, seed, load_date)
    frames = {"enterprise_registry": registry(pop)}
    frames.update(yearly(_rng(seed, 2), pop, load_date))
    frames.update(events(_rng(seed, 3), pop, load_date, load_departments(settings.catalog_dir)))
    frames["certificates"] = certificates(_rng(seed, 4), pop, load_date, load_certificate_types(settings.catalog_dir))
    as_of = dt.datetime.combine(load_date, dt.time())
    frames["petitions"] = generate_petitions(
        _rng(seed, 5), pop, load_departments(settings.catalog_dir), petition_count(scale),
        as_of - dt.timedelta(days=365), 365, as_of)
    frames["industrial_parks"] = parks_frame(load_date)
    m = _write(settings, frames, seed, load_date, bad_share, {"kind": "full", "scale": scale})
    m["seconds"] = round(time.perf_counter() - t0, 2)
    return m


def generate_changes(settings: Settings, seed: int, base_date: dt.date, load_date: dt.date,
                     fraction: float = 0.01, *, bad_share: float = BAD_SHARE) -> dict:
    """The daily delta for load_date after the full extract of base_date: for `fraction` of the
    enterprises, changed registry / yearly / IP / certificate / credit rows, a few new
    registrations, and the day's new petitions. Same landing layout and manifest."""
    if load_date <= base_date:
        raise ValueError(f"load_date {load_date} must be after base_date {base_date}")
    base = read_manifest(settings, base_date)
    scale, base_seed = int(base["scale"]), int(base["seed"])
    pop = _population(settings, scale, base_seed, base_date)
    rng = _rng(seed, 7, load_date.toordinal())
    depts = load_departments(settings.catalog_dir)
    offset = 5_000_000 + (load_date - base_date).days * 50_000
    yesterday = np.datetime64(load_date - dt.timedelta(days=1), "D")

    alive = np.flatnonzero(pop["status"].isin(["存续", "在业"]).to_numpy())
    k = min(len(alive), max(1, round(fraction * scale)))
    chg = pop.iloc[np.sort(rng.choice(alive, k, replace=False))].copy()
    # Registry changes: capital increases, moves, a few closures.
    r = rng.random(k)
    chg.loc[r < 0.5, "reg_capital_wan"] = np.round(chg.loc[r < 0.5, "reg_capital_wan"] * rng.uniform(1.1, 3, (r < 0.5).sum()), 2)
    chg.loc[r > 0.93, "status"] = rng.choice(["注销", "迁出", "吊销"], (r > 0.93).sum(), p=[0.6, 0.3, 0.1])
    new = build_population(_rng(seed, 8, load_date.toordinal()), max(1, round(scale * 0.0005)), load_date,
                           load_divisions(settings))
    new = new[~new["uscc"].isin(pop["uscc"])]
    new["reg_date"] = np.datetime64(yesterday, "ns")
    frames = {"enterprise_registry": pd.concat([registry(chg), registry(new)], ignore_index=True)}
    # Revised figures for the latest full year.
    ys = yearly(rng, chg, load_date)
    last = load_date.year - 1
    for name in ("tax_annual", "social_insurance", "rd_activity"):
        frames[name] = ys[name][ys[name]["year"] == last].reset_index(drop=True)
    ev = events(rng, chg, load_date, depts, id_offset=offset)
    ip = ev["ip_records"].drop_duplicates("uscc").copy()
    ip["apply_date"], ip["grant_date"], ip["status"] = yesterday, np.datetime64("NaT"), "申请中"
    frames["ip_records"] = ip.reset_index(drop=True)
    frames["credit_records"] = ev["credit_records"][rng.random(len(ev["credit_records"])) < 0.3].assign(
        decision_date=yesterday, repaired_date=np.datetime64("NaT")).reset_index(drop=True)
    cert = certificates(rng, chg, load_date, load_certificate_types(settings.catalog_dir), id_offset=offset)
    cert = cert[rng.random(len(cert)) < 0.3].copy()
    valid = {c.name: c.valid_years for c in load_certificate_types(settings.catalog_dir)}
    cert["issue_date"] = yesterday
    cert["expiry_date"] = yesterday + cert["cert_type"].map(valid).to_numpy() * 365 - 1
    cert["status"] = "有效"
    frames["certificates"] = cert.reset_index(drop=True)
    as_of = dt.datetime.combine(load_date, dt.time())
    n_pet = max(10, round(petition_count(scale) / 365))
    frames["petitions"] = generate_petitions(_rng(seed, 9, load_date.toordinal()), pop, depts, n_pet,
                                             as_of - dt.timedelta(days=1), 1, as_of, seq_offset=offset)
    return _write(settings, frames, seed, load_date, bad_share,
                  {"kind": "changes", "base_date": base_date.isoformat(), "scale": scale, "fraction": fraction,
                   "changed_enterprises": k}, min_per_rule=0)


def labelled_sample(settings, n: int = 3000, *, seed: int = 21, scale: int = 2000,
                    as_of: dt.datetime = dt.datetime(2026, 11, 1)) -> pd.DataFrame:
    """A year of generated petitions with their handling department (text = title。content,
    handling_dept_code non-empty): training data for tests and docs that must run without the
    shared hotline data."""
    pop = _population(settings, scale, seed, as_of.date())
    df = generate_petitions(_rng(seed, 5), pop, load_departments(settings.catalog_dir), n,
                            as_of - dt.timedelta(days=365), 365, as_of)
    df = df[df["handling_dept_code"] != ""].reset_index(drop=True)
    df.insert(0, "text", df["title"] + "。" + df["content"])
    return df
