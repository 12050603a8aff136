"""Portal page 产业空间 (/portal/space): parks with filters, the space needs the account's
department may read (a grant on gold.space_needs), and one need's matched parks with reasons.

Reuses the portal's login session and layout (govlake.portal.pages: `user`, base.html); the lead
mounts `router` and adds the nav link. Every read is audited as the portal's own reads are."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from govlake import access
from govlake.portal import grant_reads
from govlake.portal.pages import TEMPLATES as PORTAL_TEMPLATES, Ctx, user
from govlake.space.inventory import NEEDS, PARKS, read
from govlake.space.matching import parks_for_need, record, search_parks
from govlake.space.parks import TYPES
from govlake.space.streets import street_names

router = APIRouter(prefix="/portal", include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=[str(Path(__file__).parent / "templates"),
                                       *PORTAL_TEMPLATES.env.loader.searchpath])
TEMPLATES.env.filters.update(PORTAL_TEMPLATES.env.filters)
TEMPLATES.env.globals.update(PORTAL_TEMPLATES.env.globals)
PAGE_ROWS = 100


def _audit(ctx: Ctx, consumer, grant, product: str, rows: int, filters: dict | None = None) -> None:
    access.append_audit(ctx.store, access.AuditEvent(
        "portal.read", "allowed", "consumer" if consumer else "account", consumer or ctx.account.username,
        product=product, filters=filters or None, rows=rows, purpose=getattr(grant, "purpose", None),
        grant_id=getattr(grant, "id", None), client=f"portal:{ctx.account.username}", status=200),
        usage_rows=rows)


def _num(v: str) -> float | None:
    try:
        return float(v) if v.strip() else None
    except ValueError:
        return None


@router.get("/space", response_class=HTMLResponse)
def space_page(ctx: Ctx = Depends(user), street: str = "", max_rent: str = "", min_area: str = "",
               type: str = "", need: str = ""):
    lake = ctx.lake
    error = None
    try:
        parks = read(lake, PARKS)
    except FileNotFoundError as e:
        parks, error = None, str(e)
    filters = {"street": street, "max_rent": _num(max_rent), "min_area": _num(min_area),
               "type": type if type in TYPES else ""}
    hits, total = [], 0
    if parks is not None:
        found = search_parks(parks, street=filters["street"] or None, max_rent=filters["max_rent"],
                             min_area=filters["min_area"], building_type=filters["type"] or None)
        total = len(found)
        hits = [record(r) for _, r in found.head(PAGE_ROWS).iterrows()]
        _audit(ctx, None, None, PARKS, len(hits), {k: v for k, v in filters.items() if v})
    consumer, grant = grant_reads.granted_consumer(ctx.store, ctx.account, NEEDS)
    needs, chosen, matches = None, None, []
    if grant is not None and lake.exists(NEEDS):
        nd = read(lake, NEEDS)
        needs = [record(r) for _, r in nd.head(PAGE_ROWS).iterrows()]
        if need:
            hit = nd[nd["need_id"] == need]
            if not hit.empty and parks is not None:
                chosen = record(hit.iloc[0])
                matches = parks_for_need(chosen, parks, 10)
        _audit(ctx, consumer, grant, NEEDS, len(needs) + len(matches), {"need_id": need} if need else None)
    return TEMPLATES.TemplateResponse(ctx.request, "space.html", {
        "title": "产业空间", "account": ctx.account, "csrf": (ctx.session or {}).get("n", ""),
        "roles": access.ROLES, "dept_names": ctx.dept_names(), "flash": None, "error": error,
        "streets": street_names(), "types": TYPES, "f": filters, "parks": hits, "total": total,
        "needs": needs, "need_granted": grant is not None, "chosen": chosen, "matches": matches,
    })
