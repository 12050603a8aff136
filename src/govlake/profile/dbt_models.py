"""Write the dbt models of the profile from the catalog (committed; regenerate after a catalog
change with `govlake profile generate`): intermediate int_enterprise_* and the marts with their
YAML (contracts enforced, Chinese descriptions, column-lineage meta)."""

from __future__ import annotations

from pathlib import Path

import yaml

from govlake.catalog.enterprise import USCC_COLUMN, EnterpriseCatalog, load_enterprise_fields, load_enterprise_tags
from govlake.catalog.sources import load_sources
from govlake.profile import sqlgen
from govlake.profile.policy_models import policy_files
from govlake.profile.sqlgen import TAG_COLUMNS, YAML_HEADER

def _stg(col: str) -> str:
    src, _, c = col.partition(".")
    return f"stg_{src}.{c}"


def _col(f, sources: list[str], contract: bool) -> dict:
    out = {"name": f.id, "description": f.label}
    if contract:
        out["data_type"] = f.type
    out["meta"] = {"sources": sources, "derivation": f.derivation, "category": f.category,
                   "level": f.level, "unit": f.unit or None}
    return out


def _base_refs(f, by_id: dict) -> list[str]:
    """The base (attr/agg) fields a field is computed from: itself, or those its expression
    reads through other derived fields (the profile inlines them: one projection of the base)."""
    if f.kind != "expr":
        return [f.id]
    return sorted({b for r in f.refs for b in _base_refs(by_id[r], by_id)})


def _dump(path: Path, doc: dict) -> bool:
    text = YAML_HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)
    return _write(path, text)


