"""Row rules of catalog/sources.yaml as Spark SQL text (vectorised, no Python UDFs).

SQL text rather than DataFrame-API calls: every API call is a round trip to the JVM, and a
source's checks are a few hundred expressions (DESIGN.md: generate SQL for wide work).

normalised(source): `_n_<col>`, the text every rule checks and bronze stores: trimmed (also
full-width and no-break spaces), null when empty; in code columns (a uscc check or a pattern)
full-width digits and letters folded to half-width, a uscc upper-cased. So what passes a check
is exactly what is stored. derived(source): typed value `_v_<col>` of each normalised column
(null when empty or unparseable) and `_x_<col>`, the expected USCC check character. reason(source): a struct
(rule, column, detail) of the first failing check in rule order, or null. duplicate_key is
decided afterwards among the rows that pass everything else (first by file + line order wins).
"""

from __future__ import annotations

from govlake.catalog import RULES, Column, Source, SourcesCatalog
from govlake.generate.uscc import ALPHABET, WEIGHTS

SPARK_TYPES = {"string": "string", "int": "int", "long": "bigint", "double": "double",
               "date": "date", "timestamp": "timestamp", "boolean": "boolean"}
INT_RE = r"^[+-]?[0-9]+$"
DOUBLE_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
TRUE = ("true", "1", "是", "y", "yes")
FALSE = ("false", "0", "否", "n", "no")


def lit(s: str) -> str:
    """A Spark SQL string literal."""
    return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"


def q(c: str) -> str:
    return f"`{c}`"


FULL_WIDTH = "".join(chr(0xFF10 + i) for i in range(10)) + "".join(chr(0xFF21 + i) for i in range(26)) \
    + "".join(chr(0xFF41 + i) for i in range(26))
HALF_WIDTH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
EDGE_SPACE = r"^[\s\u3000\u00a0\ufeff]+|[\s\u3000\u00a0\ufeff]+$"


def n(c: str) -> str:
    """The normalised text column of raw column c."""
    return f"`_n_{c}`"


def missing(c: str) -> str:
    return f"({n(c)} IS NULL)"


def normalised(source: Source) -> list[str]:
    codes = set(source.code_columns)
    out = []
    for c in source.columns:
        e = f"nullif(regexp_replace({q(c.name)}, {lit(EDGE_SPACE)}, ''), '')"
        if c.name in codes:
            e = f"translate({e}, {lit(FULL_WIDTH)}, {lit(HALF_WIDTH)})"
        if c.check == "uscc":
            e = f"upper({e})"
        out.append(f"{e} AS `_n_{c.name}`")
    return out


def parsed(col: Column, formats: dict[str, str]) -> str:
    t = n(col.name)
    if col.type == "string":
        return t
    if col.type in ("int", "long", "double"):
        rx = INT_RE if col.type != "double" else DOUBLE_RE
        return f"CASE WHEN {t} RLIKE {lit(rx)} THEN CAST({t} AS {SPARK_TYPES[col.type]}) END"
    if col.type == "date":
        return f"to_date({t}, {lit(formats['date'])})"
    if col.type == "timestamp":
        return f"to_timestamp({t}, {lit(formats['timestamp'])})"
    if col.type == "boolean":
        ins = lambda vs: ", ".join(lit(v) for v in vs)  # noqa: E731
        return f"CASE WHEN lower({t}) IN ({ins(TRUE)}) THEN true WHEN lower({t}) IN ({ins(FALSE)}) THEN false END"
    raise ValueError(col.type)


def uscc_expected(c: str) -> str:
    """GB 32100-2015 check character of the first 17 characters."""
    terms = " + ".join(f"(instr('{ALPHABET}', substr({n(c)}, {i + 1}, 1)) - 1) * {w}" for i, w in enumerate(WEIGHTS))
    return f"substr('{ALPHABET}', ((31 - (({terms}) % 31)) % 31) + 1, 1)"


