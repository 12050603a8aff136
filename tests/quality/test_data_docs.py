"""Data Docs (质量报告): every recorded validation, whatever engine ran it, is a GX Data Docs page a
person opens: a GX validation's page is made by its Checkpoint as it runs, `govlake quality docs`
adds the others (the Arrow engine's) from ops.quality_results, each once."""

from __future__ import annotations

import re

from click.testing import CliRunner

from govlake.quality import validate
from govlake.settings import get_settings

SUITE = {"name": "silver.docs_demo", "expectations": [
    {"type": "expect_column_to_exist", "kwargs": {"column": "title"}, "meta": {"label": "诉求标题"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "title"},
     "meta": {"label": "诉求标题", "rule": "required"}},
]}


def _text(path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_validations_become_pages_once(spark, lake, settings, monkeypatch):
    from govlake.cli import main

    bad = spark.createDataFrame([("路灯不亮",), (None,), ("噪音扰民",)], "title string")
    good = spark.createDataFrame([("路灯不亮",)], "title string")
    assert not validate(bad, "silver.docs_demo", SUITE, engine="arrow", lake=lake).success
    assert validate(good, "silver.docs_demo", SUITE, engine="gx", lake=lake).success  # its page: the Checkpoint's

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(main, ["quality", "docs"])
        again = CliRunner().invoke(main, ["quality", "docs"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 validation pages added; open file://"), first.output
    assert again.output.startswith("0 validation pages added"), again.output  # each page once

    site = settings.local_dir / "quality" / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    pages = sorted((site / "validations").rglob("*.html"))
    assert len(pages) == 2 and (site / "index.html").exists()
    texts = [_text(p) for p in pages]
    failed = [t for t in texts if "Status: Failed" in t]
    passed = [t for t in texts if "Status: Succeeded" in t]
    assert len(failed) == len(passed) == 1, [t[:300] for t in texts]
    # the Arrow engine's verdict, rendered by GX: one null of three rows
    assert "1 unexpected values found" in failed[0] and "Unsuccessful Expectations 1" in failed[0]
    assert "Unsuccessful Expectations 0" in passed[0]


def test_no_validation_yet_is_a_clear_error(settings, monkeypatch):
    from govlake.cli import main

    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["quality", "docs"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1 and "no validations recorded yet (尚无质量校验记录)" in r.output


def test_validate_command_counts_the_delta_snapshot_and_gx_follows_suite_changes(spark, lake, settings, monkeypatch,
                                                                                 tmp_path):
    """`govlake quality validate --engine arrow` counts the table's Delta snapshot (delta-rs); a GX
    validation with a changed suite remakes the table's suite and Checkpoint in the GX project."""
    import json

    import pyarrow as pa
    from deltalake import write_deltalake

    from govlake.cli import main
    from govlake.quality.checkpoints import context

    write_deltalake(str(lake.path("silver.docs_demo")), pa.table({"title": ["路灯不亮", None, "噪音扰民"]}))
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(SUITE, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("GOVLAKE_LAKE_ROOT", str(settings.lake_root))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(main, ["quality", "validate", "silver.docs_demo", "--suite", str(path),
                                      "--engine", "arrow"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1, r.output
    assert "1/2 expectations passed on 3 rows [arrow" in r.output and "诉求标题" in r.output, r.output
    assert "1 unexpected of 3 rows" in r.output

    good = spark.createDataFrame([("路灯不亮",)], "title string")
    assert validate(good, "silver.docs_demo", SUITE, engine="gx", lake=lake).success
    wider = {**SUITE, "expectations": SUITE["expectations"] + [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 2}, "meta": {}}]}
    res = validate(good, "silver.docs_demo", wider, engine="gx", lake=lake)
    assert not res.success and [o.type for o in res.failed] == ["expect_table_row_count_to_be_between"]
    assert res.failed[0].observed == 1  # the second pass's SUMMARY: GX's observed row count
    ctx = context(settings)
    assert len(ctx.checkpoints.get("silver.docs_demo").validation_definitions[0].suite.expectations) == 3
