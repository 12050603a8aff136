"""Portal page 数据沙箱 (/portal/cleanroom): a member whose department has a consumer granted a
product with the enterprise key submits, for that consumer, a SQL aggregate or a registered model
run; sees the job list (outcome, cells released and suppressed, refusals with their reasons) and
downloads what a job released (/portal/cleanroom/jobs/{id}.csv).

The same code path as `govlake cleanroom submit` and POST /cleanroom/jobs (govlake.cleanroom.jobs):
the same checks, ledger, audit row `cleanroom.job` and lineage run; the portal adds its own audit
row per submission and download (actor = the consumer, client = portal:<account>). A submission
counts against the API's bucket of that consumer for the route class `cleanroom`
(reads.admit_route): past it 429 with Retry-After, audited as denied (rate_limited), nothing run."""

from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import HTMLResponse, Response

from govlake import access
from govlake.access import reads
from govlake.cleanroom.jobs import MAX_USCCS, JobRefused, submit_model, submit_sql
from govlake.cleanroom.ledger import Ledger
from govlake.cleanroom.model_registry import load_registry
from govlake.portal import grant_reads
from govlake.portal.pages import Ctx, user
from govlake.products import load_catalog

router = APIRouter(prefix="/portal", include_in_schema=False)
EXAMPLE_SQL = ("SELECT street_code, enterprise_size, count(*) AS n, avg(revenue_y1_wan) AS avg_revenue\n"
               "FROM gold.enterprise_profile\nGROUP BY street_code, enterprise_size")
# what a refusal's status means, beside the reason the sandbox gives
STATUS_ZH = {400: "查询不合规 not an accepted aggregate", 403: "无权限或被防护拒绝 refused by a grant or a protection",
             404: "数据产品或模型不存在 unknown or unpublished", 422: "参数错误 bad request",
             500: "作业内部失败 failed inside the platform"}
OUTCOME_ZH = {"allowed": "已发布 released", "denied": "已拒绝 refused", "error": "出错 failed"}


def sandbox_consumers(ctx: Ctx) -> dict[str, list[str]]:
    """The department's consumers with an active grant on a product keyed by enterprise (the
    sandbox counts enterprises), each with those products."""
    keyed = [p.name for p in load_catalog(ctx.settings).products if "uscc" in p.contract.key]
    out = {}
    for c in grant_reads.dept_consumers(ctx.store, ctx.account.dept):
        granted = [p for p in keyed if access.active_grant(ctx.store, c.id, p) is not None]
        if granted:
            out[c.id] = granted
    return out


def _ledger(ctx: Ctx) -> Ledger:
    return Ledger(ctx.settings)


def _audit(ctx: Ctx, action: str, consumer: str, outcome: str, status: int, **kw) -> None:
    access.append_audit(ctx.store, access.AuditEvent(action, outcome, "consumer", consumer,
                                                     client=f"portal:{ctx.account.username}", status=status, **kw))


def _page(ctx: Ctx, consumers: dict, *, result=None, refused=None, form=None, error=None) -> HTMLResponse:
    ledger = _ledger(ctx)
    try:
        jobs = ledger.jobs(list(consumers), limit=50)
        public = ledger.public_reasons([j["id"] for j in jobs])
    finally:
        ledger.close()
    for j in jobs:
        j["public_reason"] = public.get(j["id"]) or (j["reason"] if j["outcome"] == "denied" and j["reason"] and
                                                   not j["reason"].startswith("the query failed") else None)
        if j["outcome"] == "error":
            j["public_reason"] = "the job failed inside the platform (作业内部失败)"
    models = load_registry(ctx.settings)
    return ctx.render("cleanroom.html", "数据沙箱", consumers=consumers, jobs=jobs, result=result, refused=refused,
                      models=models, form=form or {"sql": EXAMPLE_SQL}, error=error, outcome_zh=OUTCOME_ZH)


@router.get("/cleanroom", response_class=HTMLResponse)
def cleanroom_page(ctx: Ctx = Depends(user)):
    consumers = sandbox_consumers(ctx)
    error = None if consumers else ("本部门没有可用于数据沙箱的授权：先在数据产品目录申请含企业主键的产品 "
                                    "(no consumer of your department holds a grant the sandbox can use)")
    return _page(ctx, consumers, error=error)


