"""The rule language (规则语言) of the catalog: enterprise tags, policy tags and policy clauses.

A rule is Python-looking text parsed with `ast` (mode="eval") and checked node by node against a
whitelist and the catalog's field types; nothing is ever eval'd. The checked tree (IR) has three
back ends that must agree: `to_sql` (Spark SQL over a whole table), `to_arrow` (vectorised over a
record batch) and `to_py` (a closure for one row). The evidence helpers say which atoms made a
tag hold, in SQL, Arrow and Python. For catalog authors: docs/rules.md.

Grammar (what the whitelist allows):
  literals        12, 0.05, '小型', True, [1, 2], ['A', 'B']
  names           a field of the profile the rule reads (enterprise or policy profile), or a
                  policy parameter (resolved to a literal by date)
  arithmetic      + - * /  and unary -          (x / 0 is null, as in Spark with ANSI off)
  comparisons     == != < <= > >=, chained (a <= x < b), x in [...], x not in [...]
  null test       x is None, x is not None      (never null itself)
  logic           and, or, not                  (SQL three-valued logic, null = unknown)
  conditional     a if cond else b              (null cond -> null)
  helpers         has_tag('hnte')               the tag holds (policies: the enterprise carries it,
                                                never null; tag rules: that tag's rule, inlined)
                  cert_valid('hnte')            = field cert_valid_hnte
                  between(x, lo, hi)            lo <= x <= hi
                  piecewise(x, [b1, b2], [v0, v1, v2])   v0 if x <= b1, v1 if x <= b2, else v2
                  steps(x, [b1, b2], [v0, v1, v2])       v0 if x < b1, v1 if x < b2, else v2
                  coalesce(x, default), min(a, b), max(a, b)   (min/max: null if either is null)
                  starts_with(x, ['C39', 'I65'])  string x starts with one of the prefixes
Types: num, str, bool (and lists of num/str as literals). A wrong type, an unknown name or a
construct outside the whitelist raises RuleError naming the rule (tag, or policy and clause).
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from govlake.catalog.sources import CatalogError

NUM, STR, BOOL = "num", "str", "bool"
FIELD_TYPES = {"string": STR, "double": NUM, "int": NUM, "long": NUM, "float": NUM,
               "decimal": NUM, "boolean": BOOL, "bool": BOOL}


class RuleError(CatalogError):
    """A rule that does not parse or check. The message names the rule (tag, or policy and clause)."""


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
class IsNull(Node):
    x: Node
    negate: bool  # x is not None


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
            raise self.err(f"unknown field {name!r} (not a field of the profile the rule reads)")
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
                raise self.err("None is allowed only in a null test: x is None, x is not None")
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
                if isinstance(op, (ast.Is, ast.IsNot)):
                    if len(node.ops) != 1 or not (isinstance(comp, ast.Constant) and comp.value is None):
                        raise self.err("'is' only tests for null: x is None, x is not None")
                    return IsNull(BOOL, left, isinstance(op, ast.IsNot))
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
                raise self.err(f"unknown tag {tag!r} (not in the tag catalog)")
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


_HINTS = [(re.compile(r"(?<![<>=!])=(?!=)"), "compare with ==, not ="),
          (re.compile(r"\btag:"), "a tag is has_tag('x'), not tag:x"),
          (re.compile(r"\bis\s+(not\s+)?null\b", re.I), "test for null with x is None / x is not None"),
          (re.compile(r"<>"), "not equal is !=")]


def _hint(text: str) -> str:
    """What an author used to the SQL-like notation most likely meant."""
    hits = [h for pat, h in _HINTS if pat.search(text)]
    return f" ({'; '.join(hits)})" if hits else ""


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
        raise RuleError(f"{where}: syntax error in {text!r}: {e.msg} (column {e.offset}){_hint(text)}") from None
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


def to_sql(n: Node, tag_sql: Callable[[str], str] | None = None) -> str:
    """Spark SQL text. has_tag: `array_contains(_tags, ...)` over the enterprise's tag list, or,
    with tag_sql (tag id -> SQL of that tag's rule), the rule inlined: a tag rule over the profile
    row reads other tags' rules, null included."""
    if isinstance(n, Field):
        return f"`{n.name}`"
    if isinstance(n, Lit):
        return sql_lit(n.value)
    if isinstance(n, Cmp):
        op = "=" if n.op == "==" else n.op
        return f"({to_sql(n.left, tag_sql)} {op} {to_sql(n.right, tag_sql)})"
    if isinstance(n, InList):
        return f"({to_sql(n.x, tag_sql)} {'NOT IN' if n.negate else 'IN'} ({', '.join(sql_lit(v) for v in n.values)}))"
    if isinstance(n, Logic):
        return "(" + f" {n.op.upper()} ".join(to_sql(i, tag_sql) for i in n.items) + ")"
    if isinstance(n, Not):
        return f"(NOT {to_sql(n.x, tag_sql)})"
    if isinstance(n, Arith):
        return f"({to_sql(n.left, tag_sql)} {n.op} {to_sql(n.right, tag_sql)})"
    if isinstance(n, Neg):
        return f"(- {to_sql(n.x, tag_sql)})"
    if isinstance(n, IsNull):
        return f"({to_sql(n.x, tag_sql)} IS {'NOT ' if n.negate else ''}NULL)"
    if isinstance(n, HasTag):
        if tag_sql is not None:
            return f"({tag_sql(n.tag)})"
        return f"array_contains({TAGS_COL}, {sql_lit(n.tag)})"
    if isinstance(n, IfElse):
        c = to_sql(n.cond, tag_sql)
        return f"(CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN {to_sql(n.then, tag_sql)} ELSE {to_sql(n.other, tag_sql)} END)"
    if isinstance(n, Bands):
        x = to_sql(n.x, tag_sql)
        op = "<=" if n.upper_inclusive else "<"
        whens = " ".join(f"WHEN {x} {op} {sql_lit(b)} THEN {sql_lit(v)}" for b, v in zip(n.bounds, n.values))
        return f"(CASE WHEN {x} IS NULL THEN NULL {whens} ELSE {sql_lit(n.values[-1])} END)"
    if isinstance(n, Coalesce):
        return f"coalesce({to_sql(n.x, tag_sql)}, {to_sql(n.default, tag_sql)})"
    if isinstance(n, StartsWith):
        x = to_sql(n.x, tag_sql)
        return "(" + " OR ".join(f"startswith({x}, {sql_lit(p)})" for p in n.prefixes) + ")"
    if isinstance(n, MinMax):
        a, b = to_sql(n.a, tag_sql), to_sql(n.b, tag_sql)
        fn = "least" if n.op == "min" else "greatest"
        # least/greatest skip nulls in Spark; the language says null in -> null out.
        return f"(CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE {fn}({a}, {b}) END)"
    raise TypeError(f"no SQL for {n!r}")


# -- Python back end (one enterprise) --------------------------------------------------------
Fn = Callable[[dict, "set[str]"], Any]


def _cmp(op: str) -> Callable[[Any, Any], bool]:
    return {"==": operator.eq, "!=": operator.ne, "<": operator.lt,
            "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]


def to_py(n: Node, tag_py: Callable[[str], Fn] | None = None) -> Fn:
    """A closure (row, tags) -> value with SQL null semantics (None = unknown). has_tag: `tag in
    tags`, or, with tag_py (tag id -> that tag's closure), the tag's rule evaluated on the row."""
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
        lf, rf, f = to_py(n.left, tag_py), to_py(n.right, tag_py), _cmp(n.op)

        def cmp(r, t):
            a = lf(r, t)
            if a is None:
                return None
            b = rf(r, t)
            return None if b is None else f(a, b)
        return cmp
    if isinstance(n, InList):
        xf, vals, neg = to_py(n.x, tag_py), frozenset(float(v) if n.x.typ == NUM else v for v in n.values), n.negate

        def inl(r, t):
            x = xf(r, t)
            return None if x is None else ((x in vals) != neg)
        return inl
    if isinstance(n, Logic):
        fs = [to_py(i, tag_py) for i in n.items]
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
        xf = to_py(n.x, tag_py)

        def lnot(r, t):
            v = xf(r, t)
            return None if v is None else not v
        return lnot
    if isinstance(n, Arith):
        lf, rf, op = to_py(n.left, tag_py), to_py(n.right, tag_py), n.op

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
        xf = to_py(n.x, tag_py)

        def neg(r, t):
            v = xf(r, t)
            return None if v is None else -v
        return neg
    if isinstance(n, IsNull):
        xf, negate = to_py(n.x, tag_py), n.negate
        return lambda r, t: (xf(r, t) is None) != negate
    if isinstance(n, HasTag):
        tag = n.tag
        if tag_py is not None:
            return tag_py(tag)
        return lambda r, t: tag in t
    if isinstance(n, IfElse):
        cf, af, bf = to_py(n.cond, tag_py), to_py(n.then, tag_py), to_py(n.other, tag_py)

        def ifelse(r, t):
            c = cf(r, t)
            if c is None:
                return None
            return af(r, t) if c else bf(r, t)
        return ifelse
    if isinstance(n, Bands):
        xf, incl = to_py(n.x, tag_py), n.upper_inclusive
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
        xf, df = to_py(n.x, tag_py), to_py(n.default, tag_py)

        def coalesce(r, t):
            v = xf(r, t)
            return df(r, t) if v is None else v
        return coalesce
    if isinstance(n, StartsWith):
        xf, prefixes = to_py(n.x, tag_py), tuple(n.prefixes)

        def sw(r, t):
            x = xf(r, t)
            return None if x is None else x.startswith(prefixes)
        return sw
    if isinstance(n, MinMax):
        af, bf, pick = to_py(n.a, tag_py), to_py(n.b, tag_py), (min if n.op == "min" else max)

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


def _f64(v):
    """Numbers as float64: Spark widens int operands of a double literal to double, and Arrow
    divides ints as ints and wants one type in coalesce, is_in and min/max (tag rules read the
    profile's int columns; the policy batches already hold float64)."""
    pa, pc = _pa()
    return v if v.type == pa.float64() else pc.cast(v, pa.float64())


def to_arrow(n: Node, tag_arrow: Callable[[str], ArrowFn] | None = None) -> ArrowFn:
    """A function batch -> Arrow array (or scalar) with the same values as to_py row by row.
    has_tag reads TAGS_COL (list<string>), or, with tag_arrow (tag id -> that tag's function),
    the tag's rule on the batch."""
    pa, pc = _pa()
    null_bool = pa.scalar(None, pa.bool_())
    if isinstance(n, Field):
        name = n.name
        return lambda b: b.column(name)
    if isinstance(n, Lit):
        s = arrow_lit(n.value, n.typ)
        return lambda b: s
    if isinstance(n, Cmp):
        lf, rf, fn = to_arrow(n.left, tag_arrow), to_arrow(n.right, tag_arrow), getattr(pc, _PC_CMP[n.op])
        return lambda b: fn(lf(b), rf(b))
    if isinstance(n, InList):
        xf, neg = to_arrow(n.x, tag_arrow), n.negate
        vals = pa.array([float(v) if n.x.typ == NUM else v for v in n.values],
                        pa.float64() if n.x.typ == NUM else pa.string())

        num = n.x.typ == NUM

        def inl(b):
            x = _f64(xf(b)) if num else xf(b)
            hit = pc.is_in(x, value_set=vals)
            if neg:
                hit = pc.invert(hit)
            return pc.if_else(pc.is_valid(x), hit, null_bool)  # is_in says false for null; the language says unknown
        return inl
    if isinstance(n, Logic):
        fs = [to_arrow(i, tag_arrow) for i in n.items]
        op = pc.and_kleene if n.op == "and" else pc.or_kleene

        def logic(b):
            acc = fs[0](b)
            for f in fs[1:]:
                acc = op(acc, f(b))
            return acc
        return logic
    if isinstance(n, Not):
        xf = to_arrow(n.x, tag_arrow)
        return lambda b: pc.invert(xf(b))
    if isinstance(n, Arith):
        lf, rf, op = to_arrow(n.left, tag_arrow), to_arrow(n.right, tag_arrow), n.op
        if op == "/":
            null_num = pa.scalar(None, pa.float64())

            def div(b):
                d = _f64(rf(b))
                return pc.if_else(pc.equal(d, 0.0), null_num, pc.divide(_f64(lf(b)), d))
            return div
        fn = {"+": pc.add, "-": pc.subtract, "*": pc.multiply}[op]
        return lambda b: fn(_f64(lf(b)), _f64(rf(b)))
    if isinstance(n, Neg):
        xf = to_arrow(n.x, tag_arrow)
        return lambda b: pc.negate(xf(b))
    if isinstance(n, IsNull):
        xf, test = to_arrow(n.x, tag_arrow), (pc.is_valid if n.negate else pc.is_null)

        def isnull(b):
            x = xf(b)
            if isinstance(x, pa.Scalar):
                return pa.scalar(x.is_valid == n.negate, pa.bool_())
            return test(x)
        return isnull
    if isinstance(n, HasTag):
        tag = n.tag
        if tag_arrow is not None:
            return tag_arrow(tag)

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
        cf, af, bf = to_arrow(n.cond, tag_arrow), to_arrow(n.then, tag_arrow), to_arrow(n.other, tag_arrow)
        if n.typ == NUM:
            return lambda b: pc.if_else(cf(b), _f64(af(b)), _f64(bf(b)))
        return lambda b: pc.if_else(cf(b), af(b), bf(b))  # null condition -> null, as in SQL/Python
    if isinstance(n, Bands):
        xf, op = to_arrow(n.x, tag_arrow), (pc.less_equal if n.upper_inclusive else pc.less)
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
        xf, df = to_arrow(n.x, tag_arrow), to_arrow(n.default, tag_arrow)
        if n.typ == NUM:
            return lambda b: pc.coalesce(_f64(xf(b)), _f64(df(b)))
        return lambda b: pc.coalesce(xf(b), df(b))
    if isinstance(n, StartsWith):
        xf, prefixes = to_arrow(n.x, tag_arrow), tuple(n.prefixes)

        def sw(b):
            x = xf(b)
            acc = pc.starts_with(x, pattern=prefixes[0])
            for p in prefixes[1:]:
                acc = pc.or_kleene(acc, pc.starts_with(x, pattern=p))
            return acc
        return sw
    if isinstance(n, MinMax):
        af, bf = to_arrow(n.a, tag_arrow), to_arrow(n.b, tag_arrow)
        fn = pc.min_element_wise if n.op == "min" else pc.max_element_wise
        return lambda b: fn(_f64(af(b)), _f64(bf(b)), skip_nulls=False)
    raise TypeError(f"no Arrow evaluator for {n!r}")


# -- tag rules: has_tag inlines the referenced tag's rule ------------------------------------
def inline_tags(nodes: dict[str, Node], back_end: Callable) -> dict[str, Any]:
    """tag id -> its rule compiled by back_end (to_sql or to_py), each has_tag('x') compiled as
    tag x's own rule (computed once per tag; the catalog loader rejects cycles)."""
    done: dict[str, Any] = {}

    def compiled(tid: str):
        if tid not in done:
            done[tid] = back_end(nodes[tid], compiled)
        return done[tid]

    return {tid: compiled(tid) for tid in nodes}


# -- evidence (命中依据): which atoms made a tag hold -------------------------------------------
OP_SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "=", "!=": "≠"}
NUM4_TYPES = {"double", "number"}  # catalog types whose values are shown rounded (num4)


def evidence_atoms(node: Node) -> list[tuple[Node, bool]]:
    """The atoms under a rule's and/or/not, in order, each with whether it is reported when
    true (False under an odd number of NOTs: then being false is what made the rule hold)."""
    out: list[tuple[Node, bool]] = []

    def walk(n: Node, positive: bool):
        if isinstance(n, Logic):
            for a in n.items:
                walk(a, positive)
        elif isinstance(n, Not):
            walk(n.x, not positive)
        else:
            out.append((n, positive))

    walk(node, True)
    return out


def _atom_text(n: Node) -> list[tuple[str, str]]:
    """An atom's evidence as pieces: ("text", s) or ("value", field id), the value shown as
    text. `x=0.062≥0.05` for a field compared with a literal; the fields it reads otherwise."""
    if isinstance(n, Field):
        return [("text", f"{n.name}="), ("value", n.name)]
    if isinstance(n, Cmp) and isinstance(n.left, Field):
        head = [("text", f"{n.left.name}="), ("value", n.left.name)]
        sym = OP_SYMBOL[n.op]
        if isinstance(n.right, Lit):
            return head + [("text", sym + str(n.right.value))]
        if isinstance(n.right, Field):
            return head + [("text", f"{sym}{n.right.name}="), ("value", n.right.name)]
        return head + [("text", sym + "…")]
    out: list[tuple[str, str]] = []
    for f in sorted(fields_of(n)):
        out += [("text", ("; " if out else "") + f"{f}="), ("value", f)]
    return out or [("text", "…")]


def _tag_atom_text(n: HasTag, positive: bool) -> str:
    return f"tag:{n.tag}" if positive else f"not tag:{n.tag}"


def num4_sql(x: str) -> str:
    """A double as evidence text: rounded half up to 4 decimals by IEEE arithmetic
    (floor(x * 10000 + 0.5)), plain notation, trailing zeros dropped (0.062, 1250, -3.5).
    num4_arrow and num4_py give the same text; Spark's cast(double as string) switches to
    1.0E7 notation, which users cannot read."""
    return (f"regexp_replace(cast(cast(floor({x} * 10000 + 0.5) / 10000 AS decimal(38,4)) AS string), "
            r"'\\.?0+$', '')")


def evidence_sql(node: Node, field_types: dict[str, str]) -> str:
    """SQL string expression listing the atoms that made the rule true, e.g.
    'rd_expense_ratio_3y=0.062≥0.05; cert_valid_hnte=true'. Atoms under an odd number of
    NOTs are reported when false; has_tag atoms as tag:x (not tag:x)."""
    def value(f: str) -> str:
        if field_types.get(f, "string") in NUM4_TYPES:
            return f"coalesce({num4_sql(f'`{f}`')}, 'null')"
        return f"coalesce(cast(`{f}` as string), 'null')"

    parts: list[str] = []
    for n, positive in evidence_atoms(node):
        if isinstance(n, HasTag):
            parts.append(sql_lit(_tag_atom_text(n, positive)))
            continue
        cond = to_sql(n, lambda t: "true")  # a tag inside an atom reads as true (it held)
        text = " || ".join(sql_lit(v) if k == "text" else value(v) for k, v in _atom_text(n))
        parts.append(f"CASE WHEN coalesce({'' if positive else 'NOT '}{cond}, false) THEN {text} END")
    return "concat_ws('; ', " + ", ".join(parts) + ")"


def num4_py(x: float | None) -> str | None:
    """num4_sql for one value."""
    if x is None:
        return None
    n = math.floor(x * 10000 + 0.5)
    a = abs(n)
    return ("-" if n < 0 else "") + str(a // 10000) + f".{a % 10000:04d}".rstrip("0").rstrip(".")


def _text_py(v, typ: str) -> str:
    if v is None:
        return "null"
    if typ in NUM4_TYPES:
        return num4_py(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def evidence_py(node: Node, field_types: dict[str, str]) -> Callable[[dict], str]:
    """row -> evidence_sql's text for that row (the row where the rule holds)."""
    parts = []
    for n, positive in evidence_atoms(node):
        if isinstance(n, HasTag):
            parts.append((None, positive, [("text", _tag_atom_text(n, positive))]))
        else:
            parts.append((to_py(n, lambda t: lambda r, ts: True), positive, _atom_text(n)))

    def evidence(row: dict) -> str:
        out = []
        for cond, positive, pieces in parts:
            if cond is not None:
                v = cond(row, ())
                if v is None or v != positive:
                    continue
            out.append("".join(v if k == "text" else _text_py(row.get(v), field_types.get(v, "string"))
                               for k, v in pieces))
        return "; ".join(out)
    return evidence


def num4_arrow(x):
    """num4_sql over an Arrow array; null stays null."""
    pa, pc = _pa()
    n = pc.cast(pc.floor(pc.add(pc.multiply(pc.cast(x, pa.float64()), 10000.0), 0.5)), pa.int64(), safe=False)
    a = pc.abs(n)
    whole = pc.divide(a, 10000)
    frac = pc.subtract(a, pc.multiply(whole, 10000))
    sign = pc.if_else(pc.less(n, 0), "-", "")
    # The 4 decimals without trailing zeros, looked up (a regex per value costs a third of the
    # tag kernels' CPU): what num4_sql's regexp_replace leaves of ".dddd".
    return pc.binary_join_element_wise(sign, pc.cast(whole, pa.string()), pc.take(_decimals(), frac), "")


@functools.lru_cache(maxsize=1)
def _decimals():
    """i -> the text of i / 10000 after the point, trailing zeros (and a bare point) dropped:
    0 -> "", 5000 -> ".5", 10 -> ".001"."""
    pa, _ = _pa()
    return pa.array([f".{i:04d}".rstrip("0").rstrip(".") for i in range(10_000)], pa.string())


def as_array(v, n: int, typ=None):
    """A value that came out as a scalar (a literal, a constant text) as an array of n rows;
    arrays pass through."""
    pa, _ = _pa()
    if isinstance(v, str):
        return pa.array([v] * n, pa.string())
    if isinstance(v, pa.Scalar):
        return pa.array([v.as_py()] * n, typ or v.type)
    return v


def evidence_arrow(node: Node, field_types: dict[str, str]) -> ArrowFn:
    """batch (the rows where the rule holds; len() and column()) -> evidence_sql's text per row."""
    pa, pc = _pa()
    null_text, true = pa.scalar(None, pa.string()), pa.scalar(True)

    def value(f: str):
        if field_types.get(f, "string") in NUM4_TYPES:
            return lambda b: pc.fill_null(num4_arrow(b.column(f)), "null")
        return lambda b: pc.fill_null(pc.cast(b.column(f), pa.string()), "null")

    def text_of(pieces):
        fs = [(lambda b, v=v: v) if k == "text" else value(v) for k, v in pieces]
        if len(fs) == 1:
            return fs[0]
        return lambda b: pc.binary_join_element_wise(*[f(b) for f in fs], "")

    parts = []
    for n, positive in evidence_atoms(node):
        if isinstance(n, HasTag):
            parts.append(lambda b, t=_tag_atom_text(n, positive): t)
            continue
        cond, text = to_arrow(n, lambda t: lambda b: true), text_of(_atom_text(n))

        def part(b, cond=cond, text=text, positive=positive):
            v = as_array(cond(b), len(b))
            hit = pc.fill_null(v if positive else pc.invert(v), False)
            return pc.if_else(hit, as_array(text(b), len(b), pa.string()), null_text)
        parts.append(part)

    def evidence(b):
        n = len(b)
        cols = [as_array(p(b), n, pa.string()) for p in parts]
        if not cols:
            return pa.array([""] * n, pa.string())
        if len(cols) == 1:
            return pc.fill_null(cols[0], "")
        return pc.binary_join_element_wise(*cols, "; ", null_handling="skip")
    return evidence
