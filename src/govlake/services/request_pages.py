"""Portal page 诉求办理 (/portal/requests): the queue of the logged-in account's unit (its
department): the requests dispatched to it that still need the unit (open ones and the answered
ones to close), overdue (逾期) marked, each with its events; and the unit's actions on them, one
POST form per request as its state allows: 签收 (已受理登记), 办理答复 with the result (已签收),
办结 (已办理).

Read and acted on through a consumer of the department holding a grant on ops.enterprise_requests
(none: the page says so, 403 for an action), under the API's rules: an action goes through
request_handling.act (the same as POST /enterprise-requests/{id}/actions and
`govlake services request accept|reply|close`), counts against the consumer's rate for the
services routes, and is audited (actor: the consumer, client: portal:<account>)."""

from __future__ import annotations

from pathlib import Path as FilePath
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from govlake import access
from govlake.access import reads
from govlake.portal import grant_reads
from govlake.portal.pages import TEMPLATES as PORTAL_TEMPLATES, Ctx, user

router = APIRouter(prefix="/portal", include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=[str(FilePath(__file__).parent / "templates"),
                                       *PORTAL_TEMPLATES.env.loader.searchpath])
TEMPLATES.env.filters.update(PORTAL_TEMPLATES.env.filters)
TEMPLATES.env.globals.update(PORTAL_TEMPLATES.env.globals)
PRODUCT = "ops.enterprise_requests"
# besides the open ones, an answered (已办理) request still waits for the unit to close it
PENDING = ("received", "accepted", "handled")
MAX_NOTE = 2000  # as the API's RequestAction.note


def _render(ctx: Ctx, *, granted: bool, rows: list[dict] | None, done: bool, status_code: int = 200,
            error: str | None = None) -> HTMLResponse:
    q = ctx.request.query_params
    return TEMPLATES.TemplateResponse(ctx.request, "requests.html", {
        "title": "诉求办理", "account": ctx.account, "csrf": (ctx.session or {}).get("n", ""),
        "roles": access.ROLES, "dept_names": ctx.dept_names(), "flash": q.get("msg"), "error": error or q.get("err"),
        "unit": ctx.account.dept, "granted": granted, "rows": rows, "done": done,
        "overdue": sum(r["overdue"] for r in rows or []),
    }, status_code=status_code)


@router.get("/requests", response_class=HTMLResponse)
def requests_page(ctx: Ctx = Depends(user), done: str = ""):
    from govlake.services.request_handling import unit_queue, uscc_scope

    unit = ctx.account.dept
    consumer, grant = grant_reads.granted_consumer(ctx.store, ctx.account, PRODUCT) if unit else (None, None)
    rows = None
    if grant is not None:
        # every request of the unit, then the page's own cut: unit_queue's open ones leave out the
        # answered ones, which the unit still has to close here
        rows = [r for r in unit_queue(ctx.lake, unit, include_done=True, uscc_scope=uscc_scope(grant))
                if done or r["status"] in PENDING]
        grant_reads.audit(ctx.store, ctx.account, consumer, PRODUCT, "allowed", status=200, grant=grant,
                          rows=len(rows), filters={"dept_code": unit, "include_done": bool(done)})
    return _render(ctx, granted=grant is not None, rows=rows, done=bool(done))


# -- the unit's actions ----------------------------------------------------------------------------
def _audit(ctx: Ctx, consumer: str | None, grant, action: str, outcome: str, status: int, filters: dict,
           detail: str) -> None:
    """One audit row per action, served or refused, as the CLI and the API write theirs; an
    allowed one counts its row against the consumer's day as the API's middleware does."""
    grant_reads.audit(ctx.store, ctx.account, consumer, PRODUCT, outcome, status=status, detail=detail[:300],
                      grant=grant, rows=1 if outcome == "allowed" else None, filters=filters,
                      action=f"portal.request.{action}")


def _back(done: bool, **params: str) -> RedirectResponse:
    q = urlencode({**({"done": "1"} if done else {}), **params})
    return RedirectResponse(f"/portal/requests?{q}", status_code=303)


@router.post("/requests/{request_id}/actions")
def request_action(ctx: Ctx = Depends(user), request_id: str = Path(..., pattern=r"^[A-Z0-9]{8,40}$"),
                   csrf: str = Form(""), action: str = Form(""), note: str = Form(""), seq: int = Form(0),
                   done: str = Form("")):
    """签收 / 办理答复 / 办结 from the page's form. The action id is derived from the form (the
    request, the number of its events the page showed, the action, the consumer, the note), so
    a form sent twice is one action, while the same reply after a 不满意重办 is a new one."""
    from govlake.services.enterprise_requests import ACTION_ZH, STATUS_ZH, UNIT_ACTIONS
    from govlake.services.request_handling import HandlingError, act, default_action_id, uscc_scope

    ctx.check_csrf(csrf)
    back_done = bool(done)
    zh = ACTION_ZH.get(action, action)
    if action not in UNIT_ACTIONS:
        return _back(back_done, err=f"失败：未知操作 {action!r}（本页可签收、办理答复、办结）")
    note = note.strip()
    if len(note) > MAX_NOTE:
        return _back(back_done, err=f"失败：{request_id} {zh}未完成，说明超过 {MAX_NOTE} 字")
    unit = ctx.account.dept
    consumer, grant = grant_reads.granted_consumer(ctx.store, ctx.account, PRODUCT) if unit else (None, None)
    action_id = default_action_id(f"{request_id}@{max(seq, 0)}", action, consumer or "", note, None)
    filters = {"request_id": request_id, "action": action, "action_id": action_id}
    if grant is None:
        _audit(ctx, None, None, action, "denied", 403, filters, f"no active grant on {PRODUCT} (无有效授权)")
        return _render(ctx, granted=False, rows=None, done=back_done, status_code=403,
                       error=f"失败：本部门无 {PRODUCT} 授权，不能办理诉求（请在数据产品目录申请）")
    try:
        reads.admit_route(ctx.store, consumer, "services")  # the rate of the API's services routes
    except reads.AccessDenied as e:
        _audit(ctx, consumer, grant, action, "denied", e.status, filters, e.message)
        return _back(back_done, err=f"失败：{request_id} {zh}未完成，请求过于频繁，请稍后再试（已限流）")
    try:
        ev = act(ctx.lake, request_id=request_id, action=action, action_id=action_id, actor=consumer,
                 actor_dept=unit, note=note, uscc_scope=uscc_scope(grant))
    except HandlingError as e:
        _audit(ctx, consumer, grant, action, "denied" if e.status < 500 else "error", e.status, filters, str(e))
        return _back(back_done, err=f"失败：{request_id} {zh}未完成，{e.reason_zh}（{e.status}）")
    except Exception as e:  # audited, then the portal's error answer
        _audit(ctx, consumer, grant, action, "error", 500, filters, f"{type(e).__name__}: {e}")
        raise
    repeat = "（重复提交，已按一次办理）" if ev.duplicate else ""
    _audit(ctx, consumer, grant, action, "allowed", 200 if ev.duplicate else 201, filters,
           f"enterprise request {request_id} {action}" + (" (repeat)" if ev.duplicate else ""))
    return _back(back_done, msg=f"成功：{request_id} {zh}{repeat}，当前状态 {STATUS_ZH[ev.status]}")
