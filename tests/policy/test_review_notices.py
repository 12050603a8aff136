"""公示 of a person's decisions: an application approved on 人工审核 appears in the public notice
list like an automatic 秒批 approval, marked 人工审核, with the person's decision date; one rejected
on review never does."""

from __future__ import annotations

import datetime as dt

from govlake.policy.approval import (APP_SCHEMA, APPLICATIONS, DECISION_SCHEMA, DECISIONS, MODE_AUTO, MODE_MANUAL,
                                     aware, mask_uscc, read_notices)
from govlake.policy.review import decide_review

AS_OF = dt.date(2026, 6, 18)
SUBMITTED = dt.datetime(2026, 6, 18, 9, 0, 0)
ROUTED = SUBMITTED + dt.timedelta(seconds=2)
E = {k: f"91440306000000000{k}" for k in "123"}


def test_reviewed_approvals_are_noticed_rejections_never(spark, lake):
    apps = [("APP-A", E["1"], "p1", 30.0), ("APP-M", E["2"], "p1", 80.0), ("APP-R", E["3"], "p1", 90.0)]
    lake.write(spark.createDataFrame([(a, u, p, amt, aware(SUBMITTED), "企业服务平台") for a, u, p, amt in apps],
                                     APP_SCHEMA), APPLICATIONS)
    lake.write(spark.createDataFrame([
        ("D-A", "APP-A", E["1"], "p1", 30.0, "approve", "批准", ["全部自动核验通过"], ["amount"], 30.0, "r1", "{}",
         AS_OF, aware(ROUTED)),
        ("D-M", "APP-M", E["2"], "p1", 80.0, "manual", "转人工审核", ["申请金额超过资助标准，转人工审核"], ["amount"],
         None, "r1", "{}", AS_OF, aware(ROUTED)),
        ("D-R", "APP-R", E["3"], "p1", 90.0, "manual", "转人工审核", ["申请金额超过资助标准，转人工审核"], ["amount"],
         None, "r1", "{}", AS_OF, aware(ROUTED))], DECISION_SCHEMA), DECISIONS)
    # a review the day before 端午节: the 公示期 starts the next working day, after the holiday
    at = dt.datetime(2026, 6, 18, 16, 30)
    rejected = decide_review(lake, "APP-R", approve=False, reason="研发投入证明材料不实", by="李审核", at=at)
    approved = decide_review(lake, "APP-M", approve=True, reason="材料齐全，按标准核准", by="张审核", amount_wan=50.0,
                             at=at)
    # the list rebuilt with the person's approval: from every decision and review, as the daily rebuild
    notices = {n["notice_id"]: n for n in read_notices(lake)}
    assert set(notices) == {"D-A", approved["review_id"]} and rejected["review_id"] not in notices
    m = notices[approved["review_id"]]
    assert m["approval_mode"] == MODE_MANUAL and m["uscc_masked"] == mask_uscc(E["2"]) and m["amount_wan"] == 50.0
    assert m["decision_date"] == at.date() and m["notice_start"] == dt.date(2026, 6, 22)
    assert notices["D-A"]["approval_mode"] == MODE_AUTO
