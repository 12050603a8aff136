"""Which SQL a consumer may submit (聚合查询校验), and the query the platform runs for it.

The text is parsed by DuckDB itself (`json_serialize_sql`, the parser that will run it), and the
tree is accepted only in one shape:

    SELECT <grouped columns>, <aggregates> FROM <product> [JOIN <product> USING (uscc)]
    [WHERE ...] GROUP BY <columns or scalar expressions of them> [ORDER BY ...]

Anything else is refused with the reason: other statements (DDL, COPY, ATTACH, INSTALL, PRAGMA do
not even serialise), several statements, CTEs, subqueries, set operations, table functions
(read_csv, read_parquet, query...), time travel (AT), SAMPLE, DISTINCT, LIMIT, HAVING, QUALIFY,
window functions, `*`, a column that is neither grouped nor aggregated (row-level output), the
enterprise key `uscc` anywhere but inside count(), and aggregates outside a small list: those that
return one enterprise's own value (min, max, first, any_value, list, string_agg, arg_max,
median...) are refused, and an aggregate takes a plain column (no CASE, no FILTER), so the set of
enterprises behind a cell is the set the WHERE and GROUP BY select, which is what k counts.

The executed query is the submitted tree plus hidden columns: the cell's enterprises
(list(DISTINCT uscc)) and, per aggregated column, the enterprises that have a value in it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

import duckdb

MAX_SQL_CHARS = 8000
ENTITY = "uscc"
MEMBERS = "__members"
CONTRIBUTORS_PREFIX = "__with_"
# aggregates whose result is a property of the whole cell, never one row's own value
AGGREGATES = {"count", "count_star", "sum", "avg", "mean", "stddev", "stddev_samp", "stddev_pop", "variance",
              "var_samp", "var_pop"}
# scalar functions that read the environment rather than the data
DENIED_FUNCTIONS = {"getenv", "current_setting", "getvariable", "read_text", "read_blob", "query", "query_table",
                    "error"}  # error(x) would carry a value out in its message
_POSITION_KEYS = {"alias", "query_location", "query_location_length"}


class QueryRefused(ValueError):
    """A submission refused (status: 400 malformed or not an aggregate, 403 not allowed to this
    consumer, 404 unknown or unpublished product)."""

    def __init__(self, reason: str, status: int = 400, public: str | None = None):
        super().__init__(reason)
        self.status = status
        self.public = public  # what the consumer is told, when the reason itself may quote data


@dataclass
class AggregateQuery:
    sql: str
    products: list[str]
    columns: set[str] = field(default_factory=set)       # every column name referenced
    measured: list[list[str]] = field(default_factory=list)  # aggregated columns, as written
    executable: str = ""


@functools.lru_cache(maxsize=1)
def _function_types() -> dict[str, frozenset[str]]:
    con = duckdb.connect()
    try:
        rows = con.execute("SELECT function_name, function_type FROM duckdb_functions()").fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for name, kind in rows:
        out.setdefault(name.lower(), set()).add(kind)
    return {k: frozenset(v) for k, v in out.items()}


def _serialise(con, sql: str) -> dict:
    return json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])


def _plain(node):
    """The tree without positions and aliases: two spellings of one expression compare equal."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k not in _POSITION_KEYS}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Checker:
    def __init__(self, q: AggregateQuery):
        self.q = q

    def from_table(self, node: dict) -> None:
        kind = node.get("type")
        if kind == "BASE_TABLE":
            if node.get("catalog_name") or node.get("at_clause") or node.get("sample") or node.get("column_name_alias"):
                raise QueryRefused("tables are read at their released version, whole (不允许时间旅行、抽样或改列名)")
            if not node.get("schema_name"):
                raise QueryRefused(f"name products as layer.table, e.g. gold.enterprise_profile, not {node.get('table_name')!r}")
            self.q.products.append(f"{node['schema_name']}.{node['table_name']}".lower())
        elif kind == "JOIN":
            if node.get("condition") is not None or [c.lower() for c in node.get("using_columns") or []] != [ENTITY]:
                raise QueryRefused("products are joined only on the enterprise: JOIN ... USING (uscc) (仅可按企业关联)")
            if node.get("ref_type") != "REGULAR" or node.get("join_type") not in {"INNER", "LEFT"} or node.get("sample"):
                raise QueryRefused("only INNER or LEFT JOIN ... USING (uscc) (不支持的关联方式)")
            self.from_table(node["left"])
            self.from_table(node["right"])
        elif kind == "TABLE_FUNCTION":
            name = (node.get("function") or {}).get("function_name", "?")
            raise QueryRefused(f"table function {name}() is not allowed: only granted products are read (禁止读取文件或表函数)")
        elif kind == "SUBQUERY":
            raise QueryRefused("subqueries are not allowed (不允许子查询)")
        else:
            raise QueryRefused(f"FROM {kind or 'nothing'} is not allowed: FROM a granted product (须查询已授权的数据产品)")

    def expr(self, e, *, in_aggregate: str | None = None, where: str) -> None:
        """Walk an expression. in_aggregate: the aggregate it is inside; where: the clause."""
        if isinstance(e, list):
            for x in e:
                self.expr(x, in_aggregate=in_aggregate, where=where)
            return
        if not isinstance(e, dict):
            return
        cls = e.get("class")
        if cls is None:  # a wrapper (a function argument, a CASE branch): walk what it holds
            for v in e.values():
                self.expr(v, in_aggregate=in_aggregate, where=where)
            return
        if cls == "STAR":
            raise QueryRefused("SELECT * returns rows: select grouped columns and aggregates (不允许返回明细行)")
        if cls == "SUBQUERY":
            raise QueryRefused("subqueries are not allowed (不允许子查询)")
        if cls == "WINDOW":
            raise QueryRefused("window functions return a value per row (不允许窗口函数)")
        if cls == "PARAMETER":
            raise QueryRefused("parameters are not supported (不支持参数)")
        if cls == "COLUMN_REF":
            name = e["column_names"][-1].lower()
            self.q.columns.add(name)
            if name == ENTITY and in_aggregate != "count":
                raise QueryRefused("the enterprise key uscc may appear only as count(uscc) / count(DISTINCT uscc): "
                                   "no grouping, filtering or output by enterprise (不允许按企业取数)")
            return
        if cls == "FUNCTION":
            self.function(e, in_aggregate=in_aggregate, where=where)
            return
        for k, v in e.items():
            if isinstance(v, (dict, list)):
                self.expr(v, in_aggregate=in_aggregate, where=where)

    def function(self, e: dict, *, in_aggregate: str | None, where: str) -> None:
        name = e["function_name"].lower()
        if e.get("schema") or e.get("catalog"):
            raise QueryRefused(f"function {e['schema']}.{name} is not allowed (不允许的函数)")
        kinds = _function_types().get(name, frozenset())
        if name in DENIED_FUNCTIONS or not kinds:
            raise QueryRefused(f"function {name}() is not allowed (不允许的函数)")
        if "aggregate" in kinds:
            if where != "select" or in_aggregate:
                raise QueryRefused(f"aggregate {name}() is allowed only in the SELECT list, not nested (聚合函数位置不合法)")
            if name not in AGGREGATES:
                raise QueryRefused(f"aggregate {name}() can return one enterprise's own value; allowed: "
                                   f"{', '.join(sorted(AGGREGATES - {'count_star'}))} (该聚合函数会泄露单个企业取值)")
            if e.get("filter") is not None or (e.get("order_bys") or {}).get("orders") or e.get("export_state"):
                raise QueryRefused(f"{name}() takes no FILTER or ORDER BY: filter in WHERE (聚合内不允许筛选)")
            if e.get("distinct") and name != "count":
                raise QueryRefused("DISTINCT is allowed in count() only (仅 count 可去重)")
            for a in e.get("arguments") or []:
                arg = a.get("expression") if isinstance(a, dict) and "class" not in a else a
                if not isinstance(arg, dict) or arg.get("class") != "COLUMN_REF":
                    raise QueryRefused(f"{name}() takes a plain column: no expressions or CASE inside an aggregate "
                                       f"(聚合函数的参数须为字段)")
                self.expr(arg, in_aggregate=name, where=where)
                if name != "count" or not e.get("distinct"):
                    self.q.measured.append(arg["column_names"])
            return
        if not kinds & {"scalar", "macro"}:
            raise QueryRefused(f"function {name}() ({', '.join(sorted(kinds))}) is not allowed (不允许的函数)")
        self.expr(e.get("arguments") or [], in_aggregate=in_aggregate, where=where)


