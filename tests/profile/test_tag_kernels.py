"""The Arrow tag kernels (what publishes gold.enterprise_tags) give the same rows and evidence as
the generated tag SQL (the dbt model enterprise_tags), for every catalog tag and every construct
of the rule grammar."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from govlake.catalog.enterprise import Tag, load_enterprise_fields, load_enterprise_tags
from govlake.profile import rules, sqlgen, tag_kernels

AS_OF = dt.date(2025, 6, 30)
SPARK_TYPE = {"int": "int", "double": "double", "boolean": "boolean", "string": "string", "date": "date"}


def _sql_rows(spark, tags, types, view):
    d = sqlgen.Dialect("spark", as_of=AS_OF)
    return sorted(tuple(r) for r in spark.sql(sqlgen.tags_sql(tags, types, d, profile=view)).collect())


def _arrow_rows(spark, tags, types, view):
    program = tag_kernels.TagProgram(tags, types, AS_OF)
    table = spark.table(view).select("uscc", *program.columns).toArrow()
    rows = []
    for rb in table.to_batches(max_chunksize=7):  # several batches, some without hits
        rows += [tuple(r.values()) for r in program.evaluate(rb).to_pylist()]
    return sorted(rows)


def _view(spark, name, types, rows):
    schema = ", ".join(["uscc string", *[f"{c} {SPARK_TYPE[t]}" for c, t in types.items()]])
    spark.createDataFrame(rows, schema).createOrReplaceTempView(name)


def test_num4_matches_spark(spark):
    values = [0.0, 0.062, 0.00015, -0.00015, 1.23455, -1.23455, 2.5e-5, -2.5e-5, 12345678.9, -0.5, 1e12 + 0.12345,
              3.0, None, 0.1 + 0.2, 1 / 3, -2 / 3, 99999.99995]
    spark.createDataFrame([(v,) for v in values], "x double").createOrReplaceTempView("num4_values")
    want = [r[0] for r in spark.sql(f"SELECT {rules.num4_sql('x')} FROM num4_values").collect()]
    import pyarrow as pa

    got = tag_kernels.num4(pa.array(values, pa.float64())).to_pylist()
    assert got == want
    # 0.00015 is 1.49999...e-4 in binary: IEEE half-up gives 0.0001 in both engines
    assert want[:3] == ["0", "0.062", "0.0001"] and want[8] == "12345678.9"  # never 1.23456789E7


def test_every_catalog_tag_agrees_with_the_sql(spark, settings):
    """300 profile rows whose values sit on, just below and just above every threshold the
    rules compare with, plus nulls: the same (uscc, tag, since, evidence) rows both ways."""
    catalog = load_enterprise_fields(settings.catalog_dir)
    tags = load_enterprise_tags(settings.catalog_dir, catalog)
    all_types = {f.id: f.type for f in catalog.fields}
    cols = sorted({f for t in tags for f in t.fields})
    near: dict[str, set] = {c: {0} for c in cols}
    strings: dict[str, set] = {c: set() for c in cols}

    def walk(n):
        if n.kind in {"cmp", "between", "in"} and n.args[0].kind == "field":
            for a in n.args[1:]:
                v = -a.args[0].value if a.kind == "neg" and a.args[0].kind == "num" else a.value
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    near[n.args[0].value] |= {v, v - 1, v + 0.5, v * 0.999, v * 1.001}
                elif isinstance(v, str):
                    strings[n.args[0].value].add(v)
        for a in n.args:
            walk(a)

    for t in tags:
        walk(t.ast)
    rnd = random.Random(42)

    def value(c):
        typ = all_types[c]
        if rnd.random() < 0.08:
            return None
        if typ == "boolean":
            return rnd.random() < 0.5
        if typ == "string":
            return rnd.choice(sorted(strings[c]) or ["x"])
        v = rnd.choice(sorted(near[c]))
        return int(v) if typ == "int" else float(v)

    _view(spark, "kernel_profile", {c: all_types[c] for c in cols},
          [(f"U{i:04d}", *[value(c) for c in cols]) for i in range(300)])
    sql = _sql_rows(spark, tags, all_types, "kernel_profile")
    assert len(sql) > 3000 and len({r[1] for r in sql}) > 400  # most tags hold somewhere
    assert _arrow_rows(spark, tags, all_types, "kernel_profile") == sql


def test_every_rule_construct_agrees_with_the_sql(spark):
    types = {"a": "int", "x": "double", "y": "double", "s": "string", "d": "date", "f": "boolean"}
    rules_by_id = {
        "cmp_mixed": "a >= 2 and x < 0.5",
        "arith": "x * 2 + a - 1 > y / a",
        "div_zero": "x / (a - a) is null",
        "in_list": "s in ('甲', '乙') or a not in (1, 3)",
        "between": "x between -1 and 0.25",
        "nulls": "y is null and s is not null",
        "date_cmp": "d >= '2024-01-01'",
        "funcs": "greatest(x, y, 0) >= 1 or least(a, 2) = 0 or abs(x) > 1.5 or coalesce(y, x) < 0",
        "negation": "not (f = true) and not tag:cmp_mixed",
        "tag_ref": "tag:between or tag:funcs",
        "bool_field": "f",
        "neg_literal": "x > -0.75",
    }
    tags = [Tag(k, f"标签{k}", "test", "测试", r, "", "t.yaml", ast=rules.parse(r)) for k, r in rules_by_id.items()]
    rnd = random.Random(7)

    def pick(options):
        return rnd.choice(options)

    rows = [(f"U{i:03d}", pick([0, 1, 2, 3, None]), pick([-1.5, -0.75, 0.0, 0.25, 0.3333333, 2.0, None]),
             pick([None, 0.0, 1.0, -2.25]), pick(["甲", "乙", "丙", None]),
             pick([dt.date(2023, 5, 1), dt.date(2024, 1, 1), dt.date(2025, 2, 3), None]), pick([True, False, None]))
            for i in range(120)]
    _view(spark, "construct_profile", types, rows)
    sql = _sql_rows(spark, tags, types, "construct_profile")
    assert {r[1] for r in sql} == set(rules_by_id)  # every rule holds for some row
    assert _arrow_rows(spark, tags, types, "construct_profile") == sql


@pytest.mark.parametrize("rule", ["a / 0 > 1", "s = 'x' and d < '2020-01-01'"])
def test_kernels_compile_every_typed_rule(rule):
    node = rules.parse(rule)
    assert callable(tag_kernels.compile_rule(node, {"a": "int", "s": "string", "d": "date"}))
