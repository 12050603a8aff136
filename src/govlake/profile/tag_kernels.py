"""Enterprise tags (企业标签) evaluated with vectorised Arrow kernels: the same rules and the same
evidence text as the generated tag SQL (`sqlgen.tags_sql`, the dbt model `enterprise_tags`),
which stays the reviewed reference; tests check that both give the same rows.

Why a second back end: the SQL evaluates 733 rules per row inside one Spark projection
(tag references inlined, an evidence string built per hit), ~0.85 ms CPU per enterprise at
100,000 (docs/profile.md). Here each rule is a few Arrow compute calls over a record batch of
~10,000 enterprises, a referenced tag is computed once per batch, and evidence text is built
only for the rows where the tag holds. In Spark it runs as `mapInArrow` over the profile
columns the rules read (`tags_frame`), like the policy clause kernels (govlake.policy.expr).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from govlake.profile import rules
from govlake.profile.rules import OP_SYMBOL, Node, RuleError

TAG_COLUMNS = ("uscc", "tag_id", "tag_name", "tag_group", "since", "evidence")
SPARK_SCHEMA = "uscc string, tag_id string, tag_name string, tag_group string, since date, evidence string"


def _pa():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def num4(x):
    """Arrow twin of rules.num4_sql: floor(x * 10000 + 0.5) as a plain decimal, 4 places at
    most, trailing zeros dropped; null stays null."""
    pa, pc = _pa()
    n = pc.cast(pc.floor(pc.add(pc.multiply(pc.cast(x, pa.float64()), 10000.0), 0.5)), pa.int64(), safe=False)
    a = pc.abs(n)
    whole = pc.divide(a, 10000)
    frac = pc.subtract(a, pc.multiply(whole, 10000))
    sign = pc.if_else(pc.less(n, 0), "-", "")
    # The 4 decimals without trailing zeros, looked up (a regex per value cost ~30 % of the tag
    # kernels' CPU at 900,000): what rules.num4_sql's regexp_replace leaves of ".dddd".
    return pc.binary_join_element_wise(sign, pc.cast(whole, pa.string()), pc.take(_decimals(), frac), "")


@functools.lru_cache(maxsize=1)
def _decimals():
    """i -> the text of i / 10000 after the point, trailing zeros (and a bare point) dropped:
    0 -> "", 5000 -> ".5", 10 -> ".001"."""
    pa, _ = _pa()
    return pa.array([f".{i:04d}".rstrip("0").rstrip(".") for i in range(10_000)], pa.string())


Fn = Callable[["Batch"], object]


class Batch:
    """A record batch plus the tag values computed on it so far (a referenced tag once)."""

    def __init__(self, rb, program: "TagProgram"):
        self.rb, self.program, self.tags = rb, program, {}

    def __len__(self):
        return self.rb.num_rows

    def column(self, name):
        return self.rb.column(name)

    def tag(self, tag_id):
        if tag_id not in self.tags:
            self.tags[tag_id] = self.program.rule[tag_id](self)
        return self.tags[tag_id]


class Hits:
    """The rows of a batch where a tag holds; columns are filtered when first read (the
    evidence of a tag reads one to three of the ~360 rule columns)."""

    def __init__(self, batch: Batch, mask, n: int):
        self.batch, self.mask, self.cols, self.n = batch, mask, {}, n

    def __len__(self):
        return self.n

    def column(self, name):
        if name not in self.cols:
            _, pc = _pa()
            self.cols[name] = pc.filter(self.batch.column(name), self.mask)
        return self.cols[name]

    def tag(self, tag_id):  # evidence conditions read tags as true (rules.evidence_sql)
        return _pa()[0].scalar(True)


def _common_numeric(*arrays):
    """Spark widens int and double operands to double; Arrow wants one type."""
    pa, pc = _pa()
    if any(pa.types.is_floating(getattr(a, "type", pa.float64())) for a in arrays):
        return [pc.cast(a, pa.float64()) for a in arrays]
    return list(arrays)


def compile_rule(node: Node, field_types: dict[str, str]) -> Fn:
    """batch -> Arrow array (or scalar): the rule's value with SQL's three-valued logic,
    as `rules.to_sql` would compute it in Spark (ANSI off: x / 0 is null)."""
    pa, pc = _pa()

    def typ(n: Node) -> str | None:
        if n.kind == "field":
            return field_types.get(n.value)
        return {"num": "double", "str": "string", "bool": "boolean"}.get(n.kind)

    def lit(n: Node, other: Node | None = None):
        if n.kind == "null":
            t = {"string": pa.string(), "date": pa.date32(), "boolean": pa.bool_()}.get(typ(other) if other else None, pa.float64())
            return pa.scalar(None, t)
        if n.kind == "str" and other is not None and typ(other) == "date":
            return pa.scalar(dt.date.fromisoformat(n.value), pa.date32())
        if n.kind == "num":
            return pa.scalar(float(n.value) if isinstance(n.value, float) else n.value,
                             pa.float64() if isinstance(n.value, float) else pa.int64())
        return pa.scalar(n.value)

    def c(n: Node, other: Node | None = None) -> Fn:
        k = n.kind
        if k in {"num", "str", "bool", "null"}:
            s = lit(n, other)
            return lambda b: s
        if k == "field":
            name = n.value
            return lambda b: b.column(name)
        if k == "tag":
            tid = n.value
            return lambda b: b.tag(tid)
        if k == "neg":
            x = c(n.args[0])
            return lambda b: pc.negate(x(b))
        if k == "bin":
            lf, rf, op = c(n.args[0]), c(n.args[1]), n.value
            if op == "/":
                null = pa.scalar(None, pa.float64())

                def div(b):
                    num, den = pc.cast(lf(b), pa.float64()), pc.cast(rf(b), pa.float64())
                    return pc.if_else(pc.equal(den, 0.0), null, pc.divide(num, den))
                return div
            fn = {"+": pc.add, "-": pc.subtract, "*": pc.multiply}[op]
            return lambda b: fn(*_common_numeric(lf(b), rf(b)))
        if k == "cmp":
            a, z = n.args
            lf, rf = c(a, z), c(z, a)
            fn = {">=": pc.greater_equal, ">": pc.greater, "<=": pc.less_equal, "<": pc.less, "=": pc.equal,
                  "==": pc.equal, "!=": pc.not_equal, "<>": pc.not_equal}[n.value]
            return lambda b: fn(lf(b), rf(b))
        if k in {"and", "or"}:
            lf, rf = c(n.args[0]), c(n.args[1])
            fn = pc.and_kleene if k == "and" else pc.or_kleene
            return lambda b: fn(lf(b), rf(b))
        if k == "not":
            x = c(n.args[0])
            return lambda b: pc.invert(x(b))
        if k == "isnull":
            x, want_valid = c(n.args[0]), bool(n.value)
            return lambda b: (pc.is_valid if want_valid else pc.is_null)(_array(x(b), len(b)))
        if k == "in":
            x, negate = c(n.args[0]), bool(n.value)
            base = n.args[0]
            values = [lit(v, base).as_py() for v in n.args[1:] if v.kind != "null"]
            null_bool = pa.scalar(None, pa.bool_())

            def isin(b):
                xv = _array(x(b), len(b))
                hit = pc.is_in(xv, value_set=pa.array(values, xv.type))
                if negate:
                    hit = pc.invert(hit)
                return pc.if_else(pc.is_valid(xv), hit, null_bool)  # SQL: null IN (...) is null
            return isin
        if k == "between":
            x, lo, hi = c(n.args[0]), c(n.args[1], n.args[0]), c(n.args[2], n.args[0])
            return lambda b: pc.and_kleene(pc.greater_equal(x(b), lo(b)), pc.less_equal(x(b), hi(b)))
        if k == "call":
            fs = [c(a) for a in n.args]
            if n.value == "abs":
                return lambda b: pc.abs(fs[0](b))
            if n.value == "coalesce":
                return lambda b: pc.coalesce(*_common_numeric(*[f(b) for f in fs])) if len(fs) > 1 else fs[0](b)
            fn = pc.max_element_wise if n.value == "greatest" else pc.min_element_wise
            return lambda b: fn(*_common_numeric(*[f(b) for f in fs]), skip_nulls=True)  # Spark skips nulls
        raise RuleError(f"cannot compile {k} to Arrow")

    return c(node)


def _array(v, n: int, typ=None):
    """A rule or text that came out as a scalar (a literal, a constant text) as an array of n
    rows; arrays pass through."""
    pa, _ = _pa()
    if isinstance(v, str):
        return pa.array([v] * n, pa.string())
    if isinstance(v, pa.Scalar):
        return pa.array([v.as_py()] * n, typ or v.type)
    return v


def compile_evidence(node: Node, field_types: dict[str, str]) -> Callable[[Batch], object]:
    """batch (the rows where the tag holds) -> evidence strings, as rules.evidence_sql."""
    pa, pc = _pa()
    parts: list[Callable[[Batch], object]] = []

    def fmt(n: Node) -> Callable[[Batch], object]:
        if n.kind == "field":
            name, typ = n.value, field_types.get(n.value, "string")
            if typ in {"double", "number"}:
                return lambda b: pc.fill_null(num4(b.column(name)), "null")
            return lambda b: pc.fill_null(pc.cast(b.column(name), pa.string()), "null")
        text = rules._lit(n.value) if n.kind in {"num", "str", "bool"} else "'…'"
        text = text[1:-1].replace("''", "'") if text.startswith("'") else text
        return lambda b: text

    def labelled(field: str) -> Callable[[Batch], object]:
        f = fmt(Node("field", field))
        return lambda b: pc.binary_join_element_wise(f"{field}=", f(b), "")

    def atom_text(n: Node) -> Callable[[Batch], object]:
        if n.kind == "field":
            return labelled(n.value)
        if n.kind == "cmp":
            left, right = n.args
            sym = OP_SYMBOL[n.value]
            if left.kind == "field":
                lf = labelled(left.value)
                if right.kind in {"num", "str", "bool"}:
                    rhs_text = str(right.value)
                    return lambda b: pc.binary_join_element_wise(lf(b), sym + rhs_text, "")
                rf = labelled(right.value) if right.kind == "field" else fmt(right)
                return lambda b: pc.binary_join_element_wise(lf(b), sym, rf(b), "")
        fields, _ = rules.refs(n)
        if not fields:
            return lambda b: "…"
        fs = [labelled(f) for f in sorted(fields)]
        return lambda b: pc.binary_join_element_wise(*[f(b) for f in fs], "; ")

    for n, positive in rules.evidence_atoms(node):
        if n.kind == "tag":
            text = f"tag:{n.value}" if positive else f"not tag:{n.value}"
            parts.append(lambda b, text=text: text)
            continue
        cond, text = compile_rule(n, field_types), atom_text(n)

        def part(b, cond=cond, text=text, positive=positive):
            v = _array(cond(b), len(b))
            hit = pc.fill_null(v if positive else pc.invert(v), False)
            return pc.if_else(hit, _array(text(b), len(b), _pa()[0].string()), pa.scalar(None, pa.string()))
        parts.append(part)

    def evidence(b: Batch):
        n = len(b)
        cols = [_array(p(b), n, pa.string()) for p in parts]
        if not cols:
            return pa.array([""] * n, pa.string())
        if len(cols) == 1:
            return pc.fill_null(cols[0], "")
        return pc.binary_join_element_wise(*cols, "; ", null_handling="skip")
    return evidence


@dataclass
class TagProgram:
    """Every tag's rule and evidence compiled to Arrow kernels."""
    tags: list
    field_types: dict[str, str]
    as_of: dt.date

    def __post_init__(self):
        self.rule = {t.id: compile_rule(t.ast, self.field_types) for t in self.tags}
        self.evidence = {t.id: compile_evidence(t.ast, self.field_types) for t in self.tags}
        self.columns = sorted({f for t in self.tags for f in rules.refs(t.ast)[0]})
        pa, _ = _pa()
        # tag index -> id, name, group: taken per output row in evaluate
        self.labels = [pa.array([getattr(t, a) for t in self.tags], pa.string()) for a in ("id", "name", "group_label")]

    def evaluate(self, rb, key: str = "uscc"):
        """A record batch of profile rows (key + self.columns) -> the long tag rows
        (TAG_COLUMNS) of the tags that hold, tag by tag. The key and the labels are dictionary
        arrays over the batch's keys and the catalog's labels (no text copied per tag row; a
        Parquet writer stores them as dictionaries); `plain` decodes them."""
        import numpy as np

        pa, pc = _pa()
        b = Batch(rb, self)
        rows, idx, evid = [], [], []
        for i, t in enumerate(self.tags):
            held = pc.fill_null(_array(b.tag(t.id), len(b)), False)
            hits = pc.sum(held).as_py() or 0
            if not hits:
                continue
            rows.append(np.flatnonzero(held.to_numpy(zero_copy_only=False)).astype(np.int32))
            idx.append(np.full(hits, i, dtype=np.int32))
            evid.append(self.evidence[t.id](Hits(b, held, hits)))
        if not rows:
            return pa.RecordBatch.from_pylist([], schema=output_schema())
        which = pa.array(np.concatenate(idx))
        n = len(which)
        days = (self.as_of - dt.date(1970, 1, 1)).days
        return pa.RecordBatch.from_arrays([
            pa.DictionaryArray.from_arrays(pa.array(np.concatenate(rows)), rb.column(key).cast(pa.string())),
            *[pa.DictionaryArray.from_arrays(which, labels) for labels in self.labels],
            pa.array(np.full(n, days, dtype=np.int32), pa.date32()),
            pa.concat_arrays(evid),
        ], schema=output_schema())


