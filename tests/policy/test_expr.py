"""The rule language: parsing, type checking, clear errors, and catalog validation."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake import rulelang as E
from govlake.catalog.policies import KINDS, PUBLISHED, CatalogError, load_policies, parse_policy, validate_policy
from govlake.settings import get_settings

F = {"revenue_y1_wan": "double", "rd_expense_ratio_3y": "double", "enterprise_size": "string",
     "is_registered_in_district": "boolean", "insured_headcount_y1": "int", "cert_valid_hnte": "boolean"}


def ev(text, row, tags=frozenset(), params=None):
    return E.to_py(E.parse(text, F, params, want=None).node)(row, tags)


def test_three_valued_logic_and_helpers():
    assert ev("revenue_y1_wan > 10 and is_registered_in_district", {"revenue_y1_wan": 5}) is False
    assert ev("revenue_y1_wan > 10 and is_registered_in_district", {"revenue_y1_wan": 50}) is None
    assert ev("revenue_y1_wan > 10 or is_registered_in_district", {"revenue_y1_wan": 50}) is True
    assert ev("not is_registered_in_district", {}) is None
    assert ev("piecewise(revenue_y1_wan, [5000, 20000], [0.05, 0.04, 0.03])", {"revenue_y1_wan": 5000}) == 0.05
    assert ev("piecewise(revenue_y1_wan, [5000, 20000], [0.05, 0.04, 0.03])", {"revenue_y1_wan": 5000.01}) == 0.04
    assert ev("steps(revenue_y1_wan, [10, 20], [0, 1, 2])", {"revenue_y1_wan": 10}) == 1
    assert ev("between(revenue_y1_wan, 1, 2)", {"revenue_y1_wan": 2}) is True
    assert ev("revenue_y1_wan / insured_headcount_y1", {"revenue_y1_wan": 1, "insured_headcount_y1": 0}) is None
    assert ev("has_tag('hnte')", {}, frozenset({"hnte"})) is True
    assert ev("cert_valid('hnte')", {"cert_valid_hnte": True}) is True
    assert ev("enterprise_size not in ['大型']", {"enterprise_size": "小型"}) is True
    assert ev("1 <= revenue_y1_wan < 3", {"revenue_y1_wan": 3}) is False
    assert ev("coalesce(revenue_y1_wan, 0) >= 0", {}) is True
    assert ev("min(revenue_y1_wan, 5)", {"revenue_y1_wan": 9}) == 5
    assert ev("(1 if is_registered_in_district else 2)", {}) is None
    assert ev("revenue_y1_wan >= x", {"revenue_y1_wan": 3}, params={"x": 2}) is True
    assert ev("revenue_y1_wan is None", {}) is True and ev("revenue_y1_wan is not None", {}) is False
    # has_tag in a tag rule: the referenced tag's rule, null included (never null in a policy)
    inlined = E.to_py(E.parse("not has_tag('t')", F, tags={"t"}).node,
                      lambda t: E.to_py(E.parse("revenue_y1_wan > 1", F).node))
    assert inlined({}, frozenset()) is None and inlined({"revenue_y1_wan": 0.5}, frozenset()) is True


@pytest.mark.parametrize("text, msg", [
    ("revenue_y1 > 1", "unknown field 'revenue_y1'"),
    ("enterprise_size > 5", "cannot compare str with num"),
    ("revenue_y1_wan >", "syntax error"),
    ("__import__('os').system('ls')", "only the listed helper functions"),
    ("revenue_y1_wan.real > 1", "Attribute is not allowed"),
    ("open('x')", "unknown function open()"),
    ("revenue_y1_wan ** 2 > 1", "operator Pow is not allowed"),
    ("revenue_y1_wan + 1", "rule must be bool"),
    ("is_registered_in_district > True", "booleans only compare"),
    ("piecewise(revenue_y1_wan, [2, 1], [1, 2, 3]) > 0", "bounds must be ascending"),
    ("cert_valid('nope')", "unknown certificate type 'nope'"),
    ("[x for x in [1]]", "ListComp is not allowed"),
    ("revenue_y1_wan == None", "None is allowed only in a null test"),
    ("revenue_y1_wan is 1", "'is' only tests for null"),
    ("revenue_y1_wan = 1", "(compare with ==, not =)"),
])
def test_errors_name_policy_and_clause(text, msg):
    with pytest.raises(E.RuleError) as e:
        E.parse(text, F, where="policy p1 (测试政策) clause c1 (条件一)", cert_keys={"hnte"})
    assert "policy p1 (测试政策) clause c1 (条件一)" in str(e.value)
    assert msg in str(e.value)


def _doc(rule, **extra):
    return {"policy_id": "p_test", "name_zh": "测试政策", "kind": "district_modelled", "dept": "KCJ", "version": 1,
            "effective_from": "2024-01-01", "doc_no": "测试〔2024〕1号",
            "clauses": [{"id": "c1", "label_zh": "条件一", "rule": rule}], **extra}


def test_policy_validation_uses_given_field_types_and_every_dated_parameter():
    p = parse_policy(_doc("revenue_y1_wan >= floor", params={"floor": [
        {"from": "2024-01-01", "value": 100}, {"from": "2025-01-01", "value": "一百"}]}))
    assert p.params_on(dt.date(2024, 6, 1)) == {"floor": 100}
    with pytest.raises(E.RuleError, match=r"policy p_test \(测试政策\) clause c1 \(条件一\).*cannot compare num with str"):
        validate_policy(p, F)  # the 2025 value has the wrong type
    with pytest.raises(E.RuleError, match="unknown field 'revenue_y1_wan'"):
        validate_policy(parse_policy(_doc("revenue_y1_wan > 1")), {"ent_name": "string"})


def test_bad_department_and_missing_keys():
    with pytest.raises(CatalogError, match="not a department that issues policies"):
        parse_policy(_doc("revenue_y1_wan > 1", dept="CZJ"), dept_codes={"KCJ"})
    d = _doc("revenue_y1_wan > 1")
    del d["doc_no"]
    with pytest.raises(CatalogError, match="missing"):
        parse_policy(d)


def test_real_catalog_loads_with_core_fields_only_and_full_catalog(core, fields):
    cat = get_settings().catalog_dir
    a = load_policies(cat, {k: v.type for k, v in core.items()})
    b = load_policies(cat, {k: v.type for k, v in fields.items()})
    assert len(a) == len(b) >= 10
    assert {p.kind for p in a} <= set(KINDS) and {"national", "city", "district"} <= {p.kind for p in a}
    # Items encoded from a published text carry the article and the page it was read from.
    published = [p for p in a if p.kind in PUBLISHED]
    assert published and all(p.article_zh and p.source_url.startswith("http") and "模拟" not in p.doc_no
                             for p in published)
    with pytest.raises(CatalogError, match="needs article_zh"):
        parse_policy(_doc("revenue_y1_wan > 1", kind="district", source_url="http://example.org/p"))
    hnte = next(p for p in a if p.policy_id == "hnte_recognition")
    assert len(hnte.clauses) == 9 and hnte.doc_no == "国科发火〔2016〕32号"

