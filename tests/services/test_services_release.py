"""The enterprise_services step's tables: gated by GX before their commits, released together,
a re-run of the day records nothing, a failing gate leaves readers on the previous release.
Real Spark (GX), real Delta, a profile of a few hundred generated enterprises."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from govlake import release
from govlake.quality import QualityGateFailed
from govlake.services.daily_release import STEP, run_enterprise_services
from govlake.services.table_gate import TABLES
from govlake.space.streets import street_names

AS_OF = dt.date(2026, 12, 1)
N = 150
SPACE = ["space_factory_area_sqm", "space_rd_space_area_sqm", "space_office_area_sqm", "space_warehouse_area_sqm"]


def profile(n: int = N, seed: int = 11) -> pa.Table:
    """The columns the key-enterprise rule, the space needs and the file read."""
    rng = np.random.default_rng(seed)
    streets = sorted(street_names())
    tax = np.round(rng.lognormal(3, 1.5, n), 1)
    tax[rng.random(n) < 0.3] = 0.0
    hc2 = rng.integers(3, 300, n)
    hc1 = np.round(hc2 * rng.uniform(0.8, 1.6, n)).astype(np.int32)
    area = np.round(hc1 * rng.uniform(8, 40, n), -1)
    kind = rng.integers(0, 4, n)
    return pa.table({
        "uscc": [f"91440300{i:010d}" for i in range(n)], "ent_name": [f"企业{i}" for i in range(n)],
        "street_code": [streets[i % len(streets)] for i in range(n)], "reg_status": ["存续"] * n,
        "industry_section": ["CMGF"[i % 4] for i in range(n)],
        "is_above_scale_y1": (rng.random(n) < 0.2).tolist(),
        "hightech_revenue_y1_wan": np.where(rng.random(n) < 0.1, 100.0, 0.0), "total_tax_y1_wan": tax,
        "revenue_y1_wan": np.round(tax * 12 + rng.uniform(0, 50, n), 1),
        "insured_headcount_y1": hc1, "insured_headcount_y2": hc2.astype(np.int32),
        "space_active_area_sqm": area, "space_avg_rent_yuan_sqm": np.round(rng.uniform(20, 90, n), 1),
        "space_expiring_1y_sqm": np.where(rng.random(n) < 0.3, np.round(area * 0.5, -1), 0.0),
        **{c: np.where(kind == k, area, 0.0) for k, c in enumerate(SPACE)}})


@pytest.fixture
def services_lake(lake):
    """The profile, and the park inventory landed as an extract and ingested into bronze."""
    from govlake.generate import land_parks
    from govlake.ingest import ingest_source

    write_deltalake(str(lake.path("gold.enterprise_profile")), profile())
    land_parks(lake.settings, AS_OF, n=300, bad_share=0)
    ingest_source(lake.spark, lake, "industrial_parks", AS_OF)
    return lake


def quality_rows(lake) -> list[dict]:
    t = lake.to_arrow("ops.quality_results", columns=["table", "success", "n_failed"])
    return [r for r in t.to_pylist() if r["table"] in TABLES]


def test_released_together_rerun_records_nothing(services_lake):
    lake = services_lake
    # the suites counted from the staged files (the Arrow engine): the GX run is the test below
    out = run_enterprise_services(lake, AS_OF, engine="arrow")
    rel = release.current(lake)
    assert rel.release_id == out["release"] and rel.step == STEP and set(rel.published) == set(TABLES)
    for t in TABLES:  # readers serve exactly what the step committed
        assert release.version_of(lake, t) == lake.version(t) == rel.tables[t]
    checked = quality_rows(lake)
    assert sorted(r["table"] for r in checked) == sorted(TABLES) and all(r["success"] for r in checked)
    assert out["requests"]["requests"] > 0 and out["space_matches"]["rows"] > 0
    assert out["parks"]["source"] == "bronze.industrial_parks" and out["parks"]["rows"] == 300
    assert any("撮合" in line for line in out["summary_zh"])

    # the same day again, as the pipeline's step (parks from bronze): same rows, no commit, no
    # gate run, no second release
    from govlake.pipeline import StepContext, run_step

    again = run_step(STEP, StepContext(lake.settings, AS_OF, N, _spark=lake.spark, _lake=lake))
    assert again["release"] == rel.release_id and again["committed"] == []
    assert len(release.history(lake)) == 1 and len(quality_rows(lake)) == len(TABLES)


def test_failing_gx_gate_blocks_the_release(services_lake):
    lake = services_lake
    first = run_enterprise_services(lake, AS_OF, engine="arrow")
    before = {t: lake.version(t) for t in TABLES}
    # the next day's profile repeats enterprises (a bad upstream build): Great Expectations finds
    # the space needs' key repeated
    p = profile()
    write_deltalake(str(lake.path("gold.enterprise_profile")), pa.concat_tables([p, p.slice(0, 40)]), mode="overwrite")
    with pytest.raises(QualityGateFailed) as e:
        run_enterprise_services(lake, AS_OF + dt.timedelta(days=1))
    res = e.value.result
    assert res.engine == "gx" and "expect_column_values_to_be_unique on need_id (需求编号)" in str(e.value)
    assert release.current(lake).release_id == first["release"]
    for t in TABLES:  # readers still on the previous release, whatever was committed before the gate
        assert release.version_of(lake, t) == before[t]
    failed = [r for r in quality_rows(lake) if not r["success"]]
    assert [r["table"] for r in failed] == [res.table] and failed[0]["n_failed"] >= 1
    # nothing of the refused table committed, its staged files gone
    assert lake.version(res.table) == before[res.table] and not list(lake.path(res.table).glob("_tmp-*"))
