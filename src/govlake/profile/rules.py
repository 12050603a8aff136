"""The tag rule language: a small boolean expression grammar over profile field ids and tag ids.

    rule    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum [ op sum | "is" ["not"] "null" | ["not"] "in" "(" literal, ... ")"
                    | "between" sum "and" sum ]          op: >= > <= < = == != <>
    sum     := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := number | 'string' | true | false | null | field_id | tag:tag_id
             | fn "(" rule, ... ")" | "(" rule ")"            fn: coalesce abs greatest least

A field id names a profile field (its catalog type is checked); `tag:x` is true when tag x holds.
Rules compile to Spark SQL over the wide profile row; a tag reference inlines that tag's rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govlake.catalog.sources import CatalogError

FUNCS = {"coalesce", "abs", "greatest", "least"}
KEYWORDS = {"and", "or", "not", "is", "null", "true", "false", "in", "between"}
CMP_OPS = {">=", ">", "<=", "<", "=", "==", "!=", "<>"}
OP_SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "==": "=", "!=": "≠", "<>": "≠"}
NUMERIC = {"int", "long", "double", "number"}

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<tag>tag:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>>=|<=|==|!=|<>|[-+*/()<>=,])
)""", re.X)


class RuleError(CatalogError):
    """A tag rule that does not parse or does not type-check."""


@dataclass(frozen=True)
class Node:
    kind: str          # num str bool null field tag bin cmp and or not isnull in between call neg
    value: object = None
    args: tuple = ()


def tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise RuleError(f"cannot read rule near {text[pos:pos + 20]!r} (position {pos})")
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "id" and val.lower() in KEYWORDS:
            kind, val = "kw", val.lower()
        out.append((kind, val))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k=0):
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self, kind=None, val=None):
        t = self.peek()
        if (kind and t[0] != kind) or (val is not None and t[1] != val):
            want = val or kind
            raise RuleError(f"expected {want!r} but found {t[1] or 'end of rule'!r} in rule {self.text!r}")
        self.i += 1
        return t

    def accept(self, kind, val=None):
        t = self.peek()
        if t[0] == kind and (val is None or t[1] == val):
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.or_()
        if self.peek()[0] != "eof":
            raise RuleError(f"unexpected {self.peek()[1]!r} in rule {self.text!r}")
        return node

    def or_(self):
        node = self.and_()
        while self.accept("kw", "or"):
            node = Node("or", args=(node, self.and_()))
        return node

    def and_(self):
        node = self.not_()
        while self.accept("kw", "and"):
            node = Node("and", args=(node, self.not_()))
        return node

    def not_(self):
        if self.accept("kw", "not"):
            return Node("not", args=(self.not_(),))
        return self.cmp()

    def cmp(self):
        left = self.sum()
        t = self.peek()
        if t[0] == "op" and t[1] in CMP_OPS:
            self.i += 1
            return Node("cmp", t[1], (left, self.sum()))
        if self.accept("kw", "is"):
            neg = self.accept("kw", "not")
            self.take("kw", "null")
            return Node("isnull", neg, (left,))
        neg = False
        if t == ("kw", "not") and self.peek(1) == ("kw", "in"):
            self.i += 1
            neg = True
        if self.accept("kw", "in"):
            self.take("op", "(")
            items = [self.atom()]
            while self.accept("op", ","):
                items.append(self.atom())
            self.take("op", ")")
            if any(x.kind not in {"num", "str", "bool"} for x in items):
                raise RuleError(f"'in' takes literals only, in rule {self.text!r}")
            return Node("in", neg, (left, *items))
        if self.accept("kw", "between"):
            lo = self.sum()
            self.take("kw", "and")
            return Node("between", None, (left, lo, self.sum()))
        return left

    def sum(self):
        node = self.term()
        while self.peek()[0] == "op" and self.peek()[1] in "+-":
            op = self.take()[1]
            node = Node("bin", op, (node, self.term()))
        return node

    def term(self):
        node = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in "*/":
            op = self.take()[1]
            node = Node("bin", op, (node, self.unary()))
        return node

    def unary(self):
        if self.accept("op", "-"):
            return Node("neg", args=(self.unary(),))
        return self.atom()

    def atom(self):
        kind, val = self.peek()
        if kind == "num":
            self.i += 1
            return Node("num", float(val) if any(c in val for c in ".eE") else int(val))
        if kind == "str":
            self.i += 1
            return Node("str", val[1:-1].replace("''", "'"))
        if kind == "kw" and val in {"true", "false"}:
            self.i += 1
            return Node("bool", val == "true")
        if kind == "kw" and val == "null":
            self.i += 1
            return Node("null")
        if kind == "tag":
            self.i += 1
            return Node("tag", val[4:])
        if kind == "id":
            self.i += 1
            if self.accept("op", "("):
                if val.lower() not in FUNCS:
                    raise RuleError(f"unknown function {val!r} in rule {self.text!r} (known: {sorted(FUNCS)})")
                args = [self.or_()]
                while self.accept("op", ","):
                    args.append(self.or_())
                self.take("op", ")")
                return Node("call", val.lower(), tuple(args))
            return Node("field", val)
        if self.accept("op", "("):
            node = self.or_()
            self.take("op", ")")
            return node
        raise RuleError(f"unexpected {val or 'end of rule'!r} in rule {self.text!r}")