def _write(path: Path, text: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def enterprise_files(catalog: EnterpriseCatalog, catalog_dir: Path) -> dict[str, str]:
    """relative path under dbt/models -> file text."""
    srcs = load_sources(catalog_dir)
    files: dict[str, str] = {"intermediate/int_enterprise_scope.sql": sqlgen.scope_sql([s.name for s in srcs], catalog_dir)}
    models = [{"name": "int_enterprise_scope",
               "description": "画像计算范围：全部登记企业；设 var changed_since 时为其后有新载入行的企业（增量计算，govlake.profile.changed）",
               "columns": [{"name": "uscc", "description": "统一社会信用代码",
                            "meta": {"sources": ["stg_enterprise_registry.uscc"]}, "data_tests": ["not_null", "unique"]}]}]
    for src, fs in sqlgen.source_models(catalog).items():
        files[f"intermediate/int_enterprise_src_{src}.sql"] = sqlgen.source_sql(src, catalog)
        models.append({"name": f"int_enterprise_src_{src}", "description": f"画像基础聚合：{src}（每企业一行）",
                       "columns": [{"name": "uscc", "description": "统一社会信用代码",
                                    "meta": {"sources": [f"stg_{src}.{'related_uscc' if src == 'petitions' else 'uscc'}"]}}]
                       + [_col(f, [_stg(s) for s in f.lineage], False) for f in fs if f.id != "uscc"]})
    files["intermediate/int_enterprise_sources.sql"] = sqlgen.sources_sql(catalog)
    models.append({"name": "int_enterprise_sources", "description": "画像基础聚合汇总：计算范围内每企业一行，每个来源的字段打包为一个结构列 src_<来源>",
                   "columns": [{"name": "uscc", "description": "统一社会信用代码", "meta": {"sources": ["int_enterprise_scope.uscc"]}}]
                   + [{"name": f"src_{src}", "description": f"来源 {src} 的画像基础聚合（结构列）",
                       "meta": {"sources": [f"int_enterprise_src_{src}.{f.id}" for f in fs if f.id != "uscc"]}}
                      for src, fs in sqlgen.source_models(catalog).items()]})
    layout = sqlgen.row_layout(catalog, srcs)
    files["intermediate/int_enterprise_rows.sql"] = sqlgen.rows_sql(catalog, srcs)
    models.append({"name": "int_enterprise_rows",
                   "description": "画像计算输入：计算范围内企业的全部暂存行（统一列布局，按企业分布）；构建时各任务在 DuckDB 中据此计算画像",
                   "columns": [{"name": "uscc", "description": "统一社会信用代码",
                                "meta": {"sources": [f"stg_{s}.{USCC_COLUMN.get(s, 'uscc')}" for s in layout.sources]}},
                               {"name": "src", "description": "来源序号：" + "，".join(f"{i}={s}" for i, s in enumerate(layout.sources))}]
                   + [{"name": slot, "description": f"类型槽位（{typ}）",
                       "meta": {"sources": [f"stg_{s}.{c}" for s in layout.sources for c, sl in layout.columns[s] if sl == slot]}}
                      for slot, typ in layout.slots]})
    files["intermediate/int_enterprise_base.sql"] = sqlgen.base_sql(catalog)
    models.append({"name": "int_enterprise_base", "description": "画像基础字段（非派生）：计算范围内每企业一行",
                   "columns": [{"name": "uscc", "description": "统一社会信用代码", "meta": {"sources": ["int_enterprise_sources.uscc"]}}]
                   + [_col(f, [f"int_enterprise_sources.src_{f.source}"], False) for f in catalog.fields
                      if f.kind != "expr" and f.id != "uscc"]})
    files["intermediate/_int_enterprise.yml"] = YAML_HEADER + yaml.safe_dump(
        {"version": 2, "models": models}, allow_unicode=True, sort_keys=False, width=200)

    files["marts/enterprise/enterprise_profile.sql"] = sqlgen.profile_sql(catalog)
    tags = load_enterprise_tags(catalog_dir, catalog)
    types = {f.id: f.type for f in catalog.fields}
    files["marts/enterprise/enterprise_tags.sql"] = sqlgen.tags_sql(tags, types, publish="gold.enterprise_tags")
    prof_cols, by_id = [], catalog.by_id()
    for f in catalog.fields:
        # a base field is a column of int_enterprise_base; a derived one reads base fields
        col = _col(f, [f"int_enterprise_base.{r}" for r in _base_refs(f, by_id)], True)
        col["meta"]["source_columns"] = [_stg(s) for s in f.lineage]
        if f.id == "uscc":
            col["constraints"] = [{"type": "not_null", "warn_unsupported": False}]  # data tests would compute the wide view; quality gates run on publish
        prof_cols.append(col)
    tag_refs = sorted({fid for t in tags for fid in t.fields})
    marts = [
        {"name": "enterprise_profile", "description": "企业画像宽表（一企一画像）：每企业一行，1,500 个字段，键 uscc",
         "config": {"contract": {"enforced": True}, "meta": {"publish": "gold.enterprise_profile"}},
         "columns": prof_cols},
        {"name": "enterprise_tags", "description": f"企业标签（长表）：{len(tags)} 个标签规则命中结果，键 uscc + tag_id",
         "config": {"contract": {"enforced": True}, "meta": {"publish": "gold.enterprise_tags"}},
         "columns": [
             {"name": n, "description": lab, "data_type": t,
              "meta": {"sources": ["enterprise_profile.uscc"] if n == "uscc" else
                       [f"enterprise_profile.{x}" for x in tag_refs] if n == "evidence" else [],
                       "derivation": "标签规则（catalog/enterprise_tags）在画像上求值" if n != "uscc" else "画像主键"},
              **({"constraints": [{"type": "not_null", "warn_unsupported": False}]} if n in {"uscc", "tag_id"} else {})}
             for n, t, lab in TAG_COLUMNS]},
    ]
    files["marts/enterprise/_enterprise.yml"] = YAML_HEADER + yaml.safe_dump(
        {"version": 2, "models": marts}, allow_unicode=True, sort_keys=False, width=200)
    return files


def generate(dbt_dir: Path, catalog_dir: Path, *, policies: bool = True) -> list[str]:
    """Write every generated profile model; returns the files that changed."""
    catalog = load_enterprise_fields(catalog_dir)
    files = enterprise_files(catalog, catalog_dir)
    if policies:
        files.update(policy_files(catalog_dir))
    changed = []
    for rel, text in files.items():
        if _write(Path(dbt_dir) / "models" / rel, text):
            changed.append(rel)
    return changed
