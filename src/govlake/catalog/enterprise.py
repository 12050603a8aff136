"""The profile catalog: enterprise fields (catalog/enterprise_fields/*.yaml), enterprise tags
(catalog/enterprise_tags/*.yaml), policy fields and policy tags (catalog/policy_*.yaml).

Families (a metric x window x aggregation matrix written once) are expanded here into the full
explicit list; everything is validated on load: unique ids, known source columns, types,
classification levels, SQL references to other fields, rule syntax and types, and cycles.
Every error is a CatalogError that names the file and the field or tag.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from govlake import yamlio
from govlake.catalog.departments import load_certificate_types, load_departments
from govlake.catalog.sources import CatalogError, load_sources

TYPES = {"string", "int", "double", "boolean", "date"}
LEVELS = {"公开", "内部", "敏感"}
TYPE_LABEL = {"string": "文本", "int": "整数", "double": "数值", "boolean": "是/否", "date": "日期"}
USCC_COLUMN = {"petitions": "related_uscc"}  # sources whose enterprise key is not called uscc

# SQL words that may appear bare in agg/attr/expr text (everything else must be a column or field).
SQL_WORDS = {
    "case", "when", "then", "else", "end", "and", "or", "not", "is", "null", "in", "true", "false",
    "between", "interval", "month", "date", "distinct", "as", "double", "int", "string", "boolean",
    "cast", "year",
}


def distribution_column(source: str, columns: Sequence[str]) -> str | None:
    """The enterprise column stg_<source> is hash-distributed by (None: the source has none).
    Staging rows then reach the profile's per-enterprise aggregates already partitioned by
    enterprise, so each aggregate runs in the stage that reads them instead of shuffling its
    wide partial buffers (100,000 enterprises: profile compute 338.7/341.2 s -> 289.5/289.6 s,
    docs/profile.md). The DISTRIBUTE BY goes inside staging's latest-row window when the column
    is part of the window's key (the window then shuffles on it alone), after it otherwise."""
    col = USCC_COLUMN.get(source, "uscc")
    return col if col in columns else None


_IDENT = re.compile(r"'(?:[^']|'')*'|@[a-z_0-9]+|\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?")
_VAR = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


@dataclass
class Field:
    id: str
    label: str
    category: str
    type: str
    unit: str
    level: str
    kind: str                  # attr (registry row) | agg (aggregate over one source) | expr (derived)
    sql: str                   # the attr / agg / expr text, with @macros
    source: str | None         # the source table of attr/agg fields
    sources: list[str]         # declared source columns "<source>.<column>" (attr/agg)
    default: object
    derivation: str
    description: str
    file: str
    refs: list[str] = field(default_factory=list)      # field ids an expr reads
    lineage: list[str] = field(default_factory=list)   # resolved source columns, all kinds


@dataclass
class Category:
    id: str
    label: str
    order: int
    file: str


@dataclass
class Tag:
    id: str
    name: str
    group: str
    group_label: str
    rule: str
    description: str
    file: str
    node: object = None    # the checked rule (govlake.rulelang IR)
    fields: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class EnterpriseCatalog:
    categories: list[Category]
    fields: list[Field]

    def by_id(self) -> dict[str, Field]:
        return {f.id: f for f in self.fields}

    def in_category(self, cat: str) -> list[Field]:
        return [f for f in self.fields if f.category == cat]


def _err(where: str, msg: str) -> CatalogError:
    return CatalogError(f"{where}: {msg}")


# -- family expansion -----------------------------------------------------------------------
def substitute(value, env: dict, where: str):
    """Replace ${a.b} in strings (innermost first, so ${w.${m.kind}} works), recursively."""
    if isinstance(value, list):
        return [substitute(v, env, where) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env, where) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    text = value
    for _ in range(10):
        def repl(m):
            cur = env
            for part in m.group(1).split("."):
                if isinstance(cur, dict) and part in cur:
                    cur = cur[part]
                else:
                    raise _err(where, f"unknown template variable ${{{m.group(1)}}}")
            return "" if cur is None else str(cur)
        new = _VAR.sub(repl, text)
        if new == text:
            break
        text = new
    return text