def parse(text: str) -> Node:
    if not isinstance(text, str) or not text.strip():
        raise RuleError("empty rule")
    return _Parser(text).parse()


def refs(node: Node) -> tuple[set[str], set[str]]:
    """(field ids, tag ids) a rule reads."""
    fields, tags = set(), set()

    def walk(n: Node):
        if n.kind == "field":
            fields.add(n.value)
        elif n.kind == "tag":
            tags.add(n.value)
        for a in n.args:
            walk(a)

    walk(node)
    return fields, tags


def _norm(t: str) -> str:
    return "number" if t in NUMERIC else t


def typecheck(node: Node, field_types: dict[str, str], tag_ids: set[str], where: str) -> str:
    """Type of the expression; raises RuleError naming `where` on unknown ids or type mismatch."""

    def err(msg):
        raise RuleError(f"{where}: {msg}")

    def t(n: Node) -> str:
        k = n.kind
        if k == "num":
            return "number"
        if k == "str":
            return "string"
        if k == "bool":
            return "boolean"
        if k == "null":
            return "null"
        if k == "field":
            if n.value not in field_types:
                err(f"unknown field {n.value!r}")
            return _norm(field_types[n.value])
        if k == "tag":
            if n.value not in tag_ids:
                err(f"unknown tag {n.value!r}")
            return "boolean"
        if k == "neg":
            if t(n.args[0]) != "number":
                err("unary minus needs a number")
            return "number"
        if k == "bin":
            a, b = t(n.args[0]), t(n.args[1])
            if {a, b} - {"number", "null"}:
                err(f"arithmetic {n.value!r} needs numbers, got {a} and {b}")
            return "number"
        if k == "cmp":
            a, b = t(n.args[0]), t(n.args[1])
            ok = a == b or "null" in (a, b) or {a, b} == {"date", "string"}
            if not ok:
                err(f"cannot compare {a} with {b} ({_show(n)})")
            if a == "boolean" and n.value not in {"=", "==", "!=", "<>"}:
                err(f"booleans compare only with = or != ({_show(n)})")
            return "boolean"
        if k in {"and", "or", "not"}:
            for a in n.args:
                ta = t(a)
                if ta not in {"boolean", "null"}:
                    err(f"'{k}' needs boolean operands, got {ta} ({_show(a)})")
            return "boolean"
        if k == "isnull":
            t(n.args[0])
            return "boolean"
        if k == "in":
            base = t(n.args[0])
            for lit in n.args[1:]:
                if t(lit) != base:
                    err(f"'in' list item {_show(lit)} is not a {base}")
            return "boolean"
        if k == "between":
            types = {t(a) for a in n.args} - {"null"}
            if len(types) > 1:
                err(f"'between' mixes {sorted(types)}")
            return "boolean"
        if k == "call":
            types = [t(a) for a in n.args]
            if n.value == "abs":
                if len(types) != 1 or types[0] != "number":
                    err("abs takes one number")
                return "number"
            known = set(types) - {"null"}
            if len(known) > 1:
                err(f"{n.value} mixes {sorted(known)}")
            return known.pop() if known else "null"
        err(f"cannot type {k}")

    typ = t(node)
    return typ


def _show(n: Node) -> str:
    return to_sql(n, lambda tag: f"tag:{tag}")


