"""GET /enterprises/{uscc}/pre-credit: an enterprise's own pre-credit estimate (预授信额度测算).

Authorised by the caller's grant on gold.enterprise_profile (the model reads that product):
an enterprise's app holds a grant with row scope {uscc: [its own]}, a department an unscoped
one (or one scoped by another column, e.g. street_code, checked against the row). The grant's
columns, when listed, must cover the model's inputs: the estimate is derived from them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import create_model

from govlake.api.audit_middleware import audit_event
from govlake.api.deps import bearer, caller, errors, grant_for, product_or_404

router = APIRouter(tags=["precredit 融资预授信"])
PRODUCT = "gold.enterprise_profile"



# the score() contract's columns plus the profile version read (built, not declared, so the
# fields are not taken for unused names)
PreCredit = create_model("PreCredit", uscc=(str, ...), pd=(float, ...), credit_low_wan=(float, ...),
                         credit_high_wan=(float, ...), reasons=(list[str], ...), model_version=(str, ...),
                         profile_version=(int | None, ...))


_ERR = {401: "no or invalid API key (未认证)", 403: "no grant covering this enterprise (未获授权)",
        404: "no profile for this enterprise (无此企业画像)", 422: "malformed uscc (参数错误)",
        503: "no pre-credit model published yet (服务未就绪)"}


@router.get("/enterprises/{uscc}/pre-credit", response_model=PreCredit,
            responses=errors(_ERR))
def pre_credit(request: Request, uscc: str = Path(..., pattern=r"^[0-9A-Za-z]{1,32}$", description="统一社会信用代码"),
               cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
    from govlake import release
    from govlake.lakehouse import Lakehouse
    from govlake.precredit.model import load
    from govlake.precredit.score import INPUT_COLUMNS, read_profile, score

    settings = request.app.state.settings
    consumer = caller(request, cred)
    p = product_or_404(request, PRODUCT)
    g = grant_for(request, p, consumer)
    scope = (g.row_scope or {}) if g is not None else {}
    if "uscc" in scope and uscc not in scope["uscc"]:
        raise HTTPException(403, f"{consumer}'s grant on {PRODUCT} does not cover {uscc} (仅可查询本企业)")
    if g is not None and g.columns is not None and set(INPUT_COLUMNS) - set(g.columns):
        raise HTTPException(403, f"{consumer}'s grant on {PRODUCT} lacks the model's input columns "
                                 f"{sorted(set(INPUT_COLUMNS) - set(g.columns))} (授权字段不足)")
    try:
        model = load(settings)
    except FileNotFoundError as e:
        raise HTTPException(503, str(e))
    try:
        t = read_profile(settings, uscc, columns=[c for c in scope if c != "uscc"])
    except FileNotFoundError as e:
        raise HTTPException(404, str(e))
    except KeyError as e:  # the profile build lacks an input (or a scoped column): not servable
        raise HTTPException(503, str(e.args[0]))
    if t.num_rows == 0:
        raise HTTPException(404, f"no profile for {uscc} (无此企业画像)")
    row = t.slice(0, 1).to_pylist()[0]
    if any(row.get(c) not in vals for c, vals in scope.items() if c != "uscc"):
        raise HTTPException(403, f"{consumer}'s grant on {PRODUCT} does not cover {uscc} (超出授权范围)")
    ev = audit_event(request)
    ev.rows, ev.filters = 1, {"uscc": uscc}
    ev.version = release.version_of(Lakehouse(None, settings), PRODUCT)
    out = score(t.slice(0, 1), settings, model).to_pylist()[0]
    return {**out, "profile_version": ev.version}