def expand_family(fam: dict, lists: dict, env: dict, where: str) -> list[dict]:
    vars_ = fam.get("vars") or {}
    names, choices = [], []
    for name, spec in vars_.items():
        items = lists.get(spec) if isinstance(spec, str) else spec
        if items is None:
            raise _err(where, f"family {fam.get('id')!r}: unknown list {spec!r} for variable {name!r}")
        names.append(name)
        choices.append(items)
    body = {k: v for k, v in fam.items() if k not in {"vars", "use"}}
    out = []
    for combo in itertools.product(*choices) if choices else [()]:
        e = {**env, **dict(zip(names, combo))}
        out.append(substitute(body, e, where))
    return out


# -- enterprise fields ----------------------------------------------------------------------
def _shared_lists(catalog_dir: Path, common: dict) -> dict:
    lists = dict(common.get("windows") or {})
    certs = load_certificate_types(catalog_dir)
    lists["certificate_types"] = [c.__dict__ for c in certs]
    lists["policy_departments"] = [
        {"code": d.code, "code_lower": d.code.lower(), "name": d.name}
        for d in load_departments(catalog_dir) if d.issues_policies
    ]
    return lists


def _globals(catalog_dir: Path) -> dict:
    certs = load_certificate_types(catalog_dir)
    def total(flag):
        return " + ".join(f"CASE WHEN cert_valid_{c.key} THEN 1 ELSE 0 END" for c in certs if c.honour == flag)
    return {"sum_honour_valid": total(True), "sum_license_valid": total(False)}


def _raw_fields(catalog_dir: Path) -> tuple[list[Category], list[tuple[dict, str, dict]]]:
    d = Path(catalog_dir) / "enterprise_fields"
    if not d.is_dir():
        raise CatalogError(f"{d}: the enterprise field catalog folder is missing")
    common = yamlio.safe_load((d / "_common.yaml").read_text(encoding="utf-8")) or {}
    templates, matrices = common.get("templates") or {}, common.get("matrices") or {}
    shared = _shared_lists(catalog_dir, common)
    env0 = _globals(catalog_dir)
    cats, raws = [], []
    for path in sorted(d.glob("[!_]*.yaml")):
        where = f"enterprise_fields/{path.name}"
        doc = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
        c = doc.get("category") or {}
        if not c.get("id") or not c.get("label"):
            raise _err(where, "needs category: {id, label}")
        cat = Category(c["id"], c["label"], int(c.get("order", 99)), where)
        cats.append(cat)
        lists = {**shared, **(doc.get("lists") or {})}
        defaults = {"level": c.get("level", "内部")}
        items: list[dict] = []
        for kind, metrics in (doc.get("matrix") or {}).items():
            if kind not in matrices:
                raise _err(where, f"unknown matrix kind {kind!r} (known: {sorted(matrices)})")
            for m in metrics:
                for tname in matrices[kind]:
                    items += expand_family(templates[tname], lists, {**env0, "m": m}, where)
        for r in doc.get("ratios") or []:
            items += expand_family(templates["ratio"], lists, {**env0, "r": r}, where)
        items += [substitute(f, env0, where) for f in doc.get("fields") or []]
        for fam in doc.get("families") or []:
            base = templates[fam["use"]] if "use" in fam else {}
            items += expand_family({**base, **fam}, lists, env0, where)
        raws += [({**defaults, **it}, where, cat.__dict__) for it in items]
    if not cats:
        raise CatalogError(f"{d}: no category files")
    return cats, raws


def _idents(sql: str) -> tuple[set[str], set[str]]:
    """(bare identifiers, function names) in a SQL snippet, skipping string literals and @macros."""
    names, funcs = set(), set()
    sql = re.sub(r"@(yw|dw|fw)\(\s*[A-Za-z0-9]+\s*,?", "(", sql)  # window ids are not columns
    for m in _IDENT.finditer(sql):
        if m.group(1) is None:
            continue
        if m.group(2):
            funcs.add(m.group(1).lower())
        else:
            names.add(m.group(1))
    return names, funcs


