"""The space tables in the lake: gold.industrial_parks (园区), gold.space_needs (空间需求),
gold.space_matches (匹配结果). Each is replaced whole in one delta-rs commit through
govlake.lakehouse, idempotent by app_id (the same inputs commit nothing the second time), its
rows counted back from the Delta log (reconciled).

The parks come from bronze.industrial_parks, the ingested inventory extract (source
`industrial_parks`, catalog/sources.yaml): the latest row of each park loaded up to the day, so a
park row the ingest quarantined (no street, no area ...) is not published."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from govlake.lakehouse import Lakehouse
from govlake.lakehouse.arrow_writes import content_digest, replace_table
from govlake.release import version_of
from govlake.space.needs import COLUMNS as PROFILE_COLUMNS, needs_from_profile
from govlake.space.parks import SCHEMA as PARKS_SCHEMA

PARKS, NEEDS, MATCHES, PROFILE = "gold.industrial_parks", "gold.space_needs", "gold.space_matches", "gold.enterprise_profile"
BRONZE_PARKS = "bronze.industrial_parks"


def parks_from_bronze(lake: Lakehouse, as_of: dt.date | None = None) -> pa.Table:
    """The inventory in bronze: each park's latest row loaded on or before as_of (all loads
    without as_of), typed as gold.industrial_parks, by park id."""
    if not lake.exists(BRONZE_PARKS):
        raise FileNotFoundError(f"no {BRONZE_PARKS}: land and ingest the park inventory first (`govlake generate`, "
                                "`govlake ingest --sources industrial_parks`) (园区清单尚未入湖)")
    t = lake.to_arrow(BRONZE_PARKS, columns=[*PARKS_SCHEMA.names, "_load_date"])
    if as_of is not None:
        t = t.filter(pc.less_equal(t["_load_date"], pa.scalar(as_of, pa.date32())))
    df = t.to_pandas().sort_values(["park_id", "_load_date"]).drop_duplicates("park_id", keep="last")
    return pa.Table.from_pandas(df.drop(columns="_load_date"), schema=PARKS_SCHEMA, preserve_index=False)


def write_parks(lake: Lakehouse, as_of: dt.date | None = None, *, gate=None, parks: pa.Table | None = None) -> dict:
    """gold.industrial_parks from bronze (parks_from_bronze), or from `parks` given (a Spark-free
    test of the matching; `govlake space generate --parks N`). gate: the quality gate of the
    staged rows (govlake.services.table_gate), None in Spark-free tests of the computation only.
    {"table", "rows", "version", "committed", "source"}."""
    data = parks_from_bronze(lake, as_of) if parks is None else parks.cast(PARKS_SCHEMA)
    out = replace_table(lake, PARKS, data, f"industrial_parks@{content_digest(data)}", gate=gate)
    return {**out, "source": BRONZE_PARKS if parks is None else "given"}


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
