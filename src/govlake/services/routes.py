"""HTTP: GET /enterprises/{uscc}/file (一企一档), authorised by the caller's grant on
gold.enterprise_profile: its row scope must cover the enterprise, its levels decide masking."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials

from govlake.access.audit import rows_served_today
from govlake.access.levels import hidden_profile_fields, masked_columns
from govlake.api import deps
from govlake.api.audit_middleware import audit_event
from govlake.lakehouse import Lakehouse
from govlake.services.enterprise_file import enterprise_file, profile_headline
from govlake.services.key_enterprises import PROFILE

router = APIRouter(tags=["企业服务 enterprise services"])



ERRORS = {401: "no valid API key (未认证)", 403: "no grant covering this enterprise (无权限)",
          404: "no such enterprise or profile not published (不存在)", 422: "bad USCC (参数错误)",
          429: "the grant's rows per day are used up (超出每日行数)"}


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
    if g is not None and rows_served_today(request.app.state.store, consumer, p.name) >= g.daily_rows:
        raise HTTPException(429, f"{consumer} has read its {g.daily_rows} rows of {p.name} for today (今日行数已用完)")
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
