"""POST /cleanroom/jobs (数据沙箱作业): an outside party's computation, run inside.

The caller is the consumer of its API key (govlake.api.deps); the job is the same as the CLI's
(govlake.cleanroom.jobs): refused jobs answer with their status and reason, and every job is
audited twice: the request's row (the app's middleware) and the job's own `cleanroom.job` row."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from govlake.api.audit_middleware import audit_event
from govlake.api.deps import admit, bearer, caller, errors
from govlake.cleanroom.aggregate_query import MAX_SQL_CHARS
from govlake.cleanroom.jobs import MAX_USCCS, JobRefused, submit_model, submit_sql

router = APIRouter(tags=["cleanroom 数据沙箱"])



_ERRORS = {
    400: "not an accepted aggregate query (查询不合规)",
    401: "no valid API key (未认证)",
    403: "no grant, masked column, differencing, or enterprises that did not authorise (无权限或被防护拒绝)",
    404: "unknown product or model, or not published (不存在)",
    422: "bad request body (参数错误)",
    429: "too many jobs: retry after Retry-After seconds (请求过于频繁，已限流)",
    500: "the registered model failed (模型运行失败)",
}


class JobRequest(BaseModel):
    sql: str | None = Field(None, max_length=MAX_SQL_CHARS, description="聚合查询: SELECT ... GROUP BY ...")
    model: str | None = Field(None, max_length=64, pattern=r"^[a-z][a-z0-9_]*$", description="登记模型名称")
    uscc: list[str] | None = Field(None, max_length=MAX_USCCS, description="待评分企业（统一社会信用代码）")


@router.post("/cleanroom/jobs", responses=errors(_ERRORS))
def cleanroom_job(request: Request, body: JobRequest, cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """Submit a sandbox job: a SQL aggregate (cells of at least k enterprises leave, smaller ones are
    suppressed, differencing against earlier answers is refused) or a registered model (per-enterprise
    results only for enterprises that authorised the caller)."""
    consumer = caller(request, cred)
    admit(request, consumer, "cleanroom")  # rate per consumer (govlake.access, 限流)
    if (body.sql is None) == (body.model is None):
        raise HTTPException(422, "give exactly one of sql or model (sql 与 model 二选一)")
    if body.uscc and body.model is None:
        raise HTTPException(422, "uscc goes with model (uscc 仅用于模型)")
    if body.uscc and any(not isinstance(u, str) or not 1 <= len(u) <= 32 for u in body.uscc):
        raise HTTPException(422, "uscc: 1-32 characters each (统一社会信用代码格式错误)")
    settings, store = request.app.state.settings, request.app.state.store
    ev = audit_event(request)
    try:
        r = submit_sql(settings, consumer, body.sql, store=store) if body.sql is not None else \
            submit_model(settings, consumer, body.model, usccs=body.uscc, store=store)
    except JobRefused as e:
        ev.detail = f"cleanroom job {e.job_id} refused, audit #{e.audit_id}"
        raise HTTPException(e.status, f"job {e.job_id} refused (作业被拒绝): {e}")
    ev.product = next(iter(r.inputs), None)
    ev.version = r.inputs.get(ev.product) if ev.product else None
    ev.rows = len(r.rows)
    ev.detail = f"cleanroom job {r.job_id}, audit #{r.audit_id}"
    return r.to_dict()
