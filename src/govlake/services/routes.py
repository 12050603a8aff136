"""HTTP: GET /enterprises/{uscc}/file (一企一档), authorised by the caller's grant on
gold.enterprise_profile: its row scope must cover the enterprise, its levels decide masking;
POST /enterprise-requests (诉求直达), authorised by a grant on ops.enterprise_requests."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from govlake.access.levels import hidden_profile_fields, masked_columns
from govlake.api import deps
from govlake.api.audit_middleware import audit_event
from govlake.lakehouse import Lakehouse
from govlake.services.enterprise_file import enterprise_file, profile_headline
from govlake.services.key_enterprises import PROFILE

router = APIRouter(tags=["企业服务 enterprise services"])



ERRORS = {401: "no valid API key (未认证)", 403: "no grant covering this enterprise (无权限)",
          404: "no such enterprise or profile not published (不存在)", 422: "bad USCC (参数错误)",
          429: "the grant's rows per day are used up, or too many requests: retry after Retry-After seconds "
               "(超出每日行数或限流)"}


@router.get("/enterprises/{uscc}/file", summary="一企一档 enterprise file",
            responses=deps.errors(ERRORS))
def get_file(request: Request, uscc: str = Path(pattern=r"^[0-9A-Za-z]{18}$", description="统一社会信用代码"),
             cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    consumer = deps.caller(request, cred)
    p = deps.product_or_404(request, PROFILE)
    g = deps.grant_for(request, p, consumer)
    ev = audit_event(request)
    ev.filters = {"uscc": uscc}
    # a file is one profile row: it counts against the grant's rows per day like a profile read
    deps.admit(request, consumer, "services", product=p, grant=g)  # rate and rows per day (govlake.access)
    scope = (g.row_scope or {}) if g is not None else {}
    if "uscc" in scope and uscc not in scope["uscc"]:
        # refused before the lookup, so the answer does not tell whether the enterprise exists
        raise HTTPException(403, f"{uscc} is outside the grant's rows (uscc) (超出授权数据范围)")
    settings = request.app.state.settings
    lake = Lakehouse(None, settings)
    if not lake.exists(PROFILE):
        raise HTTPException(404, f"{PROFILE} has not been published yet (尚未发布)")
    try:
        head = profile_headline(lake, uscc)
    except KeyError as e:
        raise HTTPException(404, str(e.args[0]))
    for col, values in scope.items():
        if str(head.get(col)) not in {str(v) for v in values}:
            raise HTTPException(403, f"{uscc} is outside the grant's rows ({col}) (超出授权数据范围)")
    masked = frozenset(masked_columns(p, g, list(head), settings))
    out = enterprise_file(lake, uscc, masked=masked, hidden_fields=hidden_profile_fields(p, g, settings))
    ev.rows = 1
    return out


# -- 诉求直达: request submission ------------------------------------------------------------------
REQUESTS_PRODUCT = "ops.enterprise_requests"
SUBMIT_ERRORS = {401: "no valid API key (未认证)",
                 403: "no grant on ops.enterprise_requests covering the enterprise (无权为该企业提交诉求)",
                 404: "the product is not in the catalog (不存在)",
                 409: "client_request_id already used for another request (客户端请求编号重复)",
                 422: "unknown service or a form that fails its service's rules (服务事项不存在或表单校验未通过)",
                 429: "too many requests: retry after Retry-After seconds (请求过于频繁，已限流)"}


class RequestSubmission(BaseModel):
    client_request_id: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                                   description="调用方请求编号：同一编号重复提交返回同一工单（幂等）")
    uscc: str = Field(..., pattern=r"^[0-9A-Z]{18}$", description="统一社会信用代码")
    service_id: str = Field(..., max_length=32, description="服务事项编号（catalog/enterprise_services.yaml）")
    form: dict = Field(default_factory=dict, description="表单字段（按服务事项的标准表单）")
    proxy_official: str | None = Field(None, max_length=40, description="代提诉求的服务专员编号")


@router.post("/enterprise-requests", status_code=201, summary="诉求直达 submit a request",
             responses={200: {"description": "the same client_request_id again: the ticket already given "
                                             "(同一请求编号，返回原工单)"}, **deps.errors(SUBMIT_ERRORS)})
def submit_enterprise_request(request: Request, body: RequestSubmission, response: Response,
                              cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    """An enterprise's request of one of the catalog's services, with its form: validated against
    the service's form, given a ticket (工单编号) and a due date in working days, recorded for the
    daily dispatch. The caller needs a grant on ops.enterprise_requests whose rows (uscc) cover
    the enterprise. The same client_request_id again returns the same ticket (200)."""
    from govlake.services.request_intake import ConflictError, submit_request
    from govlake.services.service_catalog import FormError

    consumer = deps.caller(request, cred)
    g = deps.grant_for(request, deps.product_or_404(request, REQUESTS_PRODUCT), consumer)
    deps.admit(request, consumer, "services")
    ev = audit_event(request)
    ev.filters = {"uscc": body.uscc, "service_id": body.service_id, "client_request_id": body.client_request_id}
    scope = (g.row_scope or {}) if g is not None else {}
    if "uscc" in scope and body.uscc not in scope["uscc"]:
        raise HTTPException(403, f"{body.uscc} is outside the grant's rows (uscc) (超出授权企业范围)")
    try:
        t = submit_request(Lakehouse(None, request.app.state.settings), consumer=consumer,
                           client_request_id=body.client_request_id, uscc=body.uscc, service_id=body.service_id,
                           form=body.form, proxy_official=body.proxy_official)
    except FormError as e:
        raise HTTPException(422, str(e))
    except KeyError as e:
        raise HTTPException(422, str(e.args[0]))
    except ConflictError as e:
        raise HTTPException(409, str(e))
    ev.rows = 1
    ev.detail = f"enterprise request {t.ticket_id}" + (" (repeat)" if t.duplicate else "")
    if t.duplicate:
        response.status_code = 200
    return t.to_dict()


# -- 诉求直达: the unit's queue and actions, the enterprise's evaluation -----------------------------
HANDLE_ERRORS = {401: "no valid API key (未认证)",
                 403: "no grant on ops.enterprise_requests, or a request of another unit or enterprise "
                      "(无权办理该诉求)",
                 404: "no such request (无此诉求)",
                 409: "the request's state does not allow the action, or action_id already used for another "
                      "action (状态不允许或操作编号重复)",
                 422: "bad action or evaluation (参数错误)",
                 429: "the grant's rows per day are used up, or too many requests: retry after Retry-After "
                      "seconds (超出每日行数或限流)"}


class RequestAction(BaseModel):
    action_id: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                           description="调用方操作编号：同一编号重复提交返回同一操作（幂等）")
    action: str = Field(..., pattern=r"^(accept|reply|close|evaluate)$",
                        description="accept 签收 / reply 办理答复 / close 办结（承办单位）；evaluate 评价（企业）")
    note: str = Field("", max_length=2000, description="办理结果（答复必填）或评价意见")
    evaluation: str | None = Field(None, description="评价：满意 / 基本满意 / 不满意（evaluate 必填）")


def _unit_of(request: Request, consumer: str) -> str | None:
    from govlake.access import get_consumer

    c = get_consumer(request.app.state.store, consumer)
    return c.dept if c is not None else None


@router.get("/enterprise-requests/queue", summary="诉求直达 the caller's unit's queue (本单位待办)",
            responses=deps.errors({k: v for k, v in HANDLE_ERRORS.items() if k in (401, 403, 404, 429)}))
def unit_queue_route(request: Request, include_done: bool = False,
                     cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    """The requests dispatched to the caller's unit (its consumer's department), open ones
    (已受理登记, 已签收) unless include_done, overdue first (逾期: past the due date in working
    days), each with its events. Needs a grant on ops.enterprise_requests."""
    from govlake.services.request_handling import OPEN, unit_queue, uscc_scope

    consumer = deps.caller(request, cred)
    p = deps.product_or_404(request, REQUESTS_PRODUCT)
    g = deps.grant_for(request, p, consumer)
    unit = _unit_of(request, consumer)
    ev = audit_event(request)
    ev.filters = {"dept_code": unit, "include_done": include_done}
    deps.admit(request, consumer, "services", product=p, grant=g)
    rows = unit_queue(Lakehouse(None, request.app.state.settings), unit, include_done=include_done,
                      uscc_scope=uscc_scope(g)) if unit else []
    ev.rows = len(rows)
    return {"dept_code": unit, "requests": rows, "open": sum(r["status"] in OPEN for r in rows),
            "overdue": sum(r["overdue"] for r in rows)}


@router.post("/enterprise-requests/{request_id}/actions", status_code=201,
             summary="诉求直达 act on a request: 签收 / 办理答复 / 办结 / 评价",
             responses={200: {"description": "the same action_id again: the action already recorded "
                                             "(同一操作编号，返回原操作)"}, **deps.errors(HANDLE_ERRORS)})
def act_route(request: Request, body: RequestAction, response: Response,
              request_id: str = Path(..., pattern=r"^[A-Z0-9]{8,40}$", description="诉求编号（工单编号）"),
              cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    """accept, reply (note: the handling result), close: by a consumer of the unit the request
    is assigned to (403 for any other unit). evaluate (evaluation 满意/基本满意/不满意, note: the
    comment): by the enterprise's side, a grant whose rows (uscc) cover the enterprise; the first
    不满意 reopens the request. Idempotent by action_id. Needs a grant on ops.enterprise_requests."""
    from govlake.services.request_handling import HandlingError, act, uscc_scope

    consumer = deps.caller(request, cred)
    g = deps.grant_for(request, deps.product_or_404(request, REQUESTS_PRODUCT), consumer)
    deps.admit(request, consumer, "services")
    ev = audit_event(request)
    ev.filters = {"request_id": request_id, "action": body.action, "action_id": body.action_id}
    try:
        e = act(Lakehouse(None, request.app.state.settings), request_id=request_id, action=body.action,
                action_id=body.action_id, actor=consumer, actor_dept=_unit_of(request, consumer), note=body.note,
                evaluation=body.evaluation, uscc_scope=uscc_scope(g))
    except HandlingError as err:
        raise HTTPException(err.status, str(err))
    ev.rows = 1
    ev.detail = f"enterprise request {request_id} {body.action}" + (" (repeat)" if e.duplicate else "")
    if e.duplicate:
        response.status_code = 200
    return e.to_dict()


# the portal page of a unit's queue (/portal/requests), mounted with these routes
from govlake.services.request_pages import router as _pages  # noqa: E402

router.include_router(_pages)
