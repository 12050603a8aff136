"""The profile catalog: counts, core fields of docs/contracts.md, validation errors, rule grammar."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from govlake.catalog.departments import load_certificate_types
from govlake.catalog.enterprise import (
    CatalogError, LEVELS, load_enterprise_fields, load_enterprise_tags, load_policy_fields, load_policy_tags,
)
from govlake.catalog.sources import load_sources
from govlake import rulelang
from govlake.settings import REPO_ROOT

CATALOG = REPO_ROOT / "catalog"


@pytest.fixture(scope="module")
def fields():
    return load_enterprise_fields(CATALOG)


def test_counts(fields):
    assert len(fields.fields) == 1501
    assert len(fields.categories) == 14
    assert len(load_enterprise_tags(CATALOG, fields)) == 733
    pf = load_policy_fields(CATALOG)
    assert len(pf) == 256
    assert len(load_policy_tags(CATALOG, pf)) == 124


def _contract_core() -> dict[str, str]:
    """Core field ids and types from the table in docs/contracts.md."""
    text = (REPO_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    section = text.split("## Core profile fields", 1)[1]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in {"id", ""} or set(cells[0]) <= {"-"}:
            continue
        for fid in (x.strip() for x in cells[0].split(",")):
            if fid == "cert_valid_<cert_key>":
                for c in load_certificate_types(CATALOG):
                    out[f"cert_valid_{c.key}"] = cells[2]
            else:
                out[fid] = cells[2]
    return out


def test_every_core_field_exists_with_its_type(fields):
    core = _contract_core()
    assert len(core) > 50
    by_id = fields.by_id()
    missing = sorted(set(core) - set(by_id))
    assert not missing, f"core fields missing from the catalog: {missing}"
    wrong = {f: (by_id[f].type, t) for f, t in core.items() if by_id[f].type != t}
    assert not wrong, f"core fields with the wrong type (catalog, contract): {wrong}"


def test_every_field_is_documented_and_traced(fields):
    sources = load_sources(CATALOG)
    for f in fields.fields:
        assert f.label and f.derivation and f.description and f.level in LEVELS, f.id
        assert f.lineage, f"{f.id} has no source columns"
        for s in f.lineage:
            src, col = s.split(".")
            assert col in sources[src].column_names, (f.id, s)
    assert len({f.label for f in fields.fields}) > 1400  # labels say what each field is


def test_lineage_of_sampled_fields(fields):
    by_id = fields.by_id()
    assert by_id["revenue_3y_wan"].lineage == ["tax_annual.revenue_wan"]
    assert set(by_id["rd_expense_ratio_3y"].lineage) == {"rd_activity.rd_expense_wan", "tax_annual.revenue_wan"}
    assert "social_insurance.insured_headcount" in by_id["enterprise_size"].lineage
    assert any(s.startswith("certificates.") for s in by_id["cert_valid_hnte"].lineage)


def _copy_catalog(tmp_path: Path) -> Path:
    dst = tmp_path / "catalog"
    shutil.copytree(CATALOG, dst, ignore=shutil.ignore_patterns("policies"))
    return dst


def _edit(path: Path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old,new,message", [
    ("{id: ent_name, label: 企业名称", "{id: uscc, label: 企业名称", "duplicate field id"),
    ("sources: [enterprise_registry.name], attr: name", "sources: [enterprise_registry.nam], attr: name", "no column 'nam'"),
    ("sources: [enterprise_registry.name], attr: name", "sources: [registry.name], attr: name", "unknown source 'registry'"),
    ("{id: reg_year, label: 成立年份, type: int", "{id: reg_year, label: 成立年份, type: integer", "unknown type 'integer'"),
    ("expr: \"enterprise_size <> '大型'\"", "expr: \"enterprise_sise <> '大型'\"", "unknown fields ['enterprise_sise']"),
    ("expr: \"enterprise_size <> '大型'\"", "expr: \"is_size_large\"", "cycle"),
])
def test_field_validation_errors(tmp_path, old, new, message):
    cat = _copy_catalog(tmp_path)
    f = cat / "enterprise_fields" / "01_basic.yaml"
    if message == "cycle":  # is_sme -> is_size_large -> enterprise_size; make enterprise_size read is_sme
        _edit(f, "THEN '大型'\n", "THEN '大型' WHEN is_sme THEN '中型'\n")
    else:
        _edit(f, old, new)
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_enterprise_fields(cat)


@pytest.mark.parametrize("rule,message", [
    ("revenue_y1_wan >= ", "syntax error"),
    ("revenu_y1_wan >= 10", "unknown field 'revenu_y1_wan'"),
    ("has_tag('no_such_tag')", "unknown tag 'no_such_tag'"),
    ("revenue_y1_wan >= '高'", "cannot compare num with str"),
    ("revenue_y1_wan + 1", "rule must be bool, got num"),
    ("is_listed and enterprise_size", "operand of 'and' must be bool, got str"),
    ("revenue_y1_wan = 1", "(compare with ==, not =)"),
    ("tag:hnte", "has_tag('x'), not tag:x"),
    ("revenue_y1_wan == None", "None is allowed only in a null test"),
])
def test_tag_rule_errors(tmp_path, rule, message):
    cat = _copy_catalog(tmp_path)
    f = cat / "enterprise_tags" / "06_composite.yaml"
    _edit(f, 'rule: "cert_valid_hnte"}', f'rule: "{rule}"}}')
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_enterprise_tags(cat)


def test_tag_cycle_is_an_error(tmp_path):
    cat = _copy_catalog(tmp_path)
    f = cat / "enterprise_tags" / "06_composite.yaml"
    _edit(f, 'rule: "cert_valid_hnte"}', 'rule: "cert_valid_hnte and has_tag(\'high_quality\')"}')
    with pytest.raises(CatalogError, match="tag cycle"):
        load_enterprise_tags(cat)


def test_rule_compiles_with_evidence():
    types = {"rd_expense_ratio_3y": "double", "cert_valid_hnte": "boolean", "enterprise_size": "string"}
    node = rulelang.parse("rd_expense_ratio_3y >= 0.05 and not cert_valid_hnte and enterprise_size in ['小型', '微型']",
                          types).node
    sql = rulelang.to_sql(node, lambda t: "true")
    assert "(`rd_expense_ratio_3y` >= CAST(0.05 AS DOUBLE))" in sql and "NOT `cert_valid_hnte`" in sql
    ev = rulelang.evidence_sql(node, types)
    assert "'rd_expense_ratio_3y=' ||" in ev and "'≥0.05'" in ev


def test_tags_reference_known_fields_only(fields):
    ids = {f.id for f in fields.fields}
    for t in load_enterprise_tags(CATALOG, fields):
        assert set(t.fields) <= ids


def test_generated_models_are_up_to_date():
    """The committed dbt models are what the catalog generates (run `govlake profile generate`)."""
    from govlake.profile.dbt_models import enterprise_files

    files = enterprise_files(load_enterprise_fields(CATALOG), CATALOG)
    stale = [rel for rel, text in files.items()
             if (REPO_ROOT / "dbt" / "models" / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"regenerate with `govlake profile generate`: {stale}"


def test_data_dictionary_is_up_to_date():
    """docs/data_dictionary.md is what the catalog generates (run `govlake profile dictionary`)."""
    from govlake.profile.dictionary import render

    committed = (REPO_ROOT / "docs" / "data_dictionary.md").read_text(encoding="utf-8")
    assert committed == render(CATALOG), "regenerate with `govlake profile dictionary`"


def test_public_models_have_enforced_contracts():
    for rel in ("marts/enterprise/_enterprise.yml", "marts/policy/_policy.yml"):
        doc = yaml.safe_load((REPO_ROOT / "dbt" / "models" / rel).read_text(encoding="utf-8"))
        for m in doc["models"]:
            assert m["config"]["contract"]["enforced"] is True, m["name"]
            assert m["config"]["meta"]["publish"] == f"gold.{m['name']}"
            for c in m["columns"]:
                assert c.get("data_type") and c.get("description"), (m["name"], c["name"])
    prof = yaml.safe_load((REPO_ROOT / "dbt/models/marts/enterprise/_enterprise.yml").read_text(encoding="utf-8"))
    cols = prof["models"][0]["columns"]
    assert len(cols) == 1501
    assert all(c["meta"]["sources"] and c["meta"]["derivation"] for c in cols)


def test_profile_suite_covers_every_field_and_the_key():
    """The publish gate's suite is generated from the catalog: all 1,501 fields, key unique."""
    import json

    from govlake.profile.suite import profile_suite
    from govlake.settings import get_settings

    settings = get_settings()
    suite = profile_suite(settings.catalog_dir)
    columns = {e["kwargs"].get("column") for e in suite["expectations"]} - {None}
    assert len(columns) == 1501
    types = [e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_unique"]
    assert [e["kwargs"]["column"] for e in types] == ["uscc"]
    committed = json.loads((settings.repo_root / "expectations/gold/enterprise_profile.json").read_text("utf-8"))
    assert committed == suite, "expectations/gold/enterprise_profile.json is stale: regenerate it"
