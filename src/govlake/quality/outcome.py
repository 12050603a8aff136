"""What a quality engine returns for one expectation (`Outcome`: GX's Checkpoint, checkpoints.py,
or the Arrow engine, arrow_engine.py), and the verdict of a METRIC_TYPES expectation from what
the Arrow engine counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Types the Arrow engine counts itself (every type the generated suites use).
METRIC_TYPES = {
    "expect_column_to_exist", "expect_column_values_to_be_of_type", "expect_table_row_count_to_be_between",
    "expect_column_values_to_not_be_null", "expect_column_proportion_of_non_null_values_to_be_between",
    "expect_column_values_to_be_between", "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex", "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
}


@dataclass
class Outcome:
    type: str
    kwargs: dict
    meta: dict
    success: bool
    unexpected_count: int | None = None
    observed: Any = None
    examples: list = field(default_factory=list)
    error: str | None = None
    engine: str = "gx"

    @property
    def column(self) -> str | None:
        k = self.kwargs
        if "column" in k:
            return k["column"]
        if "column_A" in k:
            return f"{k['column_A']},{k['column_B']}"
        if "column_list" in k:
            return ",".join(k["column_list"])
        return None

    @property
    def label(self) -> str | None:
        return self.meta.get("label")

    def describe(self, rows: int | None = None) -> str:
        col = self.column
        where = f" on {col}" + (f" ({self.label})" if self.label else "") if col else ""
        if self.error:
            what = f"error: {self.error}"
        elif self.unexpected_count is not None:
            what = f"{self.unexpected_count} unexpected" + (f" of {rows} rows" if rows is not None else "")
            if self.examples:
                what += f", e.g. {self.examples[:3]}"
        else:
            what = f"observed {self.observed!r}"
        args = {k: v for k, v in self.kwargs.items() if k not in ("column", "column_list", "column_A", "column_B")}
        return f"{self.type}{where} {args}: {what}"

    def to_dict(self) -> dict:
        return {"type": self.type, "column": self.column, "label": self.label, "rule": self.meta.get("rule"),
                "kwargs": self.kwargs, "success": self.success, "unexpected_count": self.unexpected_count,
                "observed": _jsonable(self.observed), "examples": [_jsonable(x) for x in self.examples[:5]],
                "error": self.error, "engine": self.engine}


def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def columns_of(e: dict) -> list[str]:
    k = e["kwargs"]
    return [c for c in (k.get("column"), k.get("column_A"), k.get("column_B")) if c] + list(k.get("column_list") or [])


def outcome(e: dict, types: dict[str, str], n: int, count, duplicates, engine: str) -> Outcome:
    """The verdict of one METRIC_TYPES expectation from what an engine counted: types (column ->
    Spark type name), n rows, count() -> its unexpected rows (non-null rows for a proportion),
    duplicates(columns) -> rows whose key repeats."""
    t, k = e["type"], e["kwargs"]
    o = Outcome(type=t, kwargs=k, meta=e.get("meta", {}), success=False, engine=engine)
    missing = [c for c in columns_of(e) if c not in types]
    if t == "expect_column_to_exist":
        o.success = o.observed = k["column"] in types
    elif missing:
        o.error = f"column(s) {missing} not found"
    elif t == "expect_column_values_to_be_of_type":
        o.observed = types[k["column"]]
        o.success = o.observed == k["type_"]
    elif t == "expect_table_row_count_to_be_between":
        o.observed = n
        o.success = (k.get("min_value") is None or n >= k["min_value"]) and (k.get("max_value") is None or n <= k["max_value"])
    elif t == "expect_column_proportion_of_non_null_values_to_be_between":
        o.observed = (count() / n) if n else None
        o.success = o.observed is not None and (k.get("min_value") is None or o.observed >= k["min_value"]) \
            and (k.get("max_value") is None or o.observed <= k["max_value"])
    elif t in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        o.unexpected_count = duplicates([k["column"]] if "column" in k else list(k["column_list"]))
        o.success = o.unexpected_count == 0
    else:
        o.unexpected_count = int(count() or 0)
        mostly = k.get("mostly")
        o.success = o.unexpected_count == 0 if mostly is None else (n == 0 or 1 - o.unexpected_count / n >= mostly)
    return o
