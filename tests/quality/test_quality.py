from __future__ import annotations

import json

import pytest

from govlake.lineage.emitter import read_events
from govlake.quality import ColumnSpec, QualityGateFailed, gate, suite_from_columns, validate
from govlake.quality.suites import USCC_REGEX, load_sources, suite_from_source, suite_path

from quality_rows import as_dict, frame


def _has(suite, expectation, **kwargs):
    return any(e["type"] == expectation and all(e["kwargs"].get(k) == v for k, v in kwargs.items())
               for e in suite["expectations"])


# -- generation (no Spark) ----------------------------------------------------------------------
def test_generated_suites_cover_every_source_rule(settings):
    sources = load_sources(settings)
    assert len(sources) >= 12
    for name, source in sources.items():
        suite = suite_from_source(name, source)
        src = as_dict(source)
        assert _has(suite, "expect_table_row_count_to_be_between", min_value=1), name
        assert _has(suite, "expect_compound_columns_to_be_unique", column_list=[*src["key"], "_load_date"]), name
        for c in src["columns"]:
            n = c["name"]
            assert _has(suite, "expect_column_to_exist", column=n)
            assert _has(suite, "expect_column_values_to_be_of_type", column=n)
            assert _has(suite, "expect_column_values_to_not_be_null", column=n) == bool(c.get("required")), (name, n)
            if "enum" in c:
                assert _has(suite, "expect_column_values_to_be_in_set", column=n, value_set=list(c["enum"]))
            if "min" in c or "max" in c:
                assert _has(suite, "expect_column_values_to_be_between", column=n,
                            min_value=c.get("min"), max_value=c.get("max"))
            if "pattern" in c:
                assert _has(suite, "expect_column_values_to_match_regex", column=n, regex=c["pattern"])
            if c.get("check") == "uscc":
                assert _has(suite, "expect_column_values_to_match_regex", column=n, regex=USCC_REGEX)
            if "after" in c:
                assert _has(suite, "expect_column_pair_values_a_to_be_greater_than_b", column_A=n, column_B=c["after"])
        # Every expectation names its rule and the column's Chinese label.
        assert all("rule" in e["meta"] for e in suite["expectations"])


def test_committed_suites_match_the_catalog(settings):
    for name, src in load_sources(settings).items():
        committed = json.loads(suite_path(f"bronze.{name}", settings).read_text(encoding="utf-8"))
        assert committed == suite_from_source(name, src), f"run `govlake quality generate-suites` ({name})"


def test_suite_from_columns_wide_spec():
    cols = [ColumnSpec("uscc", "string", "统一社会信用代码", nullable=False),
            ColumnSpec("score", "double", "得分", min=0, max=100, max_null_rate=0.1),
            ColumnSpec("size", "string", "规模", allowed_values=["大型", "小型"])]
    s = suite_from_columns("gold.x", cols, key=["uscc"])
    assert _has(s, "expect_column_values_to_be_unique", column="uscc")
    assert _has(s, "expect_column_proportion_of_non_null_values_to_be_between", column="score", min_value=0.9)
    assert _has(s, "expect_column_values_to_be_of_type", column="score", type_="DoubleType")
    # key not-null is declared once even though the column is also non-nullable
    assert sum(e["kwargs"].get("column") == "uscc" and e["type"] == "expect_column_values_to_not_be_null"
               for e in s["expectations"]) == 1


# -- validation on Spark --------------------------------------------------------------------------
def _break_petitions(rows):
    rows[0]["title"] = None                        # required
    rows[1]["channel"] = "飞鸽传书"                  # enum
    rows[2]["satisfaction_feedback"] = 9           # max 5
    rows[3]["street_code"] = "44030601"            # pattern
    rows[4]["ticket_id"] = rows[3]["ticket_id"]    # key within the load
    rows[0]["closed_time"] = rows[0]["submit_time"].replace(year=2023)  # after submit_time