def _lit(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def to_sql(node: Node, tag_sql) -> str:
    """Spark SQL text. tag_sql(tag_id) -> SQL of that tag's (already compiled) rule."""

    def s(n: Node) -> str:
        k = n.kind
        if k in {"num", "str", "bool"}:
            return _lit(n.value)
        if k == "null":
            return "NULL"
        if k == "field":
            return n.value
        if k == "tag":
            return f"({tag_sql(n.value)})"
        if k == "neg":
            return f"(-{s(n.args[0])})"
        if k == "bin":
            return f"({s(n.args[0])} {n.value} {s(n.args[1])})"
        if k == "cmp":
            op = {"==": "=", "<>": "!="}.get(n.value, n.value)
            return f"({s(n.args[0])} {op} {s(n.args[1])})"
        if k in {"and", "or"}:
            return f"({s(n.args[0])} {k.upper()} {s(n.args[1])})"
        if k == "not":
            return f"(NOT {s(n.args[0])})"
        if k == "isnull":
            return f"({s(n.args[0])} IS {'NOT ' if n.value else ''}NULL)"
        if k == "in":
            items = ", ".join(s(a) for a in n.args[1:])
            return f"({s(n.args[0])} {'NOT ' if n.value else ''}IN ({items}))"
        if k == "between":
            return f"({s(n.args[0])} BETWEEN {s(n.args[1])} AND {s(n.args[2])})"
        if k == "call":
            return f"{n.value}({', '.join(s(a) for a in n.args)})"
        raise RuleError(f"cannot compile {k}")

    return s(node)


def num4_sql(x: str) -> str:
    """A double as evidence text: rounded half up to 4 decimals by IEEE arithmetic
    (floor(x * 10000 + 0.5)), plain notation, trailing zeros dropped (0.062, 1250, -3.5).
    Chosen so the Arrow tag kernels (govlake.profile.tag_kernels) give the same text;
    Spark's cast(double as string) switches to 1.0E7 notation, which users cannot read."""
    return (f"regexp_replace(cast(cast(floor({x} * 10000 + 0.5) / 10000 AS decimal(38,4)) AS string), "
            r"'\\.?0+$', '')")


def evidence_sql(node: Node, field_types: dict[str, str]) -> str:
    """SQL string expression listing the atoms that made the rule true, e.g.
    'rd_expense_ratio_3y=0.062≥0.05; cert_valid_hnte=true'. Atoms under an odd number of
    NOTs are reported when false (that is what made the rule true)."""
    parts: list[str] = []

    def fmt(n: Node) -> str:
        if n.kind == "field":
            typ = field_types.get(n.value, "string")
            if typ in {"double", "number"}:
                return f"coalesce({num4_sql(n.value)}, 'null')"
            return f"coalesce(cast({n.value} as string), 'null')"
        return _lit(n.value) if n.kind in {"num", "str", "bool"} else "'…'"

    def atom_text(n: Node) -> str:
        if n.kind == "field":
            return f"'{n.value}=' || {fmt(n)}"
        if n.kind == "tag":
            return f"'tag:{n.value}'"
        if n.kind == "cmp":
            left, right = n.args
            sym = OP_SYMBOL[n.value]
            if left.kind == "field":
                rhs = fmt(right) if right.kind != "field" else f"'{right.value}=' || {fmt(right)}"
                if right.kind in {"num", "str", "bool"}:
                    rhs = "'" + str(right.value).replace("'", "''") + "'"
                return f"'{left.value}=' || {fmt(left)} || '{sym}' || {rhs}"
        fields, _ = refs(n)
        return " || '; ' || ".join(f"'{f}=' || {fmt(Node('field', f))}" for f in sorted(fields)) or "'…'"

    for n, positive in evidence_atoms(node):
        if n.kind == "tag":
            parts.append(f"'tag:{n.value}'" if positive else f"'not tag:{n.value}'")
            continue
        cond = to_sql(n, lambda t: "true")  # tag atoms are reported as tag:x when true
        want = "" if positive else "NOT "
        parts.append(f"CASE WHEN coalesce({want}{cond}, false) THEN {atom_text(n)} END")
    return "concat_ws('; ', " + ", ".join(parts) + ")"


def evidence_atoms(node: Node) -> list[tuple[Node, bool]]:
    """The atoms under a rule's and/or/not, in order, each with whether it is reported when
    true (False under an odd number of NOTs: then being false is what made the rule hold)."""
    out: list[tuple[Node, bool]] = []

    def walk(n: Node, positive: bool):
        if n.kind in {"and", "or"}:
            for a in n.args:
                walk(a, positive)
        elif n.kind == "not":
            walk(n.args[0], not positive)
        else:
            out.append((n, positive))

    walk(node, True)
    return out
