"""人工审核 of a 秒批 application routed to a person: the decision, its reviewer, reason and time
recorded, the timeline carrying the person's decision time, one review per application."""

from __future__ import annotations

import datetime as dt

import pytest

from govlake.policy.approval import (APP_SCHEMA, APPLICATIONS, DECISION_SCHEMA, DECISIONS, TIMELINE, approval_figures,
                                     aware, local)
from govlake.policy.review import REVIEWS, ReviewError, decide_review, pending

AS_OF = dt.date(2026, 5, 10)
SUBMITTED = dt.datetime(2026, 5, 10, 9, 0, 0)
ROUTED = SUBMITTED + dt.timedelta(seconds=2)


@pytest.fixture
def decided(spark, lake):
    lake.write(spark.createDataFrame([
        ("APP-M", "914403060000000001", "p1", 80.0, aware(SUBMITTED), "企业服务平台"),
        ("APP-A", "914403060000000002", "p1", 30.0, aware(SUBMITTED), "企业服务平台")], APP_SCHEMA), APPLICATIONS)
    lake.write(spark.createDataFrame([
        ("D-M", "APP-M", "914403060000000001", "p1", 80.0, "manual", "转人工审核", ["申请金额超过资助标准，转人工审核"], ["amount"],
         None, "r1", "{}", AS_OF, aware(ROUTED)),
        ("D-A", "APP-A", "914403060000000002", "p1", 30.0, "approve", "批准", ["全部自动核验通过"], ["amount"],
         30.0, "r1", "{}", AS_OF, aware(ROUTED))], DECISION_SCHEMA), DECISIONS)
    return lake


def test_person_decides_with_time_once(decided):
    lake = decided
    assert [r["application_id"] for r in pending(lake)] == ["APP-M"]
    with pytest.raises(ReviewError, match="非转人工"):
        decide_review(lake, "APP-A", approve=False, reason="复核不通过", by="张审核")
    with pytest.raises(ReviewError, match="审核理由"):
        decide_review(lake, "APP-M", approve=True, reason="ok", by="张审核")
    with pytest.raises(ReviewError, match="早于转人工"):
        decide_review(lake, "APP-M", approve=True, reason="材料齐全，核准", by="张审核", at=SUBMITTED)
    assert not lake.exists(REVIEWS)

    at = ROUTED + dt.timedelta(minutes=17)
    out = decide_review(lake, "APP-M", approve=True, reason="材料齐全，按标准核准", by="张审核", amount_wan=50.0, at=at)
    assert out["outcome_zh"] == "批准" and out["amount_approved_wan"] == 50.0
    assert out["minutes_submit_to_decision"] == pytest.approx(17 + 2 / 60, abs=0.01)
    review = lake.to_arrow(REVIEWS).to_pylist()
    assert len(review) == 1 and review[0]["reviewer"] == "张审核" and local(review[0]["decided_at"]) == at
    tl = [r for r in lake.to_arrow(TIMELINE).to_pylist() if r["application_id"] == "APP-M"]
    assert len(tl) == 1 and tl[0]["decision_id"] == out["review_id"] and tl[0]["outcome"] == "approve"
    assert local(tl[0]["decided_at"]) == at and tl[0]["seconds_submit_to_decision"] == (at - SUBMITTED).total_seconds()

    with pytest.raises(ReviewError, match="已审核"):
        decide_review(lake, "APP-M", approve=False, reason="改为不予批准", by="李审核")
    assert pending(lake) == [] and lake.row_count(REVIEWS) == 1
    # the person's 17 minutes are not counted as a time to automatic decision
    assert approval_figures(lake, AS_OF)["seconds_submit_to_decision"]["n"] == 0
