"""Small valid frames for any catalog source, built from the catalog rules themselves."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from pyspark.sql.types import (
    BooleanType, DateType, DoubleType, IntegerType, LongType, StringType, StructField, StructType, TimestampType,
)

SPARK = {"string": StringType(), "int": IntegerType(), "long": LongType(), "double": DoubleType(),
         "date": DateType(), "timestamp": TimestampType(), "boolean": BooleanType()}
SAMPLES = {"^[A-T][0-9]{4}$": "C3911", "^[0-9]{9}$": "440306017", "^[0-9]{12}$": "440306017001"}


def as_dict(source) -> dict:
    """A catalog Source as the plain mapping of sources.yaml (absent rules left out)."""
    cols = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(c).items() if v is not None and v is not False}
            for c in source.columns]
    return {"key": list(source.key), "label": source.label, "columns": cols}


def value(col: dict, i: int):
    t = col["type"]
    if col.get("enum"):
        return col["enum"][i % len(col["enum"])]
    if col.get("check") == "uscc":
        return f"9144030{i:011d}"
    if col.get("pattern"):
        return SAMPLES[col["pattern"]]
    if t == "string":
        return f"{col['name']}-{i}"
    if t in ("int", "long"):
        return int(col.get("min", 0)) + i % 3
    if t == "double":
        return float(col.get("min", 0)) + 1.5
    if t == "date":
        return dt.date(2024, 1, 1) + dt.timedelta(days=30 if col.get("after") else 0)
    if t == "timestamp":
        return dt.datetime(2024, 1, 1, 8) + dt.timedelta(hours=5 if col.get("after") else 0)
    if t == "boolean":
        return i % 2 == 0
    raise ValueError(t)


def schema(source: dict) -> StructType:
    fields = [StructField(c["name"], SPARK[c["type"]], True, {"comment": c["label"]}) for c in source["columns"]]
    return StructType(fields + [StructField("_load_date", DateType()), StructField("_source_file", StringType()),
                                StructField("_run_id", StringType())])


def rows(source: dict, n: int = 5) -> list[dict]:
    out = []
    for i in range(n):
        r = {c["name"]: value(c, i) for c in source["columns"]}
        for k in source["key"]:  # keys must differ between rows
            col = next(c for c in source["columns"] if c["name"] == k)
            if col["type"] == "string" and not col.get("check"):
                r[k] = f"{k}-{i}"
            elif col.get("check") == "uscc":
                r[k] = f"9144030{i:011d}"
            else:
                r[k] = int(col.get("min", 0)) + i
        r.update(_load_date=dt.date(2026, 11, 1), _source_file="f.csv", _run_id="r1")
        out.append(r)
    return out


def frame(spark, source, n: int = 5, mutate=None):
    source = as_dict(source)
    data = rows(source, n)
    if mutate:
        mutate(data)
    sch = schema(source)
    return spark.createDataFrame([tuple(r[f.name] for f in sch.fields) for r in data], sch)
