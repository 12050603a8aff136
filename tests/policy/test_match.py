"""The matching job on a real (temporary) lake: idempotent per date, and a changed policy
version is matched alone (only its partition is replaced)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from govlake.catalog.policies import parse_policy
from govlake.lineage.emitter import read_events
from govlake.policy.match import MATCHES, PROFILE, changed_policies, match_policies
from govlake.policy.synth import profile_df, random_profiles

AS_OF = dt.date(2026, 5, 10)


def _bump(policy, **raw_changes):
    raw = {**policy.raw, **raw_changes, "version": policy.version + 1}
    return parse_policy(raw)


def _setup(lake, spark, core, n=120):
    lake.write(profile_df(spark, core, random_profiles(core, n, seed=5)), PROFILE)


def test_full_run_idempotent_and_changed_policy_alone(spark, lake, settings, policies, core):
    _setup(lake, spark, core)
    pick = [p for p in policies if p.policy_id in ("hnte_recognition", "baoan_talent_housing", "baoan_job_stabilization")]
    c1 = match_policies(spark, lake, AS_OF, policies=None, fields=core)
    assert c1.committed and c1.rows_written > 0
    before = lake.read(MATCHES).collect()
    assert {r.policy_id for r in before} <= {p.policy_id for p in policies}
    # Same date, same policy versions: nothing committed, table unchanged.
    c2 = match_policies(spark, lake, AS_OF, fields=core)
    assert not c2.committed and lake.version(MATCHES) == c1.version
    assert changed_policies(lake, policies) == []

    # A new version of one policy (threshold lowered) is matched alone.
    housing = next(p for p in pick if p.policy_id == "baoan_talent_housing")
    new = _bump(housing, params={"min_tax_wan": 10, "min_bachelor_ratio": 0.05})
    catalog_now = [new if p.policy_id == housing.policy_id else p for p in policies]
    assert [p.policy_id for p in changed_policies(lake, catalog_now)] == ["baoan_talent_housing"]
    c3 = match_policies(spark, lake, AS_OF, policies=changed_policies(lake, catalog_now), fields=core)
    assert c3.committed and c3.version == c1.version + 1
    after = lake.read(MATCHES)
    others_before = sorted((r.policy_id, r.uscc, r.explanation_zh) for r in before if r.policy_id != housing.policy_id)
    others_after = sorted((r.policy_id, r.uscc, r.explanation_zh) for r in after.where(F.col("policy_id") != housing.policy_id).collect())
    assert others_before == others_after
    h = after.where(F.col("policy_id") == housing.policy_id).collect()
    assert h and {r.policy_version for r in h} == {housing.version + 1} and {r.rule_hash for r in h} == {new.rule_hash}
    assert len(h) > sum(r.policy_id == housing.policy_id for r in before)  # lower thresholds match more
    assert changed_policies(lake, catalog_now) == []
    # Re-running the same partial match commits nothing.
    assert not match_policies(spark, lake, AS_OF, policies=[new], fields=core).committed

    # A version that now matches nobody removes the policy's old rows.
    none = _bump(new, params={"min_tax_wan": 1e12, "min_bachelor_ratio": 2.0}, clauses=[
        {"id": "tax", "label_zh": "纳税门槛", "rule": "total_tax_y1_wan >= min_tax_wan"},
        {"id": "talent", "label_zh": "人才占比", "rule": "bachelor_plus_ratio_y1 >= min_bachelor_ratio"}])
    match_policies(spark, lake, AS_OF, policies=[none], fields=core)
    assert lake.read(MATCHES).where(F.col("policy_id") == housing.policy_id).count() == 0
    assert sorted((r.policy_id, r.uscc, r.explanation_zh) for r in lake.read(MATCHES).collect()) == others_before

    ev = [e for e in read_events(settings.lineage_path) if e["job"]["name"] == "match_policies"]
    assert {e["eventType"] for e in ev} >= {"START", "COMPLETE"}
    out = [o for e in ev if e["eventType"] == "COMPLETE" for o in e["outputs"]]
    assert out and "columnLineage" in out[0]["facets"]


def test_matches_columns_and_explanations(spark, lake, policies, core):
    _setup(lake, spark, core, n=60)
    match_policies(spark, lake, AS_OF, policies=policies, fields=core)
    df = lake.read(MATCHES)
    assert {"policy_id", "policy_version", "uscc", "as_of", "eligible", "clause_results", "missing",
            "near_miss", "explanation_zh"} <= set(df.columns)
    rows = df.collect()
    assert all(r.as_of == AS_OF for r in rows)
    for r in rows:
        assert r.eligible == (len(r.missing) == 0) and r.near_miss == (len(r.missing) == 1)
        assert r.eligible or ("不符合：" in r.explanation_zh or "数据缺失：" in r.explanation_zh)
