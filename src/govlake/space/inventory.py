"""The space tables in the lake: gold.industrial_parks (园区), gold.space_needs (空间需求),
gold.space_matches (匹配结果). Each is replaced whole in one delta-rs commit through
govlake.lakehouse, idempotent by app_id (the same inputs commit nothing the second time), its
rows counted back from the Delta log (reconciled)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd

from govlake.lakehouse import Lakehouse
from govlake.lakehouse.arrow_writes import content_digest, replace_table
from govlake.release import version_of
from govlake.space.needs import COLUMNS as PROFILE_COLUMNS, needs_from_profile
from govlake.space.parks import N_PARKS, SEED, generate_parks

PARKS, NEEDS, MATCHES, PROFILE = "gold.industrial_parks", "gold.space_needs", "gold.space_matches", "gold.enterprise_profile"

def digest(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def write_parks(lake: Lakehouse, n: int = N_PARKS, seed: int = SEED, as_of: dt.date | None = None, *,
                gate=None) -> dict:
    """gate: the quality gate of the staged rows (govlake.services.table_gate), None in Spark-free
    tests of the computation only."""
    data = generate_parks(n, seed, as_of)
    return replace_table(lake, PARKS, data, f"industrial_parks@{digest(n, seed, as_of)}", gate=gate)


def write_needs(lake: Lakehouse, as_of: dt.date, *, gate=None) -> dict:
    """Needs from the released profile (gold.enterprise_profile at the version readers serve)."""
    v = version_of(lake, PROFILE)
    if v is None:
        raise FileNotFoundError(f"no {PROFILE}: build the profile first (企业画像不存在，无法生成空间需求)")
    cols = [c for c in PROFILE_COLUMNS if c in lake.arrow_schema(PROFILE, v).names]
    data = needs_from_profile(lake.to_arrow(PROFILE, version=v, columns=cols), as_of)
    out = replace_table(lake, NEEDS, data, f"space_needs@{as_of.isoformat()}-{content_digest(data)}", gate=gate)
    return {**out, "profile_version": v}


def read(lake: Lakehouse, table: str, version: int | None = None) -> pd.DataFrame:
    """The table at the version readers serve (govlake.release), or at `version` (the step's own
    read of what it has just committed, before its release)."""
    if not lake.exists(table):
        raise FileNotFoundError(f"no {table}: run `govlake space generate` first (空间数据尚未生成)")
    return lake.to_arrow(table, version=version_of(lake, table) if version is None else version).to_pandas()
