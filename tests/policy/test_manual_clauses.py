"""`manual: true` clauses (待人工核验): a condition of the published text the profile cannot see.
An enterprise meeting every machine clause is needs_review, never eligible — in the online
evaluator, the stored batch outcomes (and the matches view built from them), the batch counter
and 秒批's eligibility fact. No Spark: the batch kernel runs on an Arrow batch directly."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from govlake.catalog.policies import load_policies, parse_policy, validate_policy
from govlake.catalog.sources import CatalogError
from govlake.policy.approval import _eligibility
from govlake.policy.compile import compile_policies, outcome_of
from govlake.policy.fields import FieldInfo
from govlake.policy.matches import MatchView
from govlake.policy.plan import KeyKernel, num_fields, outcome_rows, outcome_width
from govlake.settings import get_settings

AS_OF = dt.date(2026, 5, 10)
FIELDS = {"uscc": FieldInfo("uscc", "string", "统一社会信用代码"),
          "is_registered_in_district": FieldInfo("is_registered_in_district", "boolean", "注册地在本区"),
          "revenue_y1_wan": FieldInfo("revenue_y1_wan", "double", "上年营业收入（万元）")}
TYPES = {k: v.type for k, v in FIELDS.items()}


def _doc(clauses, pid="p_manual", **extra):
    return {"policy_id": pid, "name_zh": "测试人工核验", "kind": "district_modelled", "dept": "GXJ", "version": 1,
            "effective_from": "2024-01-01", "doc_no": "测试〔2024〕2号", "clauses": clauses, **extra}


REG = {"id": "registered", "label_zh": "注册地在本区", "rule": "is_registered_in_district"}
REV = {"id": "revenue", "label_zh": "营收1亿元以上", "rule": "revenue_y1_wan >= 10000"}
HONOUR = {"id": "honour", "label_zh": "获得省级骨干企业认定", "manual": True, "needs": "gd_emerging_backbone"}


def test_manual_clause_is_parsed_apart_and_checked():
    p = parse_policy(_doc([REG, HONOUR]))
    assert [c.id for c in p.clauses] == ["registered"] and [c.id for c in p.manual_clauses] == ["honour"]
    assert p.manual_clauses[0].needs == ("gd_emerging_backbone",)
    validate_policy(p, TYPES)
    with pytest.raises(CatalogError, match="must name the field"):
        parse_policy(_doc([REG, {**HONOUR, "needs": None}]))
    with pytest.raises(CatalogError, match="must name the field"):
        parse_policy(_doc([REG, {**HONOUR, "needs": "省级骨干"}]))
    with pytest.raises(CatalogError, match="manual: true and has a rule"):
        parse_policy(_doc([REG, {**HONOUR, "rule": "is_registered_in_district"}]))
    with pytest.raises(CatalogError, match="at least one clause with a rule"):
        parse_policy(_doc([HONOUR]))
    with pytest.raises(CatalogError, match="duplicate clause id"):
        parse_policy(_doc([REG, {**HONOUR, "id": "registered"}]))
    # a field the profile has is a rule, not a manual clause
    with pytest.raises(CatalogError, match=r"needs \['revenue_y1_wan'\], which the profile has"):
        validate_policy(parse_policy(_doc([REG, {**HONOUR, "needs": ["revenue_y1_wan"]}])), TYPES)


def test_online_outcome_is_needs_review_not_eligible():
    cp = compile_policies([parse_policy(_doc([REG, REV, HONOUR]))], AS_OF, FIELDS)[0]
    r = cp.evaluate({"is_registered_in_district": True, "revenue_y1_wan": 10000.0})
    assert (r.eligible, r.needs_review, r.near_miss, r.outcome) == (False, True, False, "needs_review")
    assert r.clause_results == {"registered": "pass", "revenue": "pass", "honour": "manual"} and r.missing == []
    assert r.explanation_zh == "符合：注册地在本区、营收1亿元以上；待人工核验：获得省级骨干企业认定（需字段 gd_emerging_backbone）"
    miss = cp.evaluate({"is_registered_in_district": True, "revenue_y1_wan": 9999.0})
    assert (miss.eligible, miss.needs_review, miss.near_miss, miss.outcome) == (False, False, True, "near_miss")
    # the manual group precedes the unmet clause: the view appends the unmet clause's detail at the end
    assert miss.explanation_zh.index("待人工核验") < miss.explanation_zh.index("不符合")
    assert miss.explanation_zh.endswith("（上年营业收入（万元） 9,999.00 < 要求 10,000.00）")
    plain = compile_policies([parse_policy(_doc([REG, REV], pid="p_plain"))], AS_OF, FIELDS)[0]
    ok = plain.evaluate({"is_registered_in_district": True, "revenue_y1_wan": 10000.0})
    assert (ok.eligible, ok.needs_review, ok.outcome) == (True, False, "eligible")
    assert ok.to_dict()["outcome"] == "eligible" and "needs_review" in ok.to_dict()
    assert [outcome_of(e, n) for e, n in [(True, 0), (False, 0), (False, 1), (False, 2)]] == [
        "eligible", "needs_review", "near_miss", "ineligible"]


def _batch(rows):
    return pa.RecordBatch.from_pylist(rows, schema=pa.schema([
        ("uscc", pa.string()), ("is_registered_in_district", pa.bool_()), ("revenue_y1_wan", pa.float64())]))


class _Counter:
    def __init__(self):
        self.value = 0

    def add(self, v):
        self.value += v


def test_batch_outcomes_and_view_agree_with_online():
    pols = [parse_policy(_doc([REG, REV, HONOUR])), parse_policy(_doc([REG, REV], pid="p_plain"))]
    cps = compile_policies(pols, AS_OF, FIELDS)
    width = outcome_width(cps)
    rows = [{"uscc": "A", "is_registered_in_district": True, "revenue_y1_wan": 20000.0},   # meets both
            {"uscc": "B", "is_registered_in_district": True, "revenue_y1_wan": 5000.0},    # one short
            {"uscc": "C", "is_registered_in_district": None, "revenue_y1_wan": 20000.0}]   # data missing
    counters = [_Counter() for _ in range(4)]
    kernel = KeyKernel(cps, width, num_fields(cps), counters)
    out = next(kernel(iter([_batch(rows)])))
    keys = list(zip(out.column("uscc").to_pylist(), out.column("keys").to_pylist()))
    assert counters[3].value == 1  # only A x p_plain is eligible; A x p_manual waits for a person
    stored = outcome_rows(cps, width, AS_OF)
    first = next(r for r in stored if r[0] == 0)  # outcome 0 of the manual policy
    assert first[7] is False and first[10]["honour"] == "manual"
    view = MatchView.in_memory(keys, cps, AS_OF, {r["uscc"]: (r, frozenset()) for r in rows})
    wide = {(r["uscc"], r["policy_id"]): r for r in view.rows()}
    assert len(wide) == 6
    for (uscc, pid), w in wide.items():
        row = next(r for r in rows if r["uscc"] == uscc)
        online = next(cp for cp in cps if cp.policy.policy_id == pid).evaluate(row).to_dict()
        for col in ("eligible", "near_miss", "clause_results", "missing", "explanation_zh"):
            assert w[col] == online[col], (uscc, pid, col)
    assert outcome_of(wide[("A", "p_manual")]["eligible"], wide[("A", "p_manual")]["n_failed"]) == "needs_review"


def test_approval_eligibility_fact_is_unknown_for_manual():
    cp = compile_policies([parse_policy(_doc([REG, REV, HONOUR]))], AS_OF, FIELDS)[0]
    assert _eligibility(cp, {"is_registered_in_district": True, "revenue_y1_wan": 20000.0}) == (None, [], "manual")
    assert _eligibility(cp, {"is_registered_in_district": False, "revenue_y1_wan": 20000.0}) == (False, ["注册地在本区"], None)


def test_catalog_items_with_manual_clauses_name_new_fields(fields):
    """Every catalog manual clause names a field the profile lacks (else it should be a rule) and
    comes with the published wording it encodes."""
    pols = load_policies(get_settings().catalog_dir, {k: v.type for k, v in fields.items()})
    manual = [(p, c) for p in pols for c in p.manual_clauses]
    assert len({p.policy_id for p, _ in manual}) >= 20
    for p, c in manual:
        assert c.text_zh and not set(c.needs) & set(fields), (p.policy_id, c.id)
        assert p.kind in ("city", "district") and p.source_url.startswith("http"), p.policy_id
