"""The generated SQL runs: every model in DuckDB on tiny data (fast), a source + category model
and the tags in Spark, and (slow) the full Spark build with incremental == full rebuild."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake import rulelang
from govlake.catalog.enterprise import load_enterprise_fields, load_enterprise_tags
from govlake.profile import sqlgen
from tests.profile.conftest import spark_sql_of

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def bronze(spark, tmp_path_factory):
    """One synthetic bronze for the module's tests (a dozen Delta tables: ~15 s to write)."""
    from govlake.lakehouse import Lakehouse
    from govlake.profile.synthetic import write_bronze
    from govlake.settings import Settings

    lake = Lakehouse(spark, Settings(lake_root=tmp_path_factory.mktemp("profile_sql") / "lake",
                                     spark_shuffle_partitions=4))
    write_bronze(spark, lake, 40, AS_OF, dt.date(2025, 6, 29))
    return lake


def test_derived_fields_are_one_projection_of_base(settings):
    """No stacked layers: every derived field is inlined over int_enterprise_base columns."""
    catalog = load_enterprise_fields(settings.catalog_dir)
    sql = sqlgen.profile_sql(catalog)
    assert "level_0 AS" not in sql and sql.count("FROM {{ ref('int_enterprise_base') }}") == 1
    derived = sqlgen.derived_sql(catalog.fields, catalog)
    assert set(derived) == {f.id for f in catalog.fields if f.kind == "expr"}
    base = {f.id for f in catalog.fields if f.kind != "expr"}
    from govlake.catalog.enterprise import _idents

    for fid, text in derived.items():  # only base columns are read
        names, _ = _idents(text)
        assert not (names & set(derived)), fid
    growth = derived["revenue_growth_2y_avg"]
    assert derived["revenue_growth_y1"] in growth and "revenue_y3_wan" in growth and "revenue_y1_wan" in base


