"""HTTP API for departments and downstream apps (数据产品服务接口).

Reads go through delta-rs -> Arrow (no Spark in the serving path), with key filters pushed down
into the Parquet scan. Every caller authenticates with an API key the platform issued
(`Authorization: Bearer glk_...`, govlake.access). What it may read is its grant in the access
store: columns (敏感 ones only when the grant says so, levels from the catalog), rows (row scope),
rows per day, export. Every request, allowed or denied, appends a hash-chained audit row
(govlake.api.audit_middleware), and each read emits an OpenLineage run (`api.<consumer>`,
input = the product) so `govlake lineage <product> --downstream` shows who used it.
"""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from govlake import release
from govlake.access import Grant, active_grant, open_store
from govlake.access import audit_journal, read_runs, reads
from govlake.access.reads import MAX_COLUMNS_PARAM, PROFILE, TAGS
from govlake.api import deps
from govlake.api.read_json import ReadJSON
from govlake.api.audit_middleware import AuditMiddleware, audit_event
from govlake.api.csv_export import csv_document
from govlake.api.sql_routes import router as sql_router
from govlake.cleanroom.routes import router as cleanroom_router
from govlake.lakehouse import Lakehouse
from govlake.petitions.routes import router as petitions_router
from govlake.policy_qa.routes import router as policy_qa_router
from govlake.precredit.routes import router as precredit_router
from govlake.products import Product, load_catalog
from govlake.portal.pages import router as portal_router
from govlake.portal.cleanroom_page import router as cleanroom_page_router
from govlake.portal.sandbox_page import router as sandbox_page_router
from govlake.services.routes import router as services_router
from govlake.settings import Settings, get_settings
from govlake.space.routes import router as space_router
from govlake.space.space_pages import router as space_pages_router

MAX_LIMIT = 1000              # rows per request
MAX_OFFSET = 100_000          # paging deeper is a bulk export: rows.csv under an export grant
MAX_TEXT_CHARS = 5000         # a petition's title + content
MAX_DRAFT_CHARS = 50_000      # a policy draft (one catalog item)
MAX_VERSION = 2 ** 63 - 1     # a Delta version is a long
CONTROL_PARAMS = {"limit", "offset", "version", "columns"}
PRODUCT_NAME = r"^[a-z][a-z0-9_]*\.[a-z0-9_]{1,100}$"
USCC = r"^[0-9A-Za-z]{1,32}$"



_ERRORS = {
    400: "bad filter or parameter (参数错误)",
    401: "no valid API key: missing, malformed, unknown, expired or revoked (未认证)",
    403: "no grant for this product, column, rows or export (无权限)",
    404: "unknown product, version or enterprise (不存在)",
    422: "parameter out of bounds (参数越界)",
    429: "the grant's rows per day are used up, or its requests per second: retry after Retry-After seconds "
         "(超出每日行数或限流)",
    503: "not ready: no dispatch model trained yet (服务未就绪)",
}


def errors(*codes: int) -> dict:
    return deps.errors({c: _ERRORS[c] for c in codes})


READ_ERRORS = errors(400, 401, 403, 404, 422, 429)


