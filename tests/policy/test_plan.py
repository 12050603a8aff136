"""The chunked matching plan: chunk boundaries never change the result, and the online policy set
(each distinct clause evaluated once) equals evaluating every policy on its own."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake.catalog.policies import parse_policy
from govlake.policy.bench import synthetic_policies
from govlake.policy.compile import compile_policies
from govlake.policy.evaluate import PolicySet, evaluate_enterprise
from govlake.policy.plan import build_matches, outcome_rows, outcome_width, policy_chunks
from govlake.policy.synth import profile_df, random_profiles

AS_OF = dt.date(2026, 5, 10)


def _shared_rule_other_label():
    """Same rule text as a catalog clause, different label: the explanation must keep each label."""
    return parse_policy({
        "policy_id": "relabelled", "name_zh": "同规则不同标签", "kind": "synthetic", "dept": "KCJ", "version": 1,
        "effective_from": "2020-01-01", "doc_no": "测试",
        "clauses": [{"id": "reg", "label_zh": "在本区注册", "rule": "is_registered_in_district"},
                    {"id": "tax", "label_zh": "纳税门槛", "rule": "total_tax_y1_wan >= 100"}]})


def test_chunks_respect_the_limit_and_never_split_a_policy(policies, core):
    cps = compile_policies(policies, AS_OF, core)
    for limit in (1, 5, 12, 40, 10_000):
        chunks = policy_chunks(cps, limit)
        assert sorted(i for c in chunks for i in c) == list(range(len(cps)))
        for c in chunks:
            distinct = {cl.sql for i in c for cl in cps[i].clauses}
            assert len(c) == 1 or len(distinct) <= limit, (limit, c)
    assert len(policy_chunks(cps, 10_000)) == 1 and len(policy_chunks(cps, 1)) == len(cps)
    with pytest.raises(ValueError, match="max_clauses"):
        policy_chunks(cps, 0)


def test_outcome_keys_are_unique_per_policy_and_outcome(policies, core):
    cps = compile_policies(policies, AS_OF, core)
    w = outcome_width(cps)
    rows = outcome_rows(cps, w)
    assert len({r[0] for r in rows}) == len(rows) == sum(1 + 2 * len(cp.clauses) for cp in cps)
    assert all(r[0] // w == r[1] for r in rows)


def test_every_chunk_size_gives_the_same_rows(spark, policies, core):
    cps = compile_policies(policies + [_shared_rule_other_label()], AS_OF, core)
    rows = random_profiles(core, 150, seed=21, null_rate=0.08)
    df = profile_df(spark, core, rows)
    results = []
    for limit in (1, 7, 10_000):
        got = sorted((r.policy_id, r.uscc, r.eligible, r.near_miss, r.n_failed, tuple(sorted(r.clause_results.items())),
                      tuple(r.missing), r.explanation_zh) for r in build_matches(df, None, cps, AS_OF, limit).collect())
        results.append(got)
    assert results[0] and results[0] == results[1] == results[2]
    relabelled = [r for r in results[0] if r[0] == "relabelled" and r[6] == ("reg",)]
    py = {r["uscc"]: cps[-1].evaluate(r) for r in rows}
    for r in relabelled:
        assert r[7] == py[r[1]].explanation_zh and "在本区注册" in r[7]


def test_policy_set_equals_policy_by_policy(core, policies):
    real = [p for p in policies]
    cps = compile_policies(synthetic_policies(real, 40, seed=3), AS_OF, core)
    ps = PolicySet(cps)
    assert len(ps._fns) < sum(len(cp.clauses) for cp in cps)  # shared clauses evaluated once
    for r in random_profiles(core, 60, seed=4, null_rate=0.1):
        a = [x.to_dict() for x in evaluate_enterprise(r, cps)]
        b = [cp.evaluate(r).to_dict() for cp in cps]
        assert a == b
