"""HTTP routes of 产业空间撮合, authorised as the data products gold.industrial_parks (园区) and
gold.space_needs (空间需求). The lead mounts `router` in the API app."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from govlake.api.audit_middleware import audit_event
from govlake.api.deps import bearer, caller, errors, grant_for, product_or_404
from govlake.lakehouse import Lakehouse
from govlake.space.inventory import NEEDS, PARKS, read
from govlake.space.matching import needs_for_park, parks_for_need, record, search_parks
from govlake.space.parks import TYPES

router = APIRouter(tags=["产业空间撮合 space"])
MAX_ROWS = 500
ID = r"^[A-Za-z0-9]{1,40}$"



_ERRORS = {
    401: "no valid API key (未认证)",
    403: "no grant for the product (无权限)",
    404: "unknown park, need or product, or the tables are not built yet (不存在)",
    422: "parameter out of bounds (参数越界)",
}


def _authorise(request: Request, cred, *products: str) -> str:
    consumer = caller(request, cred)
    for name in products:
        grant_for(request, product_or_404(request, name), consumer)
    return consumer


def _table(request: Request, table: str):
    try:
        return read(Lakehouse(None, request.app.state.settings), table)
    except FileNotFoundError as e:
        raise HTTPException(404, str(e))


@router.get("/space/parks", responses=errors(_ERRORS))
def parks(request: Request, street: str | None = Query(None, max_length=20, description="街道编码或名称"),
          max_rent: float | None = Query(None, ge=0, le=10_000, description="租金上限（元/㎡·月）"),
          min_area: float | None = Query(None, ge=0, le=10_000_000, description="最小空置面积（㎡）"),
          type: str | None = Query(None, description="类型 " + " | ".join(TYPES)),
          limit: int = Query(100, ge=1, le=MAX_ROWS),
          cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """园区检索: parks by street, rent ceiling, vacant area and type, cheapest first."""
    _authorise(request, cred, PARKS)
    if type is not None and type not in TYPES:
        raise HTTPException(422, f"type must be one of {list(TYPES)} (类型不存在)")
    hits = search_parks(_table(request, PARKS), street=street, max_rent=max_rent, min_area=min_area,
                        building_type=type)
    rows = [record(r) for _, r in hits.head(limit).iterrows()]
    audit_event(request).rows = len(rows)
    return {"total": len(hits), "parks": rows}


@router.get("/space/needs/{need_id}/parks", responses=errors(_ERRORS))
def need_parks(request: Request, need_id: str = Path(..., pattern=ID),
               limit: int = Query(10, ge=1, le=MAX_ROWS),
               cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """一个空间需求的匹配园区: hard filters, then score (rent, area, street, facilities), best first."""
    _authorise(request, cred, NEEDS, PARKS)
    needs = _table(request, NEEDS)
    hit = needs[needs["need_id"] == need_id]
    if hit.empty:
        raise HTTPException(404, f"unknown need {need_id} (空间需求不存在)")
    need = record(hit.iloc[0])
    matches = parks_for_need(need, _table(request, PARKS), limit)
    audit_event(request).rows = len(matches) + 1
    return {"need": need, "parks": matches}


@router.get("/space/parks/{park_id}/needs", responses=errors(_ERRORS))
def park_needs(request: Request, park_id: str = Path(..., pattern=ID),
               limit: int = Query(10, ge=1, le=MAX_ROWS),
               cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
    """一个园区的匹配需求: the needs whose hard filters it passes, best score first."""
    _authorise(request, cred, PARKS, NEEDS)
    parks_df = _table(request, PARKS)
    hit = parks_df[parks_df["park_id"] == park_id]
    if hit.empty:
        raise HTTPException(404, f"unknown park {park_id} (园区不存在)")
    park = record(hit.iloc[0])
    matches = needs_for_park(park, _table(request, NEEDS), limit)
    audit_event(request).rows = len(matches) + 1
    return {"park": park, "needs": matches}
