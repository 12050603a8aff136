"""秒批: applications from pushed enterprises for their funding standard, decided by the catalog's
trees, each with its timeline (push sent -> submitted -> decided), the 公示 list, and decisions
replayable by Delta time travel after the data changed."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from govlake.catalog.work_calendar import load_work_calendar
from govlake import rulelang as E_
from govlake.policy.approval import (
    APPLICATIONS, DECISIONS, NOTICES, PROFILE, SUBSIDIES, TIMELINE, TZ, approval_figures, auto_approve, decide,
    funding_standard_wan, load_trees, mask_uscc, read_notices, replay, submit_applications, tree_gaps,
)
from govlake.policy.intake import applications_from_push, submit_from_push, submit_minutes
from govlake.policy.compile import CompiledPolicy
from govlake.policy.push import OutboxStore, default_channels, publish_outbox, run_push
from govlake.policy.synth import profile_df, random_profiles
from govlake.settings import get_settings

AS_OF = dt.date(2026, 5, 10)
CAL = load_work_calendar(get_settings().catalog_dir)
HNTE = "baoan_hnte_first_award"
SUB_SCHEMA = "award_id string, uscc string, policy_code string, dept_code string, award_date date, amount_wan double"
E = {f"E{i}": f"91440306000000{i:04d}" for i in range(1, 7)}
GOOD = {"cert_valid_hnte": True, "is_registered_in_district": True, "stat_in_district_y1": True,
        "credit_serious_1y_count": 0, "credit_dishonest_active": False}


@pytest.fixture(scope="module")
def hnte_profile(fields, core, policies):
    """Profile fields for the tests (core + what the policy reads) and a base row that meets every
    condition of the policy as the catalog has it now, with a positive funding standard: found among
    seeded synthetic profiles, so the tests follow the policy's text rather than restate it."""
    p = {x.policy_id: x for x in policies}[HNTE]
    types = {k: v.type for k, v in fields.items()}
    read = {f for c in p.clauses for f in E_.parse(c.rule, types, p.params_on(AS_OF)).fields}
    sub = {**core, **{f: fields[f] for f in read}}
    cp = CompiledPolicy(p, AS_OF, sub)
    for seed in range(20):
        for row in random_profiles(sub, 500, seed=seed, null_rate=0.0):
            row.update(GOOD)
            if cp.evaluate(row).eligible and (funding_standard_wan(p, row, AS_OF, types) or 0) > 0:
                return sub, row
    raise AssertionError(f"no synthetic profile meets every condition of {HNTE}")


def _ent(base, uscc, **kw):
    row = {**base, "uscc": uscc, "ent_name": f"深圳市测试{uscc[-2:]}科技有限公司"}
    row.update(kw)
    return row


def _push(lake, settings, policies, usccs, now):
    """The push job's own components: outbox rows for eligible matches, sent, published."""
    p = {x.policy_id: x for x in policies}[HNTE]
    store = OutboxStore.for_settings(settings)
    store.enqueue([{"policy_id": HNTE, "policy_version": p.version, "uscc": u, "channel": ch, "title": "t",
                    "body": "b", "as_of": AS_OF} for u in usccs for ch in ("inbox", "sms")], now=now)
    run_push(store, default_channels(settings), now=now)
    publish_outbox(lake, store)


@pytest.fixture
def seeded(spark, lake, hnte_profile):
    sub, base = hnte_profile
    ents = [_ent(base, E["E1"]), _ent(base, E["E2"]), _ent(base, E["E3"], cert_valid_hnte=False), _ent(base, E["E4"]),
            _ent(base, E["E5"], stat_in_district_y1=None), _ent(base, E["E6"])]
    lake.write(profile_df(spark, sub, ents), PROFILE)
    lake.write(spark.createDataFrame([("A1", E["E4"], HNTE, "KCJ", dt.date(2026, 4, 1), 20.0)], SUB_SCHEMA), SUBSIDIES)
    return lake