def output_schema():
    pa, _ = _pa()
    text = pa.dictionary(pa.int32(), pa.string())
    return pa.schema([("uscc", text), ("tag_id", text), ("tag_name", text),
                      ("tag_group", text), ("since", pa.date32()), ("evidence", pa.string())])


def plain(rb):
    """evaluate's rows with the dictionary columns decoded (Spark's Arrow reader wants plain text)."""
    pa, _ = _pa()
    return pa.RecordBatch.from_arrays(
        [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in rb.columns], names=rb.schema.names)


@functools.lru_cache(maxsize=4)
def enterprise_program(catalog_dir: str, as_of: dt.date) -> TagProgram:
    """The enterprise tag program for a catalog (cached per worker process)."""
    from govlake.catalog.enterprise import load_enterprise_fields, load_enterprise_tags

    catalog = load_enterprise_fields(Path(catalog_dir))
    return TagProgram(load_enterprise_tags(Path(catalog_dir), catalog), {f.id: f.type for f in catalog.fields}, as_of)


def spark_schema():
    """SPARK_SCHEMA as a StructType (no session needed)."""
    from pyspark.sql.types import DateType, StringType, StructField, StructType

    return StructType([StructField(c, DateType() if c == "since" else StringType()) for c in TAG_COLUMNS])