def derived(source: Source, catalog: SourcesCatalog) -> list[str]:
    out = [f"{parsed(c, catalog.formats)} AS `_v_{c.name}`" for c in source.columns]
    out += [f"{uscc_expected(c.name)} AS `_x_{c.name}`" for c in source.columns if c.check == "uscc"]
    return out


def _name(col: Column) -> str:
    return f"{col.name} ({col.label})"


def checks(source: Source, catalog: SourcesCatalog) -> list[tuple[str, str, str, str]]:
    """(rule, column, failing condition, detail) in rule order; needs the normalised and derived columns."""
    fmts = catalog.formats
    by_name = {c.name: c for c in source.columns}
    out = []
    for c in source.columns:
        r, v, nm = q(c.name), f"`_v_{c.name}`", _name(c)
        out.append(("bad_encoding", c.name, f"instr({r}, '\ufffd') > 0",
                    lit(f"{nm} contains undecodable bytes (U+FFFD): that part of the file is not valid UTF-8")))
        if c.required:
            out.append(("required", c.name, missing(c.name), lit(f"{nm} is required but empty")))
        if c.type != "string":
            fmt = f" (format {fmts[c.type]})" if c.type in fmts else ""
            out.append(("type", c.name, f"NOT {missing(c.name)} AND {v} IS NULL",
                        f"concat({lit(f'{nm} value ')}, {lit(chr(39))}, {r}, {lit(f' is not a valid {c.type}{fmt}')})"))
        if c.enum:
            shown = ", ".join(c.enum[:8]) + (" ..." if len(c.enum) > 8 else "")
            allowed = ", ".join(lit(e) for e in c.enum)
            out.append(("enum", c.name, f"NOT {missing(c.name)} AND {n(c.name)} NOT IN ({allowed})",
                        f"concat({lit(f'{nm} value ')}, {r}, {lit(f' is not one of [{shown}]')})"))
        if c.min is not None or c.max is not None:
            parts = ([f"{v} < {c.min}"] if c.min is not None else []) + ([f"{v} > {c.max}"] if c.max is not None else [])
            out.append(("range", c.name, f"{v} IS NOT NULL AND ({' OR '.join(parts)})",
                        f"concat({lit(f'{nm} value ')}, {r}, {lit(f' is outside [{c.min}, {c.max}]')})"))
        if c.pattern:
            out.append(("pattern", c.name, f"NOT {missing(c.name)} AND NOT ({n(c.name)} RLIKE {lit(c.pattern)})",
                        f"concat({lit(f'{nm} value ')}, {r}, {lit(f' does not match {c.pattern}')})"))
        if c.check == "uscc":
            x = f"`_x_{c.name}`"
            ok = f"({n(c.name)} RLIKE '^[{ALPHABET}]{{18}}$' AND substr({n(c.name)}, 18, 1) = {x})"
            out.append(("uscc", c.name, f"NOT {missing(c.name)} AND NOT {ok}",
                        f"concat({lit(f'{nm} ')}, {r}, {lit(' fails the GB 32100-2015 check (expected check character ')}, "
                        f"coalesce({x}, '?'), {lit(' or an 18-character code)')})"))
        if c.after:
            base = by_name[c.after]
            bv = f"`_v_{base.name}`"
            out.append(("after", c.name, f"{v} IS NOT NULL AND {bv} IS NOT NULL AND {v} < {bv}",
                        f"concat({lit(f'{nm} ')}, {r}, {lit(f' is before {_name(base)} ')}, {q(base.name)})"))
    order = {r: i for i, r in enumerate(RULES)}
    return sorted(out, key=lambda x: order[x[0]])  # stable: column order kept within a rule


def reason(source: Source, catalog: SourcesCatalog) -> str:
    """SQL: named_struct(rule, column, detail) of the first failing check, or null."""
    cases = [f"CASE WHEN {cond} THEN named_struct('rule', {lit(rule)}, 'column', {lit(col)}, 'detail', {detail}) END"
             for rule, col, cond, detail in checks(source, catalog)]
    return f"coalesce({', '.join(cases)})"
