"""What the catalog page says about one data product beside its contract: the version readers
are served (the current release's, govlake.release), when it was committed (新鲜度), the last
quality result (ops.quality_results), the Delta version history and the fields with their 中文
labels (the profile's from the field catalog, grouped by category)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from govlake import release
from govlake.lakehouse import Lakehouse
from govlake.products import Product
from govlake.quality.gate import RESULTS_TABLE

PROFILE = "gold.enterprise_profile"
OPERATIONS = {"WRITE": "写入", "CREATE TABLE": "建表", "MERGE": "合并", "OPTIMIZE": "压缩", "VACUUM START": "清理开始",
              "VACUUM END": "清理结束", "SET TBLPROPERTIES": "设置属性", "DELETE": "删除", "UPDATE": "更新",
              "CREATE OR REPLACE TABLE AS SELECT": "重建", "CREATE TABLE AS SELECT": "建表"}


@dataclass
class QualityResult:
    success: bool
    n_expectations: int
    n_failed: int
    validated_at: dt.datetime
    suite: str
    rows: int | None


@dataclass
class FieldRow:
    name: str
    label: str
    type: str
    level: str
    category: str = ""     # 中文 label of the field catalog's category
    category_id: str = ""
    description: str = ""


def stored_table(p: Product) -> str:
    return p.stored_in[-1] if p.view and p.stored_in else p.name


def _when(ms) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc) if ms is not None else None


def freshness(lake: Lakehouse, p: Product) -> dict:
    """{table: the stored table (a view's last one), version: the released one (None: never
    published), committed_at, operation: of that version's commit}."""
    table = stored_table(p)
    version = release.version_of(lake, table)
    entry = {} if version is None else next((h for h in lake.history(table) if int(h.get("version", -1)) == version), {})
    return {"table": table, "version": version, "committed_at": _when(entry.get("timestamp")),
            "operation": entry.get("operation")}


def history(lake: Lakehouse, p: Product, limit: int = 20) -> list[dict]:
    """Newest first: version, time, operation (with 中文), rows written, the committing run."""
    table = stored_table(p)
    if not lake.exists(table):
        return []
    released = release.version_of(lake, table)
    out = []
    for h in lake.history(table)[:limit]:
        metrics = h.get("operationMetrics") or {}
        rows = metrics.get("numOutputRows") or metrics.get("num_added_rows") or metrics.get("numTargetRowsInserted")
        op = h.get("operation") or ""
        out.append({"version": h.get("version"), "time": _when(h.get("timestamp")), "operation": op,
                    "operation_zh": OPERATIONS.get(op, ""), "rows": rows,
                    "run_id": h.get("run_id") or h.get("txnAppId") or "", "released": h.get("version") == released})
    return out


def last_quality(lake: Lakehouse, p: Product) -> QualityResult | None:
    if not lake.exists(RESULTS_TABLE):
        return None
    rows = lake.to_arrow(RESULTS_TABLE, where={"table": p.name}).to_pylist()
    if not rows:
        return None
    r = max(rows, key=lambda x: x["validated_at"])
    try:
        n_rows = json.loads(r["details"] or "{}").get("rows")
    except ValueError:
        n_rows = None
    return QualityResult(bool(r["success"]), r["n_expectations"], r["n_failed"], r["validated_at"], r["suite"], n_rows)


def fields(lake: Lakehouse, p: Product, levels: dict[str, str]) -> list[FieldRow]:
    """Every column: the contract's, then the released schema's (with its column comment as
    label); the profile's from the field catalog. levels: column -> 公开/内部/敏感."""
    default = "公开" if p.classification == "公开" else "内部"  # unclassified columns (govlake.access.levels)
    if p.name == PROFILE:
        from govlake.catalog.enterprise import load_enterprise_fields

        cat = load_enterprise_fields(lake.settings.catalog_dir)
        labels = {c.id: c.label for c in cat.categories}
        out = [FieldRow(c.name, c.label or "", c.type or "", levels.get(c.name, default), "主键与名称", "key")
               for c in p.contract.columns if c.name not in {f.id for f in cat.fields}]
        return out + [FieldRow(f.id, f.label, f.type, levels.get(f.id, f.level), labels.get(f.category, f.category),
                               f.category, f.description or f.derivation or "") for f in cat.fields]
    out = {c.name: FieldRow(c.name, c.label or "", c.type or "", levels.get(c.name, default)) for c in p.contract.columns}
    table = stored_table(p)
    if not p.view and lake.exists(table):
        for f in lake.schema(table).fields:
            comment = (f.metadata or {}).get("comment", "")
            if f.name in out:
                out[f.name].type = out[f.name].type or f.dataType.simpleString()
                out[f.name].label = out[f.name].label or comment
            else:
                out[f.name] = FieldRow(f.name, comment, f.dataType.simpleString(), levels.get(f.name, default))
    return list(out.values())
