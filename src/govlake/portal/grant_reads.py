"""Product reads made through the portal, under the same rules as the API: the reading
department's consumer needs an active grant (govlake.access), reads only the grant's columns
and row scope, within its daily row cap, sees the columns the levels mask as ***; every read,
served or refused, is one audit row (actor = the consumer, client = portal:<account>), and each
served read is an OpenLineage reader run `portal.<consumer>` (who used the product)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyarrow as pa

from govlake import access, release
from govlake.access.audit import rows_served_today
from govlake.lakehouse import Lakehouse
from govlake.lineage.emitter import DatasetRef, JobRun
from govlake.products import Product

MASK = "***"
PROFILE, TAGS = "gold.enterprise_profile", "gold.enterprise_tags"


class ReadRefused(Exception):
    """No grant, an expired one, or a cap reached: the message says which (中文 beside)."""


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


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


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


def _audit(store, account, consumer, product, outcome, *, status, detail=None, grant=None, version=None,
           rows=None, columns=None, filters=None):
    access.append_audit(store, access.AuditEvent(
        "portal.read", outcome, "consumer" if consumer else "account", consumer or account.username,
        product=product, version=version, filters=filters or None, columns=columns, rows=rows,
        purpose=getattr(grant, "purpose", None), grant_id=getattr(grant, "id", None),
        client=f"portal:{account.username}", status=status, detail=detail), usage_rows=rows or 0)


def _mask_quoting_text(p: Product, grant, rows: list[dict], settings) -> list[str]:
    """Tag evidence quotes profile values (字段=取值): masked in the rows of tags whose rule reads a
    profile field this reader may not see, as the API does (govlake.access.levels)."""
    from govlake.access.levels import hidden_profile_fields, tags_reading
    from govlake.products import load_products

    if p.name != TAGS or not rows or "evidence" not in rows[0]:
        return []
    profile = load_products(settings).get(PROFILE)
    tags = tags_reading(hidden_profile_fields(profile, grant, settings) if profile else frozenset(), settings)
    hit = False
    for r in rows:
        if r.get("tag_id") in tags and r.get("evidence") is not None:
            r["evidence"], hit = MASK, True
    return ["evidence"] if hit else []


def read(store, lake: Lakehouse, account, p: Product, *, filters: dict | None = None, limit: int = 100,
         offset: int = 0, whole: bool = False) -> Page:
    """A page of p's rows as the account's department may see them; whole=True: every row (the
    dashboards' small report tables)."""
    consumer, grant = _reader(store, account, p)
    if consumer is None:
        _audit(store, account, None, p.name, "denied", status=403, detail="no active grant (无有效授权)")
        raise ReadRefused(f"{account.dept or account.username} holds no active grant on {p.name} "
                          f"({p.label})（本部门无有效授权，请先申请）")
    table = p.stored_in[-1] if p.view and p.stored_in else p.name
    if p.view or not lake.exists(table):
        _audit(store, account, consumer, p.name, "error", status=404, grant=grant, detail="not readable in the portal")
        raise ReadRefused(f"{p.name} ({p.label}) is not published as a table (尚未发布或需通过接口读取)")
    version = release.version_of(lake, table)
    schema = lake.arrow_schema(table, version)
    allowed = [c for c in schema.names if grant is None or not grant.columns or c in grant.columns]
    where: dict = {}
    for col, values in (getattr(grant, "row_scope", None) or {}).items():
        where[col] = list(values)
    for col, v in (filters or {}).items():
        if col not in schema.names:
            _audit(store, account, consumer, p.name, "denied", status=400, grant=grant, detail=f"no column {col}")
            raise ReadRefused(f"{p.name} has no column {col!r}（无此字段）")
        if col in where:
            if v not in where[col]:
                _audit(store, account, consumer, p.name, "denied", status=403, grant=grant, filters=filters,
                       detail="filter outside the grant's row scope (超出授权数据范围)")
                raise ReadRefused(f"{col}={v} is outside the grant's row scope (超出授权数据范围)")
            where[col] = [v]
        else:
            typ = schema.field(col).type
            try:
                where[col] = v if pa.types.is_string(typ) else pa.scalar(v).cast(typ).as_py()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                _audit(store, account, consumer, p.name, "denied", status=400, grant=grant, filters=filters,
                       detail=f"{col}: not a valid {typ}")
                raise ReadRefused(f"{col}={v!r} is not a valid {typ}（取值格式错误）")
    data = lake.to_arrow(table, version, columns=allowed, where=where or None)
    total = data.num_rows
    if not whole:
        data = data.slice(offset, limit)
    used = rows_served_today(store, consumer, p.name)
    cap = getattr(grant, "daily_rows", None)
    if cap and used + data.num_rows > cap:
        _audit(store, account, consumer, p.name, "denied", status=429, grant=grant, version=version,
               detail=f"daily cap {cap} rows reached (超出每日行数上限)")
        raise ReadRefused(f"{consumer} reached its daily cap of {cap} rows on {p.name}（超出每日行数上限）")
    masked = [c for c in access.masked_columns(p, grant, allowed, lake.settings) if c in allowed]
    rows = [{k: (MASK if k in masked and v is not None else _clean(v)) for k, v in r.items()} for r in data.to_pylist()]
    masked += _mask_quoting_text(p, grant, rows, lake.settings)
    _audit(store, account, consumer, p.name, "allowed", status=200, grant=grant, version=version, rows=len(rows),
           columns=allowed, filters=filters)
    run = JobRun(f"portal.{consumer}", lake.settings, job_type="STREAMING", integration="API")
    run.add_input(DatasetRef(table, version=version, rows=len(rows)))
    run.complete()
    return Page(p.name, consumer, version, total, allowed, rows, masked, getattr(grant, "id", None))
