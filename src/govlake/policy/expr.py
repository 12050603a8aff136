"""The policy rule language: a small, safe expression language over profile fields and tags.

A rule is Python-looking text parsed with `ast` (mode="eval") and checked node by node against a
whitelist; nothing is ever eval'd. The checked tree (IR) has two back ends that must agree:
`to_sql` (Spark SQL over the whole population) and `to_py` (a closure for one enterprise).

Grammar (what the whitelist allows):
  literals        12, 0.05, '小型', True, [1, 2], ['A', 'B']
  names           a profile field (catalog) or a policy parameter (resolved to a literal by date)
  arithmetic      + - * /  and unary -          (x / 0 is null, as in Spark with ANSI off)
  comparisons     == != < <= > >=, chained (a <= x < b), x in [...], x not in [...]
  logic           and, or, not                  (SQL three-valued logic, null = unknown)
  conditional     a if cond else b              (null cond -> null)
  helpers         has_tag('hnte')               enterprise carries the tag (never null)
                  cert_valid('hnte')            = field cert_valid_hnte
                  between(x, lo, hi)            lo <= x <= hi
                  piecewise(x, [b1, b2], [v0, v1, v2])   v0 if x <= b1, v1 if x <= b2, else v2
                  steps(x, [b1, b2], [v0, v1, v2])       v0 if x < b1, v1 if x < b2, else v2
                  coalesce(x, default), min(a, b), max(a, b)   (min/max: null if either is null)
                  starts_with(x, ['C39', 'I65'])  string x starts with one of the prefixes
Types: num, str, bool (and lists of num/str as literals). A wrong type, an unknown name or a
construct outside the whitelist raises RuleError naming the policy and clause.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

NUM, STR, BOOL = "num", "str", "bool"
FIELD_TYPES = {"string": STR, "double": NUM, "int": NUM, "long": NUM, "float": NUM,
               "decimal": NUM, "boolean": BOOL, "bool": BOOL}


class RuleError(ValueError):
    """A rule that does not parse or check. The message names the policy and clause."""


# -- IR ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    typ: str


@dataclass(frozen=True)
class Field(Node):
    name: str


@dataclass(frozen=True)
class Lit(Node):
    value: Any


@dataclass(frozen=True)
class ListLit(Node):
    values: tuple


@dataclass(frozen=True)
class Cmp(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class InList(Node):
    x: Node
    values: tuple
    negate: bool


@dataclass(frozen=True)
class Logic(Node):
    op: str  # and | or
    items: tuple


@dataclass(frozen=True)
class Not(Node):
    x: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    x: Node


@dataclass(frozen=True)
class HasTag(Node):
    tag: str


@dataclass(frozen=True)
class IfElse(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(frozen=True)
class Bands(Node):
    x: Node
    bounds: tuple
    values: tuple
    upper_inclusive: bool  # piecewise: x <= b ; steps: x < b


@dataclass(frozen=True)
class Coalesce(Node):
    x: Node
    default: Node


@dataclass(frozen=True)
class StartsWith(Node):
    x: Node
    prefixes: tuple


@dataclass(frozen=True)
class MinMax(Node):
    op: str  # min | max
    a: Node
    b: Node


# -- parser / checker ----------------------------------------------------------------------
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class _Checker:
    def __init__(self, fields: dict[str, str], params: dict[str, Any], where: str,
                 tags: set[str] | None, cert_keys: set[str] | None):
        self.fields, self.params, self.where = fields, params, where
        self.tags, self.cert_keys = tags, cert_keys
        self.used_fields: set[str] = set()
        self.used_tags: set[str] = set()

    def err(self, msg: str) -> RuleError:
        return RuleError(f"{self.where}: {msg}")

    def field(self, name: str) -> Field:
        if name not in self.fields:
            raise self.err(f"unknown field {name!r} (not in the enterprise field catalog)")
        t = FIELD_TYPES.get(self.fields[name])
        if t is None:
            raise self.err(f"field {name!r} has type {self.fields[name]!r}, which rules cannot use")
        self.used_fields.add(name)
        return Field(t, name)

    def literal(self, v: Any, what: str = "value") -> Node:
        if isinstance(v, bool):
            return Lit(BOOL, v)
        if isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                raise self.err(f"{what} must be a finite number")
            return Lit(NUM, v)
        if isinstance(v, str):
            return Lit(STR, v)
        if isinstance(v, (list, tuple)):
            items = [self.literal(x, what) for x in v]
            kinds = {i.typ for i in items}
            if len(kinds) > 1 or not items or kinds == {BOOL}:
                raise self.err(f"{what} list must be non-empty numbers or strings, got {v!r}")
            return ListLit(kinds.pop(), tuple(i.value for i in items))
        raise self.err(f"{what} {v!r} is not a number, string, boolean or list")

    def const_list(self, node: ast.AST, what: str) -> ListLit:
        n = self.visit(node)
        if not isinstance(n, ListLit):
            raise self.err(f"{what} must be a literal list or a list parameter")
        return n

    def expect(self, n: Node, typ: str, what: str) -> Node:
        if n.typ != typ:
            raise self.err(f"{what} must be {typ}, got {n.typ}")
        return n

    def visit(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Constant):
            if node.value is None:
                raise self.err("None is not allowed; a missing value is already 'unknown'")
            return self.literal(node.value)
        if isinstance(node, (ast.List, ast.Tuple)):
            vals = []
            for e in node.elts:
                if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant):
                    vals.append(-e.operand.value)
                elif isinstance(e, ast.Constant):
                    vals.append(e.value)
                else:
                    raise self.err("list items must be literals")
            return self.literal(vals, "list")
        if isinstance(node, ast.Name):
            if node.id in self.params:
                return self.literal(self.params[node.id], f"parameter {node.id!r}")
            return self.field(node.id)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            items = tuple(self.expect(self.visit(v), BOOL, f"operand of {op!r}") for v in node.values)
            return Logic(BOOL, op, items)
        if isinstance(node, ast.UnaryOp):
            x = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return Not(BOOL, self.expect(x, BOOL, "operand of 'not'"))
            if isinstance(node.op, ast.USub):
                if isinstance(x, Lit):
                    return Lit(NUM, -self.expect(x, NUM, "operand of '-'").value)
                return Neg(NUM, self.expect(x, NUM, "operand of '-'"))
            raise self.err(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            op = _ARITH.get(type(node.op))
            if op is None:
                raise self.err(f"operator {type(node.op).__name__} is not allowed (use + - * /)")
            return Arith(NUM, op, self.expect(self.visit(node.left), NUM, f"left of {op!r}"),
                         self.expect(self.visit(node.right), NUM, f"right of {op!r}"))
        if isinstance(node, ast.Compare):
            parts = []
            left = self.visit(node.left)
            for op, comp in zip(node.ops, node.comparators):
                if isinstance(op, (ast.In, ast.NotIn)):
                    lst = self.const_list(comp, "right side of 'in'")
                    if lst.typ != left.typ:
                        raise self.err(f"'in' compares {left.typ} with a list of {lst.typ}")
                    parts.append(InList(BOOL, left, lst.values, isinstance(op, ast.NotIn)))
                    left = None
                    continue
                if left is None:
                    raise self.err("'in' cannot be chained")
                sym = _CMP.get(type(op))
                if sym is None:
                    raise self.err(f"comparison {type(op).__name__} is not allowed")
                right = self.visit(comp)
                if left.typ != right.typ or left.typ not in (NUM, STR, BOOL):
                    raise self.err(f"cannot compare {left.typ} with {right.typ} using {sym!r}")
                if left.typ == BOOL and sym not in ("==", "!="):
                    raise self.err(f"booleans only compare with == or !=, not {sym!r}")
                parts.append(Cmp(BOOL, sym, left, right))
                left = right
            return parts[0] if len(parts) == 1 else Logic(BOOL, "and", tuple(parts))
        if isinstance(node, ast.IfExp):
            cond = self.expect(self.visit(node.test), BOOL, "condition of 'if'")
            a, b = self.visit(node.body), self.visit(node.orelse)
            if a.typ != b.typ or a.typ == "list":
                raise self.err(f"both branches of 'if' must have one type, got {a.typ} and {b.typ}")
            return IfElse(a.typ, cond, a, b)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.err(f"{type(node).__name__} is not allowed in a rule")

    def _str_arg(self, node: ast.Call, fn: str) -> str:
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Constant) \
                or not isinstance(node.args[0].value, str):
            raise self.err(f"{fn}() takes one quoted id, e.g. {fn}('hnte')")
        return node.args[0].value

    def call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.err("only the listed helper functions may be called")
        fn, args = node.func.id, node.args
        if node.keywords:
            raise self.err(f"{fn}() takes no keyword arguments")
        if fn == "has_tag":
            tag = self._str_arg(node, fn)
            if self.tags is not None and tag not in self.tags:
                raise self.err(f"unknown tag {tag!r} (not in the enterprise tag catalog)")
            self.used_tags.add(tag)
            return HasTag(BOOL, tag)
        if fn == "cert_valid":
            key = self._str_arg(node, fn)
            if self.cert_keys is not None and key not in self.cert_keys:
                raise self.err(f"unknown certificate type {key!r} (see catalog/certificate_types.yaml)")
            return self.expect(self.field(f"cert_valid_{key}"), BOOL, f"cert_valid('{key}')")
        if fn == "between":
            if len(args) != 3:
                raise self.err("between(x, lo, hi) takes three arguments")
            x, lo, hi = (self.expect(self.visit(a), NUM, "between() argument") for a in args)
            return Logic(BOOL, "and", (Cmp(BOOL, ">=", x, lo), Cmp(BOOL, "<=", x, hi)))
        if fn in ("piecewise", "steps"):
            if len(args) != 3:
                raise self.err(f"{fn}(x, bounds, values) takes three arguments")
            x = self.expect(self.visit(args[0]), NUM, f"{fn}() input")
            bounds, values = self.const_list(args[1], f"{fn}() bounds"), self.const_list(args[2], f"{fn}() values")
            if bounds.typ != NUM or list(bounds.values) != sorted(bounds.values):
                raise self.err(f"{fn}() bounds must be ascending numbers, got {list(bounds.values)}")
            if len(values.values) != len(bounds.values) + 1:
                raise self.err(f"{fn}() needs len(values) = len(bounds) + 1, got {len(values.values)} and {len(bounds.values)}")
            return Bands(values.typ, x, bounds.values, values.values, fn == "piecewise")
        if fn == "coalesce":
            if len(args) != 2:
                raise self.err("coalesce(x, default) takes two arguments")
            x, d = self.visit(args[0]), self.visit(args[1])
            if x.typ != d.typ:
                raise self.err(f"coalesce() default must be {x.typ}, got {d.typ}")
            return Coalesce(x.typ, x, d)
        if fn == "starts_with":
            if len(args) != 2:
                raise self.err("starts_with(x, ['C39', ...]) takes two arguments")
            x = self.expect(self.visit(args[0]), STR, "starts_with() input")
            lst = self.const_list(args[1], "starts_with() prefixes")
            if lst.typ != STR or not all(p.isalnum() for p in lst.values):
                raise self.err("starts_with() prefixes must be letters and digits")
            return StartsWith(BOOL, x, lst.values)
        if fn in ("min", "max"):
            if len(args) != 2:
                raise self.err(f"{fn}(a, b) takes two arguments")
            a, b = (self.expect(self.visit(v), NUM, f"{fn}() argument") for v in args)
            return MinMax(NUM, fn, a, b)
        raise self.err(f"unknown function {fn}() (allowed: has_tag, cert_valid, between, piecewise, steps, coalesce, min, max, starts_with)")


@dataclass(frozen=True)
class Rule:
    text: str
    node: Node
    fields: frozenset
    tags: frozenset


def parse(text: str, fields: dict[str, str], params: dict[str, Any] | None = None, *,
          where: str = "rule", want: str | None = BOOL, tags: set[str] | None = None,
          cert_keys: set[str] | None = None) -> Rule:
    """Parse and check `text`. fields: field id -> catalog type; params: name -> literal value."""
    params = params or {}
    clash = set(params) & set(fields)
    if clash:
        raise RuleError(f"{where}: parameter name(s) {sorted(clash)} shadow profile fields")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise RuleError(f"{where}: syntax error in {text!r}: {e.msg} (column {e.offset})") from None
    c = _Checker(fields, params, where, tags, cert_keys)
    node = c.visit(tree.body)
    if want and node.typ != want:
        raise RuleError(f"{where}: rule must be {want}, got {node.typ}: {text!r}")
    return Rule(text.strip(), node, frozenset(c.used_fields), frozenset(c.used_tags))


# -- Spark SQL back end ----------------------------------------------------------------------
TAGS_COL = "_tags"


def sql_lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        # Double literals: a bare 0.05 is DECIMAL in Spark and would round differently from Python.
        return f"CAST({float(v)!r} AS DOUBLE)"
    s = str(v).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{s}'"


def to_sql(n: Node) -> str:
    if isinstance(n, Field):
        return f"`{n.name}`"
    if isinstance(n, Lit):
        return sql_lit(n.value)
    if isinstance(n, Cmp):
        op = "=" if n.op == "==" else n.op
        return f"({to_sql(n.left)} {op} {to_sql(n.right)})"
    if isinstance(n, InList):
        return f"({to_sql(n.x)} {'NOT IN' if n.negate else 'IN'} ({', '.join(sql_lit(v) for v in n.values)}))"
    if isinstance(n, Logic):
        return "(" + f" {n.op.upper()} ".join(to_sql(i) for i in n.items) + ")"
    if isinstance(n, Not):
        return f"(NOT {to_sql(n.x)})"
    if isinstance(n, Arith):
        return f"({to_sql(n.left)} {n.op} {to_sql(n.right)})"
    if isinstance(n, Neg):
        return f"(- {to_sql(n.x)})"
    if isinstance(n, HasTag):
        return f"array_contains({TAGS_COL}, {sql_lit(n.tag)})"
    if isinstance(n, IfElse):
        c = to_sql(n.cond)
        return f"(CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN {to_sql(n.then)} ELSE {to_sql(n.other)} END)"
    if isinstance(n, Bands):
        x = to_sql(n.x)
        op = "<=" if n.upper_inclusive else "<"
        whens = " ".join(f"WHEN {x} {op} {sql_lit(b)} THEN {sql_lit(v)}" for b, v in zip(n.bounds, n.values))
        return f"(CASE WHEN {x} IS NULL THEN NULL {whens} ELSE {sql_lit(n.values[-1])} END)"
    if isinstance(n, Coalesce):
        return f"coalesce({to_sql(n.x)}, {to_sql(n.default)})"
    if isinstance(n, StartsWith):
        x = to_sql(n.x)
        return "(" + " OR ".join(f"startswith({x}, {sql_lit(p)})" for p in n.prefixes) + ")"
    if isinstance(n, MinMax):
        a, b = to_sql(n.a), to_sql(n.b)
        fn = "least" if n.op == "min" else "greatest"
        # least/greatest skip nulls in Spark; the language says null in -> null out.
        return f"(CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE {fn}({a}, {b}) END)"
    raise TypeError(f"no SQL for {n!r}")


# -- Python back end (one enterprise) --------------------------------------------------------
Fn = Callable[[dict, "set[str]"], Any]


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    return {"==": operator.eq, "!=": operator.ne, "<": operator.lt,
            "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]


def to_py(n: Node) -> Fn:
    """A closure (row, tags) -> value with SQL null semantics (None = unknown)."""
    if isinstance(n, Field):
        name = n.name
        return lambda r, t: r.get(name)
    if isinstance(n, Lit):
        v = float(n.value) if n.typ == NUM else n.value
        return lambda r, t: v
    if isinstance(n, Cmp) and isinstance(n.left, Field) and isinstance(n.right, Lit) and n.right.value is not None:
        # the common shape (field >= threshold), inlined: the online path runs ~700 per request
        name, f = n.left.name, _cmp(n.op)
        b = float(n.right.value) if n.right.typ == NUM else n.right.value

        def cmp_lit(r, t):
            a = r.get(name)
            return None if a is None else f(a, b)
        return cmp_lit
    if isinstance(n, Cmp):
        lf, rf, f = to_py(n.left), to_py(n.right), _cmp(n.op)

        def cmp(r, t):
            a = lf(r, t)
            if a is None:
                return None
            b = rf(r, t)
            return None if b is None else f(a, b)
        return cmp
    if isinstance(n, InList):
        xf, vals, neg = to_py(n.x), frozenset(float(v) if n.x.typ == NUM else v for v in n.values), n.negate

        def inl(r, t):
            x = xf(r, t)
            return None if x is None else ((x in vals) != neg)
        return inl
    if isinstance(n, Logic):
        fs = [to_py(i) for i in n.items]
        if n.op == "and":
            def land(r, t):
                unknown = False
                for f in fs:
                    v = f(r, t)
                    if v is False:
                        return False
                    if v is None:
                        unknown = True
                return None if unknown else True
            return land

        def lor(r, t):
            unknown = False
            for f in fs:
                v = f(r, t)
                if v is True:
                    return True
                if v is None:
                    unknown = True
            return None if unknown else False
        return lor
    if isinstance(n, Not):
        xf = to_py(n.x)

        def lnot(r, t):
            v = xf(r, t)
            return None if v is None else not v
        return lnot
    if isinstance(n, Arith):
        lf, rf, op = to_py(n.left), to_py(n.right), n.op

        def arith(r, t):
            a, b = lf(r, t), rf(r, t)
            if a is None or b is None:
                return None
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            return None if b == 0 else a / b
        return arith
    if isinstance(n, Neg):
        xf = to_py(n.x)

        def neg(r, t):
            v = xf(r, t)
            return None if v is None else -v
        return neg
    if isinstance(n, HasTag):
        tag = n.tag
        return lambda r, t: tag in t
    if isinstance(n, IfElse):
        cf, af, bf = to_py(n.cond), to_py(n.then), to_py(n.other)

        def ifelse(r, t):
            c = cf(r, t)
            if c is None:
                return None
            return af(r, t) if c else bf(r, t)
        return ifelse
    if isinstance(n, Bands):
        xf, incl = to_py(n.x), n.upper_inclusive
        bounds = [float(b) for b in n.bounds]
        values = [float(v) if n.typ == NUM else v for v in n.values]

        def bands(r, t):
            x = xf(r, t)
            if x is None:
                return None
            for b, v in zip(bounds, values):
                if (x <= b) if incl else (x < b):
                    return v
            return values[-1]
        return bands
    if isinstance(n, Coalesce):
        xf, df = to_py(n.x), to_py(n.default)

        def coalesce(r, t):
            v = xf(r, t)
            return df(r, t) if v is None else v
        return coalesce
    if isinstance(n, StartsWith):
        xf, prefixes = to_py(n.x), tuple(n.prefixes)

        def sw(r, t):
            x = xf(r, t)
            return None if x is None else x.startswith(prefixes)
        return sw
    if isinstance(n, MinMax):
        af, bf, pick = to_py(n.a), to_py(n.b), (min if n.op == "min" else max)

        def minmax(r, t):
            a, b = af(r, t), bf(r, t)
            return None if a is None or b is None else pick(a, b)
        return minmax
    raise TypeError(f"no evaluator for {n!r}")


def fields_of(n: Node) -> list[str]:
    """Field ids a node reads, in first-seen order."""
    out: list[str] = []

    def walk(x):
        if isinstance(x, Field):
            if x.name not in out:
                out.append(x.name)
            return
        for v in vars(x).values():
            if isinstance(v, Node):
                walk(v)
            elif isinstance(v, tuple):
                for i in v:
                    if isinstance(i, Node):
                        walk(i)
    walk(n)
    return out


# -- Arrow back end (a batch of enterprises, vectorised) --------------------------------------
# The batch matching job evaluates clauses with pyarrow.compute inside Spark (mapInArrow): one
# vectorised kernel per node over a record batch instead of generated JVM code per row. Null
# semantics are the SQL/Python ones above: Kleene and/or, null in -> null out, x / 0 -> null,
# has_tag never null. The batch holds the fields (numbers as float64) and TAGS_COL (list<string>).
ArrowFn = Callable[[Any], Any]  # pyarrow.RecordBatch -> pyarrow.Array (or Scalar for constants)


def _pa():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


_PC_CMP = {"==": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal", ">": "greater", ">=": "greater_equal"}


def arrow_lit(v: Any, typ: str):
    pa, _ = _pa()
    if typ == NUM:
        return pa.scalar(float(v), pa.float64())
    if typ == BOOL:
        return pa.scalar(bool(v), pa.bool_())
    return pa.scalar(str(v), pa.string())


def to_arrow(n: Node) -> ArrowFn:
    """A function batch -> Arrow array (or scalar) with the same values as to_py row by row."""
    pa, pc = _pa()
    null_bool = pa.scalar(None, pa.bool_())
    if isinstance(n, Field):
        name = n.name
        return lambda b: b.column(name)
    if isinstance(n, Lit):
        s = arrow_lit(n.value, n.typ)
        return lambda b: s
    if isinstance(n, Cmp):
        lf, rf, fn = to_arrow(n.left), to_arrow(n.right), getattr(pc, _PC_CMP[n.op])
        return lambda b: fn(lf(b), rf(b))
    if isinstance(n, InList):
        xf, neg = to_arrow(n.x), n.negate
        vals = pa.array([float(v) if n.x.typ == NUM else v for v in n.values],
                        pa.float64() if n.x.typ == NUM else pa.string())

        def inl(b):
            x = xf(b)
            hit = pc.is_in(x, value_set=vals)
            if neg:
                hit = pc.invert(hit)
            return pc.if_else(pc.is_valid(x), hit, null_bool)  # is_in says false for null; the language says unknown
        return inl
    if isinstance(n, Logic):
        fs = [to_arrow(i) for i in n.items]
        op = pc.and_kleene if n.op == "and" else pc.or_kleene

        def logic(b):
            acc = fs[0](b)
            for f in fs[1:]:
                acc = op(acc, f(b))
            return acc
        return logic
    if isinstance(n, Not):
        xf = to_arrow(n.x)
        return lambda b: pc.invert(xf(b))
    if isinstance(n, Arith):
        lf, rf, op = to_arrow(n.left), to_arrow(n.right), n.op
        if op == "/":
            null_num = pa.scalar(None, pa.float64())

            def div(b):
                d = rf(b)
                return pc.if_else(pc.equal(d, 0.0), null_num, pc.divide(lf(b), d))
            return div
        fn = {"+": pc.add, "-": pc.subtract, "*": pc.multiply}[op]
        return lambda b: fn(lf(b), rf(b))
    if isinstance(n, Neg):
        xf = to_arrow(n.x)
        return lambda b: pc.negate(xf(b))
    if isinstance(n, HasTag):
        tag = n.tag

        def has_tag(b):
            import numpy as np

            tags = b.column(TAGS_COL)
            out = np.zeros(len(tags), dtype=bool)
            flat = pc.list_flatten(tags)
            if len(flat):
                hit = pc.equal(flat, tag).to_numpy(zero_copy_only=False)
                out[pc.list_parent_indices(tags).to_numpy()[hit]] = True
            return pa.array(out, pa.bool_())
        return has_tag
    if isinstance(n, IfElse):
        cf, af, bf = to_arrow(n.cond), to_arrow(n.then), to_arrow(n.other)
        return lambda b: pc.if_else(cf(b), af(b), bf(b))  # null condition -> null, as in SQL/Python
    if isinstance(n, Bands):
        xf, op = to_arrow(n.x), (pc.less_equal if n.upper_inclusive else pc.less)
        bounds = [pa.scalar(float(v), pa.float64()) for v in n.bounds]
        values = [arrow_lit(v, n.typ) for v in n.values]

        def bands(b):
            x = xf(b)
            acc = values[-1]
            for bound, v in zip(reversed(bounds), reversed(values[:-1])):
                acc = pc.if_else(op(x, bound), v, acc)  # null x -> null
            if isinstance(acc, pa.Scalar):  # no bounds: constant unless x is null
                acc = pc.if_else(pc.is_valid(x), acc, pa.scalar(None, acc.type))
            return acc
        return bands
    if isinstance(n, Coalesce):
        xf, df = to_arrow(n.x), to_arrow(n.default)
        return lambda b: pc.coalesce(xf(b), df(b))
    if isinstance(n, StartsWith):
        xf, prefixes = to_arrow(n.x), tuple(n.prefixes)

        def sw(b):
            x = xf(b)
            acc = pc.starts_with(x, pattern=prefixes[0])
            for p in prefixes[1:]:
                acc = pc.or_kleene(acc, pc.starts_with(x, pattern=p))
            return acc
        return sw
    if isinstance(n, MinMax):
        af, bf = to_arrow(n.a), to_arrow(n.b)
        fn = pc.min_element_wise if n.op == "min" else pc.max_element_wise
        return lambda b: fn(af(b), bf(b), skip_nulls=False)
    raise TypeError(f"no Arrow evaluator for {n!r}")
