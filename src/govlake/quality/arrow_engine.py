"""Expectations counted by Arrow compute over a pyarrow dataset: a table staged as Parquet files
before its commit (`Staged.dataset()`, the 1,500-column enterprise profile and its tags), a Delta
snapshot read by delta-rs, or a frame's rows as an in-memory dataset. Each column is decoded
once, column by column in C++, and its counts are added up batch by batch (memory: one batch of
a few hundred columns).

Same expectation JSON and `Outcome`s as GX on the same rows (tests/quality check both agree);
column types come from the Spark schema of the same rows, so the type check is the same too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govlake.quality.outcome import METRIC_TYPES, Outcome, columns_of, outcome

if TYPE_CHECKING:
    import numpy as np

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


def _plain_files(dataset) -> bool:
    """Plain Parquet files (staged files, on local disk or in the bucket): their footers and
    dictionaries are read directly; other datasets (delta-rs snapshots, in-memory rows) are
    scanned as they are."""
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    return isinstance(dataset, pads.FileSystemDataset) and isinstance(
        dataset.filesystem, (pafs.LocalFileSystem, pafs.S3FileSystem))


def _unexpected(e: dict, cols: dict):
    """Boolean array: TRUE for an unexpected row of a column-map expectation, or None for
    expectations that are not row conditions."""
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


MAX_SEEN = 1 << 31  # key codes below this: repeats marked in a byte array (2 GiB), else sorted


def _batches(dataset, cols: list[str]):
    """The key columns batch by batch, string columns read as dictionaries: each row group's
    distinct values are decoded once, not every row's (a tag table repeats ~900,000 codes and
    733 tag ids 144 M times)."""
    import pyarrow.dataset as pads

    if _plain_files(dataset):
        fmt = pads.ParquetFileFormat(read_options=pads.ParquetReadOptions(dictionary_columns=cols))
        # the dataset's own filesystem: staged files of a lake in the bucket are keys in S3
        dataset = pads.dataset(dataset.files, format=fmt, filesystem=dataset.filesystem)
    for b in dataset.to_batches(columns=cols, batch_size=1 << 20):
        yield [b.column(c) for c in cols]


def _codes(arrays, keys) -> "np.ndarray":
    """Each row's key as one int64: mixed radix over the columns' distinct-value positions
    (keys: per column, its distinct values and, for text, value -> position; null: the last
    position); rows with every key column null are dropped (-1). A dictionary column's values
    are looked up once per batch: a row group of tags has ~10,000 distinct keys in ~1.6 M rows
    (index_in built a hash set of all 900,000 keys for every batch)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    code = np.zeros(len(arrays[0]), dtype=np.int64)
    all_null = np.ones(len(arrays[0]), dtype=bool)
    for a, (values, lookup) in zip(arrays, keys):
        n = len(values)
        valid = pc.is_valid(a).to_numpy(zero_copy_only=False)
        if pa.types.is_dictionary(a.type):
            at = np.array([lookup.get(x, n) for x in a.dictionary.to_pylist()] or [n], dtype=np.int64)
            pos = at[a.indices.fill_null(0).to_numpy(zero_copy_only=False)]
        else:  # numbers, dates: not read as dictionaries
            pos = pc.index_in(a, value_set=values).fill_null(n).to_numpy(zero_copy_only=False).astype(np.int64)
        pos[~valid] = n
        code = code * (n + 1) + pos
        all_null &= ~valid
    code[all_null] = -1
    return code


