"""The staging layer is generated from the catalog and the committed files are current."""

from __future__ import annotations

import yaml

from govlake.settings import get_settings
from govlake.transform.bronze_tables import load_sources
from govlake.transform.staging import generate_petition_macros, generate_staging


def test_every_source_has_a_staging_model(tmp_path):
    s = get_settings()
    generate_staging(s, out_dir=tmp_path)
    sources = load_sources(s.catalog_dir)
    assert {f"stg_{x.name}" for x in sources} == {p.stem for p in tmp_path.glob("stg_*.sql")}
    declared = yaml.safe_load((tmp_path / "_sources.yml").read_text(encoding="utf-8"))["sources"][0]
    assert {t["name"] for t in declared["tables"]} == {x.name for x in sources}

    for src in sources:
        model = yaml.safe_load((tmp_path / f"stg_{src.name}.yml").read_text(encoding="utf-8"))["models"][0]
        cols = {c["name"]: c for c in model["columns"]}
        # Catalog names and Chinese labels; _load_date kept for appended (non-snapshot) sources.
        expected = [c.name for c in src.columns] + ([] if src.snapshot else ["_load_date"])
        assert list(cols) == expected
        assert all(cols[c.name]["description"] == c.label for c in src.columns)
        for k in src.key:
            assert "not_null" in cols[k]["data_tests"]
        if len(src.key) == 1:
            assert "unique" in cols[src.key[0]]["data_tests"]
        else:
            assert model["data_tests"] == [{"unique_key": {"arguments": {"columns": list(src.key)}}}]
        for c in src.columns:
            if c.enum:
                av = [t for t in cols[c.name]["data_tests"] if isinstance(t, dict) and "accepted_values" in t]
                assert av[0]["accepted_values"]["arguments"]["values"] == list(c.enum)
        sql = (tmp_path / f"stg_{src.name}.sql").read_text(encoding="utf-8")
        assert f"source('bronze', '{src.name}')" in sql
        if not src.snapshot:
            assert "latest_per_key(" in sql and all(f"'{k}'" in sql for k in src.key)


def test_committed_staging_is_current(tmp_path):
    """Someone changed catalog/sources.yaml without running `govlake dbt generate-staging`?"""
    s = get_settings()
    generate_staging(s, out_dir=tmp_path)
    committed = s.dbt_dir / "models" / "staging"
    for fresh in tmp_path.iterdir():
        assert (committed / fresh.name).read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
            f"{fresh.name} is stale: run `govlake dbt generate-staging`")


def test_stale_generated_models_are_removed(tmp_path):
    (tmp_path / "stg_gone.sql").write_text("-- GENERATED from catalog/ by `govlake dbt generate-staging`; "
                                           "do not edit by hand.\nselect 1\n", encoding="utf-8")
    (tmp_path / "stg_hand_written.sql").write_text("select 1\n", encoding="utf-8")
    generate_staging(get_settings(), out_dir=tmp_path)
    assert not (tmp_path / "stg_gone.sql").exists()
    assert (tmp_path / "stg_hand_written.sql").exists()


def test_committed_petition_macros_are_current(tmp_path):
    """catalog/petition_service.yaml changed without `govlake dbt generate-staging`?"""
    s = get_settings()
    fresh = generate_petition_macros(s, tmp_path / "petition_service.sql").read_text(encoding="utf-8")
    committed = (s.dbt_dir / "macros" / "petition_service.sql").read_text(encoding="utf-8")
    assert committed == fresh, "dbt/macros/petition_service.sql is stale: run `govlake dbt generate-staging`"
    assert "(satisfaction_effect <= 2 OR satisfaction_feedback <= 2)" in fresh  # 处置效果、反馈质量 ≤ 2


def test_petition_rule_must_name_rating_dimensions():
    import pytest

    from govlake.catalog import CatalogError
    from govlake.catalog.petition_service import parse_petition_service

    doc = yaml.safe_load((get_settings().catalog_dir / "petition_service.yaml").read_text(encoding="utf-8"))
    doc["return_rule"]["dimensions"] = ["effect", "overall"]
    with pytest.raises(CatalogError, match="overall"):
        parse_petition_service(doc)
