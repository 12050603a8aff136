"""Synthetic enterprise profiles (core fields only) for tests and the benchmark, seeded.

Distributions are loose but put a realistic share of enterprises near the policy thresholds,
and ~null_rate of every value is null so the 'data missing' path is exercised."""

from __future__ import annotations

import random

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from govlake.policy.fields import FieldInfo

SPARK_TYPES = {"string": T.StringType(), "double": T.DoubleType(), "int": T.IntegerType(),
               "long": T.LongType(), "boolean": T.BooleanType()}
SIZES = ["大型", "中型", "小型", "微型"]
STAT = ["规上工业", "资质内建筑业", "限上批发零售", "规上服务业", "非四上"]
GRADES = ["A", "B", "M", "C", "D"]
INDUSTRIES = ["C3911", "C2710", "C3562", "C1810", "F5121", "I6513", "M7320", "K7010", "C3824", "E4710"]


def _value(f: FieldInfo, rng: random.Random):
    i = f.id
    if f.type == "boolean":
        return rng.random() < (0.85 if i in ("is_registered_in_district", "stat_in_district_y1") else
                               0.03 if i == "credit_dishonest_active" else 0.25)
    if i == "uscc":
        return None
    if i == "enterprise_size":
        return rng.choice(SIZES)
    if i == "stat_category_y1":
        return rng.choice(STAT)
    if i == "tax_credit_grade_y1":
        return rng.choice(GRADES)
    if i == "industry_code":
        return rng.choice(INDUSTRIES)
    if f.type == "string":
        return rng.choice(["甲", "乙", "丙"])
    if "_ratio" in i or "_share" in i:
        return round(rng.uniform(0, 0.9 if "share" in i or "hightech" in i else 0.12), 4)
    if "growth" in i:
        return round(rng.uniform(-0.2, 0.4), 4)
    if "score" in i:
        return round(rng.uniform(30, 95), 1)
    if f.type in ("int", "long"):
        if "credit" in i or "penalty" in i:
            return rng.choice([0, 0, 0, 0, 0, 0, 1, 2])
        return rng.choice([0, 0, 1, 2, 3, 5, 8, 20, 120, 600])
    if "years" in i:
        return round(rng.uniform(0, 25), 2)
    return round(10 ** rng.uniform(1, 4.8), 2)


def random_profiles(fields: dict[str, FieldInfo], n: int, seed: int = 7, null_rate: float = 0.05) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        row = {"uscc": f"91440306{k:010d}"}
        for f in fields.values():
            if f.id != "uscc":
                row[f.id] = None if rng.random() < null_rate else _value(f, rng)
        rows.append(row)
    return rows


def profile_schema(fields: dict[str, FieldInfo]) -> T.StructType:
    return T.StructType([T.StructField(f.id, SPARK_TYPES.get(f.type, T.DoubleType())) for f in fields.values()])


def profile_df(spark: SparkSession, fields: dict[str, FieldInfo], rows: list[dict]) -> DataFrame:
    schema = profile_schema(fields)
    conv = {"double": float, "int": int, "long": int, "boolean": bool, "string": str}
    casts = [conv.get(fields[f.name].type, float) for f in schema.fields]
    data = [tuple(None if r.get(f.name) is None else c(r[f.name]) for f, c in zip(schema.fields, casts)) for r in rows]
    return spark.createDataFrame(data, schema)


def synthetic_profile_sql(spark: SparkSession, fields: dict[str, FieldInfo], n: int, seed: int = 7,
                          null_rate: float = 0.03) -> DataFrame:
    """The same kind of profile generated inside Spark (for 100k-900k rows), deterministic per seed."""
    exprs = ["concat('91440306', lpad(CAST(id AS STRING), 10, '0')) AS uscc"]
    for k, f in enumerate(fields.values()):
        if f.id == "uscc":
            continue
        r = f"rand({seed * 1000 + k})"
        i = f.id
        if f.type == "boolean":
            p = 0.85 if i in ("is_registered_in_district", "stat_in_district_y1") else 0.03 if i == "credit_dishonest_active" else 0.25
            v = f"({r} < {p})"
        elif i in ("enterprise_size", "stat_category_y1", "tax_credit_grade_y1", "industry_code") or f.type == "string":
            opts = {"enterprise_size": SIZES, "stat_category_y1": STAT, "tax_credit_grade_y1": GRADES,
                    "industry_code": INDUSTRIES}.get(i, ["甲", "乙", "丙"])
            v = "element_at(array(" + ", ".join(f"'{o}'" for o in opts) + f"), CAST(floor({r} * {len(opts)}) AS INT) + 1)"
        elif "_ratio" in i or "_share" in i:
            v = f"round({r} * {0.9 if 'share' in i or 'hightech' in i else 0.12}, 4)"
        elif "growth" in i:
            v = f"round({r} * 0.6 - 0.2, 4)"
        elif "score" in i:
            v = f"round(30 + {r} * 65, 1)"
        elif f.type in ("int", "long"):
            arr = "array(0,0,0,0,0,0,1,2)" if ("credit" in i or "penalty" in i) else "array(0,0,1,2,3,5,8,20,120,600)"
            v = f"element_at({arr}, CAST(floor({r} * {8 if 'credit' in i or 'penalty' in i else 10}) AS INT) + 1)"
        elif "years" in i:
            v = f"round({r} * 25, 2)"
        else:
            v = f"round(pow(10, 1 + {r} * 3.8), 2)"
        t = SPARK_TYPES.get(f.type, T.DoubleType()).simpleString()
        exprs.append(f"CASE WHEN rand({seed * 7000 + k}) < {null_rate} THEN NULL ELSE CAST({v} AS {t}) END AS `{i}`")
    return spark.range(n).selectExpr(*exprs)