def _columns_outside_aggregates(e, out: list) -> None:
    if isinstance(e, list):
        for x in e:
            _columns_outside_aggregates(x, out)
    elif isinstance(e, dict):
        if e.get("class") == "COLUMN_REF":
            out.append(e["column_names"][-1].lower())
        elif e.get("class") == "FUNCTION" and "aggregate" in _function_types().get(e["function_name"].lower(), ()):
            return
        else:
            for v in e.values():
                _columns_outside_aggregates(v, out)


def parse(sql: str) -> AggregateQuery:
    """The submitted text checked (QueryRefused with the reason) and its executable form."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefused("empty query (查询为空)")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"a query is at most {MAX_SQL_CHARS} characters (查询过长)")
    con = duckdb.connect()
    try:
        tree = _serialise(con, sql)
        if tree.get("error"):
            msg = tree.get("error_message", "")
            if "Only SELECT" in msg:
                raise QueryRefused("only a SELECT aggregate is accepted: no DDL, COPY, ATTACH, INSTALL, PRAGMA, SET "
                                   "(仅接受聚合查询)")
            raise QueryRefused(f"the query does not parse (查询语法错误): {msg[:300]}")
        statements = tree["statements"]
        if len(statements) != 1:
            raise QueryRefused("exactly one statement (仅接受一条查询)")
        node = statements[0]["node"]
        q = AggregateQuery(sql, [])
        _check_node(node, q)
        node["select_list"] += _hidden_columns(con, q)
        q.executable = con.execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchone()[0]
        return q
    except duckdb.Error as e:
        raise QueryRefused(f"the query does not parse (查询语法错误): {str(e)[:300]}")
    finally:
        con.close()


def _check_node(node: dict, q: AggregateQuery) -> None:
    if node.get("type") != "SELECT_NODE":
        raise QueryRefused("UNION / INTERSECT / EXCEPT are not allowed: one SELECT (不允许集合运算)")
    if (node.get("cte_map") or {}).get("map"):
        raise QueryRefused("WITH (CTEs) is not allowed (不允许公用表表达式)")
    for clause in ("having", "qualify", "sample"):
        if node.get(clause) is not None:
            raise QueryRefused(f"{clause.upper()} is not allowed (不允许 {clause.upper()})")
    for m in node.get("modifiers") or []:
        if m.get("type") != "ORDER_MODIFIER":
            raise QueryRefused(f"{m.get('type', '').replace('_MODIFIER', '')} is not allowed: only ORDER BY (仅允许排序)")
    c = _Checker(q)
    if any(s.get("class") == "STAR" for s in node.get("select_list") or []):
        raise QueryRefused("SELECT * returns rows: select grouped columns and aggregates (不允许返回明细行)")
    c.from_table(node.get("from_table") or {})
    if node.get("aggregate_handling") != "STANDARD_HANDLING":
        raise QueryRefused("GROUP BY ALL is not accepted: name the grouped columns (须列出分组字段)")
    groups = node.get("group_expressions") or []
    if not groups:
        raise QueryRefused("an aggregate with GROUP BY is required: per-row output is never released (须分组聚合)")
    if len(node.get("group_sets") or []) != 1 or sorted(node["group_sets"][0]) != list(range(len(groups))):
        raise QueryRefused("GROUPING SETS / ROLLUP / CUBE are not accepted (不支持分组集)")
    select = node.get("select_list") or []
    aliases = {s.get("alias", "").lower(): s for s in select if s.get("alias")}
    if any(a.startswith("__") for a in aliases):
        raise QueryRefused("output names starting with __ are reserved (保留名称)")
    resolved = []
    for g in groups:
        if g.get("class") == "CONSTANT" and (g.get("literal") or {}).get("kind") in {"INTEGER", "BIGINT"}:
            i = int(g["literal"]["text"])
            if not 1 <= i <= len(select):
                raise QueryRefused(f"GROUP BY {i}: no such output column (分组位置越界)")
            g = select[i - 1]
        elif g.get("class") == "COLUMN_REF" and len(g["column_names"]) == 1 \
                and g["column_names"][0].lower() in aliases \
                and _plain(aliases[g["column_names"][0].lower()]) != _plain(g):
            g = aliases[g["column_names"][0].lower()]
        c.expr(g, where="group")
        resolved.append(_plain(g))
    grouped_columns = {x["column_names"][-1].lower() for x in resolved if x.get("class") == "COLUMN_REF"}
    for s in select:
        if _plain(s) in resolved:
            c.expr(s, where="group")
            continue
        c.expr(s, where="select")
        loose = []
        _columns_outside_aggregates(s, loose)
        bad = [x for x in loose if x not in grouped_columns]
        if bad:
            raise QueryRefused(f"column {bad[0]} is neither grouped nor aggregated: only cells leave, never rows "
                               f"(非分组字段须聚合)")
    if not any(_plain(s) not in resolved for s in select):
        raise QueryRefused("the query has no aggregate: add count(*) or another aggregate (缺少聚合函数)")
    c.expr(node.get("where_clause"), where="where")
    for m in node.get("modifiers") or []:
        for o in m.get("orders") or []:
            loose = []
            _columns_outside_aggregates(o["expression"], loose)
            c.expr(o["expression"], where="select")
            bad = [x for x in loose if x not in grouped_columns | set(aliases)]
            if bad:
                raise QueryRefused(f"ORDER BY {bad[0]}: order by grouped columns or outputs (排序字段须为分组字段或输出)")


def _hidden_columns(con, q: AggregateQuery) -> list[dict]:
    """The cell's enterprises and, per aggregated column, the enterprises with a value in it (an
    aggregate over a column skips nulls, so those are the enterprises its figure is made of)."""
    parts = [f"list(DISTINCT {ENTITY}) AS {MEMBERS}"]
    for i, names in enumerate(q.measured):
        col = ".".join(_quote(n) for n in names)
        parts.append(f"list(DISTINCT {ENTITY}) FILTER (WHERE {col} IS NOT NULL) AS {CONTRIBUTORS_PREFIX}{i}")
    tree = _serialise(con, f"SELECT {', '.join(parts)} FROM t")
    return tree["statements"][0]["node"]["select_list"]
