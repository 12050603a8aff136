"""The SLA marts through the project's dbt runner, on a handful of tickets with known answers,
and the 不满意回退 / 专项督办 rule of catalog/petition_service.yaml over every rating it can see."""

import datetime as dt

import pytest

from govlake.catalog.petition_service import load_petition_service
from govlake.catalog.work_calendar import load_work_calendar
from govlake.settings import Settings, get_settings
from tests.transform.conftest import DEPARTMENTS, bronze_df, departments_df

D = dt.date(2026, 11, 2)
T0 = dt.datetime(2026, 10, 26, 9, 0)  # a Monday
SVC = load_petition_service(get_settings().catalog_dir)
DIMS = [d.id for d in SVC.dimensions]


def _h(h, t0=T0):
    return t0 + dt.timedelta(hours=h) if h is not None else None


def _t(tid, rtype, *, dispatch_h=None, contact_h=None, pre_h=None, close_h=None, sats=None, reclose_h=None,
       resats=None, dept="CGJ", street="440306017", req="R", t0=T0):
    """sats / resats: first and second rating as {dimension id: score}; the rating times follow."""
    row = {"ticket_id": tid, "channel": "12345热线", "submit_time": t0, "requester_id": req + tid, "title": "t",
           "content": "c", "request_type": rtype, "handling_dept_code": dept, "street_code": street,
           "category_l1": "城乡建设", "status": "已办结" if close_h is not None else "处理中",
           "dispatched_time": _h(dispatch_h, t0), "first_contact_time": _h(contact_h, t0), "pre_eval_time": _h(pre_h, t0),
           "closed_time": _h(close_h, t0), "rated_time": _h(close_h + 1, t0) if sats else None,
           "reclosed_time": _h(reclose_h, t0), "rerated_time": _h(reclose_h + 1, t0) if resats else None,
           "_load_date": D, "_source_file": "p.csv", "_run_id": "r"}
    for d in SVC.dimensions:
        row[d.column] = (sats or {}).get(d.id)
        row[d.rerating] = (resats or {}).get(d.id)
    return row


def _all(score):
    return dict.fromkeys(DIMS, score)


# Every dimension at every score, the others at 5: which single ratings send a ticket back.
GRID = [(dim, score) for dim in DIMS for score in range(SVC.rating_min, SVC.rating_max + 1)]


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    from govlake.lakehouse import Lakehouse
    from govlake.transform.runner import run_dbt

    s = Settings(lake_root=tmp_path_factory.mktemp("sla") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, s)
    rows = [
        _t("A", "咨询", contact_h=1, pre_h=4, close_h=5, sats={**_all(5), "experience": 4}),  # simple, same day
        _t("B", "咨询", contact_h=2, pre_h=29, close_h=30, sats={**_all(3), "feedback": 2}),  # late; 回退
        _t("C", "投诉", dispatch_h=10, contact_h=30, close_h=100, sats=_all(4)),   # contact 20 h after assignment
        _t("D", "投诉", contact_h=3, close_h=200),                                 # normal, 8+ days: late
        _t("E", "投诉"),                                                           # open since 10-26: overdue
        # 回退, re-handled, re-rated badly on 处置效果 -> 专项督办
        _t("F", "投诉", contact_h=2, pre_h=20, close_h=24, sats={**_all(4), "effect": 1}, reclose_h=60,
           resats={**_all(4), "effect": 2}),
        # 回退, re-rated well -> no 督办; 回退 still counted
        _t("G", "投诉", contact_h=2, pre_h=20, close_h=24, sats=_all(1), reclose_h=60, resats=_all(4)),
        # 回退, re-rated badly only on dimensions the rule does not name -> no 督办
        _t("H", "投诉", contact_h=2, pre_h=20, close_h=24, sats=_all(2), reclose_h=60,
           resats={**_all(4), "speed": 1, "experience": 1}),
    ]
    # Wed 2026-09-30 09:00 to Fri 10-09 17:00, across 国庆节 (10-01..10-07 off; 10-08 and the 调休
    # Saturday 10-10 after it are working days): 7 of the 8 days between are off
    holiday = [_t("I", "投诉", contact_h=2, close_h=224, dept="ST017", t0=dt.datetime(2026, 9, 30, 9, 0))]
    grid = [_t(f"R{dim}{score}", "投诉", contact_h=2, pre_h=20, close_h=24, sats={**_all(5), dim: score},
               dept="FGJ") for dim, score in GRID]
    lake.write(bronze_df(spark, s, "petitions", rows + grid + holiday), "bronze.petitions", mode="append",
               partition_by=["_load_date"])
    lake.write(departments_df(spark, s, DEPARTMENTS), "bronze.departments")
    run_dbt(spark, s, ["build", "--select", "+rpt_petition_sla_daily", "+rpt_petition_sla_weekly",
                       "+rpt_petition_sla_monthly"], load_date=str(D), emit_lineage=False)
    return s


@pytest.fixture(scope="module")
def fact(spark, built):
    return {r.ticket_id: r for r in spark.sql("select * from global_temp.fct_petition_sla").collect()}


