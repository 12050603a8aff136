"""Synthetic bronze rows for profile tests and benchmarks, generated in Spark SQL from the
catalog's source schemas (fast at 100k+ enterprises; the project generator feeds `make run`).

Every catalog column gets a value of its type that satisfies its enum/range/after rules;
yearly sources get five years per enterprise, event sources 0-3 rows each.
"""

from __future__ import annotations

import datetime as dt

from govlake.catalog.sources import load_sources
from govlake.lakehouse import Lakehouse

YEARLY = {"tax_annual", "social_insurance", "rd_activity", "statistics"}
SCALE = {"revenue_wan": 20000, "hightech_revenue_wan": 12000, "export_wan": 6000, "profit_wan": 3000,
         "total_tax_wan": 1500, "vat_wan": 800, "cit_wan": 400, "rd_deduction_wan": 300,
         "rd_expense_wan": 1500, "rd_expense_domestic_wan": 1400, "tech_contract_wan": 500,
         "insured_headcount": 600, "avg_insured_headcount": 580, "avg_monthly_wage": 15000,
         "bachelor_plus_count": 300, "rd_staff_count": 150, "new_hires": 120, "leavers": 100,
         "new_products": 8, "output_value_wan": 30000, "added_value_wan": 8000, "energy_tce": 3000,
         "amount_wan": 800, "area_sqm": 8000, "monthly_rent_yuan_sqm": 120, "reg_capital_wan": 5000}


def _value(src: str, col, salt: int) -> str:
    r = f"rand({salt})"
    if col.name == "uscc" or col.name == "related_uscc":
        return "uscc_"
    if col.enum:
        items = ", ".join("'" + str(v) + "'" for v in col.enum)
        weights = {"status": 0}
        if col.name == "status" and src == "enterprise_registry":
            return f"CASE WHEN {r} < 0.85 THEN '存续' ELSE element_at(array({items}), 1 + cast({r} * {len(col.enum)} AS INT)) END"
        if col.name == "status" and src in {"certificates", "ip_records"}:
            return f"CASE WHEN {r} < 0.75 THEN '有效' ELSE element_at(array({items}), 1 + cast({r} * {len(col.enum)} AS INT)) END"
        del weights
        return f"element_at(array({items}), 1 + cast({r} * {len(col.enum)} AS INT))"
    if col.type in {"int", "long", "double"}:
        if col.name == "year":
            return "year_"
        top = SCALE.get(col.name, col.max if col.max is not None and col.max < 1000 else 100)
        lo = 1 if (col.min is not None and col.min >= 1) else 0
        expr = f"{lo} + pow({r}, 3) * {top}"
        if col.name.startswith("satisfaction"):
            expr = f"1 + {r} * 4"
        if col.name == "profit_wan":
            expr = f"(pow({r}, 3) - 0.15) * {top}"
        if col.type == "double":
            return f"round({expr}, 2)"
        return f"cast({expr} AS INT)"
    if col.type == "boolean":
        return f"{r} < 0.3"
    if col.type in {"date", "timestamp"}:
        if col.after:
            base = f"{col.after}_v"
            if col.name in {"repaired_date"}:
                return f"CASE WHEN {r} < 0.2 THEN date_add({base}, cast({r} * 300 AS INT)) END"
            if col.name == "expiry_date":
                return f"date_add({base}, 365 * 3)"
            if col.type == "timestamp":
                return f"CASE WHEN {r} < 0.8 THEN {base} + make_interval(0, 0, 0, 0, cast({r} * 200 AS INT), 0, 0) END"
            return f"CASE WHEN {r} < 0.85 THEN date_add({base}, cast({r} * 900 AS INT)) END"
        if col.type == "timestamp":
            return f"CAST(date_sub(asof_, cast({r} * 1500 AS INT)) AS TIMESTAMP) + make_interval(0, 0, 0, 0, cast({r} * 23 AS INT), 0, 0)"
        return f"date_sub(asof_, cast({r} * {6000 if col.name == 'reg_date' else 2200} AS INT))"
    if col.name == "industry_code":
        return (f"concat(element_at(array('C','C','I','F','M','L','E','G','H','K'), 1 + cast({r} * 10 AS INT)), "
                f"lpad(cast(cast({r} * 9999 AS INT) AS STRING), 4, '0'))")
    if col.name == "street_code":
        return f"concat('4403060', lpad(cast(1 + cast({r} * 10 AS INT) AS STRING), 2, '0'))"
    if col.name == "community_code":
        return f"concat('4403060', lpad(cast(1 + cast({r} * 10 AS INT) AS STRING), 2, '0'), lpad(cast(cast({r} * 20 AS INT) AS STRING), 3, '0'))"
    if col.name == "dept_code":
        return (f"element_at(array('KCJ','GXJ','SWJ','RLJ','FGJ','TZS'), 1 + cast({r} * 6 AS INT))")
    return f"concat('{col.name}_', id_)"


