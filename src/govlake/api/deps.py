"""Who is calling and what they may read, for every route of the API app (its own and the
routers other packages add): `caller(request, cred)` authenticates the API key, `grant_for`
finds the caller's grant for a product. Both fill the request's audit event (the middleware
appends it, allowed or denied) and raise HTTPException with a Chinese label on refusal.

A router in another package declares `cred: HTTPAuthorizationCredentials | None = Depends(bearer)`
and calls these two; the app's state carries the settings and the access store."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from govlake.access import AuthError, Grant, active_grant, reads, verify_key
from govlake.access.consumers import key_id_of
from govlake.api.audit_middleware import audit_event
from govlake.products import Product, load_catalog

class ErrorBody(BaseModel):
    detail: str


def errors(descriptions: dict[int, str]) -> dict:
    """A route's `responses=`: every error status it can return, declared with its meaning (the
    fuzz test fails on a status a route returns without declaring it)."""
    return {code: {"model": ErrorBody, "description": d} for code, d in descriptions.items()}


bearer = HTTPBearer(auto_error=False, description="API key issued by the platform (平台签发的接口密钥)")


def product_or_404(request: Request, name: str) -> Product:
    p = next((p for p in load_catalog(request.app.state.settings).products if p.name == name), None)
    if p is None:
        raise HTTPException(404, f"unknown data product {name!r} (未知数据产品)")
    return p


def caller(request: Request, cred: HTTPAuthorizationCredentials | None) -> str:
    """The consumer id the API key belongs to (401 without a valid key)."""
    ev = audit_event(request)
    if request.headers.get("x-consumer"):
        ev.detail = "X-Consumer header ignored (not a credential)"
    if cred is None:
        raise HTTPException(401, "an API key is required: Authorization: Bearer <key> (请携带接口密钥)",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        ident = verify_key(request.app.state.store, cred.credentials)
    except AuthError as e:
        ev.key_id = key_id_of(cred.credentials)
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"})
    ev.actor_kind, ev.actor, ev.key_id = "consumer", ident.consumer_id, ident.key_id
    return ident.consumer_id


def grant_for(request: Request, p: Product, consumer: str, *, export: bool = False) -> Grant | None:
    """The consumer's grant for p (None: reading a 公开 product without one); 403 without."""
    ev = audit_event(request)
    ev.product = p.name
    g = active_grant(request.app.state.store, consumer, p.name)
    if g is None and p.classification != "公开":
        raise HTTPException(403, f"{consumer} has no grant for {p.name} ({p.label}, {p.classification}) (未获授权)")
    if g is not None:
        ev.grant_id, ev.purpose = g.id, g.purpose
    else:
        ev.purpose = "公开数据"
    if export and not (g is not None and g.export):
        raise HTTPException(403, f"bulk export of {p.name} needs a grant with export (导出须经授权)")
    return g


def admit(request: Request, consumer: str, route_class: str, *, product: Product | None = None,
          grant: Grant | None = None) -> None:
    """One request of a route that is not a product read, admitted in govlake.access (the one place
    for rates and caps): the consumer's rate for the route class (rate_limits.ROUTE_CLASSES) and,
    given the product read, the grant's rows per day. 429 with Retry-After past the rate (the
    middleware audits it as denied, reason rate_limited)."""
    store = request.app.state.store
    try:
        reads.admit_route(store, consumer, route_class)
        if product is not None:
            reads.daily_remaining(store, consumer, product, grant)
    except reads.AccessDenied as e:
        raise HTTPException(e.status, e.message, headers=e.headers)
