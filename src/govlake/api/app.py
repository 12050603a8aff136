"""HTTP API for departments and downstream apps (数据产品服务接口).

Reads go through delta-rs -> Arrow (no Spark in the serving path), with key filters pushed down
into the Parquet scan. Every caller names itself with `X-Consumer` (a consumer id from
catalog/products.yaml); access follows the product's classification, 敏感 columns are masked
unless the consumer is a sensitive reader, and each read emits an OpenLineage run
(`api.<consumer>`, input = the product) so `govlake lineage <product>` shows who used it.
"""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Body, FastAPI, Header, HTTPException, Query, Request, Response

from govlake import release
from govlake.api.csv_export import csv_document
from govlake.lakehouse import Lakehouse
from govlake.lineage.emitter import DatasetRef, JobRun
from govlake.products import Product, load_catalog
from govlake.settings import Settings, get_settings

MASK = "***"
MAX_LIMIT = 1000
CONTROL_PARAMS = {"limit", "offset", "version", "columns"}


def _clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    lake = Lakehouse(None, settings)
    app = FastAPI(title="govlake API", description="区级企业与民生服务数据产品接口", version="1")

    def catalog():
        return load_catalog(settings)

    def product_or_404(name: str) -> Product:
        p = next((p for p in catalog().products if p.name == name), None)
        if p is None:
            raise HTTPException(404, f"unknown data product {name!r} (未知数据产品)")
        return p

    def consumer_or_401(x_consumer: str | None) -> str:
        known = {c.id for c in catalog().consumers}
        if not x_consumer:
            raise HTTPException(401, "X-Consumer header is required (请在 X-Consumer 头中注明调用方)")
        if x_consumer not in known:
            raise HTTPException(403, f"unknown consumer {x_consumer!r} (未登记的调用方)")
        return x_consumer

    def read(p: Product, consumer: str, filters: dict[str, str], *, limit: int = 100, offset: int = 0,
             version: int | None = None) -> dict:
        if not p.may_read(consumer):
            raise HTTPException(403, f"{consumer} may not read {p.name} ({p.label}, {p.classification})")
        if p.view:
            return read_view(p, consumer, filters, limit=limit, offset=offset, version=version)
        if not lake.exists(p.name):
            raise HTTPException(404, f"{p.name} ({p.label}) has not been published yet (尚未发布)")
        try:
            # the current release's version (发布版本), never "latest of each table": a build that
            # crashed between two commits is not served half-published (govlake.release)
            version = release.version_of(lake, p.name) if version is None else version
            schema = lake.arrow_schema(p.name, version)
        except Exception:
            raise HTTPException(404, f"{p.name} has no version {version} (无此版本)")
        where = {}
        for col, raw in filters.items():
            if col not in schema.names:
                raise HTTPException(400, f"{p.name} has no column {col!r} to filter on")
            typ = schema.field(col).type
            try:
                value = pc.cast(pa.scalar(raw), typ) if not pa.types.is_string(typ) else pa.scalar(raw)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise HTTPException(400, f"{col}={raw!r} is not a valid {typ}")
            where[col] = value.as_py()
        table = lake.to_arrow(p.name, version, where=where)
        total = table.num_rows
        table = table.slice(offset, limit)
        masked = [c for c in p.masked_for(consumer) if c in table.schema.names]
        rows = [{k: (MASK if k in masked and v is not None else _clean(v)) for k, v in r.items()}
                for r in table.to_pylist()]
        _emit_read(consumer, p.name, version, len(rows))
        return {"product": p.name, "label": p.label, "version": version, "total": total,
                "offset": offset, "count": len(rows), "masked_columns": masked, "columns": table.schema.names,
                "rows": rows}

    def read_view(p: Product, consumer: str, filters: dict[str, str], *, limit: int, offset: int,
                  version: int | None) -> dict:
        """A product built on read (e.g. gold.policy_matches from its keys and outcome tables)."""
        try:
            page = p.view_function()(settings, filters, limit=limit, offset=offset, version=version)
        except ValueError as e:
            raise HTTPException(400, str(e))
        except Exception as e:  # deltalake: no such version
            if version is not None and "version" in str(e).lower():
                raise HTTPException(404, f"{p.name} has no version {version} (无此版本)")
            raise
        if page["version"] is None:
            raise HTTPException(404, f"{p.name} ({p.label}) has not been published yet (尚未发布)")
        masked = p.masked_for(consumer)
        rows = [{k: (MASK if k in masked and v is not None else _clean(v)) for k, v in r.items()} for r in page["rows"]]
        _emit_read(consumer, p.name, page["version"], len(rows))
        return {"product": p.name, "label": p.label, "version": page["version"], "total": page["total"],
                "offset": offset, "count": len(rows), "masked_columns": [c for c in masked if rows and c in rows[0]],
                "columns": list(rows[0]) if rows else [], "rows": rows}

    def _emit_read(consumer: str, product: str, version: int | None, rows: int) -> None:
        run = JobRun(f"api.{consumer}", settings, job_type="STREAMING", integration="API")
        run.add_input(DatasetRef(product, version=version, rows=rows))
        run.complete()

    # -- endpoints ------------------------------------------------------------------------------
    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/products")
    def list_products(x_consumer: str | None = Header(default=None)):
        consumer_or_401(x_consumer)
        out = []
        current = release.current(lake)
        for p in catalog().products:
            # built on read: the version of the table committed last; each as the release serves it
            stored = p.stored_in[-1] if p.view and p.stored_in else p.name
            version = release.version_of(lake, stored, current)
            out.append({"name": p.name, "label": p.label, "owner": p.owner, "classification": p.classification,
                        "description": p.description, "key": p.contract.key, "refresh": p.refresh.model_dump(),
                        "version": version, "readable": p.may_read(x_consumer)})
        return {"products": out, "release": current.release_id if current else None}

    def product_page(name: str, request: Request, limit: int, offset: int, version: int | None,
                     x_consumer: str | None) -> dict:
        """A page of a product's rows for a request (consumer, grant, key filters, masking, audit)."""
        consumer = consumer_or_401(x_consumer)
        p = product_or_404(name)
        filters = {k: v for k, v in request.query_params.items() if k not in CONTROL_PARAMS}
        bad = [k for k in filters if k not in p.contract.key]
        if bad:
            raise HTTPException(400, f"filters must be key columns of {p.name} ({p.contract.key}), got {bad}")
        return read(p, consumer, filters, limit=limit, offset=offset, version=version)

    @app.get("/products/{name}")
    def read_product(name: str, request: Request, limit: int = Query(100, ge=1, le=MAX_LIMIT),
                     offset: int = Query(0, ge=0), version: int | None = Query(None, ge=0),
                     x_consumer: str | None = Header(default=None)):
        """Rows of a product. Any key column is a filter: /products/gold.enterprise_tags?uscc=..."""
        return product_page(name, request, limit, offset, version, x_consumer)

    @app.get("/products/{name}/rows.csv")
    def export_product(name: str, request: Request, limit: int = Query(100, ge=1, le=MAX_LIMIT),
                       offset: int = Query(0, ge=0), version: int | None = Query(None, ge=0),
                       x_consumer: str | None = Header(default=None)):
        """The same page as CSV for spreadsheets (导出): UTF-8 with BOM, formula-like text
        neutralised (govlake.api.csv_export); the stored values stay as they are."""
        page = product_page(name, request, limit, offset, version, x_consumer)
        return Response(csv_document(page["columns"], page["rows"]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}-v{page["version"]}.csv"',
                                 "X-Total-Count": str(page["total"])})  # the page's rows of how many

    @app.get("/enterprises/{uscc}/profile")
    def enterprise_profile(uscc: str, version: int | None = None, x_consumer: str | None = Header(default=None)):
        consumer = consumer_or_401(x_consumer)
        page = read(product_or_404("gold.enterprise_profile"), consumer, {"uscc": uscc}, limit=1, version=version)
        if not page["rows"]:
            raise HTTPException(404, f"no profile for {uscc} (无此企业画像)")
        return {"uscc": uscc, "version": page["version"], "masked_columns": page["masked_columns"],
                "profile": page["rows"][0]}

    @app.get("/enterprises/{uscc}/tags")
    def enterprise_tags(uscc: str, x_consumer: str | None = Header(default=None)):
        consumer = consumer_or_401(x_consumer)
        page = read(product_or_404("gold.enterprise_tags"), consumer, {"uscc": uscc}, limit=MAX_LIMIT)
        return {"uscc": uscc, "version": page["version"], "tags": page["rows"]}

    @app.get("/enterprises/{uscc}/policy-matches")
    def policy_matches(uscc: str, x_consumer: str | None = Header(default=None)):
        consumer = consumer_or_401(x_consumer)
        page = read(product_or_404("gold.policy_matches"), consumer, {"uscc": uscc}, limit=MAX_LIMIT)
        return {"uscc": uscc, "version": page["version"], "matches": page["rows"]}

    def _petition_request(petition: dict, x_consumer: str | None, product: str, denied_zh: str):
        """The consumer (granted `product`) and the petition's text (title。content)."""
        consumer = consumer_or_401(x_consumer)
        p = product_or_404(product)
        if not p.may_read(consumer):
            raise HTTPException(403, f"{consumer} may not use {product} ({denied_zh})")
        text = "。".join(str(petition.get(f) or "").strip() for f in ("title", "content") if petition.get(f))
        if not text:
            raise HTTPException(422, "a petition needs a title or content (诉求标题或内容不能为空)")
        return consumer, p, text

    @app.post("/petitions/dispatch")
    def dispatch(petition: dict = Body(...), x_consumer: str | None = Header(default=None)):
        """Online 智能分拨 for one petition: top-3 departments with reasons (文本模型, 权责清单,
        属地 by the standard address, history), scored by the same function as the batch step."""
        from dataclasses import asdict

        from govlake.petitions.blend_inputs import blend_inputs, load_dispatch_config
        from govlake.petitions.scoring import default_model_dir, get_model, score_one

        consumer, p, text = _petition_request(petition, x_consumer, "gold.petition_dispatch", "无分拨权限")
        try:
            model = get_model(default_model_dir(settings))
        except FileNotFoundError as e:  # the only 503: nothing trained yet
            raise HTTPException(503, f"no dispatch model trained yet (分拨模型尚未训练): {e}")
        cfg = load_dispatch_config(settings.catalog_dir)
        recs = score_one(text, model=model, k=cfg.k, address=petition.get("address_text"),
                         **blend_inputs(settings.catalog_dir, model))
        _emit_read(consumer, p.name, None, 1)
        return {"ticket_id": petition.get("ticket_id"), "model_version": model.meta.get("version"),
                "departments": [asdict(r) for r in recs], "form": _petition_form(petition, text)}

    def _petition_form(petition: dict, text: str) -> dict:
        from govlake.petitions.form import fill_form, online_category_model

        return fill_form(text, title=petition.get("title"), address=petition.get("address_text"),
                         requester_id=petition.get("requester_id"),
                         category_model=online_category_model(settings)).as_dict()

    @app.post("/petitions/form")
    def petition_form(petition: dict = Body(...), x_consumer: str | None = Header(default=None)):
        """智能填单 for one petition text: category (三级), request type, standard address with its
        confidence, keywords, requester and subject. Needs no trained model."""
        consumer, p, text = _petition_request(petition, x_consumer, "gold.petition_forms", "无智能填单权限")
        _emit_read(consumer, p.name, None, 1)
        return {"ticket_id": petition.get("ticket_id"), "form": _petition_form(petition, text)}

    return app
