"""公共数据服务门户 (public data service portal): server-rendered pages under /portal.

The lead mounts `router` in the API app (`app.include_router(router)`); the pages take the lake's
settings from `app.state.settings` when the app sets it, else from the environment (GOVLAKE_*).
People log in with their accounts of govlake.access (a signed session cookie,
govlake.portal.login_session); every page shows what that account may see, and every product
row shown goes through the grant check and the audit (govlake.portal.grant_reads).

Pages: 数据产品目录 /portal/products (contract, fields, freshness, quality, Delta history),
血缘 /portal/products/{name}/lineage and /fields/{column}/lineage, 申请 /portal/products/{name}/apply,
审批 /portal/approvals, 我的授权 /portal/grants, 读取 /portal/products/{name}/rows,
使用监测 /portal/usage, 诉求时效 /portal/petitions/sla, 分拨质量 /portal/petitions/dispatch.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from govlake import access
from govlake.access.grants import default_rate
from govlake.lakehouse import Lakehouse
from govlake.lineage.graph import load_graph
from govlake.portal import grant_reads, login_session, product_facts
from govlake.portal.lineage_svg import field_picture, product_picture, render
from govlake.portal.usage_charts import usage_report
from govlake.products import Product, load_catalog
from govlake.settings import Settings, get_settings

router = APIRouter(prefix="/portal", include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
PAGE_SIZE = 100


def _when(t) -> str:
    if t is None:
        return ""
    if isinstance(t, str):
        return t.replace("T", " ")[:19]
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters["when"] = _when
# a row scope {column: [values]} as people write it in the form: column=v1|v2; …
TEMPLATES.env.filters["scope"] = lambda sc: "；".join(f"{c}={'|'.join(map(str, v))}" for c, v in sc.items()) if sc else "全部 all"
TEMPLATES.env.filters["cell"] = lambda v: "" if v is None else (f"{v:.4g}" if isinstance(v, float) else v)
TEMPLATES.env.globals["pct"] = lambda v: "" if v is None else f"{v * 100:.1f}%"

_stores: dict[str, object] = {}
_stores_lock = threading.Lock()


def _store(settings: Settings):
    """One access store per lake in this process (its connection is shared under a lock)."""
    key = str(access.store_path(settings))
    with _stores_lock:
        if key not in _stores:
            _stores[key] = access.open_store(settings)
        return _stores[key]


def portal_settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


@dataclass
class Ctx:
    request: Request
    settings: Settings
    store: object
    account: object | None
    session: dict | None

    @property
    def lake(self) -> Lakehouse:
        return Lakehouse(None, self.settings)

    def dept_names(self) -> dict[str, str]:
        from govlake.catalog.departments import load_departments

        return {d.code: d.name for d in load_departments(self.settings.catalog_dir)}

    def render(self, template: str, title: str, **kw) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(self.request, template, {
            "title": title, "account": self.account, "csrf": (self.session or {}).get("n", ""),
            "roles": access.ROLES, "dept_names": self.dept_names(),
            "flash": self.request.query_params.get("msg"), **kw})

    def check_csrf(self, token: str) -> None:
        if not self.session or not hmac.compare_digest(str(token), str(self.session["n"])):
            raise HTTPException(403, "stale or forged form (表单已失效，请刷新后重试)")


def context(request: Request, settings: Settings = Depends(portal_settings)) -> Ctx:
    store = _store(settings)
    session = login_session.read(settings, request.cookies.get(login_session.COOKIE))
    account = access.get_account(store, session["u"]) if session else None
    return Ctx(request, settings, store, account, session if account else None)


def user(ctx: Ctx = Depends(context)) -> Ctx:
    """A page for logged-in people: others go to the login page and come back."""
    if ctx.account is None:
        target = ctx.request.url.path + (f"?{ctx.request.url.query}" if ctx.request.url.query else "")
        # a redirect the default handler sends as is, so mounting needs no exception handler
        raise HTTPException(303, "login required (请先登录)", headers={"Location": f"/portal/login?next={quote(target)}"})
    return ctx


def _product(ctx: Ctx, name: str) -> Product:
    p = next((p for p in load_catalog(ctx.settings).products if p.name == name), None)
    if p is None:
        raise HTTPException(404, f"unknown data product {name!r} (未知数据产品)")
    return p


def _my_consumers(ctx: Ctx) -> list:
    return grant_reads.dept_consumers(ctx.store, ctx.account.dept)


def _granted(ctx: Ctx, product: str) -> list[str]:
    return [c.id for c in _my_consumers(ctx) if access.active_grant(ctx.store, c.id, product) is not None]


def _back(url: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?msg={quote(msg)}", status_code=303)


# -- login ---------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(ctx: Ctx = Depends(context), next: str = "/portal/products"):
    return ctx.render("login.html", "登录", next=next if next.startswith("/portal") else "/portal/products")


@router.post("/login")
def login(ctx: Ctx = Depends(context), username: str = Form(""), password: str = Form(""),
          next: str = Form("/portal/products")):
    acc = access.verify_password(ctx.store, username.strip(), password)
    access.append_audit(ctx.store, access.AuditEvent("portal.login", "allowed" if acc else "denied", "account",
                                                     username.strip()[:64] or None, client="portal",
                                                     status=303 if acc else 401))
    if acc is None:
        return ctx.render("login.html", "登录", next=next, error="账号或密码错误 (wrong username or password)")
    resp = RedirectResponse(next if next.startswith("/portal") else "/portal/products", status_code=303)
    resp.set_cookie(login_session.COOKIE, login_session.issue(ctx.settings, acc.username), max_age=login_session.MAX_AGE,
                    httponly=True, samesite="lax", path="/portal")
    return resp


@router.post("/logout")
def logout(ctx: Ctx = Depends(user), csrf: str = Form("")):
    ctx.check_csrf(csrf)
    resp = RedirectResponse("/portal/login", status_code=303)
    resp.delete_cookie(login_session.COOKIE, path="/portal")
    return resp


@router.get("/")
def home():
    return RedirectResponse("/portal/products", status_code=303)


# -- catalog -------------------------------------------------------------------------------------
@router.get("/products", response_class=HTMLResponse)
def products(ctx: Ctx = Depends(user)):
    lake = ctx.lake
    rows = [{"p": p, "fresh": product_facts.freshness(lake, p), "quality": product_facts.last_quality(lake, p),
             "granted": _granted(ctx, p.name)} for p in load_catalog(ctx.settings).products]
    return ctx.render("products.html", "数据产品目录", rows=rows)


@router.get("/products/{name}", response_class=HTMLResponse)
def product(name: str, ctx: Ctx = Depends(user), category: str = "", page: int = 1):
    p, lake = _product(ctx, name), ctx.lake
    levels = access.column_levels(p, ctx.settings)
    fields = product_facts.fields(lake, p, levels)
    categories = []
    if p.name == product_facts.PROFILE:
        counts: dict[str, list] = {}
        for f in fields:
            counts.setdefault(f.category_id, [f.category, 0])[1] += 1
        categories = [{"id": c, "label": label, "n": n} for c, (label, n) in counts.items()]
        category = category if category in counts else categories[0]["id"]
        fields = [f for f in fields if f.category_id == category]
    pages = max(1, -(-len(fields) // PAGE_SIZE))
    page = min(max(1, page), pages)
    n_fields = sum(c["n"] for c in categories) if categories else len(fields)
    granted = _granted(ctx, p.name)
    mine = [c.id for c in _my_consumers(ctx)]
    return ctx.render("product.html", p.label, p=p, fresh=product_facts.freshness(lake, p),
                      quality=product_facts.last_quality(lake, p), history=product_facts.history(lake, p),
                      fields=fields[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], n_fields=n_fields, categories=categories,
                      category=category, page=page, pages=pages, granted=granted,
                      can_apply=bool(set(mine) - set(granted)))


# -- lineage -------------------------------------------------------------------------------------
def _node_link(ctx: Ctx, node: str) -> str | None:
    names = {p.name for p in load_catalog(ctx.settings).products}
    table = node.rsplit(".", 1)[0] if node.count(".") >= 2 else node
    if table in names:
        return f"/portal/products/{table}/lineage" if node == table else \
            f"/portal/products/{table}/fields/{node.rsplit('.', 1)[1]}/lineage"
    return None


@router.get("/products/{name}/lineage", response_class=HTMLResponse)
def product_lineage(name: str, ctx: Ctx = Depends(user), depth: int = 3):
    p = _product(ctx, name)
    g = load_graph(ctx.settings.lineage_path)
    pic = product_picture(g, product_facts.stored_table(p) if p.view else p.name, depth=min(max(depth, 1), 6))
    edges = [e for (s, t), e in g.edges.items() if s in pic.nodes and t in pic.nodes]
    return ctx.render("lineage.html", f"血缘 {p.label}", p=p, heading=f"{p.label}（{p.name}）",
                      legend="左：上游表；中：本产品；右：下游表与读取方（job:…，含接口与门户的调用方）",
                      svg=render(pic, lambda n: _node_link(ctx, n), f"{p.name} lineage"),
                      edges=sorted(edges, key=lambda e: (e.source, e.target)), steps=[])


@router.get("/products/{name}/fields/{column}/lineage", response_class=HTMLResponse)
def field_lineage(name: str, column: str, ctx: Ctx = Depends(user)):
    p = _product(ctx, name)
    g = load_graph(ctx.settings.lineage_path)
    pic = field_picture(g, p.name, column)
    steps = {}
    for _, _, path in g.column_origins(p.name, column):
        for s in path:
            steps[(s.table, s.column)] = {"table": s.table, "column": s.column, "job": s.job,
                                          "transformation": s.transformation,
                                          "inputs": ", ".join(f"{t}.{c}" for t, c in s.inputs)}
    label = p.contract.label(column) or ""
    if p.name == product_facts.PROFILE and not label:
        from govlake.catalog.enterprise import load_enterprise_fields

        f = load_enterprise_fields(ctx.settings.catalog_dir).by_id().get(column)
        label = f.label if f else ""
    return ctx.render("lineage.html", f"字段血缘 {column}", p=p, heading=f"{p.label} · {column} {label}",
                      legend="左：来源字段；右：本字段；连线悬停可见加工说明" if steps else
                      "暂无该字段的字段级血缘记录 (no column lineage recorded yet)",
                      svg=render(pic, lambda n: _node_link(ctx, n), f"{p.name}.{column} lineage"),
                      steps=list(steps.values()), edges=[])


# -- apply, approve, grants, read ----------------------------------------------------------------
@router.get("/products/{name}/apply", response_class=HTMLResponse)
def apply_page(name: str, ctx: Ctx = Depends(user)):
    p = _product(ctx, name)
    levels = access.column_levels(p, ctx.settings)
    return ctx.render("apply.html", f"申请 {p.label}", p=p, consumers=_my_consumers(ctx),
                      columns=product_facts.fields(ctx.lake, p, levels), default_rate=default_rate(p))


def _rate_fields(rate_per_s: str, rate_burst: str) -> tuple[float | None, int | None]:
    """The form's rate fields (每秒请求数, 突发请求数): blank for the default; the bounds are
    checked by govlake.access (AccessError), as for `govlake access apply|approve --rate --burst`."""
    try:
        rate = float(rate_per_s) if rate_per_s.strip() else None
        burst = int(rate_burst) if rate_burst.strip() else None
    except ValueError:
        raise access.AccessError(f"rate {rate_per_s!r} / burst {rate_burst!r}: numbers, burst a whole number "
                                 f"(每秒请求数、突发请求数须为数字)")
    if rate is not None and not math.isfinite(rate):
        raise access.AccessError(f"rate {rate_per_s!r} is not a number (每秒请求数须为数字)")
    return rate, burst


@router.post("/products/{name}/apply")
def apply(name: str, ctx: Ctx = Depends(user), csrf: str = Form(""), consumer: str = Form(""),
          purpose: str = Form(""), columns: str = Form(""), row_scope: str = Form(""), days: int = Form(365),
          rate_per_s: str = Form(""), rate_burst: str = Form("")):
    ctx.check_csrf(csrf)
    p = _product(ctx, name)
    if consumer not in {c.id for c in _my_consumers(ctx)}:
        raise HTTPException(403, f"{consumer!r} is not a consumer of your department (非本部门调用方)")
    cols = [c.strip() for c in columns.replace("，", ",").split(",") if c.strip()] or None
    scope = None
    if row_scope.strip():  # column=value1|value2
        col, _, values = row_scope.partition("=")
        scope = {col.strip(): [v.strip() for v in values.split("|") if v.strip()]}
    try:
        rate, burst = _rate_fields(rate_per_s, rate_burst)
        a = access.apply(ctx.store, consumer, p.name, purpose.strip(), by=ctx.account.username, columns=cols,
                         row_scope=scope, days=days, rate_per_s=rate, rate_burst=burst)
    except access.AccessError as e:
        levels = access.column_levels(p, ctx.settings)
        return ctx.render("apply.html", f"申请 {p.label}", p=p, consumers=_my_consumers(ctx), error=str(e),
                          columns=product_facts.fields(ctx.lake, p, levels), default_rate=default_rate(p))
    return _back("/portal/grants", f"申请 #{a.id} 已提交，等待 {p.owner} 审批 (application submitted)")


@router.get("/approvals", response_class=HTMLResponse)
def approvals(ctx: Ctx = Depends(user)):
    if ctx.account.role not in ("owner", "admin"):
        raise HTTPException(403, "approvals are for department data owners (仅部门数据负责人可审批)")
    owned = {p.name for p in load_catalog(ctx.settings).products
             if ctx.account.role == "admin" or p.owner == ctx.account.dept}
    apps = [a for a in access.list_applications(ctx.store) if a.product in owned]
    return ctx.render("approvals.html", "申请审批", pending=[a for a in apps if a.status == "pending"],
                      decided=[a for a in reversed(apps) if a.status != "pending"][:50])


@router.post("/approvals/{application_id}/{decision}")
def decide(application_id: int, decision: str, ctx: Ctx = Depends(user), csrf: str = Form(""), reason: str = Form(""),
           rate_per_s: str = Form(""), rate_burst: str = Form("")):
    ctx.check_csrf(csrf)
    try:
        if decision == "approve":
            # the approver may set another rate than the one applied for (blank: as applied)
            rate, burst = _rate_fields(rate_per_s, rate_burst)
            g = access.approve(ctx.store, application_id, by=ctx.account.username, rate_per_s=rate, rate_burst=burst)
            msg = (f"已批准申请 #{application_id}，授权 #{g.id} 有效至 {_when(g.valid_to)}，"
                   f"限流 {g.rate_per_s:g} 次/秒、突发 {g.rate_burst} (approved)")
        elif decision == "reject":
            access.reject(ctx.store, application_id, by=ctx.account.username, reason=reason)
            msg = f"已驳回申请 #{application_id} (rejected)"
        else:
            raise HTTPException(404, "decision is approve or reject")
    except access.AccessError as e:
        return _back("/portal/approvals", f"未完成：{e}")
    return _back("/portal/approvals", msg)


@router.get("/grants", response_class=HTMLResponse)
def grants(ctx: Ctx = Depends(user)):
    mine = {c.id for c in _my_consumers(ctx)}
    everyone = ctx.account.role == "admin"
    gs = [g for g in access.list_grants(ctx.store, active_only=False) if everyone or g.consumer_id in mine]
    apps = [a for a in access.list_applications(ctx.store) if everyone or a.consumer_id in mine]
    return ctx.render("grants.html", "我的授权", grants=gs[::-1], applications=apps[::-1][:50])


@router.get("/products/{name}/rows", response_class=HTMLResponse)
def rows(name: str, ctx: Ctx = Depends(user), offset: int = 0):
    p = _product(ctx, name)
    filters = {k: v for k, v in ctx.request.query_params.items() if k in p.contract.key and v}
    try:
        page = grant_reads.read(ctx.store, ctx.lake, ctx.account, p, filters=filters, limit=50, offset=max(0, offset))
    except grant_reads.ReadRefused as e:  # past the grant's rate: 429 with Retry-After, as the API
        return grant_reads.limited(ctx.render("rows.html", f"读取 {p.label}", p=p, page=None, error=str(e),
                                              filters=filters), e.retry_after)
    labels = {f.name: f.label for f in product_facts.fields(ctx.lake, p, access.column_levels(p, ctx.settings))}
    return ctx.render("rows.html", f"读取 {p.label}", p=p, page=page, filters=filters, labels=labels)


# -- monitoring ----------------------------------------------------------------------------------
@router.get("/usage", response_class=HTMLResponse)
def usage(ctx: Ctx = Depends(user), product: str = "", consumer: str = "", days: int = 30):
    """Owners see the use of their department's products, members their consumers' reads, the
    admin everything."""
    cat = load_catalog(ctx.settings)
    acc = ctx.account
    owned = {p.name for p in cat.products if acc.role == "admin" or (acc.role == "owner" and p.owner == acc.dept)}
    mine = {c.id for c in _my_consumers(ctx)}
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=max(1, days))).strftime("%Y-%m-%d")
    rows = access.query_audit(ctx.store, product=product or None, consumer=consumer or None, since=since, limit=5000)
    visible = [r for r in rows if r.get("product") and (acc.role == "admin" or r["product"] in owned or r.get("actor") in mine)]
    return ctx.render("usage.html", "使用监测", report=usage_report(visible), product=product, consumer=consumer,
                      days=days, recent=visible[:50])


@router.get("/petitions/sla", response_class=HTMLResponse)
def sla(ctx: Ctx = Depends(user), period: str = "daily"):
    from govlake.portal.petition_charts import PERIODS, sla_headline, sla_report

    period = period if period in PERIODS else "daily"
    table, label = PERIODS[period]
    cat = {p.name: p for p in load_catalog(ctx.settings).products}
    report = headline = retry = None
    errors = []
    try:
        page = grant_reads.read(ctx.store, ctx.lake, ctx.account, cat[table], whole=True)
        report = sla_report(_arrow(page), label)
    except grant_reads.ReadRefused as e:
        errors.append(str(e))
        retry = e.retry_after
    try:
        page = grant_reads.read(ctx.store, ctx.lake, ctx.account, cat["gold.fct_petition_sla"], whole=True)
        headline = sla_headline(_arrow(page))
    except grant_reads.ReadRefused as e:
        errors.append(str(e))
        retry = max(retry or 0, e.retry_after) if e.retry_after is not None else retry
    return grant_reads.limited(ctx.render("sla.html", "诉求时效", report=report, headline=headline, period=period,
                                          periods=PERIODS, error="；".join(errors) or None), retry)


@router.get("/petitions/dispatch", response_class=HTMLResponse)
def dispatch_quality_page(ctx: Ctx = Depends(user)):
    from govlake.portal.petition_charts import dispatch_quality

    cat = {p.name: p for p in load_catalog(ctx.settings).products}
    try:
        recs = grant_reads.read(ctx.store, ctx.lake, ctx.account, cat["gold.petition_dispatch"], whole=True)
        final = grant_reads.read(ctx.store, ctx.lake, ctx.account, cat["gold.fct_petition_sla"], whole=True)
    except grant_reads.ReadRefused as e:
        return grant_reads.limited(ctx.render("dispatch.html", "分拨质量", quality=None, error=str(e)), e.retry_after)
    return ctx.render("dispatch.html", "分拨质量", quality=dispatch_quality(_arrow(recs), _arrow(final), ctx.dept_names()))


def _arrow(page: grant_reads.Page):
    import pyarrow as pa

    return pa.Table.from_pylist(page.rows) if page.rows else pa.table({c: pa.array([], pa.string()) for c in page.columns})