def _duplicate_rows(dataset, cols: list[str]) -> int:
    """Rows whose (not all null) key value occurs more than once (GX's unexpected_count).

    Keys become integer codes (a first pass collects each column's distinct values from the row
    groups' dictionaries); repeated codes are found by marking the codes seen, or by sorting them
    when the code space is too large; the rows of repeated codes are then counted exactly. 144 M
    (uscc, tag_id) rows never exist as strings at once."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    distinct: list[list] = [[] for _ in cols]
    for arrays in _batches(dataset, cols):
        for d, a in zip(distinct, arrays):
            d.append(pc.unique(a.dictionary if pa.types.is_dictionary(a.type) else a))
    values = [pc.unique(pa.concat_arrays(d)).drop_null() if d else pa.array([]) for d in distinct]
    keys = [(v, {x: i for i, x in enumerate(v.to_pylist())} if pa.types.is_string(v.type) else None)
            for v in values]
    space = 1
    for v in values:
        space *= len(v) + 1
    if space >= 1 << 62:
        raise ValueError(f"key {cols} has too many distinct values to code in 64 bits")
    repeated = []
    if space <= MAX_SEEN:
        seen = np.zeros(space, dtype=bool)
        for arrays in _batches(dataset, cols):
            c = _codes(arrays, keys)
            u, n = np.unique(c[c >= 0], return_counts=True)
            repeated.append(u[(n > 1) | seen[u]])
            seen[u] = True
        del seen
    else:
        c = np.sort(np.concatenate([_codes(a, keys) for a in _batches(dataset, cols)]))
        c = c[c >= 0]
        repeated.append(np.unique(c[1:][c[1:] == c[:-1]]))
    repeated = np.unique(np.concatenate(repeated)) if repeated else np.array([], dtype=np.int64)
    if not len(repeated):
        return 0
    return int(sum(np.isin(_codes(a, keys), repeated).sum() for a in _batches(dataset, cols)))


def _footer_nulls(dataset, names: list[str]) -> dict[str, int]:
    """Null counts of the columns whose every row group records one in its Parquet footer (exact
    statistics written with the file): counting them needs no scan."""
    import pyarrow.parquet as pq

    if not _plain_files(dataset):
        return {}
    out: dict[str, int] = {c: 0 for c in names}
    for f in dataset.files:
        md = pq.read_metadata(f, filesystem=dataset.filesystem)
        index = {md.schema.column(j).path: j for j in range(md.num_columns)}
        for c in list(out):
            for g in range(md.num_row_groups):
                st = md.row_group(g).column(index[c]).statistics if c in index else None
                if st is None or not st.has_null_count:
                    out.pop(c)
                    break
                out[c] += st.null_count
    return out


def run_arrow(dataset, spark_types: dict[str, str], expectations: list[dict],
              null_counts: dict | None = None) -> list[Outcome]:
    """Evaluate METRIC_TYPES expectations over a pyarrow dataset; spark_types: column ->
    Spark type class name of the same rows (StringType, IntegerType, ...)."""
    import pyarrow.compute as pc

    names = list(spark_types)
    footer = _footer_nulls(dataset, names)
    by_column: dict[tuple, list[int]] = {}
    from_footer: dict[int, int] = {}
    for i, e in enumerate(expectations):
        if e["type"] not in METRIC_TYPES:
            raise ValueError(f"arrow engine cannot evaluate {e['type']}")
        cols = tuple(columns_of(e))
        if e["type"] == "expect_column_values_to_not_be_null" and cols[0] in footer:
            from_footer[i] = footer[cols[0]]
        elif cols and all(c in spark_types for c in cols) and e["type"] not in (
                "expect_column_to_exist", "expect_column_values_to_be_of_type",
                "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            by_column.setdefault(cols, []).append(i)
    # Scans of up to COLUMNS_PER_SCAN columns; a pair expectation's two columns in one scan.
    groups: list[list[tuple]] = [[]]
    width = 0
    wanted = {(c,) for c in names if c not in footer} if null_counts is not None else set()
    for cols in sorted(set(by_column) | wanted, key=lambda c: names.index(c[0])):
        if width + len(cols) > COLUMNS_PER_SCAN and groups[-1]:
            groups.append([])
            width = 0
        groups[-1].append(cols)
        width += len(cols)
    counts = {**{i: 0 for ix in by_column.values() for i in ix}, **from_footer}
    nulls = {c: footer.get(c, 0) for c in names}
    n = dataset.count_rows()
    for group in groups:
        columns = sorted({c for cols in group for c in cols}, key=names.index)
        if not columns:
            continue
        for batch in dataset.to_batches(columns=columns, batch_size=64 * 1024):
            cols = {c: batch.column(c) for c in columns}
            for c in columns:
                if c not in footer:
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
