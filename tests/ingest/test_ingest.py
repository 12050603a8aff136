"""Generator + ingestion end to end on a small scale: every injected bad row is quarantined
under its rule, nothing is lost, re-runs commit nothing."""

import datetime as dt
import json

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from govlake.catalog import load_sources
from govlake.generate import generate_all, generate_changes
from govlake.ingest import ingest_all, ingest_source
from govlake.lakehouse import Lakehouse
from govlake.lineage.emitter import read_events
from govlake.settings import Settings

D1 = dt.date(2026, 11, 21)
D2 = dt.date(2026, 11, 22)
SCALE = 800


@pytest.fixture(scope="module")
def loaded(spark, tmp_path_factory):
    s = Settings(lake_root=tmp_path_factory.mktemp("ingest") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, s)
    m1 = generate_all(s, SCALE, 9, D1)
    recs = ingest_all(spark, lake, D1)
    return s, lake, m1, recs


def _expected(manifest, source):
    return {k: v for k, v in manifest["sources"][source]["bad_rows"].items() if v}


def test_quarantine_counts_match_manifest(loaded):
    s, lake, m1, recs = loaded
    by = {r.source: r for r in recs}
    for src in load_sources(s.catalog_dir):
        r = by[src.name]
        assert r.quarantined_by_rule == _expected(m1, src.name), src.name
        assert r.rows_read == m1["sources"][src.name]["rows"]
        assert r.rows_read == r.rows_written + r.rows_quarantined
    # The quarantine table agrees, per source and rule.
    q = lake.to_arrow("bronze.quarantine").to_pandas()
    got = q.groupby(["source", "rule"]).size().to_dict()
    want = {(src, rule): n for src in m1["sources"] for rule, n in _expected(m1, src).items()}
    assert got == want
    # ops.ingest_runs has one reconciled record per source.
    runs = lake.to_arrow("ops.ingest_runs").to_pandas()
    assert runs["reconciled"].all() and set(m1["sources"]) <= set(runs["source"])


def test_quarantine_rows_explain_themselves(loaded):
    s, lake, m1, recs = loaded
    q = lake.to_arrow("bronze.quarantine").to_pandas()
    row = q[(q.source == "enterprise_registry") & (q.rule == "uscc")].iloc[0]
    assert "统一社会信用代码" in row["detail"] and "GB 32100" in row["detail"]
    raw = json.loads(row["raw"])
    assert set(raw) == set(load_sources(s.catalog_dir)["enterprise_registry"].column_names)
    enc = q[q.rule == "bad_encoding"]
    assert enc["raw"].str.contains("\ufffd").all()
    dup = q[q.rule == "duplicate_key"]
    assert dup["detail"].str.contains("repeats an earlier row").all()
    after = q[(q.source == "certificates") & (q.rule == "after")].iloc[0]
    assert after["column"] == "expiry_date" and "有效期至" in after["detail"]


def test_bronze_is_typed_labelled_and_readable_by_delta_rs(loaded):
    s, lake, m1, recs = loaded
    dt_ = DeltaTable(str(lake.path("bronze.enterprise_registry")))
    t = dt_.to_pyarrow_table()
    assert t.schema.field("reg_date").type == pa.date32()
    assert t.schema.field("reg_capital_wan").type == pa.float64()
    assert t.schema.field("is_listed").type == pa.bool_()
    assert dt_.metadata().partition_columns == ["_load_date"]
    comments = {f["name"]: f["metadata"].get("comment") for f in json.loads(dt_.schema().to_json())["fields"]}
    assert comments["uscc"] == "统一社会信用代码" and comments["reg_capital_wan"] == "注册资本（万元）"
    pet = lake.to_arrow("bronze.petitions")
    assert pet.schema.field("submit_time").type.__class__ is pa.TimestampType
    assert pet.schema.field("satisfaction_feedback").type == pa.int32()
    # Multi-line quoted text and Chinese survive.
    assert any("\n" not in c and "街道" in c for c in pet.column("content").to_pylist()[:200])
    # Spark reads the same rows.
    assert lake.read("bronze.petitions").count() == pet.num_rows


