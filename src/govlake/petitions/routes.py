"""HTTP: a ticket's dispatch with its lead and assisting departments (主协办) and its 退单 / 快速裁决
history; a department's return (退单); the district centre's arbitration (快速裁决).

All three need the caller's grant on gold.petition_dispatch (the 民意速办 platform acts for the
departments); an arbitration only from the consumers catalog/dispatch.yaml names
(`returns.arbiter_consumers`). The dispatch rows are read through govlake.access.reads (grant,
masking, rows per day, audit)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from govlake.access import reads
from govlake.api import deps
from govlake.api.audit_middleware import audit_event
from govlake.lakehouse import Lakehouse

router = APIRouter(tags=["民生诉求 petitions"])

DISPATCH = "gold.petition_dispatch"
TICKET = Path(pattern=r"^[0-9A-Za-z_-]{1,64}$", description="工单编号")
DEPT = r"^[A-Z0-9]{2,16}$"
ERRORS = {401: "no valid API key (未认证)", 403: "no grant, not this department's ticket, or not the arbiter (无权限)",
          404: "no such ticket or dispatch (不存在)", 409: "refused by the rules: window passed, in arbitration, "
          "already decided (不符合退单或裁决规则)", 422: "bad department or missing reason (参数错误)",
          429: "rows per day used up, or too many requests: retry after Retry-After seconds (超出每日行数或限流)", 503: "no dispatch model trained yet (服务未就绪)"}


class ReturnBody(BaseModel):
    dept: str = Field(pattern=DEPT, description="退单部门代码")
    reason: str = Field(min_length=1, max_length=500, description="退单理由")


class ArbitrationBody(BaseModel):
    dept: str = Field(pattern=DEPT, description="裁决承办部门代码")
    by: str = Field(min_length=1, max_length=100, description="裁决人")
    reason: str = Field("", max_length=500, description="裁决理由")
    assisting: list[str] = Field(default_factory=list, max_length=5, description="协办部门代码")


def _granted(request: Request, cred) -> str:
    consumer = deps.caller(request, cred)
    deps.grant_for(request, deps.product_or_404(request, DISPATCH), consumer)
    deps.admit(request, consumer, "petitions")  # rate per consumer (govlake.access, 限流)
    return consumer


def _refused(e) -> HTTPException:
    return HTTPException(e.status, str(e))


@router.get("/petitions/tickets/{ticket_id}/dispatch", summary="工单分拨（主协办、退单与裁决记录）",
            responses=deps.errors({k: ERRORS[k] for k in (401, 403, 404, 429)}))
def ticket_dispatch(request: Request, ticket_id: str = TICKET,
                    cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    from govlake.petitions.handling_events import ticket_state

    consumer = deps.caller(request, cred)
    settings, store = request.app.state.settings, request.app.state.store
    p = deps.product_or_404(request, DISPATCH)
    g = deps.grant_for(request, p, consumer)
    lake = Lakehouse(None, settings)
    try:
        version = reads.served_version(lake, p, None)
        page = reads.read_rows(lake, store, p, consumer, g, {"ticket_id": ticket_id}, version=version, limit=50)
    except reads.AccessDenied as e:
        raise HTTPException(e.status, e.message)
    if not page.rows:
        raise HTTPException(404, f"ticket {ticket_id} has no dispatch (无分拨记录)")
    audit_event(request).rows = len(page.rows)
    reads.emit_read(f"api.{consumer}", p.name, version, len(page.rows), settings)
    try:
        state = ticket_state(lake, ticket_id).as_dict()
    except KeyError as e:
        raise HTTPException(404, str(e.args[0]))
    return {"ticket_id": ticket_id, "version": version, "masked_columns": page.masked_columns,
            "departments": sorted(page.rows, key=lambda r: (str(r.get("as_of")), r.get("rank") or 0)), **state}


@router.post("/petitions/tickets/{ticket_id}/return", summary="退单（部门退回工单并重新分拨）",
             responses=deps.errors({k: ERRORS[k] for k in (401, 403, 404, 409, 422, 429, 503)}))
def return_ticket(request: Request, body: ReturnBody, ticket_id: str = TICKET,
                  cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    from govlake.petitions.handling_events import HandlingError, return_ticket as do_return

    consumer = _granted(request, cred)
    try:
        st = do_return(request.app.state.settings, ticket_id, body.dept, body.reason, by=consumer)
    except HandlingError as e:
        raise _refused(e)
    audit_event(request).detail = f"退单 {ticket_id} by {body.dept}"
    return st.as_dict()


@router.post("/petitions/tickets/{ticket_id}/arbitrate", summary="快速裁决（区民生诉求服务中心）",
             responses=deps.errors({k: ERRORS[k] for k in (401, 403, 404, 409, 422, 429)}))
def arbitrate_ticket(request: Request, body: ArbitrationBody, ticket_id: str = TICKET,
                     cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)) -> dict:
    from govlake.petitions.handling_events import HandlingError, ReturnRules, arbitrate

    consumer = _granted(request, cred)
    settings = request.app.state.settings
    rules = ReturnRules.from_catalog(settings.catalog_dir)
    if consumer not in rules.arbiter_consumers:
        raise HTTPException(403, f"{consumer} may not record 快速裁决; only {', '.join(rules.arbiter_consumers)} "
                                 f"for {rules.arbiter} (仅裁决机构可裁决)")
    try:
        st = arbitrate(settings, ticket_id, body.dept, by=body.by, reason=body.reason,
                       assisting=body.assisting, recorded_by=consumer)
    except HandlingError as e:
        raise _refused(e)
    audit_event(request).detail = f"快速裁决 {ticket_id} -> {body.dept}"
    return st.as_dict()
