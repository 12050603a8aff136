"""Product reads made through the portal, under the API's rules (govlake.access.reads, one
module for both): the reading department's consumer needs an active grant (a 公开 product is
read without one, 公开 columns only, within the same daily cap), reads only the grant's columns
and row scope, within its daily row cap, sees the columns the levels mask as ***; every read,
served or refused, is one audit row (actor = the consumer, client = portal:<account>), and each
served read is an OpenLineage reader run `portal.<consumer>` (who used the product).

Rates (限流): a read counts against the grant's bucket (reads.read_rows admits it), the one the
API's reads of that grant spend, so a department cannot read faster through the portal than
through the API. Past it the page answers 429 with Retry-After (`limited`) and the message
`too_fast`; the sandbox and clean-room pages use the same two for their route classes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from govlake import access
from govlake.access import reads
from govlake.lakehouse import Lakehouse
from govlake.products import Product


class ReadRefused(Exception):
    """No grant, an expired one, or a cap reached: the message says which (中文 beside).
    retry_after (seconds) is set when the rate refused the read: the page answers 429."""

    def __init__(self, message: str, *, status: int = 403, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


def wait_seconds(retry_after: float) -> int:
    """Whole seconds to wait, as the API's Retry-After says it (at least 1)."""
    return max(1, math.ceil(retry_after))


def too_fast(e: reads.AccessDenied) -> str:
    """The person's message for a refusal by the rate, then the limiter's own (which rate, whose)."""
    return f"请求过于频繁，请 {wait_seconds(e.retry_after)} 秒后再试 — {e.message}"


def limited(response, retry_after: float | None):
    """The page answering a refusal by the rate: 429 with Retry-After, like the API (unchanged
    when retry_after is None: the other refusals are shown on an ordinary page)."""
    if retry_after is not None:
        response.status_code = 429
        response.headers["Retry-After"] = str(wait_seconds(retry_after))
    return response


@dataclass
class Page:
    product: str
    consumer: str
    version: int | None
    total: int
    columns: list[str]
    rows: list[dict]
    masked: list[str]
    grant_id: int | None


def dept_consumers(store, dept: str | None) -> list:
    return [c for c in access.list_consumers(store) if dept and c.dept == dept]


def granted_consumer(store, account, product: str) -> tuple[str | None, object | None]:
    """The first consumer of the account's department holding an active grant on product."""
    for c in dept_consumers(store, account.dept):
        g = access.active_grant(store, c.id, product)
        if g is not None:
            return c.id, g
    return None, None


def _reader(store, account, p: Product):
    """(consumer, grant): a granted consumer of the account's department; for a 公开 product
    without a grant, the department's first consumer with no grant (公开 columns only, as the
    API serves it)."""
    consumer, grant = granted_consumer(store, account, p.name)
    if grant is None and p.classification == "公开":
        consumer = next((c.id for c in dept_consumers(store, account.dept)), None)
    return consumer, grant


def audit(store, account, consumer, product, outcome, *, status, detail=None, grant=None, version=None,
          rows=None, columns=None, filters=None, action: str = "portal.read"):
    """One portal audit row (actor: the consumer, else the account; client: portal:<account>);
    its rows count against the consumer's day. action: portal.read, or the portal's own actions."""
    access.append_audit(store, access.AuditEvent(
        action, outcome, "consumer" if consumer else "account", consumer or account.username,
        product=product, version=version, filters=filters or None, columns=columns, rows=rows,
        purpose=getattr(grant, "purpose", None), grant_id=getattr(grant, "id", None),
        client=f"portal:{account.username}", status=status, detail=detail), usage_rows=rows or 0)


def read(store, lake: Lakehouse, account, p: Product, *, filters: dict | None = None, limit: int = 100,
         offset: int = 0, whole: bool = False) -> Page:
    """A page of p's rows as the account's department may see them; whole=True: every row (the
    dashboards' small report tables)."""
    consumer, grant = _reader(store, account, p)
    if consumer is None:
        audit(store, account, None, p.name, "denied", status=403, detail="no active grant (无有效授权)")
        raise ReadRefused(f"{account.dept or account.username} holds no active grant on {p.name} "
                          f"({p.label})（本部门无有效授权，请先申请）")
    table = p.stored_in[-1] if p.view and p.stored_in else p.name
    if p.view or not lake.exists(table):
        audit(store, account, consumer, p.name, "error", status=404, grant=grant, detail="not readable in the portal")
        raise ReadRefused(f"{p.name} ({p.label}) is not published as a table (尚未发布或需通过接口读取)", status=404)
    version = None
    try:
        version = reads.served_version(lake, p, None)
        page = reads.read_rows(lake, store, p, consumer, grant, dict(filters or {}), version=version, limit=limit,
                               offset=offset, whole=whole)
    except reads.AccessDenied as e:
        audit(store, account, consumer, p.name, "denied" if e.status < 500 else "error", status=e.status,
               grant=grant, version=version, filters=filters, detail=e.message[:300])
        if e.retry_after is not None:  # the grant's rate (the audit detail starts with rate_limited)
            raise ReadRefused(too_fast(e), status=e.status, retry_after=e.retry_after)
        raise ReadRefused(e.message, status=e.status)
    audit(store, account, consumer, p.name, "allowed", status=200, grant=grant, version=version, rows=len(page.rows),
           columns=page.columns, filters=filters)
    reads.emit_read(f"portal.{consumer}", p.name, version, len(page.rows), lake.settings)
    return Page(p.name, consumer, version, page.total, page.columns, page.rows, page.masked, getattr(grant, "id", None))
