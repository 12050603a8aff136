"""The three back ends of the rule language agree on tags: the generated tag SQL (the dbt model
enterprise_tags), the Arrow tag kernels (what publishes gold.enterprise_tags) and the Python
closures give the same rows and the same evidence, for every catalog tag and every construct of
the rule language."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

from govlake import rulelang
from govlake.catalog.enterprise import Tag, load_enterprise_fields, load_enterprise_tags
from govlake.profile import compiled, sqlgen, tag_kernels
from tests.profile.conftest import spark_sql_of

AS_OF = dt.date(2025, 6, 30)
SPARK_TYPE = {"int": "int", "double": "double", "boolean": "boolean", "string": "string", "date": "date"}


def _sql_rows(spark, tags, types, view):
    return sorted(tuple(r) for r in spark.sql(spark_sql_of(sqlgen.tags_sql(tags, types, profile=view), AS_OF)).collect())


def _arrow_rows(table: pa.Table, tags, types):
    program = tag_kernels.TagProgram(tags, types, AS_OF)
    rows = []
    for rb in table.select(["uscc", *program.columns]).to_batches(max_chunksize=7):  # some batches without hits
        rows += [tuple(r.values()) for r in program.evaluate(rb).to_pylist()]
    return sorted(rows)


def _py_rows(table: pa.Table, tags, types):
    """One row at a time: has_tag evaluates the referenced tag's rule, as the SQL inlines it."""
    rule = rulelang.inline_tags({t.id: t.node for t in tags}, rulelang.to_py)
    evidence = {t.id: rulelang.evidence_py(t.node, types) for t in tags}
    return sorted((r["uscc"], t.id, t.name, t.group_label, AS_OF, evidence[t.id](r))
                  for r in table.to_pylist() for t in tags if rule[t.id](r, ()) is True)


def _three_ways(spark, name, types, rows, tags, tag_sql=None):
    """tag_sql: the SQL of the tags over the view `name` (default: sqlgen's rendering of `tags`)."""
    schema = ", ".join(["uscc string", *[f"{c} {SPARK_TYPE[t]}" for c, t in types.items()]])
    df = spark.createDataFrame(rows, schema)
    df.createOrReplaceTempView(name)
    table = df.toArrow()
    sql = sorted(tuple(r) for r in spark.sql(tag_sql).collect()) if tag_sql else _sql_rows(spark, tags, types, name)
    assert _arrow_rows(table, tags, types) == sql
    assert _py_rows(table, tags, types) == sql
    return sql


def test_num4_agrees_in_spark_arrow_and_python(spark):
    values = [0.0, 0.062, 0.00015, -0.00015, 1.23455, -1.23455, 2.5e-5, -2.5e-5, 12345678.9, -0.5, 1e12 + 0.12345,
              3.0, None, 0.1 + 0.2, 1 / 3, -2 / 3, 99999.99995]
    spark.createDataFrame([(v,) for v in values], "x double").createOrReplaceTempView("num4_values")
    want = [r[0] for r in spark.sql(f"SELECT {rulelang.num4_sql('x')} FROM num4_values").collect()]
    assert rulelang.num4_arrow(pa.array(values, pa.float64())).to_pylist() == want
    assert [rulelang.num4_py(v) for v in values] == want
    # 0.00015 is 1.49999...e-4 in binary: IEEE half-up gives 0.0001 in every engine
    assert want[:3] == ["0", "0.062", "0.0001"] and want[8] == "12345678.9"  # never 1.23456789E7


