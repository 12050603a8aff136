"""Evaluate a suite on a Spark DataFrame. Two engines, one result shape (`Outcome`):

* `run_gx`      Great Expectations 1.x, Spark datasource, ephemeral context (writes no files).
* `run_metrics` the same expectation JSON evaluated from ONE Spark aggregation (plus one
                group-by per uniqueness check). GX resolves metrics expectation by expectation;
                on a 1,500-column profile that is thousands of Spark jobs and Python round trips
                (docs/quality.md has the figures), so wide suites go through here.

`evaluate(..., engine="auto")` uses GX for small suites and, above AUTO_METRICS_ABOVE
expectations, the metrics engine for every type it supports and GX for the rest.
"""

from __future__ import annotations

import os

from govlake.quality.arrow_engine import run_arrow
from govlake.quality.outcome import METRIC_TYPES, Outcome, columns_of, outcome

AUTO_METRICS_ABOVE = 150
# Aggregates per Spark scan. One SELECT with thousands of aggregates overflows Java's 64 KB
# method limit, Spark falls back to interpreted evaluation and gets slow (docs/quality.md);
# a few hundred per scan keeps whole-stage codegen, and Parquet reads only those columns.
AGGS_PER_SCAN = 300


# -- Great Expectations -------------------------------------------------------------------------
def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def run_gx(df, expectations: list[dict], suite_name: str = "suite") -> list[Outcome]:
    """Two passes: BOOLEAN_ONLY for every expectation (half the Spark jobs of SUMMARY: no
    unexpected-value samples), then SUMMARY only for the ones that failed, for the message."""
    if not expectations:
        return []
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (ctx.data_sources.add_spark(name="govlake").add_dataframe_asset(name="frame")
             .add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df}))

    def run(idx: list[int], fmt: str) -> dict[int, dict]:
        # Carry our index in meta: GX keeps meta, so results map back even if it reorders them.
        tagged = [{**expectations[i], "meta": {**expectations[i].get("meta", {}), "_i": i}} for i in idx]
        res = batch.validate(gx.ExpectationSuite(name=suite_name, expectations=tagged), result_format=fmt)
        return {r["expectation_config"]["meta"]["_i"]: r for r in res.to_json_dict()["results"]}

    results = run(list(range(len(expectations))), "BOOLEAN_ONLY")
    failed = [i for i, r in results.items() if not r["success"]]
    if failed:
        results.update(run(failed, "SUMMARY"))
    out = []
    for i, e in enumerate(expectations):
        r = results[i]
        detail = r.get("result") or {}
        exc = r.get("exception_info") or {}
        err = exc.get("exception_message") if exc.get("raised_exception") else None
        out.append(Outcome(
            type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {}),
            success=bool(r["success"]), unexpected_count=detail.get("unexpected_count"),
            observed=detail.get("observed_value"), examples=list(detail.get("partial_unexpected_list") or [])[:5],
            error=(err.splitlines()[0][:300] if err else None), engine="gx",
        ))
    return out


# -- metrics engine -----------------------------------------------------------------------------
def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _map_condition(e: dict) -> str | None:
    """SQL condition that is TRUE for an unexpected row of a column-map expectation."""
    k, t = e["kwargs"], e["type"]
    if t == "expect_column_values_to_not_be_null":
        return f"{_q(k['column'])} IS NULL"
    c = _q(k.get("column", ""))
    if t == "expect_column_values_to_be_between":
        parts = []
        if k.get("min_value") is not None:
            parts.append(f"{c} {'<=' if k.get('strict_min') else '<'} {_lit(k['min_value'])}")
        if k.get("max_value") is not None:
            parts.append(f"{c} {'>=' if k.get('strict_max') else '>'} {_lit(k['max_value'])}")
        return f"{c} IS NOT NULL AND ({' OR '.join(parts) or 'false'})"
    if t == "expect_column_values_to_be_in_set":
        return f"{c} IS NOT NULL AND NOT ({c} IN ({', '.join(_lit(v) for v in k['value_set'])}))"
    if t == "expect_column_values_to_match_regex":
        return f"{c} IS NOT NULL AND NOT ({c} RLIKE {_lit(k['regex'])})"
    if t == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = _q(k["column_A"]), _q(k["column_B"])
        op = ">=" if k.get("or_equal") else ">"
        return f"{a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({a} {op} {b})"
    return None


