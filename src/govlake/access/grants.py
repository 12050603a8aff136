"""Applications (数据使用申请) and the grants (授权) they become.

A department member applies for one of its consumers to use a product: purpose, columns, row
scope, duration, whether 敏感 columns are included, whether bulk export (rows.csv) is allowed,
rows per day. An owner of the product's department approves (a grant with valid_from/valid_to) or
rejects; an admin may approve too, except for 敏感 columns, which only the owning department can
give. A grant is used while valid and not revoked; revocation and expiry are marks added once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from govlake.access.accounts import get_account, require_role
from govlake.access.audit import AuditEvent, append_audit
from govlake.access.consumers import get_consumer
from govlake.access.database import AccessError, AccessStore, now, parse_stamp, stamp
from govlake.access.lookup_cache import cached, changed
from govlake.access.rate_limits import check_rate

DAILY_ROWS = 20_000          # default cap of rows a grant serves per day
MAX_DAILY_ROWS = 1_000_000
MAX_DAYS = 3 * 366
CATALOG = "catalog"          # the decider of grants imported from catalog/products.yaml
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


@dataclass
class Application:
    id: int
    consumer_id: str
    product: str
    purpose: str
    columns: list[str] | None
    row_scope: dict[str, list[str]] | None
    days: int
    sensitive: bool
    export: bool
    daily_rows: int
    status: str
    applied_by: str
    applied_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    rate_per_s: float | None = None   # requests per second asked for (限流)
    rate_burst: int | None = None


@dataclass
class Grant:
    id: int
    application_id: int
    consumer_id: str
    product: str
    purpose: str
    columns: list[str] | None
    row_scope: dict[str, list[str]] | None
    sensitive: bool
    export: bool
    daily_rows: int
    granted_by: str
    valid_from: str
    valid_to: str
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None
    expired_at: str | None
    rate_per_s: float | None = None   # requests per second (限流); None: granted before rates were data
    rate_burst: int | None = None

    def active(self, at: dt.datetime | None = None) -> bool:
        t = at or now()
        return self.revoked_at is None and parse_stamp(self.valid_from) <= t < parse_stamp(self.valid_to)


def _decode(row, cls):
    d = dict(row)
    d["columns"] = json.loads(d["columns"]) if d["columns"] else None
    d["row_scope"] = json.loads(d["row_scope"]) if d["row_scope"] else None
    for b in ("sensitive", "export"):
        d[b] = bool(d[b])
    return cls(**d)


def _product(store: AccessStore, name: str):
    from govlake.products import load_products

    p = load_products(store.settings).get(name)
    if p is None:
        raise AccessError(f"unknown data product {name!r} (未知数据产品)")
    return p


def _audit(store, action, by, *, product=None, grant_id=None, purpose=None, detail=None, outcome="allowed"):
    kind = "system" if by in {CATALOG, "system"} else "account"
    append_audit(store, AuditEvent(action, outcome, kind, by, product=product, grant_id=grant_id, purpose=purpose,
                                   detail=detail))


def validate_scope(columns, row_scope) -> tuple[list[str] | None, dict[str, list[str]] | None]:
    """Columns and row scope in their stored form; names checked (they reach SQL-free filters only,
    but an odd name is always a mistake)."""
    if columns is not None:
        columns = sorted(set(columns))
        bad = [c for c in columns if not _COLUMN.match(c)]
        if bad or not columns:
            raise AccessError(f"bad column names {bad} (字段名不合法)")
    if row_scope is not None:
        if not isinstance(row_scope, dict) or not row_scope:
            raise AccessError("row_scope is {column: [values]} (数据范围格式错误)")
        clean = {}
        for col, values in row_scope.items():
            if not _COLUMN.match(str(col)) or not isinstance(values, list) or not values:
                raise AccessError(f"row_scope {col!r}: a column name and a non-empty list of values")
            clean[str(col)] = sorted({str(v) for v in values})
        row_scope = clean
    return columns, row_scope


def default_rate(p) -> tuple[float, int]:
    """A new grant's requests per second and burst for product p: the catalog's, else the platform's."""
    return check_rate(p.rate_per_s, p.rate_burst)


def rate_of(p, rate_per_s: float | None, rate_burst: int | None) -> tuple[float, int]:
    """The rate asked for, each part defaulting to the product's (catalog) or the platform's."""
    d_rate, d_burst = default_rate(p)
    try:
        return check_rate(d_rate if rate_per_s is None else rate_per_s, d_burst if rate_burst is None else rate_burst)
    except ValueError as e:
        raise AccessError(str(e))


