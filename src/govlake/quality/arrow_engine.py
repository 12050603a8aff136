"""The metrics engine's expectations evaluated by Arrow over Parquet files (a pyarrow dataset):
for a table staged as files before its commit (`Lakehouse.stage`), such as the 1,500-column
enterprise profile. Spark scans the files once per ~300 aggregates and decodes every value
into rows; here each column is decoded once, column by column in C++, and its counts are
added up batch by batch (memory: one batch of a few hundred columns).

Same expectation JSON, same `Outcome`s as `engine.run_metrics` (tests/quality check both agree);
column types come from the Spark schema of the same rows, so the type check is the same too.
"""

from __future__ import annotations

from govlake.quality.engine import METRIC_TYPES, _columns_of, outcome

COLUMNS_PER_SCAN = 300


def _value(v, typ):
    """A suite bound as an Arrow scalar of the column's type (dates are ISO strings in JSON)."""
    import datetime as dt

    import pyarrow as pa

    if isinstance(v, str) and pa.types.is_date(typ):
        return pa.scalar(dt.date.fromisoformat(v), typ)
    if isinstance(v, str) and pa.types.is_timestamp(typ):
        return pa.scalar(dt.datetime.fromisoformat(v), typ)
    return v


def _unexpected(e: dict, cols: dict):
    """Boolean array: TRUE for an unexpected row of a column-map expectation (as
    engine._map_condition in SQL), or None for expectations that are not row conditions."""
    import pyarrow as pa
    import pyarrow.compute as pc

    k, t = e["kwargs"], e["type"]
    if t == "expect_column_values_to_not_be_null":
        return pc.is_null(cols[k["column"]])
    if t == "expect_column_values_to_be_between":
        x = cols[k["column"]]
        bad = pa.scalar(False)
        if k.get("min_value") is not None:
            bad = pc.or_((pc.less_equal if k.get("strict_min") else pc.less)(x, _value(k["min_value"], x.type)), bad)
        if k.get("max_value") is not None:
            bad = pc.or_((pc.greater_equal if k.get("strict_max") else pc.greater)(x, _value(k["max_value"], x.type)), bad)
        return pc.and_(pc.is_valid(x), bad)
    if t == "expect_column_values_to_be_in_set":
        x = cols[k["column"]]
        return pc.and_(pc.is_valid(x), pc.invert(pc.is_in(x, value_set=pa.array(k["value_set"], x.type))))
    if t == "expect_column_values_to_match_regex":
        x = cols[k["column"]]
        return pc.and_(pc.is_valid(x), pc.invert(pc.match_substring_regex(x, k["regex"])))
    if t == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = cols[k["column_A"]], cols[k["column_B"]]
        ok = (pc.greater_equal if k.get("or_equal") else pc.greater)(a, b)
        return pc.and_(pc.and_(pc.is_valid(a), pc.is_valid(b)), pc.invert(ok))
    return None


def _duplicate_rows(dataset, cols: list[str]) -> int:
    """Rows whose (not all null) key value occurs more than once, as engine._duplicate_rows."""
    import pyarrow.compute as pc

    t = dataset.to_table(columns=cols)
    keep = pc.is_valid(t.column(cols[0]))
    for c in cols[1:]:
        keep = pc.or_(keep, pc.is_valid(t.column(c)))
    counts = t.filter(keep).group_by(cols).aggregate([([], "count_all")]).column("count_all")
    return int(pc.sum(pc.filter(counts, pc.greater(counts, 1))).as_py() or 0)


def run_arrow(dataset, spark_types: dict[str, str], expectations: list[dict],
              null_counts: dict | None = None) -> list[Outcome]:
    """Evaluate METRIC_TYPES expectations over a pyarrow dataset; spark_types: column ->
    Spark type class name of the same rows (StringType, IntegerType, ...)."""
    import pyarrow.compute as pc

    names = list(spark_types)
    by_column: dict[tuple, list[int]] = {}
    for i, e in enumerate(expectations):
        if e["type"] not in METRIC_TYPES:
            raise ValueError(f"arrow engine cannot evaluate {e['type']}")
        cols = tuple(_columns_of(e))
        if cols and all(c in spark_types for c in cols) and e["type"] not in (
                "expect_column_to_exist", "expect_column_values_to_be_of_type",
                "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            by_column.setdefault(cols, []).append(i)
    # Scans of up to COLUMNS_PER_SCAN columns; a pair expectation's two columns in one scan.
    groups: list[list[tuple]] = [[]]
    width = 0
    wanted = {(c,) for c in names} if null_counts is not None else set()
    for cols in sorted(set(by_column) | wanted, key=lambda c: names.index(c[0])):
        if width + len(cols) > COLUMNS_PER_SCAN and groups[-1]:
            groups.append([])
            width = 0
        groups[-1].append(cols)
        width += len(cols)
    counts = {i: 0 for ix in by_column.values() for i in ix}
    nulls = {c: 0 for c in names}
    n = dataset.count_rows()
    for group in groups:
        columns = sorted({c for cols in group for c in cols}, key=names.index)
        if not columns:
            continue
        for batch in dataset.to_batches(columns=columns, batch_size=64 * 1024):
            cols = {c: batch.column(c) for c in columns}
            for c in columns:
                nulls[c] += cols[c].null_count
            for key in group:
                for i in by_column.get(key, []):
                    bad = _unexpected(expectations[i], cols)
                    if bad is not None:
                        counts[i] += int(pc.sum(bad).as_py() or 0)
                    else:  # proportion of non-null values
                        counts[i] += len(cols[key[0]]) - cols[key[0]].null_count
    if null_counts is not None:
        null_counts.update(nulls)

    return [outcome(e, spark_types, n, lambda: counts[i], lambda cols: _duplicate_rows(dataset, cols), "arrow")
            for i, e in enumerate(expectations)]
