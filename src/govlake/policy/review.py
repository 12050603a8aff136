"""人工审核 of the 秒批 applications the automated checks routed to a person (outcome manual): the
reviewer approves or rejects with a reason, at a decision time that goes into the application's
timeline beside the automatic step.

ops.approval_reviews keeps one review per application (reviewer, reason, outcome, amount, time);
ops.approval_timeline gets a second row for the application (decision_id = the review id,
outcome approve/reject, decided_at = the person's decision time, so submit→decision and
push→decision read the whole wait). The 秒批 figures (time to automatic decision) read only the
automatic rows."""

from __future__ import annotations

import datetime as dt
import hashlib

from govlake.policy.approval import (APPLICATIONS, DECISIONS, OUTCOME_ZH, REVIEWS, TIMELINE, TIMELINE_SCHEMA,
                                     _timeline_row, aware, first_push, local, now_local, refresh_notices)
REVIEW_SCHEMA = (
    "review_id string COMMENT '审核编号', application_id string COMMENT '申请编号', "
    "decision_id string COMMENT '转人工的秒批决定编号', uscc string COMMENT '统一社会信用代码', "
    "policy_id string COMMENT '政策编号', outcome string COMMENT '审核结果 approve/reject', "
    "outcome_zh string COMMENT '审核结果（中文）', reason string COMMENT '审核理由', reviewer string COMMENT '审核人', "
    "amount_approved_wan double COMMENT '核准金额（万元）', decided_at timestamp COMMENT '人工决定时间'")


class ReviewError(ValueError):
    pass


def pending(lake) -> list[dict]:
    """The applications routed to a person and not yet reviewed, oldest first."""
    if not lake.exists(DECISIONS):
        return []
    manual = [r for r in lake.to_arrow(DECISIONS).to_pylist() if r["outcome"] == "manual"]
    done = set(lake.to_arrow(REVIEWS, columns=["application_id"])["application_id"].to_pylist()) \
        if lake.exists(REVIEWS) else set()
    return sorted((r for r in manual if r["application_id"] not in done), key=lambda r: (local(r["decided_at"]),
                                                                                         r["application_id"]))


def decide_review(lake, application_id: str, *, approve: bool, reason: str, by: str,
                  amount_wan: float | None = None, at: dt.datetime | None = None) -> dict:
    """Record a person's decision on a 转人工审核 application. at: the decision time (naive
    Asia/Shanghai; default now), never before the automatic routing. Raises ReviewError when the
    application has no manual decision, is already reviewed, or the reason or reviewer is missing."""
    if not by or not by.strip():
        raise ReviewError("the reviewer is required (须填写审核人)")
    if not reason or len(reason.strip()) < 4:
        raise ReviewError("a reason of at least 4 characters is required (须填写审核理由)")
    found = lake.to_arrow(DECISIONS, where={"application_id": application_id}).to_pylist() \
        if lake.exists(DECISIONS) else []
    if not found:
        raise ReviewError(f"no 秒批 decision for application {application_id} (无此申请的秒批决定)")
    d = found[0]
    if d["outcome"] != "manual":
        raise ReviewError(f"{application_id} was decided automatically ({d['outcome']} {d['outcome_zh']}); "
                          "only 转人工审核 applications are reviewed (非转人工申请)")
    if lake.exists(REVIEWS):
        prior = lake.to_arrow(REVIEWS, where={"application_id": application_id}).to_pylist()
        if prior:
            p = prior[0]
            raise ReviewError(f"{application_id} was already reviewed by {p['reviewer']} at "
                              f"{local(p['decided_at'])}: {p['outcome_zh']} (已审核)")
    app = lake.to_arrow(APPLICATIONS, where={"application_id": application_id}).to_pylist()[0]
    when = (at or now_local()).replace(microsecond=0)
    if when < local(d["decided_at"]):
        raise ReviewError(f"decision time {when} is before the application was routed to review at "
                          f"{local(d['decided_at'])} (决定时间早于转人工时间)")
    outcome = "approve" if approve else "reject"
    amount = (float(amount_wan) if amount_wan is not None else float(app["requested_amount_wan"])) if approve else None
    review_id = "RV" + hashlib.sha256(application_id.encode()).hexdigest()[:12].upper()
    spark = lake.spark
    row = (review_id, application_id, d["decision_id"], d["uscc"], d["policy_id"], outcome, OUTCOME_ZH[outcome],
           reason.strip(), by.strip(), amount, aware(when))
    # one review per application: the app id makes a retried write commit once
    lake.write(spark.createDataFrame([row], REVIEW_SCHEMA), REVIEWS, mode="append", app_id=f"approval_review@{application_id}")
    tl = _timeline_row(app, {"decision_id": review_id, "outcome": outcome, "decided_at": when},
                       first_push(lake).get((d["policy_id"], d["uscc"]), []), None)
    lake.write(spark.createDataFrame([tl], TIMELINE_SCHEMA), TIMELINE, mode="append",
               app_id=f"approval_timeline@{review_id}")
    if approve:  # the 公示 lists a person's approval beside the automatic ones (人工审核)
        refresh_notices(lake)
    return {"review_id": review_id, "application_id": application_id, "outcome": outcome,
            "outcome_zh": OUTCOME_ZH[outcome], "amount_approved_wan": amount, "reviewer": by.strip(),
            "reason": reason.strip(), "decided_at": when.isoformat(sep=" "),
            "routed_at": local(d["decided_at"]).isoformat(sep=" "),
            "submitted_at": local(app["submitted_at"]).isoformat(sep=" "),
            "minutes_submit_to_decision": round((when - local(app["submitted_at"])).total_seconds() / 60, 2)}
