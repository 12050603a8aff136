"""群体诉求 in 日报/周报/月报: generated petitions with an injected group burst go through the
signals step (gold.group_petition_alerts) and then the dbt reports, which read the alerts as the
dbt source `signals`; the burst's tickets appear in the report of the day they were submitted."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from govlake.settings import Settings

# the module's lake (signals and dbt over a burst) takes a minute to build: keeps make test
# under 15 min on a fresh clone (make test-slow runs it)
pytestmark = pytest.mark.slow


D = dt.date(2026, 11, 21)
AS_OF = dt.datetime.combine(D, dt.time())


def _bronze(spark, settings, frame: pd.DataFrame):
    """The generated frame as the ingest writes bronze.petitions (catalog columns + load columns)."""
    from pyspark.sql import types as T

    from govlake.transform.bronze_tables import SPARK_TYPES, load_sources

    from pyspark.sql import functions as F

    src = {s.name: s for s in load_sources(settings.catalog_dir)}["petitions"]
    types = {n: T.DataType.fromDDL(SPARK_TYPES[t]) for n, _, t in src.bronze_columns}
    # timestamps land as wall-clock text and are parsed in the session time zone, as the ingest
    # does (a naive Python datetime would be read in this process's zone and shift the day)
    stamps = [n for n, t in types.items() if isinstance(t, T.TimestampType)]
    schema = T.StructType([T.StructField(n, T.StringType() if n in stamps else t, True) for n, t in types.items()])
    frame = frame.assign(_load_date=D, _source_file="petitions/gen.csv", _run_id="gen")

    def py(v, t):
        if v is None or v is pd.NaT or (isinstance(v, float) and pd.isna(v)):
            return None
        if isinstance(t, (T.IntegerType, T.LongType)):
            return int(v)
        return v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, (pd.Timestamp, dt.datetime)) else v

    rows = [tuple(py(r.get(f.name), f.dataType) for f in schema.fields) for r in frame.to_dict("records")]
    df = spark.createDataFrame(rows, schema)
    return df.select(*[F.col(n).cast("timestamp").alias(n) if n in stamps else F.col(n) for n in types])


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    from govlake.catalog import load_departments
    from govlake.generate import _population, _rng
    from govlake.generate.tickets import generate_petitions
    from govlake.ingest import ingest_departments
    from govlake.lakehouse import Lakehouse
    from govlake.signals.job import run_signals
    from govlake.transform.runner import run_dbt

    s = Settings(lake_root=tmp_path_factory.mktemp("grp") / "lake", spark_shuffle_partitions=4)
    lake = Lakehouse(spark, s)
    pop = _population(s, 500, 21, D)
    p = generate_petitions(_rng(5, 5), pop, load_departments(s.catalog_dir), 400,
                           AS_OF - dt.timedelta(days=30), 30, AS_OF, bursts=1)
    (burst,) = p.attrs["bursts"].values()
    lake.write(_bronze(spark, s, p), "bronze.petitions", mode="append", partition_by=["_load_date"])
    ingest_departments(spark, lake)
    run_signals(spark, lake, D)  # the pipeline's order: signals, then the reports
    sel = ["build", "--select", "+rpt_petition_sla_daily", "+rpt_petition_sla_weekly", "+rpt_petition_sla_monthly"]
    run_dbt(spark, s, sel, load_date=str(D), emit_lineage=False)
    reports = {per: spark.table(f"global_temp.rpt_petition_sla_{per}").toPandas() for per in ("daily", "weekly", "monthly")}
    return {"settings": s, "lake": lake, "p": p, "burst": list(burst), "reports": reports,
            "alerts": lake.read("gold.group_petition_alerts").toPandas(), "sel": sel}


def test_burst_is_in_the_day_report(built):
    p, burst, daily = built["p"], built["burst"], built["reports"]["daily"]
    alerts = built["alerts"]
    (alert,) = [a for a in alerts.itertuples() if set(a.ticket_ids) & set(burst)]
    members = set(alert.ticket_ids)
    assert len(members & set(burst)) >= 5

    listed = daily[daily["group_ticket_count"] > 0]
    # every ticket of the alert is listed once, on the day it was submitted, and nothing else is
    assert sorted(t for ids in listed["group_ticket_ids"] for t in ids) == sorted(members)
    days = p.set_index("ticket_id")["submit_time"].dt.date
    for row in listed.itertuples():
        assert list(row.group_alert_ids) == [alert.alert_id] and row.group_alert_count == 1
        assert row.group_ticket_count == len(row.group_ticket_ids)
        assert {days[t] for t in row.group_ticket_ids} == {row.period_start}
    assert (daily.loc[daily["group_ticket_count"] == 0, "group_alert_count"] == 0).all()
    # the day with most of the burst: its rows name the alert and its tickets
    top_day = pd.Series([days[t] for t in members]).mode()[0]
    on_day = daily[daily["period_start"] == top_day]
    assert {a for ids in on_day["group_alert_ids"] for a in ids} == {alert.alert_id}
    assert on_day["group_ticket_count"].sum() == sum(days[t] == top_day for t in members)


def test_week_and_month_count_the_same_alert(built):
    alert_ids = set(built["alerts"]["alert_id"])
    n_members = sum(len(ids) for ids in built["alerts"]["ticket_ids"])
    for per in ("weekly", "monthly"):
        rep = built["reports"][per]
        assert {a for ids in rep["group_alert_ids"] for a in ids} == alert_ids
        assert rep["group_ticket_count"].sum() == n_members


def test_rerun_is_idempotent_and_alerts_after_the_load_date_are_not_read(built, spark):
    from govlake.signals.job import run_signals
    from govlake.transform.runner import run_dbt

    s, lake = built["settings"], built["lake"]
    assert not any(c.committed for c in run_signals(spark, lake, D).values())  # nothing new
    run_dbt(spark, s, built["sel"], load_date=str(D), emit_lineage=False)
    again = spark.table("global_temp.rpt_petition_sla_daily").toPandas()
    key = ["period_start", "dept_code", "street_code", "category_l1"]
    cols = key + ["group_alert_count", "group_ticket_count"]
    pd.testing.assert_frame_equal(again[cols].sort_values(key).reset_index(drop=True),
                                  built["reports"]["daily"][cols].sort_values(key).reset_index(drop=True))
    # a report of the day before the alerts were computed sees none of them (views are rebuilt
    # with the new load_date from the membership model on)
    run_dbt(spark, s, ["build", "--select", "int_petition_group_members", "rpt_petition_sla_daily"],
            load_date=str(D - dt.timedelta(days=1)),
            emit_lineage=False)
    assert spark.table("global_temp.rpt_petition_sla_daily").toPandas()["group_alert_count"].sum() == 0


def test_source_is_an_empty_view_where_signals_never_ran(spark, tmp_path):
    """The reports still build there (test_sla_dbt builds them on such a lake): no group petitions."""
    from govlake.ingest import ingest_departments
    from govlake.lakehouse import Lakehouse
    from govlake.signals.report_sources import register_signal_views

    s = Settings(lake_root=tmp_path / "lake", spark_shuffle_partitions=4)
    ingest_departments(spark, Lakehouse(spark, s))
    assert register_signal_views(spark, s) == {"gold.group_petition_alerts": None}
    assert spark.table("global_temp.gold__group_petition_alerts").count() == 0