def test_good_frame_passes_gx(spark, settings):
    src = load_sources(settings)["petitions"]
    res = gate(frame(spark, src), "bronze.petitions", settings=settings, engine="gx")
    assert res.success and res.engine == "gx" and res.row_count == 5
    assert res.n_expectations == len(suite_from_source("petitions", src)["expectations"])


def test_bad_frame_fails_with_readable_message_and_engines_agree(spark, settings, lake, tmp_path):
    src = load_sources(settings)["petitions"]
    df = frame(spark, src, mutate=_break_petitions).cache()
    suite = suite_from_source("petitions", src)
    # a missing column and a wrong type are judged too
    suite["expectations"] += [{"type": "expect_column_to_exist", "kwargs": {"column": "nope"}, "meta": {}},
                              {"type": "expect_column_values_to_be_of_type",
                               "kwargs": {"column": "votes", "type_": "LongType"}, "meta": {"label": "点赞数"}}]
    with pytest.raises(QualityGateFailed) as e:
        gate(df, "bronze.petitions", suite=suite, lake=lake, engine="gx")
    msg = str(e.value)
    for text in ["诉求标题", "来源渠道", "首次评价·反馈质量", "所属街道代码", "工单编号 + 装载日期", "办结时间",
                 "expect_column_values_to_not_be_null", "飞鸽传书", "nope", "IntegerType"]:
        assert text in msg, (text, msg)
    gx_out = e.value.result.outcomes
    assert e.value.result.engine == "gx" and len(e.value.result.failed) == 8
    # recorded in ops.quality_results
    rec = lake.read("ops.quality_results").collect()
    assert len(rec) == 1 and rec[0]["success"] is False and rec[0]["n_failed"] == 8
    assert "诉求标题" in rec[0]["details"]
    # it ran through the table's GX Checkpoint, which stored it and made its Data Docs page; the
    # failures carry their counts and values (the second, SUMMARY pass) on that page
    import re

    from govlake.quality.checkpoints import project_dir, site_index

    gx_dir = project_dir(settings) / "gx"
    for kind in ("checkpoints", "validation_definitions"):
        assert (gx_dir / kind / "bronze.petitions.json").exists(), kind
    pages = list((site_index(settings).parent / "validations").rglob("*.html"))
    assert len(pages) == 1 and site_index(settings).exists()
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", pages[0].read_text(encoding="utf-8")))
    assert "Status: Failed" in page and "Unsuccessful Expectations 8" in page, page[:2000]
    assert "飞鸽传书" in page and e.value.result.run_id in page
    # lineage: quality.bronze.petitions with assertions and the data-quality metrics facet
    ev = [x for x in read_events(settings.lineage_path) if x["job"]["name"] == "quality.bronze.petitions"]
    assert [x["eventType"] for x in ev] == ["START", "COMPLETE"]
    inp = ev[-1]["inputs"][0]
    asserts = inp["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert any(a["assertion"] == "expect_column_values_to_not_be_null" and a["column"] == "title" and not a["success"]
               for a in asserts)
    dq = inp["inputFacets"]["dataQualityMetrics"]
    assert dq["rowCount"] == 5 and dq["columnMetrics"]["title"]["nullCount"] == 1
    from govlake.lineage.spec import find_spec_dir, validate_event

    if find_spec_dir() is not None:  # valid against the OpenLineage spec
        assert [validate_event(x) for x in ev] == [[], []]

    # The Arrow engine gives GX's verdicts and counts on the same rows: written as Parquet (a
    # staged table's files) and as the frame's rows in memory, with the same null counts.
    import pyarrow.dataset as ds

    files = tmp_path / "staged"
    df.write.parquet(str(files))
    staged = validate(df, "bronze.petitions", suite, settings=settings, engine="arrow", record=False,
                      arrow=ds.dataset(str(files), format="parquet"))
    rows = validate(df, "bronze.petitions", suite, settings=settings, engine="arrow", record=False)
    assert staged.engine == rows.engine == "arrow"
    assert staged.null_counts == rows.null_counts == e.value.result.null_counts
    assert staged.null_counts["title"] == 1
    for g, a, m in zip(gx_out, staged.outcomes, rows.outcomes):
        assert g.success == a.success, (g.describe(), a.describe())
        if g.unexpected_count is not None and a.unexpected_count is not None:
            assert g.unexpected_count == a.unexpected_count, (g.describe(), a.describe())
        assert (a.success, a.unexpected_count, a.observed, a.error) == (m.success, m.unexpected_count, m.observed, m.error)