def apply(store: AccessStore, consumer_id: str, product: str, purpose: str, *, by: str,
          columns: list[str] | None = None, row_scope: dict[str, list[str]] | None = None, days: int = 365,
          sensitive: bool = False, export: bool = False, daily_rows: int | None = None,
          rate_per_s: float | None = None, rate_burst: int | None = None) -> Application:
    """File an application for `consumer_id` to use `product`. `by`: a member or owner of the
    consumer's department, or an admin. rate_per_s / rate_burst: requests per second (限流),
    by default the product's in the catalog, else the platform's (govlake.access.rate_limits)."""
    p = _product(store, product)
    consumer = get_consumer(store, consumer_id)
    if consumer is None:
        raise AccessError(f"unknown consumer {consumer_id!r} (未登记的调用方)")
    acc = require_role(store, by, {"admin", "owner", "member"})
    if acc.role != "admin" and acc.dept != consumer.dept:
        raise AccessError(f"{by} ({acc.dept}) may not apply for {consumer_id} of {consumer.dept} (只能为本部门调用方申请)")
    if not purpose or len(purpose.strip()) < 4:
        raise AccessError("state the purpose (请填写用途，至少4个字)")
    if not 1 <= days <= MAX_DAYS:
        raise AccessError(f"duration 1..{MAX_DAYS} days, not {days}")
    daily_rows = DAILY_ROWS if daily_rows is None else int(daily_rows)
    if not 1 <= daily_rows <= MAX_DAILY_ROWS:
        raise AccessError(f"rows per day 1..{MAX_DAILY_ROWS}, not {daily_rows}")
    columns, row_scope = validate_scope(columns, row_scope)
    rate = rate_of(p, rate_per_s, rate_burst)
    return record_application(store, consumer_id, p.name, purpose.strip(), columns, row_scope, days, sensitive, export,
                               daily_rows, by, rate=rate)


def record_application(store, consumer_id, product, purpose, columns, row_scope, days, sensitive, export,
                        daily_rows, by, *, decided: bool = False, rate: tuple[float, int] | None = None) -> Application:
    """A pending application row, checked by the caller. decided: the catalog's own, approved at
    once by the bootstrap (its approval is the audit row). rate: (per second, burst), by default
    the product's or the platform's."""
    rate = rate or default_rate(_product(store, product))
    t = stamp()
    with store.write() as db:
        cur = db.execute(
            "INSERT INTO applications (consumer_id, product, purpose, columns, row_scope, days, sensitive, export,"
            " daily_rows, rate_per_s, rate_burst, status, applied_by, applied_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (consumer_id, product, purpose, json.dumps(columns) if columns else None,
             json.dumps(row_scope, ensure_ascii=False, sort_keys=True) if row_scope else None, days, int(sensitive),
             int(export), daily_rows, rate[0], rate[1], by, t))
        app_id = cur.lastrowid
    if not decided:
        _audit(store, "application.apply", by, product=product, purpose=purpose,
               detail=f"application {app_id} for {consumer_id}")
    return get_application(store, app_id)


def get_application(store: AccessStore, application_id: int) -> Application:
    rows = store.query("SELECT * FROM applications WHERE id = ?", (int(application_id),))
    if not rows:
        raise AccessError(f"no application {application_id} (无此申请)")
    return _decode(rows[0], Application)


def list_applications(store: AccessStore, status: str | None = None, product: str | None = None,
                      consumer: str | None = None) -> list[Application]:
    where, params = [], []
    for col, v in (("status", status), ("product", product), ("consumer_id", consumer)):
        if v is not None:
            where.append(f"{col} = ?")
            params.append(v)
    sql = "SELECT * FROM applications" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return [_decode(r, Application) for r in store.query(sql, params)]


def _may_decide(store: AccessStore, app: Application, by: str) -> None:
    if by == CATALOG:
        return
    p = _product(store, app.product)
    acc = get_account(store, by)
    if acc is None:
        raise AccessError(f"no account {by!r} (无此账号)")
    owner = acc.role == "owner" and acc.dept == p.owner
    if app.sensitive and not owner:
        raise AccessError(f"敏感 columns of {p.name} are granted only by an owner of {p.owner} (敏感字段须由数据所属部门负责人审批)")
    if not (owner or acc.role == "admin"):
        raise AccessError(f"{by} may not decide on {p.name}: needs an owner of {p.owner} or an admin (无审批权限)")