def test_every_catalog_tag_agrees_three_ways(spark, settings):
    """300 profile rows whose values sit on, just below and just above every threshold the
    rules compare with, plus nulls: the same (uscc, tag, since, evidence) rows three ways."""
    catalog = load_enterprise_fields(settings.catalog_dir)
    tags = load_enterprise_tags(settings.catalog_dir, catalog)
    all_types = {f.id: f.type for f in catalog.fields}
    cols = sorted({f for t in tags for f in t.fields})
    near: dict[str, set] = {c: {0} for c in cols}
    strings: dict[str, set] = {c: set() for c in cols}

    def walk(n):
        if isinstance(n, rulelang.Cmp) and isinstance(n.left, rulelang.Field) and isinstance(n.right, rulelang.Lit):
            v = n.right.value
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                near[n.left.name] |= {v, v - 1, v + 0.5, v * 0.999, v * 1.001}
            elif isinstance(v, str):
                strings[n.left.name].add(v)
        for child in vars(n).values():
            for c in (child if isinstance(child, tuple) else (child,)):
                if isinstance(c, rulelang.Node):
                    walk(c)

    for t in tags:
        walk(t.node)
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

    rows = [(f"U{i:04d}", *[value(c) for c in cols]) for i in range(300)]
    # the SQL back end as it runs: the model enterprise_tags, as dbt compiles it for Spark
    model = dict(compiled.spark_models(["enterprise_tags"], AS_OF, settings.dbt_dir))["enterprise_tags"]
    assert model.count("FROM enterprise_profile") == 1
    sql = _three_ways(spark, "kernel_profile", {c: all_types[c] for c in cols}, rows, tags,
                      model.replace("FROM enterprise_profile", "FROM kernel_profile"))
    assert len(sql) > 3000 and len({r[1] for r in sql}) > 400  # most tags hold somewhere
    assert any(r[5].endswith("≤-0.1") for r in sql)  # a negative threshold is shown as written


def test_every_rule_construct_agrees_three_ways(spark):
    types = {"a": "int", "x": "double", "y": "double", "s": "string", "f": "boolean"}
    rules_by_id = {
        "cmp_mixed": "a >= 2 and x < 0.5",
        "chained": "0 <= x < 1",
        "arith": "x * 2 + a - 1 > y / a",
        "div_zero": "x / (a - a) is None",
        "in_list": "s in ['甲', '乙'] or a not in [1, 3]",
        "between": "between(x, -1, 0.25)",
        "nulls": "y is None and s is not None",
        "funcs": "max(x, y) >= 1 or min(a, 2) == 0 or coalesce(y, x) < 0",
        "bands": "piecewise(x, [0, 1], [1, 2, 3]) == 2 or steps(a, [1, 3], [0, 5, 9]) >= 5",
        "cond": "(x if f else y) > 0",
        "prefix": "starts_with(s, ['甲', '丙'])",
        "negation": "not (f == True) and not has_tag('cmp_mixed')",
        "tag_ref": "has_tag('between') or has_tag('funcs')",
        "bool_field": "f",
        "neg_literal": "x > -0.75 and -x < 1",
    }
    parsed = {k: rulelang.parse(r, types, tags=set(rules_by_id)) for k, r in rules_by_id.items()}
    tags = [Tag(k, f"标签{k}", "test", "测试", r, "", "t.yaml", node=parsed[k].node, fields=sorted(parsed[k].fields))
            for k, r in rules_by_id.items()]
    rnd = random.Random(7)
    rows = [(f"U{i:03d}", rnd.choice([0, 1, 2, 3, None]), rnd.choice([-1.5, -0.75, 0.0, 0.25, 0.3333333, 2.0, None]),
             rnd.choice([None, 0.0, 1.0, -2.25]), rnd.choice(["甲", "乙", "丙", None]), rnd.choice([True, False, None]))
            for i in range(160)]
    rows.append(("UNULL", None, 0.0, 1.0, "甲", False))  # cmp_mixed is null here (a unknown, x < 0.5)
    sql = _three_ways(spark, "construct_profile", types, rows, tags)
    assert {r[1] for r in sql} == set(rules_by_id)  # every rule holds for some row
    # a referenced tag is its rule, null included (as the SQL inlines it): not has_tag('cmp_mixed')
    # is null where cmp_mixed is null, so negation does not hold for UNULL although f is false
    held = {(r[0], r[1]) for r in sql}
    assert ("UNULL", "negation") not in held and ("UNULL", "bool_field") not in held


@pytest.mark.parametrize("rule", ["a / 0 > 1", "s == 'x' and a is not None"])
def test_kernels_compile_every_typed_rule(rule):
    node = rulelang.parse(rule, {"a": "int", "s": "string"}).node
    assert callable(tag_kernels.compile_rule(node))