def load_enterprise_fields(catalog_dir: Path | None = None) -> EnterpriseCatalog:
    from govlake.settings import get_settings

    catalog_dir = Path(catalog_dir or get_settings().catalog_dir)
    return _load_enterprise_fields(str(catalog_dir.resolve()))


@lru_cache(maxsize=8)
def _load_enterprise_fields(catalog_dir: str) -> EnterpriseCatalog:
    catalog_dir = Path(catalog_dir)
    sources = load_sources(catalog_dir)
    cats, raws = _raw_fields(catalog_dir)
    ids = [c.id for c in cats]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"enterprise_fields: duplicate category ids {sorted({i for i in ids if ids.count(i) > 1})}")
    fields: list[Field] = []
    seen: dict[str, str] = {}
    for raw, where, cat in raws:
        fid = raw.get("id")
        w = f"{where}: field {fid!r}"
        if not fid or not re.fullmatch(r"[a-z][a-z0-9_]*", str(fid)):
            raise _err(where, f"field id {fid!r} must be lower-case ASCII (a-z, 0-9, _)")
        if fid in seen:
            raise _err(w, f"duplicate field id (also in {seen[fid]})")
        seen[fid] = where
        kinds = [k for k in ("attr", "agg", "expr") if raw.get(k) not in (None, "")]
        if len(kinds) != 1:
            raise _err(w, "needs exactly one of attr (registry column), agg (aggregate over a source) or expr (derived)")
        kind = kinds[0]
        for key in ("label", "type", "derivation", "description"):
            if not raw.get(key):
                raise _err(w, f"missing {key}")
        if raw["type"] not in TYPES:
            raise _err(w, f"unknown type {raw['type']!r} (known: {sorted(TYPES)})")
        if raw.get("level") not in LEVELS:
            raise _err(w, f"classification level must be one of 公开/内部/敏感, got {raw.get('level')!r}")
        declared = list(raw.get("sources") or [])
        src = None
        if kind in {"attr", "agg"}:
            if not declared:
                raise _err(w, "attr/agg fields must list their source columns (<source>.<column>)")
            tables = set()
            for s in declared:
                t, _, col = str(s).partition(".")
                if t not in sources.sources:
                    raise _err(w, f"unknown source {t!r} in {s!r} (catalog/sources.yaml has {sources.names})")
                if col not in sources[t].column_names:
                    raise _err(w, f"source {t} has no column {col!r}")
                tables.add(t)
            if len(tables) != 1:
                raise _err(w, f"an {kind} field reads one source, got {sorted(tables)}")
            src = tables.pop()
            if kind == "attr" and src != "enterprise_registry":
                raise _err(w, "attr fields read the enterprise_registry row; use agg for other sources")
            names, _ = _idents(raw[kind])
            cols = set(sources[src].column_names)
            bad = sorted(n for n in names if n not in cols and n.lower() not in SQL_WORDS)
            if bad:
                raise _err(w, f"{kind} SQL uses {bad}, which are not columns of source {src}")
        elif declared:
            raise _err(w, "derived (expr) fields get their sources from the fields they read; remove 'sources'")
        fields.append(Field(
            id=fid, label=str(raw["label"]), category=cat["id"], type=raw["type"], unit=str(raw.get("unit") or ""),
            level=raw["level"], kind=kind, sql=" ".join(str(raw[kind]).split()), source=src, sources=declared,
            default=raw.get("default"), derivation=str(raw["derivation"]), description=str(raw["description"]), file=where,
        ))
    by_id = {f.id: f for f in fields}
    for f in fields:
        if f.kind != "expr":
            continue
        names, _ = _idents(f.sql)
        unknown = sorted(n for n in names if n not in by_id and n.lower() not in SQL_WORDS)
        if unknown:
            raise _err(f"{f.file}: field {f.id!r}", f"expr reads unknown fields {unknown}")
        f.refs = sorted(n for n in names if n in by_id)
    _check_cycles({f.id: f.refs for f in fields}, "enterprise_fields", "field")
    memo: dict[str, list[str]] = {}

    def lineage(fid: str) -> list[str]:
        if fid not in memo:
            f = by_id[fid]
            memo[fid] = list(f.sources) if f.kind != "expr" else sorted({s for r in f.refs for s in lineage(r)})
        return memo[fid]

    for f in fields:
        f.lineage = lineage(f.id)
    cats.sort(key=lambda c: c.order)
    order = {c.id: i for i, c in enumerate(cats)}
    fields.sort(key=lambda f: (order[f.category], f.id != "uscc"))
    return EnterpriseCatalog(cats, fields)