@router.post("/cleanroom", response_class=HTMLResponse)
def cleanroom_submit(ctx: Ctx = Depends(user), csrf: str = Form(""), consumer: str = Form(""),
                     kind: str = Form("sql"), sql: str = Form(""), model: str = Form(""), uscc: str = Form("")):
    ctx.check_csrf(csrf)
    consumers = sandbox_consumers(ctx)
    form = {"consumer": consumer, "kind": kind, "sql": sql, "model": model, "uscc": uscc}
    if consumer not in consumers:
        raise HTTPException(403, f"{consumer!r} is not a consumer of your department with a sandbox grant "
                                 f"(非本部门可用沙箱的调用方)")
    try:  # as POST /cleanroom/jobs: the consumer's rate before anything is looked at or run
        reads.admit_route(ctx.store, consumer, "cleanroom")
    except reads.AccessDenied as e:
        _audit(ctx, "portal.cleanroom", consumer, "denied", e.status, filters={"kind": kind}, detail=e.message[:300])
        return grant_reads.limited(_page(ctx, consumers, form=form, error=grant_reads.too_fast(e)), e.retry_after)
    usccs = [u.strip().upper() for u in uscc.replace("，", ",").replace("\n", ",").split(",") if u.strip()]
    if kind == "model" and len(usccs) > MAX_USCCS:
        return _page(ctx, consumers, form=form, error=f"at most {MAX_USCCS} enterprises per job (企业数过多)")
    result = refused = None
    try:
        if kind == "model":
            result = submit_model(ctx.settings, consumer, model.strip(), usccs=usccs or None, store=ctx.store)
        else:
            result = submit_sql(ctx.settings, consumer, sql, store=ctx.store)
    except JobRefused as e:
        refused = {"job_id": e.job_id, "audit_id": e.audit_id, "status": e.status, "reason": str(e),
                   "status_zh": STATUS_ZH.get(e.status, "")}
        _audit(ctx, "portal.cleanroom", consumer, "denied" if e.status < 500 else "error", e.status,
               filters={"job_id": e.job_id, "kind": kind}, detail=f"cleanroom job {e.job_id} refused, audit #{e.audit_id}")
    if result is not None:
        product = next(iter(result.inputs), None)
        _audit(ctx, "portal.cleanroom", consumer, "allowed", 200, product=product,
               version=result.inputs.get(product) if product else None, rows=len(result.rows),
               filters={"job_id": result.job_id, "kind": kind}, detail=f"cleanroom job {result.job_id}, audit #{result.audit_id}")
    return _page(ctx, consumers, result=result, refused=refused, form=form)


@router.get("/cleanroom/jobs/{job_id}.csv")
def cleanroom_download(job_id: int, ctx: Ctx = Depends(user)):
    """What job `job_id` released, as CSV (UTF-8 with BOM for spreadsheet programs); only for a
    job of a consumer of the member's department."""
    ledger = _ledger(ctx)
    try:
        job = ledger.job(job_id)
    finally:
        ledger.close()
    mine = {c.id for c in grant_reads.dept_consumers(ctx.store, ctx.account.dept)}
    if job is None or job["consumer_id"] not in mine:
        raise HTTPException(404, f"no sandbox job {job_id} of your department (无此作业)")
    if job["outcome"] != "allowed" or job["columns"] is None:
        raise HTTPException(404, f"job {job_id} released nothing to download (该作业无可下载结果)")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(job["columns"])
    for row in job["rows"]:
        w.writerow(["" if row.get(c) is None else (json.dumps(row[c], ensure_ascii=False)
                                                  if isinstance(row[c], (list, dict)) else row[c]) for c in job["columns"]])
    product = next(iter(job["inputs"]), None)
    _audit(ctx, "portal.cleanroom.download", job["consumer_id"], "allowed", 200, product=product,
           version=job["inputs"].get(product) if product else None, rows=len(job["rows"]), filters={"job_id": job_id})
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="cleanroom-job-{job_id}.csv"'})
