"""The batch plan: outcome keys are unique, the Arrow kernel gives the same keys whatever the batch
size, the matches view explains a near miss with the enterprise's values exactly as the online
evaluator does, and the online policy set (each distinct clause evaluated once) equals
evaluating every policy on its own."""

from __future__ import annotations

import datetime as dt


from govlake.catalog.policies import parse_policy
from govlake.policy.bench import synthetic_policies
from govlake.policy.compile import compile_policies
from govlake.policy.evaluate import PolicySet, evaluate_enterprise
from govlake.policy.match import build_matches
from govlake.policy.matches import MatchView
from govlake.policy.plan import KeyKernel, num_fields, outcome_rows, outcome_width
from govlake.policy.synth import profile_df, random_profiles

AS_OF = dt.date(2026, 5, 10)


def _shared_rule_other_label():
    """Same rule text as a catalog clause, different label: the explanation must keep each label."""
    return parse_policy({
        "policy_id": "relabelled", "name_zh": "同规则不同标签", "kind": "synthetic", "dept": "KCJ", "version": 1,
        "effective_from": "2020-01-01", "doc_no": "测试",
        "clauses": [{"id": "reg", "label_zh": "在本区注册", "rule": "is_registered_in_district"},
                    {"id": "tax", "label_zh": "纳税门槛", "rule": "total_tax_y1_wan >= 100"}]})


def test_outcome_keys_are_unique_per_policy_and_outcome(policies, core):
    cps = compile_policies(policies, AS_OF, core)
    w = outcome_width(cps)
    rows = outcome_rows(cps, w, AS_OF)
    assert len({r[0] for r in rows}) == len(rows) == sum(1 + 2 * len(cp.clauses) for cp in cps)
    assert all(cps[r[0] // w].policy.policy_id == r[1] for r in rows)
    for r in rows:  # eligible (needs_review with a manual clause), or exactly the unmet clause named
        manual = bool(cps[r[0] // w].policy.manual_clauses)
        assert (r[7], r[8], r[9]) == ((not manual, False, 0) if r[0] % w == 0 else (False, True, 1))
        assert r[11] == ([] if r[0] % w == 0 else [r[12]]) and r[14]


def test_batch_size_never_changes_the_keys(spark, policies, core):
    import pyarrow as pa

    cps = compile_policies(policies + [_shared_rule_other_label()], AS_OF, core)
    rows = random_profiles(core, 150, seed=21, null_rate=0.08)
    df = profile_df(spark, core, rows)
    names = sorted({f for cp in cps for f in cp.fields_read})
    table = df.select("uscc", *names).toArrow()
    table = table.append_column("_tags", pa.array([[]] * table.num_rows, pa.list_(pa.string())))
    kernel = KeyKernel(cps, outcome_width(cps), num_fields(cps))
    results = []
    for size in (1, 7, 10_000):
        got = [(u, k) for b in kernel(iter(table.to_batches(max_chunksize=size)))
               for u, k in zip(b.column("uscc").to_pylist(), b.column("keys").to_pylist())]
        results.append(got)
    assert results[0] and results[0] == results[1] == results[2]
    # through the view: the relabelled policy keeps its own label, values as online
    view = MatchView.in_memory(results[0], cps, AS_OF, {r["uscc"]: (r, frozenset()) for r in rows})
    got = view.rows(policy_ids=["relabelled"])
    py = {r["uscc"]: cps[-1].evaluate(r) for r in rows}
    relabelled = [r for r in got if r["missing"] == ["reg"]]
    assert relabelled
    for r in relabelled:
        assert r["explanation_zh"] == py[r["uscc"]].explanation_zh and "在本区注册" in r["explanation_zh"]
    assert sorted((r["policy_id"], r["uscc"]) for r in build_matches(df, None, cps, AS_OF)) == \
        sorted((r["policy_id"], r["uscc"]) for r in view.rows())


def test_policy_set_equals_policy_by_policy(core, policies):
    real = [p for p in policies]
    cps = compile_policies(synthetic_policies(real, 40, seed=3), AS_OF, core)
    ps = PolicySet(cps)
    assert len(ps._fns) < sum(len(cp.clauses) for cp in cps)  # shared clauses evaluated once
    for r in random_profiles(core, 60, seed=4, null_rate=0.1):
        a = [x.to_dict() for x in evaluate_enterprise(r, cps)]
        b = [cp.evaluate(r).to_dict() for cp in cps]
        assert a == b
