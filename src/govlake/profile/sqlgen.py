"""Generate the profile's dbt models from the catalog: the scope, the per-source aggregates, the
rows a build hands its workers, the wide profile, the long tag table. Text, not DataFrame API
(1,500 expressions), in one rendering: SQL with Jinja, {{ ref() }} and the macros of
dbt/macros/profile_dialect.sql where Spark and DuckDB differ (dates, days, hours,
count(DISTINCT)). Whatever runs the profile runs what dbt compiles from these models: dbt
itself on Spark, or its compile (govlake.profile.compiled) for the workers' DuckDB and the
direct engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govlake.catalog.enterprise import USCC_COLUMN, EnterpriseCatalog, Field, Tag, distribution_column
from govlake.catalog.petition_service import load_petition_service
from govlake.settings import get_settings

SQL_TYPE = {"string": "STRING", "int": "INT", "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}
HEADER = "-- GENERATED from catalog/ by `govlake profile generate`; do not edit by hand."
YAML_HEADER = "# GENERATED from catalog/ by `govlake profile generate`; do not edit by hand.\n"
TAG_COLUMNS = [
    ("uscc", "string", "统一社会信用代码"), ("tag_id", "string", "标签编码"), ("tag_name", "string", "标签名称"),
    ("tag_group", "string", "标签分组"), ("since", "date", "标签生效日期（首次命中的画像日期）"),
    ("evidence", "string", "命中依据（字段=取值及阈值）"),
]


# The one rendering: the text of the committed dbt models. Where Spark and DuckDB differ, a macro
# of dbt/macros/profile_dialect.sql.
def _as_of() -> str:
    return "{{ profile_as_of() }}"


def _year(back: int) -> str:
    """y1 - back (y1 = year(as_of) - 1)."""
    return f"{{{{ profile_year({back}) }}}}"


def _ref(name: str) -> str:
    return f"{{{{ ref('{name}') }}}}"


def _bronze(source: str) -> str:
    """The bronze table of a source, every load (the incremental's scope reads it)."""
    return f"{{{{ source('bronze', '{source}') }}}}"


def _days(a: str, b: str) -> str:
    return f"{{{{ profile_days({jinja_arg(a)}, {jinja_arg(b)}) }}}}"


def _hours(a: str, b: str) -> str:
    return f"{{{{ profile_hours({jinja_arg(a)}, {jinja_arg(b)}) }}}}"


def _count_distinct(x: str) -> str:
    """count(DISTINCT x) (the macro profile_count_distinct says how Spark runs it)."""
    return f"{{{{ profile_count_distinct({jinja_arg(x)}) }}}}"


_JINJA_EXPR = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def jinja_arg(sql: str) -> str:
    """A SQL fragment of the dbt rendering (text with {{ ... }} expressions) as one Jinja
    expression to pass to a macro: `reg_date` -> "reg_date", `{{ profile_as_of() }}` ->
    profile_as_of(), the text around expressions joined to them by ~."""
    parts, i = [], 0
    for m in _JINJA_EXPR.finditer(sql):
        if m.start() > i:
            parts.append(_jinja_str(sql[i:m.start()]))
        parts.append(m.group(1))
        i = m.end()
    if i < len(sql) or not parts:
        parts.append(_jinja_str(sql[i:]))
    return " ~ ".join(parts)


def _jinja_str(text: str) -> str:
    """A Jinja string literal: in double quotes, as SQL quotes its literals with '."""
    if '"' in text or "\\" in text:
        raise ValueError(f"SQL passed to a profile macro must not contain \" or \\: {text!r}")
    return f'"{text}"'


def _months(w: str) -> int | None:
    if w == "all":
        return None
    m = re.fullmatch(r"(\d+)([ym])", w)
    if not m:
        raise ValueError(f"unknown window {w!r}")
    return int(m.group(1)) * (12 if m.group(2) == "y" else 1)


def _split_args(text: str, start: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at text[start]; returns (args, index after ')')."""
    depth, cur, args, i = 0, [], [], start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            j = text.index("'", i + 1)
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if ch == "(":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    raise ValueError(f"unbalanced parentheses in {text!r}")


def expand(sql: str) -> str:
    """Expand @macros (see catalog/enterprise_fields/_common.yaml) for a dialect."""
    out, i = [], 0
    while True:
        j = sql.find("@", i)
        if j < 0:
            out.append(sql[i:])
            return "".join(out)
        out.append(sql[i:j])
        m = re.match(r"@([a-z_0-9]+)", sql[j:])
        name, k = m.group(1), j + m.end()
        if name == "as_of":
            out.append(_as_of())
            i = k
            continue
        if name == "y1":
            out.append(_year(0))
            i = k
            continue
        if name == "returned":
            out.append(_returned_sql())
            i = k
            continue
        args, i = _split_args(sql, k)
        args = [expand(a) for a in args]
        out.append(_macro(name, args))


@lru_cache(maxsize=1)
def _returned_sql() -> str:
    """@returned: the 不满意回退 rule of catalog/petition_service.yaml (plain SQL, every dialect)."""
    return load_petition_service(get_settings().catalog_dir).dissatisfied_sql()


def _macro(name: str, args: list[str]) -> str:
    if name == "yw":
        w, col = args[0], (args[1] if len(args) > 1 else "year")
        if re.fullmatch(r"y\d", w):
            return f"{col} = {_year(int(w[1]) - 1)}"
        n = int(w[:-1])
        return f"{col} BETWEEN {_year(n - 1)} AND {_year(0)}"
    if name in {"dw", "fw"}:
        w, col = args
        months = _months(w)
        a = _as_of()
        if name == "dw":
            if months is None:
                return f"{col} <= {a}"
            return f"({col} > {a} - INTERVAL {months} MONTH AND {col} <= {a})"
        return f"({col} > {a} AND {col} <= {a} + INTERVAL {months} MONTH)"
    if name == "days":
        return _days(*args)
    if name == "hours":
        return _hours(*args)
    raise ValueError(f"unknown macro @{name}")


# -- fields and their SQL ----------------------------------------------------------------------
def _needed(cat_fields: list[Field], by_id: dict[str, Field]) -> list[Field]:
    seen, order = set(), []

    def visit(f: Field):
        if f.id in seen:
            return
        seen.add(f.id)
        for r in f.refs:
            visit(by_id[r])
        order.append(f)

    for f in cat_fields:
        visit(f)
    return order


def _typed(sql: str, f: Field) -> str:
    return f"CAST({sql} AS {SQL_TYPE[f.type]})"


def _default(col: str, f: Field) -> str:
    if f.default is None:
        return col
    lit = ("true" if f.default else "false") if isinstance(f.default, bool) else repr(f.default)
    return f"coalesce({col}, {lit})"


def scope_sql(catalog_sources: list[str], catalog_dir: Path | None = None) -> str:
    """Enterprises to (re)compute: all registered ones, or (with the dbt var changed_since, an
    incremental's scope: govlake.profile.changed) the registered ones with a bronze row loaded
    since.

    Read from bronze, not staging: `_load_date >= ...` is not on staging's key. May include a few
    more enterprises than the changed staging rows (a row superseded by a later load, a load
    after as_of): recomputed, their profile is the same as a full build's. A source keyed by a
    record id (ip_id, cert_id, ...) adds every enterprise that ever held a changed record: one
    that lost the record (a patent transferred) is recomputed too."""
    lines = [HEADER, "-- Enterprises in scope of this profile build (one row per uscc); with the var changed_since,",
             "-- those with a bronze row loaded since (an incremental)."]
    lines.append(f"SELECT DISTINCT uscc FROM {_ref('stg_enterprise_registry')}")
    cond = "_load_date >= {{ profile_changed_since() }}"
    lines.append("{%- if var('changed_since', none) %}\nWHERE uscc IN (\n  SELECT uscc FROM (")
    parts = []
    for s in catalog_sources:
        if not enterprise_source(s, catalog_dir):  # an inventory of parks, not of enterprises: no one to recompute
            continue
        u, key = USCC_COLUMN.get(s, "uscc"), staging_key(s, catalog_dir)
        if u in key or len(key) != 1:
            parts.append(f"    SELECT {u} FROM {_bronze(s)} WHERE {cond}")
        else:  # a record (ip_id ...) re-sent for another enterprise: the one that held it changes too
            parts.append(f"    SELECT {u} FROM {_bronze(s)}\n    WHERE {key[0]} IN "
                         f"(SELECT {key[0]} FROM {_bronze(s)} c WHERE {cond})")
    lines.append("\n    UNION\n".join(parts))
    lines.append("  ) loaded\n)\n{%- endif %}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=8)
def _sources(catalog_dir: str) -> dict:
    """The catalog's sources by name (catalog/sources.yaml), loaded once per catalog."""
    from govlake.catalog.sources import load_sources

    return {s.name: s for s in load_sources(Path(catalog_dir))}


def _catalog_sources(catalog_dir: Path | None) -> dict:
    if catalog_dir is None:
        catalog_dir = get_settings().catalog_dir
    return _sources(str(Path(catalog_dir).resolve()))


def enterprise_source(source: str, catalog_dir: Path | None = None) -> bool:
    """Whether the source's rows belong to enterprises (it has their uscc column)."""
    s = _catalog_sources(catalog_dir).get(source)
    return s is not None and distribution_column(source, s.column_names) is not None


def staging_key(source: str, catalog_dir: Path | None = None) -> tuple[str, ...]:
    """The key of stg_<source> (catalog/sources.yaml; default: the settings' catalog)."""
    return tuple(_catalog_sources(catalog_dir)[source].key)


def source_models(catalog: EnterpriseCatalog) -> dict[str, list[Field]]:
    """source -> its attr/agg fields: one aggregate per source and enterprise (int_enterprise_src_<source>).
    Category models join these; identical subplans let Spark reuse one shuffle per source."""
    out: dict[str, list[Field]] = {}
    for f in catalog.fields:
        if f.kind != "expr":
            out.setdefault(f.source, []).append(f)
    return out


def _jinja_head(comment: list[str]) -> list[str]:
    return [HEADER, *[f"-- {c}" for c in comment]]


def _distinct_counts(sql: str) -> str:
    """count(DISTINCT x) -> size(collect_set(x)) (Spark: the same number, nulls ignored by both;
    the dbt rendering: the macro profile_count_distinct, which keeps count(DISTINCT) on DuckDB).
    Two or more distinct aggregates over different inputs in one GROUP BY make Spark expand every
    source row once per distinct input (Expand) and its generated switch exceeded the JVM's 8 KB
    JIT limit, so it ran interpreted (seen: `expand_switchCaseCode_0 is 33532 bytes`)."""
    out, i = [], 0
    pat = re.compile(r"count\(\s*DISTINCT\s+", re.I)
    while (m := pat.search(sql, i)) is not None:
        args, end = _split_args(sql, m.start() + len("count"))
        inner = re.sub(r"^DISTINCT\s+", "", args[0], flags=re.I)
        out.append(sql[i:m.start()] + _count_distinct(inner))
        i = end
    out.append(sql[i:])
    return "".join(out)


def source_sql(source: str, catalog: EnterpriseCatalog) -> str:
    """int_enterprise_src_<source>: the per-enterprise aggregates of one source."""
    fs = [f for f in source_models(catalog)[source] if f.id != "uscc"]
    lines = _jinja_head([f"Per-enterprise aggregates of {source} for the profile ({len(fs)} base fields)."])
    col = USCC_COLUMN.get(source, "uscc")
    if source == "enterprise_registry":  # one row per uscc: attributes, no aggregation
        cols = ",\n".join(f"  {_typed(expand(f.sql), f)} AS {f.id}" for f in fs)
        lines.append(f"SELECT\n  uscc,\n{cols}\nFROM {_ref('stg_' + source)}")
    else:
        cols = ",\n".join(f"  {_distinct_counts(expand(f.sql))} AS {f.id}" for f in fs)
        lines.append(f"SELECT\n  {col} AS uscc,\n{cols}\nFROM {_ref('stg_' + source)}\nGROUP BY {col}")
    return "\n".join(lines) + "\n"


def sources_sql(catalog: EnterpriseCatalog) -> str:
    """int_enterprise_sources (Spark/dbt renderings): the scope joined once to the 12 per-source
    aggregates, each source's ~100 fields packed in one struct column `src_<source>`.
    Measured (20,000 enterprises, 12 joins): Spark's sort-merge joins copy and project the growing
    wide row field by field (113 s for the joins alone, DuckDB 1 s); with each source's fields in
    one struct a join copies 13 columns (30 s). Spark's run of the profile SQL reads it (the
    reference in tests, and the contract's schema); a build's workers compute the same rows from
    int_enterprise_rows in DuckDB (`govlake.profile.wide`), where int_enterprise_base joins the
    plain aggregates instead (base_sql)."""
    lines = _jinja_head(["Scope joined once to every per-source aggregate; each source's fields packed in one struct src_<source>."])
    sel, joins = ["  scope.uscc AS uscc"], []
    for s, fields in source_models(catalog).items():
        pack = ", ".join(f"'{f.id}', {f.id}" for f in fields if f.id != "uscc")
        sel.append(f"  src_{s}.v AS src_{s}")
        joins.append(f"LEFT JOIN (SELECT uscc, named_struct({pack}) AS v FROM {_ref('int_enterprise_src_' + s)}) src_{s} "
                     f"ON src_{s}.uscc = scope.uscc")
    lines.append("SELECT\n" + ",\n".join(sel) + f"\nFROM {_ref('int_enterprise_scope')} scope\n" + "\n".join(joins))
    return "\n".join(lines) + "\n"


# Slot types of int_enterprise_rows, in column order. Timestamps go to the workers as the
# session's wall-clock time (TIMESTAMP_NTZ): DuckDB then compares them with the as-of DATE
# literals as Spark does in its session time zone.
ROW_SLOT_TYPES = {"string": "STRING", "int": "INT", "long": "BIGINT", "double": "DOUBLE", "date": "DATE",
                  "timestamp": "TIMESTAMP_NTZ", "boolean": "BOOLEAN"}


@dataclass(frozen=True)
class RowLayout:
    """The columns of int_enterprise_rows: uscc, src (index into `sources`) and typed slots the
    sources share; a source's staging columns that its profile fields read, each in a slot."""
    sources: tuple[str, ...]
    columns: dict[str, tuple[tuple[str, str], ...]]  # source -> ((staging column, slot), ...)
    slots: tuple[tuple[str, str], ...]               # (slot, SQL type)


def row_layout(catalog: EnterpriseCatalog, sources: Sequence) -> RowLayout:
    """`sources`: catalog.sources.Source objects (columns and types). A column is carried if a
    field of its source reads it (macros expanded, so @yw's `year` counts)."""
    by_name = {s.name: s for s in sources}
    columns, width = {}, {}
    for src, fields in source_models(catalog).items():
        read = {m.group(1) for f in fields for m in _TOKEN.finditer(_unquoted(expand(f.sql))) if m.group(1) and not m.group(2)}
        slots, n = [], {}
        for c in by_name[src].columns:
            if c.name in read and c.name != USCC_COLUMN.get(src, "uscc"):
                n[c.type] = n.get(c.type, 0) + 1
                slots.append((c.name, f"{c.type}_{n[c.type]}"))
        columns[src] = tuple(slots)
        for t, k in n.items():
            width[t] = max(width.get(t, 0), k)
    slots = tuple((f"{t}_{i}", sql) for t, sql in ROW_SLOT_TYPES.items() for i in range(1, width.get(t, 0) + 1))
    return RowLayout(tuple(columns), columns, slots)


def rows_sql(catalog: EnterpriseCatalog, sources: Sequence) -> str:
    """int_enterprise_rows (Spark/dbt renderings): every staging row the profile reads, of the
    enterprises in scope, in one layout (row_layout), distributed by enterprise. A build's Spark
    plan ends here: each task hands its rows (all rows of its enterprises) to DuckDB in its
    Python worker, which runs the source aggregates, int_enterprise_base and enterprise_profile
    as dbt compiles them for DuckDB on them (govlake.profile.wide). Every stg_<source> is already
    distributed by its enterprise column, so the union needs no further exchange."""
    layout = row_layout(catalog, sources)
    lines = _jinja_head(["Every staging row the profile reads, one layout (typed slots), distributed by enterprise."])
    parts = []
    for i, src in enumerate(layout.sources):
        has = {slot: c for c, slot in layout.columns[src]}
        col = USCC_COLUMN.get(src, "uscc")
        sel = ["uscc" if col == "uscc" else f"{col} AS uscc", f"CAST({i} AS TINYINT) AS src"]
        for slot, typ in layout.slots:
            val = (f"CAST({has[slot]} AS {typ})" if typ == "TIMESTAMP_NTZ" else has[slot]) if slot in has else f"CAST(NULL AS {typ})"
            sel.append(f"{val} AS {slot}")
        # a row of no enterprise (a citizen's own petition) is in no profile: not shipped
        parts.append(f"  SELECT {', '.join(sel)}\n  FROM (SELECT * FROM {_ref('stg_' + src)} WHERE {col} IS NOT NULL) stg")
    lines.append("SELECT * FROM (\n" + "\n  UNION ALL\n".join(parts) + "\n)\nDISTRIBUTE BY uscc")
    return "\n".join(lines) + "\n"


def base_sql(catalog: EnterpriseCatalog) -> str:
    """int_enterprise_base: every base (attr/agg) field, one row per enterprise in scope,
    defaults applied, typed. Spark: unpacked from int_enterprise_sources' structs; DuckDB (the
    dbt rendering on the duckdb target: the workers, the incremental, the bench's reference):
    the scope joined to the plain per-source aggregates (same values, same column text)."""
    srcs = source_models(catalog)
    cols = [f"  {_typed(_default(f'src_{s}.{f.id}', f), f)} AS {f.id}" for s, fs in srcs.items() for f in fs if f.id != "uscc"]
    packed = f"FROM {_ref('int_enterprise_sources')}"
    lines = _jinja_head(["All base (non-derived) profile fields, one row per enterprise in scope: Spark unpacks",
                            "int_enterprise_sources, DuckDB joins the scope once to every per-source aggregate."])
    joined = (f"FROM {_ref('int_enterprise_scope')} scope\n"
              + "\n".join(f"LEFT JOIN {_ref('int_enterprise_src_' + s)} src_{s} ON src_{s}.uscc = scope.uscc" for s in srcs))
    lines.append("{%- set duckdb = target.type == 'duckdb' %}")
    lines.append("SELECT\n  {{ 'scope.uscc AS uscc' if duckdb else 'uscc' }},\n" + ",\n".join(cols))
    lines.append("{% if duckdb -%}\n" + joined + "\n{%- else -%}\n" + packed + "\n{%- endif %}")
    return "\n".join(lines) + "\n"


def _unquoted(sql: str) -> str:
    """The dbt rendering's text with its Jinja markers and string quotes dropped: the columns a
    macro's arguments name (`{{ profile_days("reg_date", ...) }}`) read as bare identifiers."""
    return re.sub(r'\{\{|\}\}|"', " ", sql)


_TOKEN = re.compile(r"'(?:[^']|'')*'|\{\{.*?\}\}|\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?")


def _substitute(sql: str, values: dict[str, str]) -> str:
    """Replace every bare identifier of `sql` that is a key of `values` (not a function name,
    not inside a string literal or a Jinja expression) by `(value)`."""
    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name is None or m.group(2) or name not in values:
            return m.group(0)
        return f"({values[name]})"

    return _TOKEN.sub(repl, sql)


def derived_sql(fields: list[Field], catalog: EnterpriseCatalog) -> dict[str, str]:
    """field id -> typed SQL over int_enterprise_base columns for every derived field `fields`
    need: references to other derived fields are substituted by their own (inlined) SQL, so all
    derived fields are computed in ONE projection of int_enterprise_base. Measured: stacked
    projections (one per dependency level) of 1,500 columns made Spark's analysis and
    optimisation of every query over the profile the dominant cost (docs/profile.md)."""
    by_id = catalog.by_id()
    out: dict[str, str] = {}
    for f in _needed(fields, by_id):  # dependencies first
        if f.kind == "expr":
            out[f.id] = _typed(_substitute(expand(f.sql), {r: out[r] for r in f.refs if r in out}), f)
    return out


def _projection(fields: list[Field], catalog: EnterpriseCatalog) -> str:
    """SELECT of `fields` (in order) from int_enterprise_base, derived ones inlined."""
    derived = derived_sql(fields, catalog)
    cols = [f"  {derived[f.id]} AS {f.id}" if f.id in derived else f"  {f.id}" for f in fields]
    return "SELECT\n" + ",\n".join(cols) + f"\nFROM {_ref('int_enterprise_base')}"


def profile_sql(catalog: EnterpriseCatalog) -> str:
    """The wide profile: every catalog field, computed as one projection of int_enterprise_base
    (derived fields inlined): measured, a 14-way join of per-category views kept ~60 sorters in
    one Spark stage and ran out of execution memory on a 2 GB driver."""
    lines = _jinja_head(["企业画像宽表: one row per enterprise, every catalog field (see docs/profile.md)."])
    lines.append("{{ config(meta={'publish': 'gold.enterprise_profile'}) }}")
    lines.append(_projection(catalog.fields, catalog))
    return "\n".join(lines) + "\n"


def tag_rule_sql(tags: list[Tag]) -> dict[str, str]:
    """tag id -> Spark SQL of its rule over the profile row, tag references inlined."""
    from govlake import rulelang

    return rulelang.inline_tags({t.id: t.node for t in tags}, rulelang.to_sql)


def tags_sql(tags: list[Tag], field_types: dict[str, str], *, profile: str = "enterprise_profile",
             key: str = "uscc", publish: str | None = None) -> str:
    """Long-form tags: one row per (key, tag that holds), with the evidence that made it hold."""
    from govlake import rulelang

    rule = tag_rule_sql(tags)
    lines = [HEADER, f"-- Tags in long form: one row per {key} and tag that holds."]
    if publish:
        lines.append(f"{{{{ config(meta={{'publish': '{publish}'}}) }}}}")

    def esc(s: str) -> str:
        return s.replace("'", "''")

    items = []
    for t in tags:
        ev = rulelang.evidence_sql(t.node, field_types)
        items.append(
            f"    CASE WHEN coalesce({rule[t.id]}, false) THEN named_struct('tag_id', '{t.id}', "
            f"'tag_name', '{esc(t.name)}', 'tag_group', '{esc(t.group_label)}', 'evidence', {ev}) END")
    lines.append("WITH hits AS (\n  SELECT " + key + ", filter(array(\n" + ",\n".join(items)
                 + "\n  ), t -> t IS NOT NULL) AS tags\n  FROM " + _ref(profile) + "\n),\nlong AS (\n"
                 f"  SELECT {key}, inline(tags) FROM hits\n)")
    lines.append(f"SELECT {key}, tag_id, tag_name, tag_group, CAST({_as_of()} AS DATE) AS since, "
                 f"CAST(evidence AS STRING) AS evidence\nFROM long")
    return "\n".join(lines) + "\n"