def test_pushed_applications_decisions_timeline_rerun_and_notices(spark, seeded, settings, fields, policies,
                                                                    hnte_profile):
    lake = seeded
    # pushed an hour ahead of the test's clock, so the modelled submissions lie after every step here
    sent = time.time() + 3600
    _push(lake, settings, policies, [E["E1"], E["E2"], E["E4"]], sent)
    p = {x.policy_id: x for x in policies}[HNTE]
    standard = funding_standard_wan(p, hnte_profile[1], AS_OF, {k: v.type for k, v in fields.items()})
    over = applications_from_push(lake, AS_OF, share=1.0, over_share=1.0, walk_in_share=0.0)
    assert len(over) == 3 and all(a["requested_amount_wan"] > standard for a in over)
    apps = applications_from_push(lake, AS_OF, share=1.0, over_share=0.0, walk_in_share=0.4)
    pushed = {a["uscc"]: a for a in apps if "-W-" not in a["application_id"]}
    assert sorted(pushed) == [E["E1"], E["E2"], E["E4"]] and {a["requested_amount_wan"] for a in apps} == {standard}
    walk_in = [a for a in apps if "-W-" in a["application_id"]]
    assert [a["uscc"] for a in walk_in] == [E["E3"]]  # not pushed and failing a condition (E5: unknown, E6: eligible)
    submit_from_push(lake, AS_OF, share=1.0, over_share=0.0, walk_in_share=0.4)
    # E6 (eligible, not pushed) asks more than the standard; E1 applies a second time for the same award
    submit_applications(lake, [
        {"application_id": "PORTAL-E6", "uscc": E["E6"], "policy_id": HNTE, "requested_amount_wan": standard * 2},
        {"application_id": "PORTAL-E1-again", "uscc": E["E1"], "policy_id": HNTE, "requested_amount_wan": standard,
         "submitted_at": dt.datetime.now(TZ).replace(tzinfo=None) + dt.timedelta(days=1)},
    ])
    out = auto_approve(spark, lake, AS_OF)
    got = {d["application_id"]: d for d in lake.to_arrow(DECISIONS).to_pylist()}
    by_uscc = {(d["uscc"], d["application_id"].startswith("PORTAL")): d for d in got.values()}
    ok = by_uscc[(E["E1"], False)]
    assert ok["outcome"] == "approve" and ok["amount_approved_wan"] == standard and ok["reasons_zh"][0] == "全部自动核验通过"
    assert len(ok["reasons_zh"]) == 1 + len(p.manual_checks)  # the department's checks after payment
    assert by_uscc[(E["E2"], False)]["outcome"] == "approve"
    manual = got["PORTAL-E6"]
    assert manual["outcome"] == "manual" and any("超过资助标准" in r for r in manual["reasons_zh"])
    ineligible = by_uscc[(E["E3"], False)]
    assert ineligible["outcome"] == "reject" and any("高新技术企业证书" in r for r in ineligible["reasons_zh"])
    assert by_uscc[(E["E4"], False)]["outcome"] == "reject"  # paid before (bronze.subsidies)
    again = got["PORTAL-E1-again"]
    assert again["outcome"] == "reject" and any("重复" in r for r in again["reasons_zh"])
    assert out["new_decisions"] == 6 and out["figures"]["approve"] == 2 and out["figures"]["manual"] == 1
    assert out["figures"]["share_auto_approved"] == pytest.approx(2 / 6, abs=1e-4)
    assert any("自动批准 2 件" in line for line in out["summary_zh"])
    # the second application was decided after the first one's approval was committed, and replays
    assert again["data_versions"] != ok["data_versions"]
    assert replay(lake, again["decision_id"]).outcome == "reject"

    # the approved application's timeline: push sent -> submitted (modelled) -> decided
    t = {r["application_id"]: r for r in lake.to_arrow(TIMELINE).to_pylist()}[ok["application_id"]]
    assert t["decision_id"] == ok["decision_id"] and t["push_channel"] in ("inbox", "sms")
    assert t["push_sent_at"].timestamp() == pytest.approx(sent, abs=1e-3)
    key = f"{settings.seed}|{HNTE}|{p.version}|{E['E1']}"
    assert t["minutes_push_to_submit"] == pytest.approx(submit_minutes(key), abs=0.011)
    assert t["submitted_source"] == "generated" and t["check_ms"] > 0
    assert 0 <= t["seconds_submit_to_decision"] < 60  # decided as soon as the checks finished
    assert t["minutes_push_to_decision"] == pytest.approx(
        t["minutes_push_to_submit"] + t["seconds_submit_to_decision"] / 60, abs=0.02)
    assert t["decided_at"] == ok["decided_at"]
    assert _walk_in_has_no_push(lake, walk_in[0]["application_id"])

    # a re-run decides nothing again and submits nothing again
    versions = {t: lake.version(t) for t in (APPLICATIONS, DECISIONS, TIMELINE, NOTICES)}
    assert submit_from_push(lake, AS_OF, share=1.0, over_share=0.0, walk_in_share=0.4) is None
    rerun = auto_approve(spark, lake, AS_OF)
    assert rerun["new_decisions"] == 0 and {t: lake.version(t) for t in versions} == versions
    assert lake.to_arrow(DECISIONS).num_rows == 6 and lake.to_arrow(TIMELINE).num_rows == 6
    assert rerun["figures"] == out["figures"]

    # 公示: the two approvals, names, masked codes, five working days after the decision day
    notices = read_notices(lake)
    assert sorted(n["uscc_masked"] for n in notices) == sorted(mask_uscc(E[k]) for k in ("E1", "E2"))
    n = notices[0]
    assert n["enterprise_name"].startswith("深圳市测试") and n["amount_wan"] == standard and n["policy_name_zh"] == p.name_zh
    assert (n["notice_start"], n["notice_end"]) == CAL.workdays_after(n["decision_date"], 5)
    assert read_notices(lake, n["notice_end"]) and not read_notices(lake, n["notice_end"] + dt.timedelta(days=1))


