"""Portal page 诉求办理 (/portal/requests): the queue of the logged-in account's unit (its
department): the requests dispatched to it, open ones first and overdue (逾期) marked, each with
its events. Read through a consumer of the department holding a grant on ops.enterprise_requests
(none: the page says so), and audited like the portal's other reads. The unit acts through the
API or the CLI (POST /enterprise-requests/{id}/actions, `govlake services request accept|reply|close`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from govlake import access
from govlake.portal import grant_reads
from govlake.portal.pages import TEMPLATES as PORTAL_TEMPLATES, Ctx, user

router = APIRouter(prefix="/portal", include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=[str(Path(__file__).parent / "templates"),
                                       *PORTAL_TEMPLATES.env.loader.searchpath])
TEMPLATES.env.filters.update(PORTAL_TEMPLATES.env.filters)
TEMPLATES.env.globals.update(PORTAL_TEMPLATES.env.globals)
PRODUCT = "ops.enterprise_requests"


@router.get("/requests", response_class=HTMLResponse)
def requests_page(ctx: Ctx = Depends(user), done: str = ""):
    from govlake.services.request_handling import unit_queue, uscc_scope

    unit = ctx.account.dept
    consumer, grant = grant_reads.granted_consumer(ctx.store, ctx.account, PRODUCT) if unit else (None, None)
    rows = None
    if grant is not None:
        rows = unit_queue(ctx.lake, unit, include_done=bool(done), uscc_scope=uscc_scope(grant))
        grant_reads.audit(ctx.store, ctx.account, consumer, PRODUCT, "allowed", status=200, grant=grant,
                          rows=len(rows), filters={"dept_code": unit, "include_done": bool(done)})
    return TEMPLATES.TemplateResponse(ctx.request, "requests.html", {
        "title": "诉求办理", "account": ctx.account, "csrf": (ctx.session or {}).get("n", ""),
        "roles": access.ROLES, "dept_names": ctx.dept_names(), "flash": None, "unit": unit,
        "granted": grant is not None, "rows": rows, "done": bool(done),
        "overdue": sum(r["overdue"] for r in rows or []),
    })