def _check_cycles(graph: dict[str, list[str]], where: str, what: str) -> None:
    state: dict[str, int] = {}

    def visit(n, path):
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cyc = path[path.index(n):] + [n]
            raise CatalogError(f"{where}: {what} cycle {' -> '.join(cyc)}")
        state[n] = 1
        for m in graph.get(n, []):
            visit(m, path + [n])
        state[n] = 2

    for n in graph:
        visit(n, [])


# -- tags (enterprise and policy) -----------------------------------------------------------
def _load_tags(paths: list[Path], field_types: dict[str, str], lists: dict, kind: str) -> list[Tag]:
    from govlake import rulelang

    tags: list[Tag] = []
    seen: dict[str, str] = {}
    for path in paths:
        where = f"{path.parent.name}/{path.name}" if path.parent.name.endswith("_tags") else path.name
        doc = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
        local = {**lists, **(doc.get("lists") or {})}
        groups = doc.get("groups") or ([doc] if doc.get("group") else [])
        for g in groups:
            grp = g.get("group") or {}
            if not grp.get("id") or not grp.get("label"):
                raise _err(where, "every tag group needs group: {id, label}")
            items = list(g.get("tags") or [])
            for fam in g.get("families") or []:
                if fam.get("expand_levels"):  # one tag per threshold in each metric's `levels`
                    for m in local[fam["vars"]["m"]]:
                        body = {k: v for k, v in fam.items() if k not in {"vars", "expand_levels"}}
                        items += [substitute(body, {"m": m, "l": lv, "lk": str(lv).replace(".", "p")}, where) for lv in m["levels"]]
                else:
                    items += expand_family(fam, local, {}, where)
            for it in items:
                tid = it.get("id")
                w = f"{where}: tag {tid!r}"
                if not tid or not re.fullmatch(r"[a-z][a-z0-9_]*", str(tid)):
                    raise _err(where, f"tag id {tid!r} must be lower-case ASCII")
                if tid in seen:
                    raise _err(w, f"duplicate tag id (also in {seen[tid]})")
                seen[tid] = where
                for key in ("name", "rule"):
                    if not it.get(key):
                        raise _err(w, f"missing {key}")
                tags.append(Tag(tid, str(it["name"]), grp["id"], grp["label"], " ".join(str(it["rule"]).split()),
                                str(it.get("description") or it["name"]), where))
    ids = {t.id for t in tags}
    clash = sorted(ids & set(field_types))
    if clash:
        raise CatalogError(f"{kind}: tag ids clash with field ids {clash[:5]}")
    for t in tags:
        w = f"{t.file}: tag {t.id!r} ({t.name})"
        try:
            rule = rulelang.parse(t.rule, field_types, where=w, tags=ids)
        except rulelang.RuleError as e:
            raise CatalogError(str(e)) from None
        t.node, t.fields, t.tags = rule.node, sorted(rule.fields), sorted(rule.tags)
    _check_cycles({t.id: t.tags for t in tags}, kind, "tag")
    return tags


def load_enterprise_tags(catalog_dir: Path | None = None, fields: EnterpriseCatalog | None = None) -> list[Tag]:
    from govlake.settings import get_settings

    catalog_dir = Path(catalog_dir or get_settings().catalog_dir)
    fields = fields or load_enterprise_fields(catalog_dir)
    d = catalog_dir / "enterprise_tags"
    paths = sorted(d.glob("*.yaml")) if d.is_dir() else []
    if not paths:
        raise CatalogError(f"{d}: no enterprise tag files")
    common = yamlio.safe_load((catalog_dir / "enterprise_fields" / "_common.yaml").read_text(encoding="utf-8")) or {}
    lists = _shared_lists(catalog_dir, common)
    for p in sorted((catalog_dir / "enterprise_fields").glob("[!_]*.yaml")):
        lists.update((yamlio.safe_load(p.read_text(encoding="utf-8")) or {}).get("lists") or {})
    return _load_tags(paths, {f.id: f.type for f in fields.fields}, lists, "enterprise_tags")


