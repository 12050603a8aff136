"""The portal tests' small lake: generated petition tickets with their SLA reports and dispatch
recommendations, and the people who log in (tests/portal/conftest.py builds it)."""

from __future__ import annotations

import datetime as dt

U1, U2 = "914403000000000001", "914403000000000002"
DEPTS = ["KCJ", "GXJ", "SWJ"]
PASSWORD = "portal-pass-2026"
# who logs in: a member of 工信局 (applies), the owner of 政数局 (owns the petition and profile products)
MEMBER, OWNER = ("gxj_zhang", "member", "GXJ", "张工信"), ("zsj_li", "owner", "ZSJ", "李政数")


def petition_rows(n_days: int = 12, per_day: int = 6):
    """Generated tickets: fact rows, dispatch recommendations (rank 1 right for every ticket whose
    number is not a multiple of 3, rank 2 right for the others) and the daily report."""
    start = dt.date(2026, 11, 1)
    fact, dispatch = [], []
    for d in range(n_days):
        for i in range(per_day):
            k = d * per_day + i
            dept = DEPTS[k % 3]
            other = DEPTS[(k + 1) % 3]
            tid = f"T{k:05d}"
            fact.append((tid, start + dt.timedelta(days=d), dept, "ST001", "城乡建设", k % 4 != 0, k % 5 != 0, True,
                         float(1 + k % 7), float(1 + k % 5), k % 2 == 0, k % 6 == 0, k % 10 == 0))
            ranks = [other, dept, DEPTS[(k + 2) % 3]] if k % 3 == 0 else [dept, other, DEPTS[(k + 2) % 3]]
            dispatch += [(tid, r + 1, code, code, 0.5 - r * 0.1, "文本模型") for r, code in enumerate(ranks)]
    return fact, dispatch


FACT_SCHEMA = ("ticket_id string, submit_date date, dept_code string, street_code string, category_l1 string, "
               "is_on_time boolean, first_contact_on_time boolean, has_pre_evaluation boolean, handling_days double, "
               "handling_workdays double, is_rated boolean, is_returned boolean, is_escalated boolean")
REPORT_SCHEMA = ("period_start date, dept_code string, dept_name string, street_code string, category_l1 string, "
                 "ticket_count bigint, closed_count bigint, on_time_rate double, first_contact_on_time_rate double, "
                 "pre_evaluation_rate double, avg_handling_days double, rated_count bigint, returned_count bigint, "
                 "return_rate double, escalated_count bigint")


def report_rows(fact, period):
    groups: dict = {}
    for r in fact:
        groups.setdefault((period(r[1]), r[2]), []).append(r)
    out = []
    for (start, dept), rs in sorted(groups.items()):
        rated = [r for r in rs if r[10]]
        out.append((start, dept, dept, "ST001", "城乡建设", len(rs), len(rs), sum(r[5] for r in rs) / len(rs),
                    sum(r[6] for r in rs) / len(rs), 1.0, sum(r[8] for r in rs) / len(rs), len(rated),
                    sum(r[11] for r in rated), (sum(r[11] for r in rated) / len(rated)) if rated else None,
                    sum(r[12] for r in rs)))
    return out


def commit_rows(lake, spark, table: str, rows: list[tuple], ddl: str) -> None:
    """One overwrite commit of rows by the lake's delta-rs path (stage_arrow + commit, as the
    profile's writer commits): no Spark job per table, so the fixture stays quick."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = spark.createDataFrame([], ddl).schema
    arrow_schema = to_arrow_schema(schema)
    batch = pa.RecordBatch.from_pylist([dict(zip(schema.fieldNames(), r)) for r in rows], schema=arrow_schema)
    lake.commit(lake.stage_arrow([[batch]], table, schema))
