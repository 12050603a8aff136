"""The SLA marts through the project's dbt runner, on a handful of tickets with known answers."""

import datetime as dt

import pytest

from govlake.settings import Settings
from tests.transform.conftest import DEPARTMENTS, bronze_df, departments_df

D = dt.date(2026, 11, 2)
T0 = dt.datetime(2026, 10, 26, 9, 0)  # a Monday


def _t(tid, rtype, *, contact_h=None, close_h=None, sats=None, reopen=0, dept="CGJ", street="440306017", req="R"):
    s = sats or (None, None, None, None)
    return {"ticket_id": tid, "channel": "12345热线", "submit_time": T0, "requester_id": req + tid, "title": "t",
            "content": "c", "request_type": rtype, "handling_dept_code": dept, "street_code": street,
            "status": "已办结" if close_h is not None else "处理中",
            "first_contact_time": T0 + dt.timedelta(hours=contact_h) if contact_h is not None else None,
            "closed_time": T0 + dt.timedelta(hours=close_h) if close_h is not None else None,
            "satisfaction_response": s[0], "satisfaction_attitude": s[1], "satisfaction_result": s[2],
            "satisfaction_overall": s[3], "reopen_count": reopen,
            "_load_date": D, "_source_file": "p.csv", "_run_id": "r"}


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    from govlake.lakehouse import Lakehouse
    from govlake.transform.runner import run_dbt

    s = Settings(lake_root=tmp_path_factory.mktemp("sla") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, s)
    rows = [
        _t("A", "咨询", contact_h=1, close_h=5, sats=(5, 5, 4, 5)),          # simple, same day: on time
        _t("B", "咨询", contact_h=2, close_h=30, sats=(3, 3, 2, 2)),         # simple, next day: late
        _t("C", "投诉", contact_h=30, close_h=100, sats=(4, 4, 4, 4), reopen=1),  # normal in 7 d, contact late
        _t("D", "投诉", contact_h=3, close_h=200),                           # normal, 8+ days: late
        _t("E", "投诉"),                                                     # open since 10-26: overdue on 11-02
    ]
    lake.write(bronze_df(spark, s, "petitions", rows), "bronze.petitions", mode="append", partition_by=["_load_date"])
    lake.write(departments_df(spark, s, DEPARTMENTS), "bronze.departments")
    run_dbt(spark, s, ["build", "--select", "+rpt_petition_sla_daily", "+rpt_petition_sla_weekly",
                       "+rpt_petition_sla_monthly"], load_date=str(D), emit_lineage=False)
    return s


def test_fact_flags(spark, built):
    f = {r.ticket_id: r for r in spark.sql("select * from global_temp.fct_petition_sla").collect()}
    assert f["A"].matter_class == "simple" and f["A"].is_on_time is True
    assert f["B"].is_on_time is False
    assert f["C"].is_on_time is True and f["C"].first_contact_within_24h is False and f["C"].is_reopened
    assert f["D"].is_on_time is False and f["D"].close_hours == 200.0
    assert f["E"].is_overdue and f["E"].is_on_time is False and f["E"].first_contact_within_24h is False


def test_reports(spark, built):
    d = spark.sql("select * from global_temp.rpt_petition_sla_daily").collect()
    assert len(d) == 1
    r = d[0]
    assert r.dept_name == "区城市管理和综合执法局" and r.ticket_count == 5 and r.closed_count == 4
    assert r.on_time_rate == pytest.approx(2 / 5) and r.first_contact_24h_rate == pytest.approx(3 / 5)
    assert r.avg_satisfaction_overall == pytest.approx((5 + 2 + 4) / 3) and r.reopen_rate == pytest.approx(1 / 5)
    w = spark.sql("select * from global_temp.rpt_petition_sla_weekly").collect()[0]
    m = spark.sql("select * from global_temp.rpt_petition_sla_monthly").collect()[0]
    assert w.period_start == dt.date(2026, 10, 26) and m.period_start == dt.date(2026, 10, 1)
    assert w.ticket_count == m.ticket_count == 5