def test_direct_engine_runs_the_models_dbt_compiles_for_spark(spark, bronze, tmp_path):
    """The direct engine's views are dbt's Spark compile of the committed models (staging too):
    dates as literals, the dialect's macros rendered for Spark, and an edited model in a copy of
    the dbt project changes what the engine computes."""
    import shutil

    from govlake.lakehouse import Lakehouse
    from govlake.profile import compiled, direct

    sql = dict(compiled.spark_models(["enterprise_profile"], AS_OF, bronze.settings.dbt_dir))
    assert "DATE '2025-06-30'" in sql["enterprise_profile"] and "collect_set" in sql["int_enterprise_src_subsidies"]
    assert "bronze__tax_annual" in sql["stg_tax_annual"] and "date'2025-06-30'" in sql["stg_tax_annual"]
    assert "{{" not in "".join(sql.values()) and "global_temp" not in "".join(sql.values())
    dbt_dir = shutil.copytree(bronze.settings.dbt_dir, tmp_path / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    scope = dbt_dir / "models" / "intermediate" / "int_enterprise_scope.sql"
    scope.write_text(scope.read_text(encoding="utf-8").replace(
        "SELECT DISTINCT uscc FROM {{ ref('stg_enterprise_registry') }}",
        "SELECT DISTINCT uscc FROM {{ ref('stg_enterprise_registry') }} WHERE uscc <= '91440306MA00000009'"), encoding="utf-8")
    edited = Lakehouse(spark, bronze.settings.model_copy(update={"dbt_dir": dbt_dir}))
    assert direct.model_views(spark, edited, AS_OF, ("enterprise_profile",))["enterprise_profile"].count() == 10
    assert direct.model_views(spark, bronze, AS_OF, ("enterprise_profile",))["enterprise_profile"].count() == 40


def test_distinct_counts_render_without_expand():
    got = sqlgen._distinct_counts("count(DISTINCT CASE WHEN d > DATE '2025-01-01' THEN x END) + count( distinct y) - count(z)")
    assert got == ('{{ profile_count_distinct("CASE WHEN d > DATE \'2025-01-01\' THEN x END") }} + '
                   '{{ profile_count_distinct("y") }} - count(z)')


def test_operations_fields_run_in_spark(spark, bronze, settings):
    from govlake.profile.direct import model_views

    catalog = load_enterprise_fields(settings.catalog_dir)
    prof = model_views(spark, bronze, AS_OF, ("enterprise_profile",))["enterprise_profile"]
    # the profile's fields of one category (derived ones inlined), as enterprise_profile has them
    ops = [f.id for f in catalog.in_category("operations")]
    rows = prof.select("uscc", *ops).collect()
    assert len(rows) == 40
    r = rows[0].asDict()
    assert set(r) == {"uscc", *ops}
    tax = {(t["year"]): t["revenue_wan"] for t in spark.table("stg_tax_annual").where(f"uscc = '{r['uscc']}'").collect()}
    assert r["revenue_y1_wan"] == pytest.approx(tax[2024])
    assert r["revenue_3y_wan"] == pytest.approx(tax[2024] + tax[2023] + tax[2022])
    assert r["revenue_growth_y1"] == pytest.approx((tax[2024] - tax[2023]) / abs(tax[2023]))


def test_source_aggregates_shuffle_no_partial_buffers(spark, bronze, settings):
    """Staging leaves each source hash-partitioned by enterprise (distribution_column), so no
    per-enterprise aggregate shuffles its wide partial buffers: between its final and partial
    aggregate there is no Exchange, for a uscc-keyed source and a record-keyed one alike."""
    from govlake.catalog.enterprise import distribution_column
    from govlake.catalog.sources import load_sources
    from govlake.profile.direct import model_views

    model_views(spark, bronze, AS_OF)
    sources = {s.name: s for s in load_sources(settings.catalog_dir)}
    aqe = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # the static plan, not AQE's wrapper
    try:
        for src in sqlgen.source_models(load_enterprise_fields(settings.catalog_dir)):
            plan = spark.table(f"int_enterprise_src_{src}")._jdf.queryExecution().executedPlan().toString()
            lines = plan.splitlines()
            aggs = [i for i, line in enumerate(lines) if "Aggregate(" in line]
            if src == "enterprise_registry":  # attributes, no aggregate
                assert not aggs
                continue
            assert len(aggs) == 2 and "partial_" in lines[aggs[1]], plan
            assert not any("Exchange" in line for line in lines[aggs[0]:aggs[1]]), (src, plan)
            key, col = sources[src].key, distribution_column(src, [c.name for c in sources[src].columns])
            # one shuffle when the window's key holds the enterprise column, else the window's + ours
            assert sum("Exchange" in line for line in lines) == (1 if col in key else 2), (src, plan)
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", aqe)


def test_every_model_runs_in_duckdb(spark, bronze, settings):
    from govlake.profile.bench import duckdb_profile_seconds

    seconds, rows = duckdb_profile_seconds(bronze, AS_OF)
    assert rows == 40


def test_tags_run_in_spark_with_evidence(spark, settings):
    catalog = load_enterprise_fields(settings.catalog_dir)
    tags = [t for t in load_enterprise_tags(settings.catalog_dir, catalog)
            if t.id in {"hnte", "rd_ratio_3y_ge_0p05", "gazelle", "size_micro", "digital_economy"}]
    needed = sorted({f for t in tags for f in t.fields})
    by_id = catalog.by_id()
    vals = {"rd_expense_ratio_3y": 0.062, "cert_valid_hnte": True, "enterprise_size": "微型", "is_industry_i": True,
            "rd_expense_ratio_y1": 0.01, "revenue_y1_wan": 500.0, "revenue_growth_2y_avg": 0.5, "years_since_registration": 3.0}
    cols = ", ".join(f"CAST({rulelang.sql_lit(vals.get(f)) if f in vals else 'NULL'} AS {sqlgen.SQL_TYPE[by_id[f].type]}) AS {f}"
                     for f in needed)
    spark.sql(f"SELECT 'U1' AS uscc, {cols}").createOrReplaceTempView("tiny_profile")
    sql = spark_sql_of(sqlgen.tags_sql(tags, {f.id: f.type for f in catalog.fields}, profile="tiny_profile"), AS_OF)
    got = {r["tag_id"]: r for r in spark.sql(sql).collect()}
    assert set(got) == {"hnte", "rd_ratio_3y_ge_0p05", "size_micro", "digital_economy"}  # gazelle: revenue < 1000
    assert got["rd_ratio_3y_ge_0p05"]["evidence"] == "rd_expense_ratio_3y=0.062≥0.05"
    assert got["hnte"]["since"] == AS_OF and got["hnte"]["tag_name"] == "高新技术企业"


def test_incremental_needs_the_catalog_of_the_published_profile(spark, lake):
    """The incremental writes the published profile's schema (no analysis of the wide views); a
    catalog whose fields no longer match it is refused with a clear error."""
    from types import SimpleNamespace as NS

    from govlake.profile.build import PROFILE, _published_schema

    lake.write(spark.sql("SELECT '91440306MA00000001' AS uscc, CAST(1.5 AS DOUBLE) AS revenue_wan"), PROFILE)
    same = NS(fields=[NS(id="uscc", type="string"), NS(id="revenue_wan", type="double")])
    schema = _published_schema(lake, same)
    assert schema == lake.schema(PROFILE) and schema.names == ["uscc", "revenue_wan"]
    for changed in ([NS(id="uscc", type="string"), NS(id="revenue_wan", type="int")],      # a type
                    [NS(id="revenue_wan", type="double"), NS(id="uscc", type="string")],   # the order
                    [*same.fields, NS(id="employees", type="int")]):                       # a new field
        with pytest.raises(RuntimeError, match="run a full build first"):
            _published_schema(lake, NS(fields=changed))


@pytest.mark.slow  # about 2 minutes: three profile builds (make test-slow, run by CI)
def test_incremental_equals_full_rebuild(spark, lake, settings, full_profile):
    import json

    from pyspark.sql import functions as F

    from govlake.profile.build import build_profile
    from govlake.profile.direct import model_views
    from govlake.profile.synthetic import write_bronze

    write_bronze(spark, lake, 60, AS_OF, dt.date(2025, 6, 29))
    build_profile(spark, lake, AS_OF, engine="direct")
    # the same full build again (same app_id): commits nothing, leaves no staged files behind
    before = lake.version("gold.enterprise_profile"), lake.version("gold.enterprise_tags")
    again = build_profile(spark, lake, AS_OF, engine="direct")
    assert (again["profile_version"], again["tags_version"]) == before
    from deltalake import DeltaTable

    for t in ("gold.enterprise_profile", "gold.enterprise_tags"):
        assert len(list(lake.path(t).rglob("*.parquet"))) == len(DeltaTable(str(lake.path(t))).file_uris())
    write_bronze(spark, lake, 60, AS_OF, AS_OF, seed=11, id_offset=0, id_count=5, mode="append")
    # The published tags dated a day earlier: a recomputed enterprise's tag that still holds
    # keeps that date (the incremental's since lookup), a tag it gains starts on AS_OF.
    day_before = AS_OF - dt.timedelta(days=1)
    lake.write(lake.read("gold.enterprise_tags").withColumn("since", F.lit(day_before)), "gold.enterprise_tags")
    dated = {(r.uscc, r.tag_id) for r in lake.read("gold.enterprise_tags").select("uscc", "tag_id").collect()}
    files = {t: set(DeltaTable(str(lake.path(t))).file_uris()) for t in ("gold.enterprise_profile", "gold.enterprise_tags")}
    on_disk = {t: set(map(str, lake.path(t).glob("*.parquet"))) for t in files}
    res = build_profile(spark, lake, AS_OF, incremental=True, engine="direct")
    assert res["profile_rows_written"] >= 5
    # a quiet day (nothing loaded since): the incremental commits nothing and does not fail
    quiet = build_profile(spark, lake, AS_OF + dt.timedelta(days=1), incremental=True, engine="direct")
    assert quiet["profile_rows_written"] == 0 and quiet["profile_version"] == res["profile_version"]
    assert quiet["tags_version"] == res["tags_version"]
    # the same day again: commits nothing and leaves no staged file behind
    rerun = build_profile(spark, lake, AS_OF, incremental=True, engine="direct")
    assert (rerun["profile_version"], rerun["tags_version"]) == (res["profile_version"], res["tags_version"])
    for t, before_files in files.items():  # one commit; old rows go by deletion vectors, files stay
        table = DeltaTable(str(lake.path(t)))
        assert lake.history(t)[0]["operation"] == "MERGE" and lake.history(t)[0]["version"] == res[t.split("_")[1] + "_version"]
        assert before_files & set(table.file_uris())
        commit = lake.path(t) / "_delta_log" / f"{table.version():020d}.json"  # delta-rs lists no vectors: the log
        assert any(json.loads(line).get("add", {}).get("deletionVector") for line in commit.read_text().splitlines())
        # the incremental's files are the table's; the re-run's staged ones were deleted
        assert set(map(str, lake.path(t).glob("*.parquet"))) - on_disk[t] <= set(table.file_uris())
        assert not (lake.path(t) / "_change_data").exists()  # the feed comes from the vectors
    # the profile's change feed: each recomputed enterprise's old row deleted, its new row inserted
    changes = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", res["profile_version"]) \
        .option("endingVersion", res["profile_version"]).load(str(lake.path("gold.enterprise_profile")))
    kinds = {}
    for r in changes.select("uscc", "_change_type").collect():
        kinds.setdefault(r.uscc, []).append(r._change_type)
    assert len(kinds) == res["profile_rows_written"] and all(sorted(k) == ["delete", "insert"] for k in kinds.values())
    # the full rebuild's rows: every enterprise through the same projection a build runs
    full_table = full_profile(model_views(spark, lake, AS_OF)["enterprise_profile"], AS_OF)
    full = spark.createDataFrame(full_table)
    inc = lake.to_arrow("gold.enterprise_profile").select(full_table.column_names).sort_by("uscc").cast(full_table.schema)
    assert inc.num_rows == full_table.num_rows == 60
    assert inc.equals(full_table)
    # The tags too: the rebuilt profile's tags (since = AS_OF, both builds ran on it).
    from govlake.profile.tag_kernels import tags_frame

    want = tags_frame(full, settings.catalog_dir, AS_OF).select("uscc", "tag_id", "evidence")
    got = lake.read("gold.enterprise_tags").select("uscc", "tag_id", "evidence")
    assert got.count() == want.count() == lake.row_count("gold.enterprise_tags")
    assert got.exceptAll(want).count() == 0 and want.exceptAll(got).count() == 0
    # the recomputed enterprises, as a downstream consumer sees them: the tags' change data feed
    feed = spark.read.format("delta").option("readChangeFeed", "true") \
        .option("startingVersion", res["tags_version"]).load(str(lake.path("gold.enterprise_tags")))
    recomputed = {r.uscc for r in feed.where("_change_type = 'insert'").select("uscc").distinct().collect()}
    assert recomputed
    rows = lake.read("gold.enterprise_tags").select("uscc", "tag_id", "since").collect()
    assert [r for r in rows if r.uscc in recomputed and (r.uscc, r.tag_id) in dated]  # some kept
    assert all(r.since == (day_before if (r.uscc, r.tag_id) in dated else AS_OF) for r in rows)
    # A full build the next day over the published tags: a tag that still holds keeps its since
    # date, a new one starts that day (here: the tags of one enterprise, removed from the published
    # ones), one that stopped holding is gone.
    first = sorted(r.uscc for r in got.select("uscc").distinct().collect())[0]
    lake.write(lake.read("gold.enterprise_tags").where(f"uscc != '{first}'"), "gold.enterprise_tags")
    before = {(r.uscc, r.tag_id): r.since for r in lake.read("gold.enterprise_tags").collect()}
    next_day = AS_OF + dt.timedelta(days=1)
    build_profile(spark, lake, next_day, engine="direct")
    after = {(r.uscc, r.tag_id): r.since for r in lake.read("gold.enterprise_tags").collect()}
    holding = {(r.uscc, r.tag_id) for r in tags_frame(model_views(spark, lake, next_day)["enterprise_profile"], settings.catalog_dir,
                                                      next_day).collect()}
    assert set(after) == holding and holding & before.keys() and holding - before.keys()  # some kept, some new
    assert all(since == before.get(key, next_day) for key, since in after.items())


def test_last_financing_round_is_the_same_whatever_the_row_order(spark, settings):
    """Two financing events on one day: the round is picked by the day, then the round's name,
    in both engines and in either row order (the full build's workers and the incremental see
    the rows in different orders)."""
    import duckdb

    from govlake.profile import compiled

    rows = [("E1", "U1", dt.date(2024, 5, 1), "A轮", 100.0, None), ("E2", "U1", dt.date(2024, 5, 1), "银行贷款", 50.0, None),
            ("E3", "U1", dt.date(2023, 1, 1), "天使轮", 10.0, None)]
    schema = "event_id string, uscc string, event_date date, round string, amount_wan double, investor_type string"
    model = "int_enterprise_src_financing"
    spark_sql = dict(compiled.spark_models([model], AS_OF, settings.dbt_dir))[model]
    duck_sql = compiled.query(model, dbt_dir=settings.dbt_dir)
    got = []
    for ordered in (rows, rows[::-1]):
        frame = spark.createDataFrame(ordered, schema)
        frame.createOrReplaceTempView("stg_financing")
        got.append(spark.sql(spark_sql).collect()[0]["financing_last_round"])
        con = duckdb.connect()
        con.register("stg_financing", frame.toArrow())
        compiled.set_dates(con, AS_OF)
        got.append(con.sql(duck_sql).arrow().read_all().column("financing_last_round")[0].as_py())
    assert got == ["银行贷款"] * 4
