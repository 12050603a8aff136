"""The matching job on a real (temporary) lake: idempotent per date, a changed policy version is
matched alone (its segment added, its outcome rows replaced), the wide rows read through the
matches view equal the online evaluator's, counts reconcile, and the product contract holds."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake.catalog.policies import parse_policy
from govlake.lineage.emitter import read_events
from govlake.policy.compile import compile_policies
from govlake.policy.match import KEYS, MATCHES, OUTCOMES, PROFILE, changed_policies, match_policies
from govlake.policy.matches import read_matches
from govlake.policy.synth import profile_df, random_profiles

AS_OF = dt.date(2026, 5, 10)


def _bump(policy, **raw_changes):
    raw = {**policy.raw, **raw_changes, "version": policy.version + 1}
    return parse_policy(raw)


def _setup(lake, spark, core, n=120):
    rows = random_profiles(core, n, seed=5)
    lake.write(profile_df(spark, core, rows), PROFILE)
    return rows


def _wide(lake, **filters):
    return read_matches(lake, **filters)["rows"]


@pytest.mark.slow  # keeps make test under 15 min on a fresh clone (make test-slow runs it)
def test_full_run_idempotent_and_changed_policy_alone(spark, lake, settings, policies, core):
    _setup(lake, spark, core)
    c1 = match_policies(spark, lake, AS_OF, policies=None, fields=core)
    assert c1.committed and c1.rows_written > 0 and c1.pairs_kept >= c1.rows_written
    assert c1.enterprises == 120 and c1.pairs_evaluated == 120 * sum(p.active_on(AS_OF) for p in policies)
    last = lake.history(OUTCOMES)[0]  # the run's counts are recorded with the outcomes commit
    assert str(last.get("pairs_kept")) == str(c1.pairs_kept) and str(last.get("pairs_evaluated")) == str(c1.pairs_evaluated)
    before = _wide(lake)
    assert len(before) == c1.pairs_kept and sum(r["eligible"] for r in before) == c1.eligible
    assert {r["policy_id"] for r in before} <= {p.policy_id for p in policies}
    # Same date, same policy versions: nothing committed, tables unchanged.
    versions = lake.version(KEYS), lake.version(OUTCOMES)
    c2 = match_policies(spark, lake, AS_OF, fields=core)
    assert not c2.committed and (lake.version(KEYS), lake.version(OUTCOMES)) == versions
    assert changed_policies(lake, policies) == []

    # A new version of one policy (threshold lowered) is matched alone.
    housing = next(p for p in policies if p.policy_id == "baoan_equity_financing_reward")
    new = _bump(housing, params={**housing.raw["params"], "min_revenue_wan": 0, "min_equity_wan": 0})
    catalog_now = [new if p.policy_id == housing.policy_id else p for p in policies]
    assert [p.policy_id for p in changed_policies(lake, catalog_now)] == ["baoan_equity_financing_reward"]
    c3 = match_policies(spark, lake, AS_OF, policies=changed_policies(lake, catalog_now), fields=core)
    assert c3.committed and c3.version == c1.version + 1 and c3.enterprises == 120
    after = _wide(lake)
    others_before = sorted((r["policy_id"], r["uscc"], r["explanation_zh"]) for r in before if r["policy_id"] != housing.policy_id)
    others_after = sorted((r["policy_id"], r["uscc"], r["explanation_zh"]) for r in after if r["policy_id"] != housing.policy_id)
    assert others_before == others_after
    h = [r for r in after if r["policy_id"] == housing.policy_id]
    assert h and {r["policy_version"] for r in h} == {housing.version + 1} and {r["rule_hash"] for r in h} == {new.rule_hash}
    assert len(h) > sum(r["policy_id"] == housing.policy_id for r in before)  # lower thresholds match more
    assert changed_policies(lake, catalog_now) == []
    # Re-running the same partial match commits nothing.
    assert not match_policies(spark, lake, AS_OF, policies=[new], fields=core).committed

    # A version that now matches nobody removes the policy's old rows.
    none = _bump(new, params={**new.raw["params"], "min_tax_wan": 1e12, "min_bachelor_ratio": 2.0}, clauses=[
        {"id": "tax", "label_zh": "纳税门槛", "rule": "total_tax_y1_wan >= min_tax_wan"},
        {"id": "talent", "label_zh": "人才占比", "rule": "bachelor_plus_ratio_y1 >= min_bachelor_ratio"}])
    match_policies(spark, lake, AS_OF, policies=[none], fields=core)
    assert _wide(lake, policy_ids=[housing.policy_id]) == []
    assert sorted((r["policy_id"], r["uscc"], r["explanation_zh"]) for r in _wide(lake)) == others_before

    ev = [e for e in read_events(settings.lineage_path) if e["job"]["name"] == "match_policies"]
    assert {e["eventType"] for e in ev} >= {"START", "COMPLETE"}
    out = {".".join(o["name"].split("/")[-2:]): o for e in ev if e["eventType"] == "COMPLETE" for o in e["outputs"]}
    assert {KEYS, OUTCOMES, MATCHES} <= set(out)
    assert "columnLineage" in out[KEYS]["facets"] and "columnLineage" in out[MATCHES]["facets"]
    expl = out[MATCHES]["facets"]["columnLineage"]["fields"]["explanation_zh"]["inputFields"]
    assert {(".".join(f["name"].split("/")[-2:]), f["field"]) for f in expl} >= {(KEYS, "keys"), (OUTCOMES, "explanation_prefix")}


def test_view_equals_online_and_meets_the_product_contract(spark, lake, settings, policies, core):
    from govlake.products import get_product
    from govlake.quality import validate
    from govlake.quality.suites import suite_for_product

    rows = _setup(lake, spark, core, n=60)
    match_policies(spark, lake, AS_OF, policies=policies, fields=core)
    got = _wide(lake)
    assert got and all(r["as_of"] == AS_OF for r in got)
    cps = compile_policies(policies, AS_OF, core)
    want = {}
    for r in rows:
        for cp in cps:
            res = cp.evaluate(r)
            if len(res.missing) <= 1:
                want[(cp.policy.policy_id, r["uscc"])] = res.to_dict()
    assert len(got) == len(want)
    for r in got:
        w = want[(r["policy_id"], r["uscc"])]
        assert (r["eligible"], r["near_miss"], r["clause_results"], r["missing"], r["explanation_zh"]) == \
               (w["eligible"], w["near_miss"], w["clause_results"], w["missing"], w["explanation_zh"])
        assert r["n_failed"] == len(r["missing"])
    assert any("数据缺失" in r["explanation_zh"] for r in got) and any(" < 要求 " in r["explanation_zh"] for r in got)
    # one enterprise (the API's read) and one page
    u = got[0]["uscc"]
    assert _wide(lake, uscc=u) == [r for r in got if r["uscc"] == u]
    page = read_matches(lake, offset=5, limit=10)
    assert page["total"] == len(got) and page["rows"] == got[5:15]
    # the product contract (catalog/products.yaml) holds on the wide rows
    product = get_product(MATCHES, settings)
    df = spark.createDataFrame(got, "policy_id string, policy_version int, rule_hash string, policy_name_zh string, "
                               "dept_code string, uscc string, as_of date, eligible boolean, near_miss boolean, "
                               "n_failed int, clause_results map<string,string>, missing array<string>, explanation_zh string")
    res = validate(df, MATCHES, suite_for_product(product), lake=lake, record=False)
    assert res.success, res.summary()
