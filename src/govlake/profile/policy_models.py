"""Policy profile (政策画像): read catalog/policies/*.yaml (tolerantly), extract the
catalog/policy_fields.yaml values for each policy, and generate the policy_profile and
policy_tags models. The extracted facts are inlined as a VALUES table in the generated SQL,
so the model is regenerated (`govlake profile generate`, and before every profile build)
whenever a policy changes; as-of dependent fields stay SQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

from govlake import yamlio
from govlake.catalog.departments import load_departments
from govlake.catalog.enterprise import (
    CatalogError, PolicyField, load_enterprise_fields, load_policy_fields, load_policy_tags,
)
from govlake.profile import sqlgen
from govlake.profile.sqlgen import TAG_COLUMNS, YAML_HEADER

INDUSTRY_PREFIX_PARAMS = re.compile(r"starts_with\(\s*industry_code\s*,\s*([a-z_0-9]+)\s*\)")


def load_policy_docs(catalog_dir: Path) -> list[dict]:
    """Every catalog/policies/*.yaml as a dict (the policy engineer's files; read tolerantly)."""
    out = []
    for p in sorted((Path(catalog_dir) / "policies").glob("*.yaml")):
        try:
            doc = yamlio.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise CatalogError(f"policies/{p.name}: not valid YAML: {e}") from None
        if isinstance(doc, dict) and doc.get("policy_id"):
            out.append(doc)
    return out


def _get(doc: dict, path: str):
    cur = doc
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _param(doc: dict, name: str, as_of: dt.date | None = None):
    v = (doc.get("params") or {}).get(name)
    if isinstance(v, list) and v and isinstance(v[0], dict) and "from" in v[0]:
        dated = sorted(v, key=lambda x: str(x["from"]))
        if as_of:
            dated = [x for x in dated if str(x["from"]) <= as_of.isoformat()] or dated[:1]
        return dated[-1].get("value")
    return v


def _rules(doc: dict) -> list[str]:
    return [str(c.get("rule") or "") for c in doc.get("clauses") or [] if isinstance(c, dict)]


def _mentions(text: str, ident: str) -> bool:
    return re.search(rf"\b{re.escape(ident)}\b", text) is not None


def _threshold(doc: dict, fid: str, direction: str):
    ops = (">=", ">") if direction == "min" else ("<=", "<")
    for r in _rules(doc):
        for m in re.finditer(rf"\b{re.escape(fid)}\s*(>=|<=|>|<)\s*([A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?)", r):
            if m.group(1) in ops:
                v = m.group(2)
                val = _param(doc, v) if re.match(r"[A-Za-z_]", v) else float(v)
                if isinstance(val, (int, float)) and not isinstance(val, bool):
                    return float(val)
    return None


def _industry_prefixes(doc: dict) -> list[str] | None:
    for r in _rules(doc):
        m = INDUSTRY_PREFIX_PARAMS.search(r)
        if m:
            v = _param(doc, m.group(1))
            return [str(x) for x in (v if isinstance(v, list) else [v])]
    return None


def _sizes(doc: dict) -> list[str] | None:
    for r in _rules(doc):
        m = re.search(r"enterprise_size\s+in\s+([a-z_0-9]+)", r)
        if m:
            v = _param(doc, m.group(1))
            return [str(x) for x in (v or [])]
        m = re.search(r"enterprise_size\s*(==|=)\s*'([^']+)'", r)
        if m:
            return [m.group(2)]
    return None


def extract(f: PolicyField, doc: dict, ctx: dict):
    e = f.extract or {}
    rules_text = " ; ".join(_rules(doc))
    if "attr" in e:
        return _get(doc, e["attr"])
    if "dept_name" in e:
        return ctx["dept_names"].get(doc.get("dept"))
    if "count" in e:
        v = doc.get(e["count"])
        return len(v) if v else 0
    if "dated_params" in e:
        return any(isinstance(v, list) and v and isinstance(v[0], dict) and "from" in v[0]
                   for v in (doc.get("params") or {}).values())
    if "rules_text" in e:
        return rules_text
    if "industry_restricted" in e:
        return _industry_prefixes(doc) is not None
    if "size_restricted" in e:
        return _sizes(doc) is not None
    if "dept_is" in e:
        return doc.get("dept") == e["dept_is"]
    if "kind_is" in e:
        return doc.get("kind") == e["kind_is"]
    if "funding_kind_is" in e:
        return (doc.get("funding") or {}).get("kind") == e["funding_kind_is"]
    if "requires_cert" in e:
        k = e["requires_cert"]
        return bool(re.search(rf"cert_valid\(\s*'{k}'\s*\)|\bcert_valid_{k}\b", rules_text))
    if "industry_scope" in e:
        pre = _industry_prefixes(doc)
        return True if pre is None else any(p.startswith(e["industry_scope"]) for p in pre)
    if "size_scope" in e:
        s = _sizes(doc)
        return True if s is None else e["size_scope"] in s
    if "refs_field" in e:
        return _mentions(rules_text, e["refs_field"])
    if "threshold" in e:
        return _threshold(doc, e["threshold"], e.get("dir", "min"))
    if "keywords" in e:
        words = e["keywords"]
        words = words if isinstance(words, list) else re.findall(r"[^\[\]',\s]+", str(words))
        text = f"{doc.get('name_zh', '')} {doc.get('title_zh', '')}"
        return any(w in text for w in words)
    if "reads_category" in e:
        return any(_mentions(rules_text, fid) for fid in ctx["category_fields"][e["reads_category"]]) or (
            e["reads_category"] == "qualifications" and "cert_valid(" in rules_text)
    if "clause" in e:
        cl = doc.get("clauses") or []
        n = int(e["clause"])
        return (cl[n - 1] or {}).get(e.get("key", "label_zh")) if len(cl) >= n and isinstance(cl[n - 1], dict) else None
    if "param" in e:
        v = _param(doc, e["param"])
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    raise CatalogError(f"policy_fields.yaml: field {f.id!r}: unknown extract {e}")


def _lit(v, typ: str) -> str:
    if v is None:
        return "NULL"
    if typ == "boolean":
        return "true" if v else "false"
    if typ in {"int", "double"}:
        try:
            return repr(float(v)) if typ == "double" else str(int(v))
        except (TypeError, ValueError):
            return "NULL"
    if typ == "date":
        return f"DATE '{v.isoformat() if isinstance(v, dt.date) else str(v)}'"
    return "'" + str(v).replace("\\", "\\\\").replace("'", "''") + "'"


def policy_facts(catalog_dir: Path) -> tuple[list[PolicyField], list[dict]]:
    fields = load_policy_fields(catalog_dir)
    cat = load_enterprise_fields(catalog_dir)
    ctx = {"dept_names": {d.code: d.name for d in load_departments(catalog_dir)},
           "category_fields": {c.id: [f.id for f in cat.in_category(c.id)] for c in cat.categories}}
    rows = [{f.id: extract(f, doc, ctx) for f in fields if f.extract} for doc in load_policy_docs(catalog_dir)]
    return fields, rows


def policy_profile_sql(catalog_dir: Path) -> str:
    fields, rows = policy_facts(catalog_dir)
    ext = [f for f in fields if f.extract]
    lines = [sqlgen.HEADER, f"-- 政策画像: {len(rows)} policies from catalog/policies, {len(fields)} fields.",
             "{{ config(meta={'publish': 'gold.policy_profile'}) }}",
             "{%- set as_of = var('as_of', none) or var('load_date', none) or modules.datetime.date.today().isoformat() %}"]
    if rows:
        values = ",\n".join("  (" + ", ".join(_lit(r[f.id], f.type) for f in ext) + ")" for r in rows)
        facts = f"facts AS (\n  SELECT * FROM VALUES\n{values}\n  AS t({', '.join(f.id for f in ext)})\n)"
    else:  # no policies yet: an empty table with the right columns
        facts = "facts AS (\n  SELECT " + ", ".join(f"CAST(NULL AS {sqlgen.SQL_TYPE[f.type]}) AS {f.id}" for f in ext) + "\n  WHERE false\n)"
    cols = []
    for f in fields:
        src = sqlgen.expand(f.expr) if f.expr else f.id
        cols.append(f"  CAST({src} AS {sqlgen.SQL_TYPE[f.type]}) AS {f.id}")
    lines.append(f"WITH {facts}\nSELECT\n" + ",\n".join(cols) + "\nFROM facts")
    return "\n".join(lines) + "\n"


def policy_tags_sql(catalog_dir: Path) -> str:
    fields = load_policy_fields(catalog_dir)
    tags = load_policy_tags(catalog_dir, fields)
    return sqlgen.tags_sql(tags, {f.id: f.type for f in fields}, profile="policy_profile", key="policy_id",
                           publish="gold.policy_tags")


def policy_files(catalog_dir: Path) -> dict[str, str]:
    fields = load_policy_fields(catalog_dir)
    tags = load_policy_tags(catalog_dir, fields)
    cols = []
    for f in fields:
        c = {"name": f.id, "description": f.label, "data_type": f.type,
             "meta": {"sources": ["catalog/policies/*.yaml"] if f.extract else [f"policy_profile.{r}" for r in f.refs],
                      "derivation": f"extract {f.extract}" if f.extract else f.expr}}
        if f.id == "policy_id":
            c["constraints"] = [{"type": "not_null", "warn_unsupported": False}]
            c["data_tests"] = ["not_null", "unique"]
        cols.append(c)
    tag_cols = [{"name": "policy_id" if n == "uscc" else n, "description": "政策编码" if n == "uscc" else lab,
                 "data_type": t, "meta": {"sources": ["policy_profile.policy_id"] if n == "uscc" else [],
                                          "derivation": "标签规则（catalog/policy_tags.yaml）在政策画像上求值"}}
                for n, t, lab in TAG_COLUMNS]
    doc = {"version": 2, "models": [
        {"name": "policy_profile", "description": f"政策画像：每项政策一行，{len(fields)} 个字段，键 policy_id",
         "config": {"contract": {"enforced": True}, "meta": {"publish": "gold.policy_profile"}}, "columns": cols},
        {"name": "policy_tags", "description": f"政策标签（长表）：{len(tags)} 个标签规则，键 policy_id + tag_id",
         "config": {"contract": {"enforced": True}, "meta": {"publish": "gold.policy_tags"}}, "columns": tag_cols},
    ]}
    return {
        "marts/policy/policy_profile.sql": policy_profile_sql(catalog_dir),
        "marts/policy/policy_tags.sql": policy_tags_sql(catalog_dir),
        "marts/policy/_policy.yml": YAML_HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200),
    }


__all__ = ["load_policy_docs", "policy_facts", "policy_profile_sql", "policy_tags_sql", "policy_files"]
