"""近三年未发生……违法违规行为: the profile field credit_serious_3y_count, as the profile's dbt model
computes it in DuckDB (the workers' engine) from credit records, and the 专精特新 items that read it."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from govlake.policy.compile import compile_policies
from govlake.profile import compiled

AS_OF = dt.date(2026, 5, 10)
D = dt.date.fromisoformat
# uscc, record_type, severity, decision_date, repaired_date
RECORDS = [
    ("A", "行政处罚", "严重", D("2024-08-01"), D("2025-02-01")),  # 21 months ago, repaired: counts in 3y, not in 1y
    ("B", "失信被执行人", None, D("2022-11-01"), None),  # 42 months ago: outside 3y
    ("C", "行政处罚", "一般", D("2026-01-05"), None),  # not serious
    ("D", "严重违法失信", None, D("2023-05-11"), None),  # one day inside the 36 months
    ("E", "严重违法失信", None, D("2023-05-10"), None),  # exactly 36 months: outside (window is (as_of-36m, as_of])
    ("F", "行政处罚", "严重", D("2026-03-01"), None),  # recent, unrepaired: both windows
]


@pytest.fixture(scope="module")
def counts():
    con = duckdb.connect()
    con.execute("CREATE TABLE stg_credit_records (uscc VARCHAR, record_type VARCHAR, severity VARCHAR, "
                "decision_date DATE, repaired_date DATE, amount_wan DOUBLE)")
    con.executemany("INSERT INTO stg_credit_records VALUES (?, ?, ?, ?, ?, 1.0)", RECORDS)
    sql = compiled.query("int_enterprise_src_credit_records")  # the dbt model, as dbt compiles it for DuckDB
    compiled.set_dates(con, AS_OF)
    rows = con.execute(f"SELECT uscc, credit_serious_1y_count, credit_serious_3y_count FROM ({sql})").fetchall()
    return {u: (y1, y3) for u, y1, y3 in rows}


def test_three_year_count_includes_repaired_records_inside_36_months(counts):
    assert counts == {"A": (0, 1), "B": (0, 0), "C": (0, 0), "D": (0, 1), "E": (0, 0), "F": (1, 1)}


@pytest.mark.parametrize("pid", ["little_giant", "srdi_sme", "innovative_sme"])
def test_srdi_items_fail_on_a_serious_record_two_years_ago(pid, counts, policies, fields):
    cp = next(c for c in compile_policies([p for p in policies if p.policy_id == pid], AS_OF, fields))
    for uscc, want in (("A", "fail"), ("B", "pass"), ("D", "fail"), ("E", "pass")):
        y1, y3 = counts[uscc]
        row = {f: None for f in cp.fields_read} | {"uscc": uscc, "credit_serious_1y_count": y1,
                                                   "credit_serious_3y_count": y3, "credit_dishonest_active": False}
        res = cp.evaluate(row, frozenset()).to_dict()
        assert res["clause_results"]["good_standing"] == want, (pid, uscc, res["clause_results"])