def tagger(catalog_dir: Path, as_of: dt.date, published_since: Path | None = None) -> Callable:
    """A record batch of profile rows (any columns, the rule columns among them) -> its tag rows:
    for the Python workers that write the profile (`Lakehouse.stage_with`), the program compiled
    once per worker. published_since: a saved `tag_since.SinceIndex` of the published tags; a tag
    found there keeps its published since date."""
    catalog_dir = str(catalog_dir)
    index = None if published_since is None else str(published_since)

    def tag(rb):
        out = enterprise_program(catalog_dir, as_of).evaluate(rb)
        if index is None:
            return out
        from govlake.profile import tag_since

        return tag_since.load(index).apply(out)
    return tag


def tags_frame(profile, catalog_dir: Path, as_of: dt.date):
    """Long-form enterprise tags of a Spark DataFrame of profile rows: the rule columns go to
    Python as Arrow batches, the tag rows come back (schema SPARK_SCHEMA)."""
    catalog_dir = str(catalog_dir)
    cols = enterprise_program(catalog_dir, as_of).columns

    def run(batches):
        program = enterprise_program(catalog_dir, as_of)
        for rb in batches:
            out = program.evaluate(rb)
            if out.num_rows:
                yield plain(out)

    return profile.select("uscc", *cols).mapInArrow(run, SPARK_SCHEMA)
