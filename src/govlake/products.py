"""Data products (数据产品): catalog/products.yaml loaded and validated, and `publish`, the only
way a product table is written: gate first, then one Delta commit. A failed gate writes nothing,
so the previous version keeps serving."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govlake import yamlio
from govlake.settings import Settings, get_settings

Level = Literal["公开", "内部", "敏感"]


class ContractColumn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: str | None = None
    label: str | None = None
    nullable: bool = True
    enum: list | None = None
    min: float | None = None
    max: float | None = None
    level: Level | None = None  # 字段分级 for the API's masking (govlake.access.levels)


class Contract(BaseModel):
    key: list[str] = Field(min_length=1)
    columns: list[ContractColumn] = Field(min_length=1)
    # the fewest rows a published version may have: 0 for a list that is legitimately empty
    # (no approval yet: an empty 公示 list), else an empty table is a failed build
    min_rows: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _key_declared(self):
        names = {c.name for c in self.columns}
        missing = [k for k in self.key if k not in names]
        if missing:
            raise ValueError(f"contract key columns {missing} are not in contract.columns")
        return self

    def label(self, column: str) -> str | None:
        return next((c.label for c in self.columns if c.name == column), None)


class Refresh(BaseModel):
    cron: str
    note: str | None = None


class WriteSpec(BaseModel):
    mode: Literal["overwrite", "append", "replace_partitions", "merge"] = "overwrite"
    partition_by: list[str] | None = None


class Consumer(BaseModel):
    id: str
    name: str
    dept: str


class Product(BaseModel):
    # a key the model does not know is an error: a stale access key would otherwise be ignored
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str
    owner: str
    classification: Level
    description: str
    contract: Contract
    # the grants the access store starts from (govlake.access.bootstrap); the store decides after
    consumers: list[str] = []
    sensitive_readers: list[str] = []
    row_scopes: dict[str, dict[str, list[str]]] = {}
    # a new grant's requests per second and burst (限流) unless its application says (govlake.access.rate_limits)
    rate_per_s: float | None = Field(None, gt=0)
    rate_burst: int | None = Field(None, ge=1)
    # column levels: from the enterprise field catalog, contract columns' level, column_levels
    levels_from: Literal["enterprise_fields"] | None = None
    column_levels: dict[str, Level] = {}
    refresh: Refresh
    write: WriteSpec = WriteSpec()
    suite: str | None = None  # set when another module writes this product's suite file
    # "module:function" when the product is built on read from stored tables (no table of its
    # own): function(settings, filters, *, limit, offset, version, hidden_fields) -> {"version",
    # "total", "rows"}; hidden_fields: profile fields whose values must stay out of derived text
    view: str | None = None
    stored_in: list[str] = []  # the tables a view reads, the one committed last at the end
    # Delta table features, as delta.<name> table properties (e.g. enableChangeDataFeed for
    # downstream incremental consumers, enableDeletionVectors for a table merged in a few keys)
    delta_properties: dict[str, str | bool | int] = {}

    def table_properties(self) -> dict[str, str]:
        """The Delta table's properties: who owns it, how it is classified, what it holds."""
        return {"govlake.product": self.name, "govlake.label": self.label, "govlake.owner": self.owner,
                "govlake.classification": self.classification, "govlake.description": self.description,
                **{f"delta.{k}": str(v).lower() if isinstance(v, bool) else str(v)
                   for k, v in self.delta_properties.items()}}

    def view_function(self):
        import importlib

        module, _, fn = (self.view or "").partition(":")
        return getattr(importlib.import_module(module), fn)

    @field_validator("name")
    @classmethod
    def _layer_name(cls, v: str) -> str:
        layer, _, name = v.partition(".")
        if not name or not layer:
            raise ValueError(f"product name must be layer.table, got {v!r}")
        return v


class ProductCatalog(BaseModel):
    consumers: list[Consumer]
    products: list[Product]

    @model_validator(mode="after")
    def _references(self):
        known = {c.id for c in self.consumers}
        seen = set()
        for p in self.products:
            if p.name in seen:
                raise ValueError(f"product {p.name} is declared twice")
            seen.add(p.name)
            for c in [*p.consumers, *p.sensitive_readers, *p.row_scopes]:
                if c not in known:
                    raise ValueError(f"{p.name}: consumer {c!r} is not declared under consumers:")
            levels = {**{c.name: c.level for c in p.contract.columns if c.level}, **p.column_levels}
            if "敏感" in levels.values() and p.classification != "敏感":
                raise ValueError(f"{p.name}: 敏感 columns need classification 敏感, not {p.classification}")
            for what, ids in (("sensitive_readers", p.sensitive_readers), ("row_scopes", list(p.row_scopes))):
                unread = set(ids) - set(p.consumers)
                if unread:
                    raise ValueError(f"{p.name}: {what} {sorted(unread)} are not consumers of the product")
            for c, scope in p.row_scopes.items():
                if not scope or not all(scope.values()):
                    raise ValueError(f"{p.name}: row_scopes.{c} needs column: [values]")
        return self


def load_catalog(settings: Settings | None = None) -> ProductCatalog:
    s = settings or get_settings()
    path = s.catalog_dir / "products.yaml"
    # keyed on mtime so a running API sees an edited catalog
    return _load(path, s.catalog_dir / "departments.yaml", path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: Path, departments_path: Path, _mtime: int) -> ProductCatalog:
    raw = yamlio.safe_load(path.read_text(encoding="utf-8"))
    try:
        cat = ProductCatalog.model_validate(raw)
    except Exception as e:  # pydantic's message names the failing product and field
        raise ValueError(f"catalog/products.yaml (数据产品目录) is invalid: {e}") from e
    depts = {d["code"] for d in yamlio.safe_load(departments_path.read_text(encoding="utf-8"))["departments"]}
    for owner in [p.owner for p in cat.products] + [c.dept for c in cat.consumers]:
        if owner not in depts:
            raise ValueError(f"catalog/products.yaml: department {owner!r} is not in departments.yaml (部门目录)")
    return cat


def load_products(settings: Settings | None = None) -> dict[str, Product]:
    return {p.name: p for p in load_catalog(settings).products}


def get_product(name: str, settings: Settings | None = None) -> Product:
    products = load_products(settings)
    if name not in products:
        raise KeyError(f"unknown data product {name!r}; known: {', '.join(sorted(products))}")
    return products[name]


def table_properties(name: str, settings: Settings | None = None) -> dict[str, str]:
    """A table's Delta properties from the catalog ({} for a table that is no product)."""
    p = load_products(settings).get(name)
    return p.table_properties() if p else {}