def approve(store: AccessStore, application_id: int, *, by: str, rate_per_s: float | None = None,
            rate_burst: int | None = None) -> Grant:
    """Approve a pending application: its grant, valid from now for the days applied for, at the
    rate applied for unless the approver sets another (requests per second, burst; 限流)."""
    app = get_application(store, application_id)
    _may_decide(store, app, by)
    p = _product(store, app.product)
    rate = rate_of(p, app.rate_per_s if rate_per_s is None else rate_per_s,
                   app.rate_burst if rate_burst is None else rate_burst)
    t = now()
    with store.write() as db:
        cur = db.execute("UPDATE applications SET status = 'approved', decided_by = ?, decided_at = ? "
                         "WHERE id = ? AND status = 'pending'", (by, stamp(t), app.id))
        if cur.rowcount != 1:
            raise AccessError(f"application {app.id} is already {app.status} (申请已处理)")
        cur = db.execute(
            "INSERT INTO grants (application_id, consumer_id, product, purpose, columns, row_scope, sensitive, export,"
            " daily_rows, rate_per_s, rate_burst, granted_by, valid_from, valid_to) SELECT id, consumer_id, product,"
            " purpose, columns, row_scope, sensitive, export, daily_rows, ?, ?, ?, ?, ? FROM applications WHERE id = ?",
            (rate[0], rate[1], by, stamp(t), stamp(t + dt.timedelta(days=app.days)), app.id))
        grant_id = cur.lastrowid
    changed()
    _audit(store, "application.approve", by, product=app.product, grant_id=grant_id, purpose=app.purpose,
           detail=f"application {app.id} for {app.consumer_id}" + (" (敏感)" if app.sensitive else "")
           + f", {rate[0]:g}/s burst {rate[1]}")
    return get_grant(store, grant_id)


def reject(store: AccessStore, application_id: int, *, by: str, reason: str = "") -> Application:
    app = get_application(store, application_id)
    _may_decide(store, app, by)
    with store.write() as db:
        cur = db.execute("UPDATE applications SET status = 'rejected', decided_by = ?, decided_at = ?, reason = ? "
                         "WHERE id = ? AND status = 'pending'", (by, stamp(), reason or None, app.id))
        if cur.rowcount != 1:
            raise AccessError(f"application {app.id} is already {app.status} (申请已处理)")
    _audit(store, "application.reject", by, product=app.product, purpose=app.purpose,
           detail=f"application {app.id} for {app.consumer_id}: {reason}")
    return get_application(store, app.id)


def get_grant(store: AccessStore, grant_id: int) -> Grant:
    rows = store.query("SELECT * FROM grants WHERE id = ?", (int(grant_id),))
    if not rows:
        raise AccessError(f"no grant {grant_id} (无此授权)")
    return _decode(rows[0], Grant)


def list_grants(store: AccessStore, consumer: str | None = None, product: str | None = None,
                active_only: bool = True) -> list[Grant]:
    where, params = [], []
    for col, v in (("consumer_id", consumer), ("product", product)):
        if v is not None:
            where.append(f"{col} = ?")
            params.append(v)
    sql = "SELECT * FROM grants" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    grants = [_decode(r, Grant) for r in store.query(sql, params)]
    t = now()
    return [g for g in grants if g.active(t)] if active_only else grants


def active_grant(store: AccessStore, consumer_id: str, product: str) -> Grant | None:
    """The consumer's grant for a product in force now (the latest one if several). The unrevoked
    grants are looked up at most every REVOCATION_BOUND_S (govlake.access.lookup_cache); the
    validity window is checked against the time on every call."""
    grants = cached(store, "grants", (consumer_id, product), lambda: [_decode(r, Grant) for r in store.query(
        "SELECT * FROM grants WHERE consumer_id = ? AND product = ? AND revoked_at IS NULL ORDER BY id DESC",
        (consumer_id, product))])
    t = stamp()
    return next((g for g in grants if g.valid_from <= t < g.valid_to), None)


def revoke_grant(store: AccessStore, grant_id: int, *, by: str, reason: str = "") -> Grant:
    """Revoke a grant (owner of the product's department or admin); takes effect at once."""
    g = get_grant(store, grant_id)
    p = _product(store, g.product)
    acc = require_role(store, by, {"admin", "owner"})
    if acc.role == "owner" and acc.dept != p.owner:
        raise AccessError(f"{by} ({acc.dept}) may not revoke grants of {p.name} ({p.owner}) (无撤销权限)")
    with store.write() as db:
        cur = db.execute("UPDATE grants SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                         "WHERE id = ? AND revoked_at IS NULL", (stamp(), by, reason or None, g.id))
        if cur.rowcount != 1:
            raise AccessError(f"grant {g.id} is already revoked (授权已撤销)")
    changed()
    _audit(store, "grant.revoke", by, product=g.product, grant_id=g.id, purpose=g.purpose,
           detail=f"{g.consumer_id}: {reason}")
    return get_grant(store, g.id)


def expire_grants(store: AccessStore, at: dt.datetime | None = None) -> list[Grant]:
    """Mark (once) and audit the grants whose valid_to has passed; they stopped serving at
    valid_to already, the mark records that someone saw them go."""
    t = stamp(at)
    with store.write() as db:
        ids = [r["id"] for r in db.execute("SELECT id FROM grants WHERE valid_to <= ? AND expired_at IS NULL "
                                           "AND revoked_at IS NULL", (t,))]
        for i in ids:
            db.execute("UPDATE grants SET expired_at = ? WHERE id = ?", (t, i))
    changed()
    out = [get_grant(store, i) for i in ids]
    for g in out:
        _audit(store, "grant.expire", "system", product=g.product, grant_id=g.id, purpose=g.purpose, detail=g.consumer_id)
    return out