@pytest.mark.parametrize("name", ["enterprise_registry", "tax_annual", "ip_records", "certificates"])
def test_valid_sources_pass_arrow_engine(spark, settings, name):
    src = load_sources(settings)[name]
    res = validate(frame(spark, src), f"bronze.{name}", settings=settings, engine="arrow", record=False)
    assert res.success, res.summary()


def test_wide_suite_uses_arrow_engine_and_catches_a_bad_column(spark, settings, tmp_path):
    from pyspark.sql import functions as F

    n_cols = 200
    base = spark.range(300).select(F.concat(F.lit("U"), F.col("id").cast("string")).alias("uscc"), "id")
    df = base.select("uscc", *[(F.col("id") % 7 + i).cast("double").alias(f"f{i}") for i in range(n_cols)])
    cols = [ColumnSpec("uscc", "string", "统一社会信用代码", nullable=False)] + [
        ColumnSpec(f"f{i}", "double", f"字段{i}", min=0, max=i + 6, max_null_rate=0.0) for i in range(n_cols)]
    cols[50].max = 3  # f49 holds values up to 55
    # above 150 expectations "auto" counts with Arrow (the frame's rows), never GX's per-expectation jobs
    res = validate(df, "gold.wide", suite_from_columns("gold.wide", cols, ["uscc"]), settings=settings, record=False)
    assert res.engine == "arrow" and res.n_expectations > 150
    assert [(o.column, o.label) for o in res.failed] == [("f49", "字段49")]
    assert res.failed[0].unexpected_count > 0
    # Over the same rows as Parquet files (the profile gate's staged files) it finds the same.
    import pyarrow.dataset as ds

    df.write.parquet(str(tmp_path / "wide"))
    arrow = validate(df, "gold.wide", suite_from_columns("gold.wide", cols, ["uscc"]), settings=settings,
                     record=False, engine="arrow", arrow=ds.dataset(str(tmp_path / "wide"), format="parquet"))
    assert arrow.engine == "arrow" and [o.column for o in arrow.failed] == ["f49"]
    assert arrow.failed[0].unexpected_count == res.failed[0].unexpected_count


@pytest.mark.parametrize("max_seen", [1 << 31, 0])  # codes marked in a byte array, or sorted
def test_arrow_duplicate_rows_across_files_and_nulls(tmp_path, monkeypatch, max_seen):
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from govlake.quality import arrow_engine

    monkeypatch.setattr(arrow_engine, "MAX_SEEN", max_seen)
    a = pa.table({"uscc": ["A", "A", "B", None, None, "C"], "tag": ["x", "y", "x", None, "x", None],
                  "n": [1, 1, 2, None, 3, 4]})
    b = pa.table({"uscc": ["A", "D", None, None, "C"], "tag": ["x", "x", None, "x", None], "n": [5, 1, None, 6, 7]})
    pq.write_table(a, tmp_path / "a.parquet")
    pq.write_table(b, tmp_path / "b.parquet", use_dictionary=False)  # plain pages: dictionaries built on read
    dset = ds.dataset([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")], format="parquet")
    # (A,x) x2 across files, (None,x) x2, (C,None) x2; all-null keys are not counted
    assert arrow_engine._duplicate_rows(dset, ["uscc", "tag"]) == 6
    assert arrow_engine._duplicate_rows(dset, ["uscc"]) == 3 + 2  # A x3, C x2
    assert arrow_engine._duplicate_rows(dset, ["tag"]) == 6  # x x6 (y once)
    assert arrow_engine._duplicate_rows(dset, ["n"]) == 3  # numbers are not read as dictionaries: 1 x3
    assert arrow_engine._duplicate_rows(dset, ["uscc", "n"]) == 2  # (A, 1) x2