__all__ = [
    "Category", "CatalogError", "EnterpriseCatalog", "Field", "Tag", "TYPES", "LEVELS", "USCC_COLUMN",
    "load_enterprise_fields", "load_enterprise_tags", "load_policy_fields", "load_policy_tags", "PolicyField",
    "expand_family", "substitute",
]


# -- policy fields and tags ------------------------------------------------------------------
@dataclass
class PolicyField:
    id: str
    label: str
    type: str
    extract: dict | None   # how the value is read from a policy YAML (govlake.profile.policy_models)
    expr: str | None       # or: SQL over other policy fields (@as_of, @days allowed)
    refs: list[str] = field(default_factory=list)


def _policy_lists(catalog_dir: Path, doc: dict) -> dict:
    common = yamlio.safe_load((catalog_dir / "enterprise_fields" / "_common.yaml").read_text(encoding="utf-8")) or {}
    lists = _shared_lists(catalog_dir, common)
    basic = yamlio.safe_load((catalog_dir / "enterprise_fields" / "01_basic.yaml").read_text(encoding="utf-8")) or {}
    lists.update(basic.get("lists") or {})
    lists["categories"] = [c.__dict__ for c in load_enterprise_fields(catalog_dir).categories]
    lists.update(doc.get("lists") or {})
    return lists


def load_policy_fields(catalog_dir: Path | None = None) -> list[PolicyField]:
    from govlake.settings import get_settings

    catalog_dir = Path(catalog_dir or get_settings().catalog_dir)
    where = "policy_fields.yaml"
    try:
        doc = yamlio.safe_load((catalog_dir / where).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise CatalogError(f"{where}: not valid YAML: {e}") from None
    lists = _policy_lists(catalog_dir, doc)
    items = list(doc.get("fields") or [])
    for fam in doc.get("families") or []:
        items += expand_family(fam, lists, {}, where)
    out, seen = [], set()
    for it in items:
        fid = it.get("id")
        w = f"{where}: field {fid!r}"
        if not fid or not re.fullmatch(r"[a-z][a-z0-9_]*", str(fid)):
            raise _err(where, f"field id {fid!r} must be lower-case ASCII")
        if fid in seen:
            raise _err(w, "duplicate field id")
        seen.add(fid)
        if it.get("type") not in TYPES or not it.get("label"):
            raise _err(w, f"needs a label and a type in {sorted(TYPES)}")
        if bool(it.get("extract")) == bool(it.get("expr")):
            raise _err(w, "needs exactly one of extract or expr")
        out.append(PolicyField(fid, str(it["label"]), it["type"], it.get("extract"),
                               " ".join(str(it["expr"]).split()) if it.get("expr") else None))
    ids = {f.id for f in out}
    for f in out:
        if f.expr:
            names, _ = _idents(f.expr)
            bad = sorted(n for n in names if n not in ids and n.lower() not in SQL_WORDS)
            if bad:
                raise _err(f"{where}: field {f.id!r}", f"expr reads unknown fields {bad}")
            f.refs = sorted(n for n in names if n in ids)
            if any(next(x for x in out if x.id == r).expr for r in f.refs):
                raise _err(f"{where}: field {f.id!r}", "an expr may read extracted fields only")
    return out


def load_policy_tags(catalog_dir: Path | None = None, fields: list[PolicyField] | None = None) -> list[Tag]:
    from govlake.settings import get_settings

    catalog_dir = Path(catalog_dir or get_settings().catalog_dir)
    fields = fields or load_policy_fields(catalog_dir)
    doc = yamlio.safe_load((catalog_dir / "policy_fields.yaml").read_text(encoding="utf-8")) or {}
    return _load_tags([catalog_dir / "policy_tags.yaml"], {f.id: f.type for f in fields},
                      _policy_lists(catalog_dir, doc), "policy_tags")
