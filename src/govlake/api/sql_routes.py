"""POST /sql: one read-only SELECT over the caller's granted products (govlake.api.sql_reads),
audited like a row read (products, versions, the statement's SHA-256 and text, rows returned)
and traced as OpenLineage reader runs `sql.<consumer>`, one input per product."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from govlake.access import reads
from govlake.access.audit import AuditEvent, record as record_audit
from govlake.api import deps
from govlake.api.audit_middleware import audit_event
from govlake.api.sql_reads import MAX_SQL_CHARS, referenced_products, run_sql, sql_hash
from govlake.lakehouse import Lakehouse

router = APIRouter(tags=["sql"])
SQL_TEXT_AUDITED = 4000  # characters of the statement kept in the audit row (the hash covers all of it)


class SqlRequest(BaseModel):
    sql: str = Field(..., max_length=MAX_SQL_CHARS, description="one SELECT over products named layer.name (只读查询)")



_ERRORS = {
    400: "not a single read-only SELECT over data products, or it failed (仅允许单条只读查询)",
    401: "no valid API key (未认证)",
    403: "a product without grant, or a masked column (无权限)",
    404: "a product not published yet (尚未发布)",
    408: "the statement ran too long and was cancelled (查询超时)",
    422: "the statement is too long or needs too much memory (超出限制)",
    429: "the grant's rows per day are used up, or its requests per second (超出每日行数或限流; Retry-After)",
}


@router.post("/sql", responses=deps.errors(_ERRORS))
def sql_query(request: Request, body: SqlRequest, cred: HTTPAuthorizationCredentials | None = Depends(deps.bearer)):
    """Rows of one SELECT over granted products, each a view named like the product
    (`SELECT street_code, count(*) FROM gold.enterprise_profile GROUP BY 1`): only the grant's
    unmasked columns and rows, at most 1000 rows (truncated: true when there were more)."""
    consumer = deps.caller(request, cred)
    ev = audit_event(request)
    ev.filters = {"sql_sha256": sql_hash(body.sql), "sql": body.sql[:SQL_TEXT_AUDITED]}
    settings = request.app.state.settings
    store = request.app.state.store
    lake = Lakehouse(None, settings)
    try:
        names = referenced_products(body.sql)
        ev.product = ",".join(names)[:300]
        granted = []
        for name in names:
            p = deps.product_or_404(request, name)
            granted.append((p, deps.grant_for(request, p, consumer)))
        ev.product = names[0]
        result = run_sql(lake, store, consumer, body.sql, granted)
    except reads.AccessDenied as e:
        raise HTTPException(e.status, e.message, headers=e.headers)
    except HTTPException as e:
        if e.status_code == 404 and "unknown data product" in str(e.detail):
            # naming a table that is no product is a bad statement, not a missing resource
            raise HTTPException(400, e.detail)
        raise
    ev.rows, ev.version, ev.columns = len(result.rows), result.versions.get(names[0]), result.columns[:200]
    ev.filters["versions"] = result.versions
    for p, g in granted[1:]:
        # one audit row (and daily count) per further product: each product's owner sees the read
        record_audit(store, AuditEvent(ev.action, "allowed", ev.actor_kind, ev.actor, key_id=ev.key_id, product=p.name,
                                       version=result.versions.get(p.name), filters=ev.filters, columns=ev.columns,
                                       rows=len(result.rows), purpose=getattr(g, "purpose", "公开数据"),
                                       grant_id=getattr(g, "id", None), client=ev.client, status=200,
                                       detail=f"joined with {names[0]} in one statement"), usage_rows=len(result.rows))
    for p, _ in granted:
        reads.emit_read(f"sql.{consumer}", p.name, result.versions.get(p.name), len(result.rows), settings)
    return {"products": names, "versions": result.versions, "columns": result.columns, "count": len(result.rows),
            "truncated": result.truncated, "rows": result.rows}