def source_frame(spark, src, n: int, as_of: dt.date, load_date: dt.date, seed: int = 7, id_offset: int = 0,
                 id_count: int | None = None):
    """A bronze DataFrame for one source over enterprises id_offset .. id_offset+id_count."""
    count = id_count if id_count is not None else n
    dated = [c for c in src.columns if c.after]
    plain = [c for c in src.columns if not c.after]
    if src.name in YEARLY:
        rows = f"explode(sequence({as_of.year - 5}, {as_of.year - 1}))"
    elif src.name == "enterprise_registry":
        rows = "0"
    else:
        rows = f"explode(sequence(1, cast(rand({seed}) * 4 AS INT)))"
    base = (f"SELECT concat('91440306MA', lpad(cast(id AS STRING), 8, '0')) AS uscc_, "
            f"concat(cast(id AS STRING), '_', cast(r_ AS STRING)) AS id_, r_ AS year_, "
            f"DATE '{as_of.isoformat()}' AS asof_ "
            f"FROM (SELECT id, {rows} AS r_ FROM range({id_offset}, {id_offset + count})) WHERE r_ > 0 OR {rows == '0'}")
    salt = seed * 100
    exprs = []
    for i, c in enumerate(plain):
        exprs.append(f"{_value(src.name, c, salt + i)} AS {c.name}_v")
    step1 = f"SELECT *, {', '.join(exprs)} FROM ({base})"
    exprs2 = [f"{_value(src.name, c, salt + 50 + i)} AS {c.name}_v" for i, c in enumerate(dated)]
    step2 = f"SELECT *{', ' + ', '.join(exprs2) if exprs2 else ''} FROM ({step1})"
    typ = {"int": "INT", "long": "BIGINT", "double": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP",
           "boolean": "BOOLEAN", "string": "STRING"}
    final = ", ".join(f"CAST({c.name}_v AS {typ[c.type]}) AS {c.name}" for c in src.columns)
    df = spark.sql(f"SELECT {final}, DATE '{load_date.isoformat()}' AS _load_date, "
                   f"'synthetic' AS _source_file, 'synthetic-{seed}' AS _run_id FROM ({step2})")
    return df


def write_bronze(spark, lake: Lakehouse, n: int, as_of: dt.date, load_date: dt.date, *, seed: int = 7,
                 id_offset: int = 0, id_count: int | None = None, mode: str = "overwrite") -> dict[str, int]:
    """Write every catalog source as bronze.<source> (partition _load_date). Returns rows per source."""
    out = {}
    for src in load_sources(lake.settings.catalog_dir):
        df = source_frame(spark, src, n, as_of, load_date, seed=seed, id_offset=id_offset, id_count=id_count)
        commit = lake.write(df, f"bronze.{src.name}", mode=mode, partition_by=["_load_date"])
        out[src.name] = commit.rows_written
    return out
