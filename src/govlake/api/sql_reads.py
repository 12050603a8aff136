"""Read-only SQL over a consumer's granted products (POST /sql, 数据产品SQL查询), in DuckDB.

A statement passes only if DuckDB's own parser reads exactly one SELECT from it, with no table
function anywhere (read_csv, read_parquet, query_table, duckdb_settings ...) and every table it
names either a CTE of the statement or a data product `layer.name` (a file path written as a
table, `'file.csv'`, is a table name to the parser: refused like any unknown name). Everything
else (DDL, INSERT, COPY, ATTACH, INSTALL/LOAD, PRAGMA, SET, several statements) is refused
before anything runs.

Each product the statement names is authorised by govlake.access.reads as a row read is: the
caller's grant (403 without), the current release's version, the row scope applied before the
data reaches DuckDB, and only the columns the grant shows unmasked: a masked column does not
exist in the view, so it can be neither selected nor used in WHERE, GROUP BY or a join. The
rows are read through delta-rs into Arrow and registered in a fresh in-memory DuckDB connection
whose configuration is then locked with external access off, a memory limit and one thread;
the statement is interrupted after TIMEOUT_S. At most the caller's daily cap (and MAX_ROWS) of
result rows are returned; they count against the daily cap of every product read.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field

import duckdb

from govlake.access import reads
from govlake.lakehouse import arrow_reads
from govlake.products import Product

MAX_SQL_CHARS = 20_000
MAX_ROWS = 1000               # result rows per request, as GET /products/{name}
TIMEOUT_S = 10.0
MEMORY_LIMIT = "1GB"
MAX_PRODUCTS = 8


@dataclass
class SqlResult:
    columns: list[str]
    rows: list[dict]
    truncated: bool
    versions: dict[str, int] = field(default_factory=dict)


def sql_hash(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def _walk(node, tables: list[tuple[str, str, str]], ctes: set[str], functions: list[str]) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            functions.append(str((node.get("function") or {}).get("function_name") or "?"))
        elif kind == "BASE_TABLE":
            tables.append((node.get("catalog_name") or "", node.get("schema_name") or "", node.get("table_name") or ""))
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            ctes.update(str(e.get("key")) for e in cte_map.get("map") or [])
        for v in node.values():
            _walk(v, tables, ctes, functions)
    elif isinstance(node, list):
        for v in node:
            _walk(v, tables, ctes, functions)


def referenced_products(sql: str) -> list[str]:
    """The products (`layer.name`) a single read-only SELECT names; AccessDenied(400) for anything else."""
    if not sql.strip():
        raise reads.AccessDenied(400, "an SQL statement is required (请提供SQL语句)")
    if len(sql) > MAX_SQL_CHARS:
        raise reads.AccessDenied(422, f"the statement is longer than {MAX_SQL_CHARS} characters (SQL过长)")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise reads.AccessDenied(400, f"the statement does not parse (SQL语法错误): {str(e)[:300]}")
    if len(statements) != 1:
        raise reads.AccessDenied(400, f"exactly one statement, got {len(statements)} (仅限单条语句)")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise reads.AccessDenied(400, f"only SELECT is allowed, got {statements[0].type.name} (仅允许只读查询)")
    # a separate connection parses: json_serialize_sql takes the text as a bound parameter
    tree = json.loads(duckdb.connect(":memory:").execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise reads.AccessDenied(400, f"the statement does not parse (SQL语法错误): {str(tree.get('error_message'))[:300]}")
    tables: list[tuple[str, str, str]] = []
    ctes: set[str] = set()
    functions: list[str] = []
    _walk(tree.get("statements"), tables, ctes, functions)
    if functions:
        raise reads.AccessDenied(400, f"table functions are not allowed: {sorted(set(functions))[:5]} (不允许表函数或文件访问)")
    out: list[str] = []
    for cat, schema, name in tables:
        if not cat and not schema and name in ctes:
            continue
        if cat or not schema:
            raise reads.AccessDenied(400, f"{'.'.join(filter(None, (cat, schema, name)))!r} is not a data product: "
                                          f"name products as layer.name, e.g. gold.enterprise_profile (未知数据产品)")
        pname = f"{schema}.{name}".lower()  # unquoted SQL names are case-insensitive
        if pname not in out:
            out.append(pname)
    if not out:
        raise reads.AccessDenied(400, "the statement reads no data product (须查询数据产品)")
    if len(out) > MAX_PRODUCTS:
        raise reads.AccessDenied(400, f"at most {MAX_PRODUCTS} products in one statement (涉及数据产品过多)")
    return out


def _jsonable(v):
    """A DuckDB value JSON can carry: NaN and infinities as null, bytes as hex, nested values through."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_sql(lake, store, consumer: str, sql: str, granted: list[tuple[Product, object]]) -> SqlResult:
    """Run a statement that referenced_products passed over the granted products (each with the
    caller's grant, None for a 公开 product read without one)."""
    settings = lake.settings
    con = duckdb.connect(":memory:", config={"threads": 1, "memory_limit": MEMORY_LIMIT,
                                             "autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})
    hidden: set[str] = set()
    versions: dict[str, int] = {}
    limit = MAX_ROWS
    try:
        for i, (p, g) in enumerate(granted):
            reads.admit(store, consumer, p, g)  # one request against each product's grant (限流)
            if p.view:
                raise reads.AccessDenied(400, f"{p.name} is built on read: query it with GET /products/{p.name} "
                                              f"(该产品不支持SQL查询)")
            version = reads.served_version(lake, p, None)
            versions[p.name] = version
            # a table too large to hold is scanned where it lies, not materialised in this process
            # (outside DuckDB's memory limit): the row scope in the scan, DuckDB's filters pushed down
            large = reads.parquet_bytes(lake, p.name, version) > reads.SNAPSHOT_MAX_PARQUET_BYTES
            schema = reads.schema_of(lake, p.name, version)
            names = schema.names
            cols = reads.visible_columns(p, g, names, settings)
            hidden |= set(names) - set(cols)
            where = reads.check_filters(p, g, {}, names, settings)  # the row scope
            where = {c: [reads.typed(c, v, schema.field(c).type) for v in vals] for c, vals in where.items()}
            limit = min(limit, reads.daily_remaining(store, consumer, p, g))
            source = (arrow_reads.lazy_scan(reads.table_path(lake, p.name), version, cols, where) if large
                      else reads.keyed_arrow(lake, p, version, cols, where, whole=True))
            con.register(f"_product_{i}", source)
            layer, _, name = p.name.partition(".")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
            # the view has the visible columns only (a lazy scan's source has every column)
            con.execute(f"CREATE VIEW {_quote(layer)}.{_quote(name)} AS SELECT {', '.join(map(_quote, cols))} "
                        f"FROM _product_{i}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        timer = threading.Timer(TIMEOUT_S, con.interrupt)
        timer.start()
        try:
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description]
            got = cur.fetchmany(limit + 1)
        except duckdb.InterruptException:
            raise reads.AccessDenied(408, f"the statement ran past {TIMEOUT_S:.0f} s and was cancelled (查询超时已取消)")
        except duckdb.BinderException as e:
            msg = str(e)
            masked = sorted(c for c in hidden if f'"{c}"' in msg)
            if masked:
                raise reads.AccessDenied(403, f"columns {masked[:5]} are masked or outside the grant: not usable "
                                              f"in SQL (脱敏或未授权字段不可查询)")
            raise reads.AccessDenied(400, f"the statement does not bind (SQL错误): {msg[:300]}")
        except duckdb.OutOfMemoryException:
            raise reads.AccessDenied(422, f"the statement needs more than {MEMORY_LIMIT} (查询超出内存上限)")
        except duckdb.Error as e:
            if "already been consumed" in str(e):  # a large table with deletion vectors is streamed once
                raise reads.AccessDenied(400, "a product too large to hold is read once per statement: name it once, "
                                              "e.g. WITH p AS MATERIALIZED (SELECT ... FROM layer.name) ... "
                                              "(大表每条语句只能读取一次)")
            raise reads.AccessDenied(400, f"the statement failed (SQL执行错误): {str(e)[:300]}")
        finally:
            timer.cancel()
    finally:
        con.close()
    rows = [{c: _jsonable(v) for c, v in zip(columns, r)} for r in got[:limit]]
    return SqlResult(columns, rows, len(got) > limit, versions)