def test_fact_flags(fact):
    f = fact
    assert f["A"].matter_class == "simple" and f["A"].is_on_time is True and f["A"].has_pre_evaluation is True
    assert f["B"].is_on_time is False
    # The contact clock starts at assignment: 20 h after dispatch is in time although 30 h after submit.
    assert f["C"].is_on_time is True and f["C"].first_contact_on_time is True and f["C"].first_contact_hours == 20.0
    assert f["C"].has_pre_evaluation is False
    assert f["D"].is_on_time is False and f["D"].close_hours == 200.0 and f["D"].first_contact_on_time is True
    assert f["E"].is_overdue and f["E"].is_on_time is False and f["E"].first_contact_on_time is False
    assert f["E"].has_pre_evaluation is None and f["E"].is_rated is False
    assert f["D"].handling_days == pytest.approx(200 / 24)
    # Mon 09:00 + 200 h = the next Tue 17:00: the Saturday and Sunday between do not count.
    assert f["D"].handling_workdays == pytest.approx(200 / 24 - 2)
    assert f["C"].handling_workdays == f["C"].handling_days == pytest.approx(100 / 24)  # closed Friday
    # public holidays do not count either (catalog/work_calendar.yaml)
    assert f["I"].handling_workdays == pytest.approx(224 / 24 - 7) and f["I"].is_on_time is False
    cal = load_work_calendar(get_settings().catalog_dir)
    assert not cal.is_workday(dt.date(2026, 10, 1)) and cal.is_workday(dt.date(2026, 10, 10))
    assert cal.workdays_after(dt.date(2026, 9, 30), 5) == (dt.date(2026, 10, 8), dt.date(2026, 10, 13))


def test_return_fires_exactly_for_the_named_dimensions_at_or_below_the_threshold(fact):
    assert SVC.return_dimensions == ("effect", "feedback") and SVC.return_max_score == 2  # the district's rule
    for dim, score in GRID:
        r = fact[f"R{dim}{score}"]
        expected = dim in SVC.return_dimensions and score <= SVC.return_max_score
        assert r.is_returned is expected, (dim, score)
        assert r.is_escalated is False
    assert fact["A"].is_returned is False and fact["C"].is_returned is False
    assert fact["B"].is_returned is True and fact["B"].is_closed is False  # sent back, not re-closed yet


def test_escalation_after_a_second_dissatisfaction(fact):
    assert fact["F"].is_returned and fact["F"].is_escalated and fact["F"].is_closed
    assert fact["G"].is_returned and not fact["G"].is_escalated  # re-handling satisfied the requester
    assert fact["H"].is_returned and not fact["H"].is_escalated  # second bad rating on unnamed dimensions
    assert not any(r.is_escalated for r in fact.values() if not r.is_returned)


def test_reports(spark, built):
    d = {r.dept_code: r for r in spark.sql("select * from global_temp.rpt_petition_sla_daily").collect()}
    assert set(d) == {"CGJ", "FGJ", "ST017"}
    r = d["CGJ"]
    assert r.dept_name == "区城市管理和综合执法局" and r.category_l1 == "城乡建设"
    assert r.ticket_count == 8 and r.closed_count == 6  # B is back with the department; E is open
    assert r.on_time_rate == pytest.approx(5 / 8) and r.first_contact_on_time_rate == pytest.approx(7 / 8)
    assert r.pre_evaluation_rate == pytest.approx(5 / 7)
    assert r.rated_count == 6 and r.returned_count == 4 and r.return_rate == pytest.approx(4 / 6)
    assert r.escalated_count == 1
    assert r.avg_satisfaction_effect == pytest.approx((5 + 3 + 4 + 1 + 1 + 2) / 6)
    assert r.avg_handling_days == pytest.approx((5 + 30 + 100 + 200 + 24 * 3) / 24 / 7)
    assert r.avg_handling_workdays == pytest.approx(r.avg_handling_days - 2 / 7)
    g = d["FGJ"]
    assert g.ticket_count == len(GRID) and g.returned_count == 4 and g.return_rate == pytest.approx(4 / len(GRID))
    w = spark.sql("select * from global_temp.rpt_petition_sla_weekly where dept_code = 'CGJ'").collect()[0]
    m = spark.sql("select * from global_temp.rpt_petition_sla_monthly where dept_code = 'CGJ'").collect()[0]
    assert w.period_start == dt.date(2026, 10, 26) and m.period_start == dt.date(2026, 10, 1)
    assert w.ticket_count == m.ticket_count == 8


def test_summary_figures_over_the_fact(spark, built):
    """`govlake signals sla` aggregates the mart's flags; it applies no rule of its own."""
    import pyarrow as pa

    from govlake.signals.sla_summary import sla_summary

    fact = pa.Table.from_pandas(spark.sql("select * from global_temp.fct_petition_sla").toPandas())
    n = 8 + len(GRID) + 1  # + I, late
    t = sla_summary(fact).iloc[0]
    assert t.tickets == n and t.rated == 6 + len(GRID) and t.returned == 4 + 4 and t.escalated == 1
    assert t.return_rate == pytest.approx(8 / (6 + len(GRID))) and t.on_time_rate == pytest.approx((5 + len(GRID)) / n)
    by = sla_summary(fact, "dept").set_index("dept")
    assert by.loc["CGJ", "on_time_rate"] == pytest.approx(5 / 8) and by.loc["FGJ", "returned"] == 4
    assert sla_summary(fact, since=D).empty or sla_summary(fact, since=D).iloc[0].tickets == 0