def run_metrics(df, expectations: list[dict], null_counts: dict | None = None) -> list[Outcome]:
    """Evaluate METRIC_TYPES expectations from column aggregates; others raise ValueError.

    Pass a dict as null_counts to get every column's null count from the same scans."""
    spark = df.sparkSession
    schema = {f.name: type(f.dataType).__name__ for f in df.schema.fields}
    view = f"_gl_quality_{os.getpid()}_{id(df)}"
    df.createOrReplaceTempView(view)
    aggs: list[str] = []
    slot: dict[int, str] = {}
    for i, e in enumerate(expectations):
        if e["type"] not in METRIC_TYPES:
            raise ValueError(f"metrics engine cannot evaluate {e['type']}")
        if any(c not in schema for c in columns_of(e)):
            continue
        t, k = e["type"], e["kwargs"]
        cond = _map_condition(e)
        if cond is not None:
            slot[i] = f"m{i}"
            aggs.append(f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END) AS m{i}")
        elif t == "expect_column_proportion_of_non_null_values_to_be_between":
            slot[i] = f"m{i}"
            aggs.append(f"count({_q(k['column'])}) AS m{i}")
    names = list(schema)
    if null_counts is not None:
        aggs += [f"count(*) - count({_q(c)}) AS z{j}" for j, c in enumerate(names)]
    row = {"n": 0}
    for chunk in _chunks(aggs, AGGS_PER_SCAN) or [[]]:
        row.update(spark.sql(f"SELECT {', '.join(['count(*) AS n', *chunk])} FROM {view}").collect()[0].asDict())
    n = row["n"]
    if null_counts is not None:
        null_counts.update({c: int(row[f"z{j}"]) for j, c in enumerate(names)})

    out = [outcome(e, schema, n, lambda: row[slot[i]], lambda cols: _duplicate_rows(spark, view, cols), "metrics")
           for i, e in enumerate(expectations)]
    spark.catalog.dropTempView(view)
    return out


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _duplicate_rows(spark, view: str, cols: list[str]) -> int:
    """Rows whose (non-null) key value occurs more than once — GX's unexpected_count."""
    keys = ", ".join(_q(c) for c in cols)
    not_null = " OR ".join(f"{_q(c)} IS NOT NULL" for c in cols)
    # First by a 64-bit hash of the key: a group-by on one long instead of strings (the 16 M tag
    # rows of 100,000 enterprises: 10 s instead of 23 s); equal keys hash equal, so no repeated hash
    # means no duplicate. A repeated hash (a duplicate, or rarely a collision) is counted exactly.
    h = spark.sql(f"SELECT count(*) AS d FROM (SELECT xxhash64({keys}) AS h FROM {view} WHERE {not_null} "
                  f"GROUP BY h HAVING count(*) > 1)").collect()[0]
    if h["d"] == 0:
        return 0
    r = spark.sql(f"SELECT coalesce(sum(c), 0) AS d FROM (SELECT count(*) AS c FROM {view} "
                  f"WHERE {not_null} GROUP BY {keys} HAVING count(*) > 1)").collect()[0]
    return int(r["d"])


def table_metrics(df) -> tuple[int, dict[str, int]]:
    """Row count and per-column null counts (for the data-quality metrics facet)."""
    nulls: dict[str, int] = {}
    out = run_metrics(df, [{"type": "expect_table_row_count_to_be_between", "kwargs": {}, "meta": {}}], nulls)
    return int(out[0].observed), nulls


def evaluate(df, suite: dict, engine: str = "auto", null_counts: dict | None = None, arrow=None) -> tuple[list[Outcome], str]:
    """Run a suite; returns (outcomes in suite order, engine used: gx | metrics | arrow, +gx when
    some types need GX). With a null_counts dict, fills it with every column's null count (free
    on the metrics and arrow paths). engine="arrow" needs `arrow`: the same rows as a pyarrow
    dataset (the staged Parquet files of a table, `Staged.dataset()`)."""
    exps = suite["expectations"]
    if engine == "gx" or (engine == "auto" and len(exps) <= AUTO_METRICS_ABOVE):
        out = run_gx(df, exps, suite.get("name", "suite"))
        if null_counts is not None:
            null_counts.update(table_metrics(df)[1])
        return out, "gx"
    if engine == "arrow":
        if arrow is None:
            raise ValueError("the arrow quality engine needs the rows as a pyarrow dataset (arrow=)")
        types = {f.name: type(f.dataType).__name__ for f in df.schema.fields}

        def count(es):
            return run_arrow(arrow, types, es, null_counts)
    elif engine in ("auto", "metrics"):
        engine = "metrics"

        def count(es):
            return run_metrics(df, es, null_counts)
    else:
        raise ValueError(f"unknown quality engine {engine!r} (gx | metrics | arrow | auto)")
    fast = [i for i, e in enumerate(exps) if e["type"] in METRIC_TYPES]
    rest = [i for i, e in enumerate(exps) if e["type"] not in METRIC_TYPES]
    results: dict[int, Outcome] = dict(zip(fast, count([exps[i] for i in fast])))
    if rest:
        results.update(zip(rest, run_gx(df, [exps[i] for i in rest], suite.get("name", "suite"))))
    return [results[i] for i in range(len(exps))], f"{engine}+gx" if rest else engine