def _walk_in_has_no_push(lake, application_id) -> bool:
    row = {r["application_id"]: r for r in lake.to_arrow(TIMELINE).to_pylist()}[application_id]
    return row["push_sent_at"] is None and row["minutes_push_to_decision"] is None


def test_notice_rules():
    assert mask_uscc("91440300MA5F123456") == "91440300******3456"
    assert CAL.workdays_after(dt.date(2026, 12, 4), 5) == (dt.date(2026, 12, 7), dt.date(2026, 12, 11))  # Fri
    assert CAL.workdays_after(dt.date(2026, 12, 9), 5) == (dt.date(2026, 12, 10), dt.date(2026, 12, 16))  # Wed
    # 国庆节: the 公示期 starts after the holiday and counts the 调休 Saturday 10-10
    assert CAL.workdays_after(dt.date(2026, 9, 30), 5) == (dt.date(2026, 10, 8), dt.date(2026, 10, 13))


def test_every_tree_makes_the_districts_checks(settings, fields, policies):
    trees = load_trees(settings.catalog_dir)
    pol = {p.policy_id: p for p in policies}
    assert set(trees) <= set(pol), f"trees whose policy is gone: {set(trees) - set(pol)}"
    assert {pid: tree_gaps(pol[pid], t, fields) for pid, t in trees.items()} == {pid: [] for pid in trees}
    broken = {**trees[HNTE], "nodes": {k: v for k, v in trees[HNTE]["nodes"].items() if k != "duplicate"}}
    broken["nodes"]["eligible"] = {**broken["nodes"]["eligible"], "pass": "amount"}
    assert tree_gaps(pol[HNTE], broken, fields) == ["duplicate 未重复获得本项资助"]


def test_replay_reads_recorded_versions(spark, seeded, hnte_profile):
    lake = seeded
    submit_applications(lake, [
        {"application_id": "APP-1", "uscc": E["E1"], "policy_id": HNTE, "requested_amount_wan": 1.0},
        {"application_id": "APP-2", "uscc": E["E2"], "policy_id": HNTE, "requested_amount_wan": 1.0},
    ])
    assert auto_approve(spark, lake, AS_OF)["new_decisions"] == 2
    recorded = {r["application_id"]: r for r in lake.to_arrow(DECISIONS).to_pylist()}
    assert {r["outcome"] for r in recorded.values()} == {"approve"}

    # The data changes after the decision: E1 loses its certificate, E2 gets paid for this policy.
    sub, base = hnte_profile
    lake.write(profile_df(spark, sub, [_ent(base, E["E1"], cert_valid_hnte=False), _ent(base, E["E2"])]), PROFILE)
    lake.write(spark.createDataFrame([("A9", E["E2"], HNTE, "KCJ", dt.date(2026, 5, 11), 20.0)], SUB_SCHEMA),
               SUBSIDIES, mode="append")
    for app_id, r in recorded.items():
        again = replay(lake, r["decision_id"])
        assert again.outcome == r["outcome"] == "approve", app_id
        assert again.path == list(r["path"]) and again.rule_version == r["rule_version"]
        assert again.data_versions == {PROFILE: 0, SUBSIDIES: 0, DECISIONS: None}
    fresh1 = decide(lake, {"application_id": "APP-1b", "uscc": E["E1"], "policy_id": HNTE,
                           "requested_amount_wan": 1.0}, as_of=AS_OF)
    fresh2 = decide(lake, {"application_id": "APP-2b", "uscc": E["E2"], "policy_id": HNTE,
                           "requested_amount_wan": 1.0}, as_of=AS_OF)
    assert fresh1.outcome == "reject" and fresh2.outcome == "reject"
    assert fresh1.data_versions == {PROFILE: 1, SUBSIDIES: 1, DECISIONS: 0}
    assert approval_figures(lake, AS_OF)["decisions"] == 2


def test_unknown_policy_tree(seeded):
    with pytest.raises(KeyError, match="no 秒批 decision tree"):
        decide(seeded, {"application_id": "x", "uscc": E["E1"], "policy_id": "hnte_recognition",
                        "requested_amount_wan": 1.0}, as_of=AS_OF)
