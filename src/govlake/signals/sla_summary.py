"""诉求办理时效与满意度闭环 headline figures over gold.fct_petition_sla: 按时办结率、24小时首次联系率、
预评价率、平均办理天数、回退率、专项督办, overall or by department, street or category.
Aggregation only: every per-ticket flag comes from the dbt mart, the one place the rules of
catalog/petition_service.yaml are applied."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa

FACT = "gold.fct_petition_sla"
# --by choice -> (fact column, 中文)
GROUPS = {"dept": ("dept_code", "承办部门"), "street": ("street_code", "街道"), "category": ("category_l1", "一级分类")}
COLUMNS = ["ticket_id", "submit_date", "dept_code", "street_code", "category_l1", "is_on_time", "first_contact_on_time",
           "has_pre_evaluation", "handling_days", "handling_workdays", "is_rated", "is_returned", "is_escalated"]
LABELS = {"tickets": "诉求量", "on_time_rate": "按时办结率", "first_contact_rate": "24小时首次联系率",
          "pre_evaluation_rate": "预评价率", "avg_handling_days": "平均办理天数", "avg_handling_workdays": "平均办理工作日",
          "rated": "已评价",
          "returned": "不满意回退", "return_rate": "回退率", "escalated": "专项督办"}


def sla_summary(fact: pa.Table, by: str | None = None, since: dt.date | None = None) -> pd.DataFrame:
    """One row (by=None) or one row per group; rates over the tickets whose outcome is known,
    回退率 over rated tickets."""
    key = f"{GROUPS[by][0]} as {by}, " if by else ""
    group = f"group by {GROUPS[by][0]} order by tickets desc" if by else ""
    where = "where submit_date >= ?" if since else ""
    con = duckdb.connect()
    con.register("f", fact)
    return con.execute(f"""
        select {key}
            count(*)                                            as tickets,
            avg(is_on_time::int)                                as on_time_rate,
            avg(first_contact_on_time::int)                     as first_contact_rate,
            avg(has_pre_evaluation::int)                        as pre_evaluation_rate,
            avg(handling_days)                                  as avg_handling_days,
            avg(handling_workdays)                              as avg_handling_workdays,
            sum(is_rated::int)::bigint                          as rated,
            sum(is_returned::int)::bigint                       as returned,
            sum(is_returned::int) / nullif(sum(is_rated::int), 0) as return_rate,
            sum(is_escalated::int)::bigint                      as escalated
        from f {where} {group}""", [since] if since else []).df()