def test_rerun_commits_nothing(loaded, spark):
    s, lake, m1, recs = loaded
    tables = ["bronze.petitions", "bronze.certificates", "bronze.quarantine", "bronze.departments"]
    before = {t: lake.version(t) for t in tables}
    # "departments" by name, as `govlake ingest --source departments` asks for it
    again = ingest_all(spark, lake, D1, ["petitions", "certificates", "departments"])
    assert {r.source for r in again} >= {"petitions", "certificates", "departments"}
    assert not any(r.committed for r in again)
    assert {t: lake.version(t) for t in tables} == before
    first = {r.source: r for r in recs}
    for r in again:
        assert (r.rows_read, r.rows_written, r.rows_quarantined) == (
            first[r.source].rows_read, first[r.source].rows_written, first[r.source].rows_quarantined)


def test_lineage_events(loaded):
    s, lake, m1, recs = loaded
    ev = [e for e in read_events(s.lineage_path) if e["job"]["name"] == "ingest_petitions" and e["eventType"] == "COMPLETE"]
    assert ev
    outs = {o["facets"]["symlinks"]["identifiers"][0]["name"]: o for o in ev[0]["outputs"]}
    b = outs["bronze.petitions"]
    assert b["outputFacets"]["outputStatistics"]["rowCount"] == {r.source: r for r in recs}["petitions"].rows_written
    assert b["facets"]["columnLineage"]["fields"]["content"]["inputFields"][0]["field"] == "content"
    assert "bronze.quarantine" in outs
    assert ev[0]["inputs"][0]["facets"]["symlinks"]["identifiers"][0]["name"] == "landing.petitions"


def test_daily_changes_ingest_as_second_load_date(loaded, spark):
    s, lake, m1, recs = loaded
    m2 = generate_changes(s, 9, D1, D2, fraction=0.02, bad_share=0.3)
    recs2 = ingest_all(spark, lake, D2, ["enterprise_registry", "tax_annual", "petitions"])
    for r in recs2:
        assert r.quarantined_by_rule == _expected(m2, r.source), r.source
        assert r.rows_read == m2["sources"][r.source]["rows"]
    reg = lake.to_arrow("bronze.enterprise_registry").to_pandas()
    assert set(reg["_load_date"].astype(str)) == {"2026-11-21", "2026-11-22"}
    n2 = (reg["_load_date"].astype(str) == "2026-11-22").sum()
    assert 0 < n2 < SCALE * 0.1
    # Load date 1 untouched by load date 2.
    assert (reg["_load_date"].astype(str) == "2026-11-21").sum() == {r.source: r for r in recs}["enterprise_registry"].rows_written


def test_clean_extract_quarantines_nothing(spark, tmp_path):
    s = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)
    generate_all(s, 300, 2, D1, bad_share=0)
    lake = Lakehouse(spark, s)
    for src in ["enterprise_registry", "certificates", "petitions"]:
        r = ingest_source(spark, lake, src, D1)
        assert r.rows_quarantined == 0, (src, r.quarantined_by_rule)


def test_landing_changed_after_load_is_restated(spark, tmp_path):
    """Landing files changed after their load are a restatement (issue 25), never ignored."""
    s = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)
    generate_all(s, 200, 4, D1)
    lake = Lakehouse(spark, s)
    first = ingest_source(spark, lake, "financing", D1)
    f = s.landing_dir / "financing" / D1.isoformat() / "part-00000.csv"
    lines = f.read_bytes().split(b"\n")
    f.write_bytes(b"\n".join(lines[:-3]) + b"\n")  # two rows fewer than committed
    rec = ingest_source(spark, lake, "financing", D1)
    assert rec.status == "restated" and rec.rows_read == first.rows_read - 2 and rec.ok
    runs = lake.to_arrow("ops.ingest_runs").to_pandas().sort_values("recorded_at")
    assert list(runs["reconciled"]) == [True, True] and list(runs["status"]) == ["loaded", "restated"]
    r = lake.to_arrow("ops.restatements").to_pylist()[0]
    assert r["rows_removed"] + r["quarantined_before"] - r["quarantined_after"] == 2


def test_header_mismatch_is_a_clear_error(spark, tmp_path):
    s = Settings(lake_root=tmp_path / "lake")
    folder = s.landing_dir / "financing" / D1.isoformat()
    folder.mkdir(parents=True)
    (folder / "part-00000.csv").write_text("event_id,uscc,date\nRZ1,91440300708461136T,2026-01-01\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"header does not match .* missing \['event_date'"):
        ingest_source(spark, Lakehouse(spark, s), "financing", D1)
