"""秒批: decisions from the catalog decision tree, recorded with rule and data versions, and
replayable by Delta time travel after the data changed."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake.policy.approval import (
    DECISIONS, PROFILE, SUBSIDIES, auto_approve, decide, load_trees, replay, submit_applications,
)
from govlake.policy.synth import profile_df

AS_OF = dt.date(2026, 5, 10)
SUB_SCHEMA = "award_id string, uscc string, policy_code string, dept_code string, award_date date, amount_wan double"


def _ent(uscc, **kw):
    base = {"uscc": uscc, "cert_valid_hnte": True, "is_registered_in_district": True, "stat_in_district_y1": True,
            "credit_serious_1y_count": 0, "credit_dishonest_active": False, "cert_valid_little_giant": False,
            "cert_valid_gd_srdi": True}
    base.update(kw)
    return base


@pytest.fixture
def seeded(spark, lake, core):
    ents = [_ent("E1"), _ent("E2", cert_valid_hnte=False), _ent("E3", stat_in_district_y1=None),
            _ent("E4"), _ent("E5")]
    lake.write(profile_df(spark, core, ents), PROFILE)
    lake.write(spark.createDataFrame([("A1", "E4", "baoan_hnte_first_award", "KCJ", dt.date(2025, 3, 1), 20.0)], SUB_SCHEMA), SUBSIDIES)
    return lake


def test_decision_tree_outcomes(seeded, core, settings):
    lake = seeded
    assert set(load_trees(settings.catalog_dir)) >= {"baoan_hnte_first_award", "baoan_srdi_award", "baoan_ip_subsidy"}
    d = lambda app, amt=20.0, pid="baoan_hnte_first_award": decide(  # noqa: E731
        lake, {"application_id": app[0], "uscc": app[1], "policy_id": pid, "requested_amount_wan": amt}, as_of=AS_OF, fields=core)
    ok = d(("a1", "E1"))
    assert ok.outcome == "approve" and ok.amount_approved_wan == 20.0 and ok.outcome_zh == "批准"
    assert ok.data_versions == {PROFILE: 0, SUBSIDIES: 0} and len(ok.rule_version) == 16
    no_cert = d(("a2", "E2"))
    assert no_cert.outcome == "reject" and "未持有有效期内的高新技术企业证书" in no_cert.reasons_zh
    missing = d(("a3", "E3"))
    assert missing.outcome == "manual" and "数据缺失" in missing.reasons_zh[0]
    dup = d(("a4", "E4"))
    assert dup.outcome == "reject" and any("重复" in r for r in dup.reasons_zh)
    too_much = d(("a5", "E5"), amt=80.0)
    assert too_much.outcome == "manual" and any("超过资助标准" in r for r in too_much.reasons_zh)
    srdi = d(("a6", "E1"), amt=20.0, pid="baoan_srdi_award")
    assert srdi.outcome == "approve"  # 省级专精特新: cap 20


def test_replay_reads_recorded_versions(spark, seeded, core):
    lake = seeded
    submit_applications(lake, [
        {"application_id": "APP-1", "uscc": "E1", "policy_id": "baoan_hnte_first_award", "requested_amount_wan": 20.0},
        {"application_id": "APP-2", "uscc": "E5", "policy_id": "baoan_hnte_first_award", "requested_amount_wan": 20.0},
    ])
    c = auto_approve(spark, lake, AS_OF)
    assert c.committed and c.rows_written == 2
    assert not auto_approve(spark, lake, AS_OF).committed or lake.to_arrow(DECISIONS).num_rows == 2
    recorded = {r["application_id"]: r for r in lake.to_arrow(DECISIONS).to_pylist()}
    assert {r["outcome"] for r in recorded.values()} == {"approve"}

    # The data changes after the decision: E1 loses its certificate, E5 gets paid for this policy.
    lake.write(profile_df(spark, core, [_ent("E1", cert_valid_hnte=False), _ent("E5")]), PROFILE)
    lake.write(spark.createDataFrame([("A9", "E5", "baoan_hnte_first_award", "KCJ", dt.date(2026, 5, 11), 20.0)],
                                     SUB_SCHEMA), SUBSIDIES, mode="append")
    for app_id, r in recorded.items():
        again = replay(lake, r["decision_id"], fields=core)
        assert again.outcome == r["outcome"] == "approve", app_id
        assert again.path == list(r["path"]) and again.rule_version == r["rule_version"]
        assert again.data_versions == {PROFILE: 0, SUBSIDIES: 0}
    fresh1 = decide(lake, {"application_id": "APP-1b", "uscc": "E1", "policy_id": "baoan_hnte_first_award",
                           "requested_amount_wan": 20.0}, as_of=AS_OF, fields=core)
    fresh5 = decide(lake, {"application_id": "APP-2b", "uscc": "E5", "policy_id": "baoan_hnte_first_award",
                           "requested_amount_wan": 20.0}, as_of=AS_OF, fields=core)
    assert fresh1.outcome == "reject" and fresh5.outcome == "reject"
    assert fresh1.data_versions == {PROFILE: 1, SUBSIDIES: 1}


def test_unknown_policy_tree(seeded, core):
    with pytest.raises(KeyError, match="no 秒批 decision tree"):
        decide(seeded, {"application_id": "x", "uscc": "E1", "policy_id": "hnte_recognition",
                        "requested_amount_wan": 1.0}, as_of=AS_OF, fields=core)