class SandboxRequest(BaseModel):
    draft: str = Field(min_length=1, max_length=MAX_DRAFT_CHARS, description="政策草案 YAML (a catalog/policies item)")
    against: str | None = Field(None, max_length=MAX_DRAFT_CHARS, description="另一草案 YAML to compare with")
    budget_wan: float | None = Field(None, ge=0, le=1e9, description="预算（万元）")
    points: int = Field(20, ge=0, le=40, description="敏感性曲线点数")
    as_of: dt.date | None = Field(None, description="推演日期 (default: today, or the draft's effective_from if later)")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    lake = Lakehouse(None, settings)
    store = open_store(settings)
    @asynccontextmanager
    async def lifespan(_app):
        # reader runs (OpenLineage) are written by a background thread while serving, and every
        # queued one before the process ends (govlake.access.read_runs)
        read_runs.start()
        audit_journal.start(store)  # request audit rows journaled, folded off the request path
        try:
            yield
        finally:
            audit_journal.stop(store)
            read_runs.stop()

    app = FastAPI(title="govlake API", version="2", lifespan=lifespan,
                  description="区级企业与民生服务数据产品接口. Authenticate with `Authorization: Bearer <API key>` "
                              "(接口密钥, issued by `govlake access key issue`).")
    app.add_middleware(AuditMiddleware, store=store)
    app.state.settings, app.state.store = settings, store
    app.include_router(portal_router)  # 公共数据服务门户 under /portal
    app.include_router(sandbox_page_router)  # /portal/policy-sandbox 政策沙盘推演
    app.include_router(cleanroom_page_router)  # /portal/cleanroom 数据沙箱
    app.include_router(sql_router)  # POST /sql: read-only SQL over granted products
    # the routes of the services built on the products, each authorised through govlake.api.deps
    for router in (cleanroom_router, precredit_router, services_router, space_router, space_pages_router,
                   policy_qa_router, petitions_router):
        app.include_router(router)
    bearer = deps.bearer

    def catalog():
        return load_catalog(settings)

    def product_or_404(name: str) -> Product:
        p = next((p for p in catalog().products if p.name == name), None)
        if p is None:
            raise HTTPException(404, f"unknown data product {name!r} (未知数据产品)")
        return p

    consumer_or_401, grant_or_403 = deps.caller, deps.grant_for

    def denied(e: reads.AccessDenied) -> HTTPException:
        return HTTPException(e.status, e.message, headers=e.headers)

    def hidden_text_fields(g: Grant | None) -> frozenset[str]:
        return reads.hidden_text_fields(g, settings)

    def read(request: Request, p: Product, consumer: str, filters: dict[str, str], *, limit: int = 100,
             offset: int = 0, version: int | None = None, columns: str | None = None, export: bool = False) -> dict:
        """A page of p's rows under the consumer's grant (govlake.access.reads), audited and traced."""
        ev = audit_event(request)
        ev.filters, ev.version = dict(filters) or None, version
        ev.columns = [c.strip() for c in columns.split(",")][:200] if columns else None
        g = grant_or_403(request, p, consumer, export=export)
        try:
            if p.view:
                return read_view(request, p, consumer, g, filters, limit=limit, offset=offset, version=version,
                                 columns=columns)
            version = reads.served_version(lake, p, version)
            ev.version = version
            page = reads.read_rows(lake, store, p, consumer, g, filters, version=version, limit=limit, offset=offset,
                                   columns=columns)
        except reads.AccessDenied as e:
            raise denied(e)
        ev.rows = len(page.rows)
        reads.emit_read(f"api.{consumer}", p.name, version, len(page.rows), settings)
        return page.as_dict()

    def read_view(request: Request, p: Product, consumer: str, g: Grant | None, filters: dict[str, str], *,
                  limit: int, offset: int, version: int | None, columns: str | None) -> dict:
        """A product built on read (e.g. gold.policy_matches from its keys and outcome tables)."""
        ev = audit_event(request)
        reads.admit(store, consumer, p, g)
        reads.check_filters(p, g, filters, None, settings)
        stored = p.stored_in[-1] if p.stored_in else None
        if version is not None and (stored is None or not lake.exists(stored)
                                    or not reads.version_exists(lake.path(stored), version)):
            raise reads.AccessDenied(404, f"{p.name} has no version {version} (无此版本)")
        limit = min(limit, reads.daily_remaining(store, consumer, p, g))
        try:
            page = p.view_function()(settings, filters, limit=limit, offset=offset, version=version,
                                     hidden_fields=hidden_text_fields(g))
        except ValueError as e:
            raise reads.AccessDenied(400, str(e))
        if page["version"] is None:
            raise reads.AccessDenied(404, f"{p.name} ({p.label}) has not been published yet (尚未发布)")
        names = list(page["rows"][0]) if page["rows"] else []
        cols = reads.served_columns(p, g, names, columns) if names else []
        masked = reads.masked_of(p, g, cols, settings)
        rows = reads.mask_rows([{c: r[c] for c in cols} for r in page["rows"]], masked)
        ev.rows, ev.version = len(rows), page["version"]
        reads.emit_read(f"api.{consumer}", p.name, page["version"], len(rows), settings)
        return reads.Page(p.name, p.label, page["version"], page["total"], offset, cols, rows,
                          [c for c in cols if c in masked]).as_dict()

    def _emit_read(consumer: str, product: str, version: int | None, rows: int) -> None:
        reads.emit_read(f"api.{consumer}", product, version, rows, settings)

    # -- endpoints ------------------------------------------------------------------------------
    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/products", responses=errors(401, 422))
    def list_products(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        consumer = consumer_or_401(request, cred)
        out = []
        current = release.current(lake)
        for p in catalog().products:
            # built on read: the version of the table committed last; each as the release serves it
            stored = p.stored_in[-1] if p.view and p.stored_in else p.name
            version = release.version_of(lake, stored, current)
            g = active_grant(store, consumer, p.name)
            out.append({"name": p.name, "label": p.label, "owner": p.owner, "classification": p.classification,
                        "description": p.description, "key": p.contract.key, "refresh": p.refresh.model_dump(),
                        "version": version, "readable": g is not None or p.classification == "公开",
                        "grant": None if g is None else {"id": g.id, "sensitive": g.sensitive, "export": g.export,
                                                         "row_scope": g.row_scope, "valid_to": g.valid_to}})
        return {"products": out, "release": current.release_id if current else None}

    def product_page(name: str, request: Request, limit: int, offset: int, version: int | None, columns: str | None,
                     cred, *, export: bool = False) -> dict:
        """A page of a product's rows for a request (key, grant, filters, masking, audit)."""
        consumer = consumer_or_401(request, cred)
        audit_event(request).product = name
        p = product_or_404(name)
        filters = {k: v for k, v in request.query_params.items() if k not in CONTROL_PARAMS}
        if len(filters) > 8:
            raise HTTPException(400, "at most 8 filters (筛选条件过多)")
        return read(request, p, consumer, filters, limit=limit, offset=offset, version=version, columns=columns,
                    export=export)

    name_param = Path(..., pattern=PRODUCT_NAME, max_length=120, description="layer.table, e.g. gold.enterprise_tags")
    uscc_param = Path(..., pattern=USCC, description="统一社会信用代码")

    async def served(fn, p: Product | None, version: int | None, key_value: str | None):
        """fn() on the event loop when the read is served from memory (a keyed read of the
        released snapshot: well under a millisecond, and no hand-off to a thread and back), else
        in the thread pool (a scan, a time travel, the first load of a snapshot)."""
        if (version is None and key_value is not None and p is not None and not p.view and p.contract.key
                and reads.in_memory(lake, p)):
            return fn()
        return await run_in_threadpool(fn)

    @app.get("/products/{name}", responses=READ_ERRORS, response_class=ReadJSON)
    async def read_product(request: Request, name: str = name_param, limit: int = Query(100, ge=1, le=MAX_LIMIT),
                           offset: int = Query(0, ge=0, le=MAX_OFFSET),
                           version: int | None = Query(None, ge=0, le=MAX_VERSION),
                           columns: str | None = Query(None, max_length=MAX_COLUMNS_PARAM, description="comma-separated"),
                           cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        """Rows of a product. Any key column is a filter: /products/gold.enterprise_tags?uscc=..."""
        p = next((p for p in catalog().products if p.name == name), None)
        key_value = request.query_params.get(p.contract.key[0]) if p is not None and p.contract.key else None
        return await served(lambda: ReadJSON(product_page(name, request, limit, offset, version, columns, cred)),
                            p, version, key_value)

    @app.get("/products/{name}/rows.csv", responses={**READ_ERRORS, 200: {"content": {"text/csv": {}}}})
    def export_product(request: Request, name: str = name_param, limit: int = Query(100, ge=1, le=MAX_LIMIT),
                       offset: int = Query(0, ge=0, le=MAX_OFFSET), version: int | None = Query(None, ge=0, le=MAX_VERSION),
                       columns: str | None = Query(None, max_length=MAX_COLUMNS_PARAM),
                       cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        """The same page as CSV for spreadsheets (导出), only under a grant with export: UTF-8 with
        BOM, formula-like text neutralised (govlake.api.csv_export); the stored values stay as they are."""
        page = product_page(name, request, limit, offset, version, columns, cred, export=True)
        return Response(csv_document(page["columns"], page["rows"]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}-v{page["version"]}.csv"',
                                 "X-Total-Count": str(page["total"])})  # the page's rows of how many

    @app.get("/enterprises/{uscc}/profile", responses=READ_ERRORS, response_class=ReadJSON)
    async def enterprise_profile(request: Request, uscc: str = uscc_param,
                                 version: int | None = Query(None, ge=0, le=MAX_VERSION),
                                 columns: str | None = Query(None, max_length=MAX_COLUMNS_PARAM),
                                 cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        p = next((p for p in catalog().products if p.name == PROFILE), None)

        def profile():
            consumer = consumer_or_401(request, cred)
            page = read(request, p or product_or_404(PROFILE), consumer, {"uscc": uscc}, limit=1, version=version,
                        columns=columns)
            if not page["rows"]:
                raise HTTPException(404, f"no profile for {uscc} (无此企业画像)")
            return ReadJSON({"uscc": uscc, "version": page["version"], "masked_columns": page["masked_columns"],
                             "profile": page["rows"][0]})
        return await served(profile, p, version, uscc)

    @app.get("/enterprises/{uscc}/tags", responses=READ_ERRORS)
    def enterprise_tags(request: Request, uscc: str = uscc_param,
                        cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        consumer = consumer_or_401(request, cred)
        page = read(request, product_or_404(TAGS), consumer, {"uscc": uscc}, limit=MAX_LIMIT)
        return {"uscc": uscc, "version": page["version"], "masked_columns": page["masked_columns"], "tags": page["rows"]}

    @app.get("/enterprises/{uscc}/policy-matches", responses=READ_ERRORS)
    def policy_matches(request: Request, uscc: str = uscc_param,
                       cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        consumer = consumer_or_401(request, cred)
        page = read(request, product_or_404("gold.policy_matches"), consumer, {"uscc": uscc}, limit=MAX_LIMIT)
        return {"uscc": uscc, "version": page["version"], "matches": page["rows"]}

    def _petition_request(request: Request, petition: dict, cred, product: str):
        """The consumer (granted `product`) and the petition's text (title。content)."""
        consumer = consumer_or_401(request, cred)
        p = product_or_404(product)
        grant_or_403(request, p, consumer)
        deps.admit(request, consumer, "petitions")
        parts = [petition.get(f) for f in ("title", "content", "address_text", "requester_id", "ticket_id")]
        if any(v is not None and not isinstance(v, str) for v in parts):
            raise HTTPException(422, "title, content, address_text, requester_id, ticket_id are text (须为文本)")
        text = "。".join(str(petition.get(f) or "").strip() for f in ("title", "content") if petition.get(f))
        if not text:
            raise HTTPException(422, "a petition needs a title or content (诉求标题或内容不能为空)")
        if len(text) > MAX_TEXT_CHARS or any(len(v or "") > 500 for v in parts[2:]):
            raise HTTPException(422, f"a petition's text is at most {MAX_TEXT_CHARS} characters (诉求内容过长)")
        return consumer, p, text

    @app.post("/petitions/dispatch", responses=errors(401, 403, 404, 422, 429, 503))
    def dispatch(request: Request, petition: dict = Body(...),
                 cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        """Online 智能分拨 for one petition: top-3 departments with reasons (文本模型, 权责清单,
        属地 by the standard address, history), scored by the same function as the batch step."""
        from dataclasses import asdict

        from govlake.petitions.blend_inputs import blend_inputs, load_dispatch_config
        from govlake.petitions.scoring import default_model_dir, get_model, score_one

        consumer, p, text = _petition_request(request, petition, cred, "gold.petition_dispatch")
        try:
            model = get_model(default_model_dir(settings))
        except FileNotFoundError as e:  # the only 503: nothing trained yet
            raise HTTPException(503, f"no dispatch model trained yet (分拨模型尚未训练): {e}")
        cfg = load_dispatch_config(settings.catalog_dir)
        recs = score_one(text, model=model, k=cfg.k, address=petition.get("address_text"),
                         **blend_inputs(settings.catalog_dir, model))
        audit_event(request).rows = 1
        _emit_read(consumer, p.name, None, 1)
        return {"ticket_id": petition.get("ticket_id"), "model_version": model.meta.get("version"),
                "departments": [asdict(r) for r in recs], "form": _petition_form(petition, text)}

    def _petition_form(petition: dict, text: str) -> dict:
        from govlake.petitions.form import fill_form, online_category_model

        return fill_form(text, title=petition.get("title"), address=petition.get("address_text"),
                         requester_id=petition.get("requester_id"),
                         category_model=online_category_model(settings)).as_dict()

    @app.post("/petitions/form", responses=errors(401, 403, 404, 422, 429))
    def petition_form(request: Request, petition: dict = Body(...),
                      cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        """智能填单 for one petition text: category (三级), request type, standard address with its
        confidence, keywords, requester and subject. Needs no trained model."""
        consumer, p, text = _petition_request(request, petition, cred, "gold.petition_forms")
        audit_event(request).rows = 1
        _emit_read(consumer, p.name, None, 1)
        return {"ticket_id": petition.get("ticket_id"), "form": _petition_form(petition, text)}

    @app.post("/policies/sandbox", responses=errors(400, 401, 403, 404, 422, 429))
    def policy_sandbox(request: Request, body: SandboxRequest,
                       cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        """政策沙盘推演: a draft's reach, cost, sensitivity, diff and overlap over the released
        profile (govlake.policy.sandbox); nothing is written. Needs an unscoped grant on the profile
        that shows every field the drafts name: the curves and lists would otherwise reveal
        masked values or other streets' enterprises."""
        from govlake.catalog.sources import CatalogError
        from govlake.policy.sandbox import run_sandbox

        consumer = consumer_or_401(request, cred)
        p = product_or_404(PROFILE)
        g = grant_or_403(request, p, consumer)
        deps.admit(request, consumer, "sandbox")
        try:
            docs = reads.sandbox_drafts(g, [t for t in (body.draft, body.against) if t], settings)
        except reads.AccessDenied as e:
            raise denied(e)
        try:
            report = run_sandbox(docs[0], settings, lake=lake, against=docs[1] if len(docs) > 1 else None,
                                 budget_wan=body.budget_wan, points=body.points, as_of=body.as_of)
        except (CatalogError, ValueError, KeyError) as e:
            raise HTTPException(400, f"the draft cannot be evaluated (草案无法推演): {str(e)[:300]}")
        except FileNotFoundError:
            raise HTTPException(404, f"{PROFILE} has not been published yet (尚未发布)")
        audit_event(request).rows = report.enterprises_evaluated
        _emit_read(consumer, p.name, report.profile_version, report.enterprises_evaluated)
        return report.to_dict()

    return app

