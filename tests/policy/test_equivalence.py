"""Property test: for random profiles (with nulls), the three back ends of the rule language —
Spark SQL, the Arrow kernel of the batch job and the Python evaluator — give the same status for
every clause of every policy; the batch job in Spark (keys) read through the matches view gives
the same rows and explanations as the online evaluator. Also a set of tricky hand-written rules
(nulls, division by zero, if/else, min)."""

from __future__ import annotations

import datetime as dt

from govlake.catalog.policies import parse_policy
from govlake.policy.compile import compile_policies
from govlake.policy.match import build_matches, clause_frame
from govlake.policy.plan import KeyKernel, num_fields, outcome_width
from govlake.policy.synth import profile_df, random_profiles

AS_OF = dt.date(2026, 5, 10)
TRICKY = [
    "revenue_y1_wan / insured_headcount_y1 >= 10",
    "(1 if cert_valid('hnte') else 0) + coalesce(rd_expense_y1_wan, 0) / 100 > 1",
    "min(revenue_y1_wan, revenue_y2_wan) >= 0.9 * max(revenue_y1_wan, revenue_y2_wan)",
    "not (enterprise_size in ['大型', '中型']) or tax_credit_grade_y1 not in ['C', 'D']",
    "-rd_expense_ratio_y1 < -0.03 and between(years_since_registration, 2, 10)",
    "steps(rd_staff_ratio_y1, [0.1, 0.2], [0, 10, 20]) + piecewise(revenue_y1_wan, [100], [5, 1]) >= 11",
    "starts_with(industry_code, ['C39', 'I65']) or has_tag('hnte')",
    "revenue_y1_wan - revenue_y2_wan * 1.15 >= 0 or credit_dishonest_active == False",
]


def _tricky_policy():
    return parse_policy({
        "policy_id": "tricky", "name_zh": "边界规则", "kind": "synthetic", "dept": "KCJ", "version": 1,
        "effective_from": "2020-01-01", "doc_no": "测试",
        "clauses": [{"id": f"t{i}", "label_zh": f"规则{i}", "rule": r} for i, r in enumerate(TRICKY)]})


def test_spark_equals_python_on_random_profiles(spark, policies, core):
    cps = compile_policies(policies + [_tricky_policy()], AS_OF, core)
    rows = random_profiles(core, 400, seed=11, null_rate=0.08)
    tags = {r["uscc"]: frozenset({"hnte"}) if i % 3 == 0 else frozenset() for i, r in enumerate(rows)}
    df = profile_df(spark, core, rows)
    tdf = spark.createDataFrame([(u, "hnte") for u, t in tags.items() if t], "uscc string, tag_id string")

    frame, col_of = clause_frame(df, tdf, cps)
    spark_status = {r["uscc"]: r.asDict() for r in frame.collect()}
    # the Arrow kernel on the same rows, in batches of 64
    import pyarrow as pa

    kernel = KeyKernel(cps, outcome_width(cps), num_fields(cps))
    names = sorted({f for cp in cps for f in cp.fields_read})
    table = pa.Table.from_pylist([{**{f: r.get(f) for f in ["uscc", *names]}, "_tags": sorted(tags[r["uscc"]])}
                                  for r in rows], schema=df.select("uscc", *names).toArrow().schema.append(
                                      pa.field("_tags", pa.list_(pa.string()))))
    slot = {}
    for cp in cps:
        for cl in cp.clauses:
            slot.setdefault(cl.sql, len(slot))
    arrow_status = {}
    for batch in table.to_batches(max_chunksize=64):
        ok, unk = kernel.statuses(batch)
        for i, u in enumerate(batch.column("uscc").to_pylist()):
            arrow_status[u] = {sql: None if unk[j, i] else bool(ok[j, i]) for sql, j in slot.items()}
    py_kept = {}
    n_unknown = n_checked = 0
    for r in rows:
        for cp in cps:
            for cl in cp.clauses:
                want = cl.fn(r, tags[r["uscc"]])
                got = spark_status[r["uscc"]][col_of[cl.sql]]
                assert got == want, f"{cp.policy.policy_id}.{cl.clause.id} on {r['uscc']}: spark {got} python {want}"
                got = arrow_status[r["uscc"]][cl.sql]
                assert got == want, f"{cp.policy.policy_id}.{cl.clause.id} on {r['uscc']}: arrow {got} python {want}"
                n_unknown += want is None
                n_checked += 1
            res = cp.evaluate(r, tags[r["uscc"]])
            if len(res.missing) <= 1:
                py_kept[(cp.policy.policy_id, r["uscc"])] = res
    assert n_unknown > 100, "the random profiles must exercise the 'data missing' path"

    spark_rows = {(m.policy_id, m.uscc): m for m in build_matches(df, tdf, cps, AS_OF)}
    assert set(spark_rows) == set(py_kept)
    for k, m in spark_rows.items():
        p = py_kept[k]
        assert (m.eligible, m.near_miss, list(m.missing), dict(m.clause_results)) == \
               (p.eligible, p.near_miss, p.missing, p.clause_results), k
        assert m.explanation_zh == p.explanation_zh, k
    assert any(m.near_miss for m in spark_rows.values()) and any(m.eligible for m in spark_rows.values())
    assert any("数据缺失" in m.explanation_zh for m in spark_rows.values())
