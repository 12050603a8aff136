"""The dispatch step over two days on generated petitions in a real lake: one partition per dispatch
date (a re-run replaces only its own), lead / assisting roles on every ticket, the agreement report
by day and week; then 退单, re-dispatch, 快速裁决 through the CLI functions and the API, and the
arbitrated department as the next training's label."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from govlake.generate import labelled_sample
from govlake.petitions.agreement import agreement
from govlake.petitions.dispatch import Recommendation
from govlake.petitions.handling_events import (TABLE as EVENTS, HandlingError, arbitrate, events, return_ticket,
                                               ticket_state)
from govlake.petitions.job import run_dispatch
from govlake.petitions.labels import latest_tickets, training_labels
from govlake.settings import get_settings

LOAD = dt.date(2026, 11, 1)
COLS = ["ticket_id", "title", "content", "address_text", "handling_dept_code", "submit_time", "closed_time",
        "requester_id", "community_code", "category_l1", "category_l2", "category_l3"]


def _day(base: pd.DataFrame, n: int, seed: int, prefix: str, start: dt.datetime, load: dt.date) -> pd.DataFrame:
    d = base.sample(n, random_state=seed).copy()
    d["ticket_id"] = [f"{prefix}{i:04d}" for i in range(n)]
    d["submit_time"] = [start + dt.timedelta(minutes=40 * i) for i in range(n)]
    d["closed_time"] = d["submit_time"] + dt.timedelta(days=2)
    d["_load_date"] = load
    return d


@pytest.fixture(scope="module")
def tickets() -> pd.DataFrame:
    base = labelled_sample(get_settings(), n=400)[COLS].copy()
    base["_load_date"] = LOAD
    day1 = _day(base, 18, 1, "DA", dt.datetime(2026, 10, 31, 8), LOAD)
    day2 = _day(base, 12, 2, "DB", dt.datetime(2026, 11, 1, 8), LOAD + dt.timedelta(days=1))
    df = pd.concat([base, day1, day2], ignore_index=True)
    for c in ("submit_time", "closed_time"):  # as landed: wall-clock text, parsed by ingest
        df[c] = pd.to_datetime(df[c]).dt.strftime("%Y-%m-%d %H:%M:%S").where(df[c].notna(), None)
    return df


def _land(spark, lake, df):
    from pyspark.sql import functions as F

    sdf = spark.createDataFrame(df.astype(object).where(df.notna(), None))
    lake.write(sdf.withColumn("submit_time", F.col("submit_time").cast("timestamp"))
               .withColumn("closed_time", F.col("closed_time").cast("timestamp")), "bronze.petitions")


def _new_ids(df, load):
    from govlake.petitions.job import day_window

    s, e = day_window(load)
    t = pd.to_datetime(df["submit_time"])
    return set(df.loc[(t >= s) & (t < e) & (df["_load_date"] == load), "ticket_id"])


def _dispatch(spark, lake, settings, load: dt.date) -> dict:
    """What dispatch_day does for the dispatch itself (its forms are tested in test_job)."""
    from pyspark.sql import functions as F

    from govlake.petitions.blend_inputs import blend_inputs
    from govlake.petitions.dispatch_agreement import write_agreement
    from govlake.petitions.job import _ts, day_window, publish_model, train_before
    from govlake.petitions.model import load_model
    from govlake.petitions.scoring import default_model_dir

    start, end = day_window(load)
    model_dir = settings.state_dir / "models" / "dispatch" / load.isoformat()
    train_before(lake, model_dir, start)
    new = (F.col("_load_date") == F.lit(load)) & (F.col("submit_time") >= _ts(start)) & (F.col("submit_time") < _ts(end))
    res = run_dispatch(spark, lake, input_table="bronze.petitions", output_table="gold.petition_dispatch",
                       model_dir=model_dir, as_of=load, where=new,
                       signals=blend_inputs(settings.catalog_dir, load_model(model_dir)), address_col="address_text")
    publish_model(model_dir, default_model_dir(settings))
    write_agreement(lake, settings, load)
    return res


@pytest.mark.slow  # the whole 退单/裁决 flow over several days with real Spark; make test-slow (CI) runs it
def test_history_roles_agreement_returns_and_arbitration(spark, lake, settings, tickets, store, H):
    from pyspark.sql import functions as F

    from govlake import release

    _land(spark, lake, tickets)
    day2 = LOAD + dt.timedelta(days=1)
    _dispatch(spark, lake, settings, LOAD)
    _dispatch(spark, lake, settings, day2)
    release.publish(lake, "test-run", ["gold.petition_dispatch", "gold.petition_dispatch_agreement"], step="dispatch")
    out = lake.read("gold.petition_dispatch").toPandas()
    for d in (LOAD, day2):  # one partition per date, its day's new tickets only, k rows each
        part = out[out["as_of"] == d]
        assert set(part["ticket_id"]) == _new_ids(tickets, d) and len(part) == 3 * part["ticket_id"].nunique()
    # 主协办: one lead per ticket at rank 1; assisting departments carry their reasons
    assert (out.groupby("ticket_id")["role"].apply(lambda r: (r == "lead").sum()) == 1).all()
    assert (out.loc[out["role"] == "lead", "rank"] == 1).all()
    assist = out[out["role"] == "assist"]
    assert len(assist) and assist["role_label"].eq("协办").all() and assist["role_reason"].str.len().gt(0).all()

    # a re-run of day 1 commits nothing (idempotent per date) and day 2's partition stays
    n_before = len(out)
    model_dir = settings.state_dir / "models" / "dispatch" / LOAD.isoformat()
    res = run_dispatch(spark, lake, input_table="bronze.petitions", output_table="gold.petition_dispatch",
                       model_dir=model_dir, as_of=LOAD, where=F.col("ticket_id") == "DA0000")
    assert res["committed"] is False and len(lake.read("gold.petition_dispatch").toPandas()) == n_before

    # agreement by day and week, checked against agreement() over the same tickets
    final = training_labels(lake, latest_tickets(lake.read("bronze.petitions"))).select(
        "ticket_id", "handling_dept_code").toPandas().set_index("ticket_id")["handling_dept_code"]
    rep = lake.read("gold.petition_dispatch_agreement").toPandas()
    for d in (LOAD, day2):
        part = out[(out["as_of"] == d) & out["ticket_id"].isin(final.dropna().index)]
        recs = [[Recommendation(r.rank, r.dept_code, "", 0.0, "") for r in g.sort_values("rank").itertuples()]
                for _, g in part.groupby("ticket_id")]
        want = agreement(recs, [final[t] for t, _ in part.groupby("ticket_id")])
        got = rep[(rep["period"] == "day") & (rep["period_start"] == d) & (rep["dept_code"] == "ALL")].iloc[0]
        assert (got["tickets"], got["top1_rate"], got["top3_rate"]) == (want["n"], want["top1"], want["top3"])
    week = rep[(rep["period"] == "week") & (rep["dept_code"] == "ALL")]
    assert week["tickets"].sum() == rep[(rep["period"] == "day") & (rep["dept_code"] == "ALL")]["tickets"].sum()

    # 退单 by the lead: re-dispatched without it
    tid = sorted(_new_ids(tickets, day2))[0]
    st = ticket_state(lake, tid)
    first = st.lead
    with pytest.raises(HandlingError) as e:
        return_ticket(settings, tid, "NOTSENT", "不是我的", by="test")
    assert e.value.status == 403
    late = st.sent_at + dt.timedelta(hours=25)
    with pytest.raises(HandlingError, match="退单时限"):
        return_ticket(settings, tid, first, "非本部门职责", by="test", at=late)
    st = return_ticket(settings, tid, first, "非本部门职责", by="test")
    assert st.status == "returned_redispatched" and st.lead != first and first not in st.assisting
    assert [e["kind"] for e in st.events] == ["return", "redispatch"]

    # the second return goes to 快速裁决, deadline in working days of the calendar
    from govlake.catalog.work_calendar import load_work_calendar

    second = st.lead
    st = return_ticket(settings, tid, second, "属地事项", by="test")
    opened = st.events[-1]
    assert st.status == "in_arbitration" and opened["kind"] == "arbitration_opened"
    assert st.arbitration_deadline == load_work_calendar(settings.catalog_dir).workdays_after(
        opened["event_time"].date(), 2)[1]
    with pytest.raises(HandlingError, match="快速裁决"):
        return_ticket(settings, tid, second, "再退", by="test")

    # the API: the dispatch with roles and events; only the arbiter may decide
    from govlake.api.app import create_app

    client = TestClient(create_app(settings))
    r = client.get(f"/petitions/tickets/{tid}/dispatch", headers=H("mysb_platform"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "in_arbitration" and {d["role"] for d in body["departments"]} >= {"lead"}
    assert [e["kind"] for e in body["events"]] == ["return", "redispatch", "return", "arbitration_opened"]
    bad = client.post(f"/petitions/tickets/{tid}/arbitrate", json={"dept": "ZJJ", "by": "张三"},
                      headers=H("street_grid"))
    assert bad.status_code == 403
    ok = client.post(f"/petitions/tickets/{tid}/arbitrate", json={"dept": "ZJJ", "by": "区民生诉求服务中心 张三",
                                                                   "reason": "物业管理属住建"},
                     headers=H("mysb_platform"))
    assert ok.status_code == 200 and ok.json()["arbitrated_dept_code"] == "ZJJ"
    n_events = len(events(lake))
    assert arbitrate(settings, tid, "ZJJ", by="区民生诉求服务中心 张三").decided == "ZJJ"  # a retry: no new row
    assert len(events(lake)) == n_events and lake.row_count(EVENTS) == n_events
    with pytest.raises(HandlingError, match="最终"):
        arbitrate(settings, tid, "RLJ", by="x")
    r = client.post(f"/petitions/tickets/{tid}/return", json={"dept": "ZJJ", "reason": "不服"},
                    headers=H("mysb_platform"))
    assert r.status_code == 409 and "最终" in r.json()["detail"]

    # feedback to labels: the arbitrated department is the ticket's label for the next training
    labels = training_labels(lake, latest_tickets(lake.read("bronze.petitions"))).toPandas().set_index("ticket_id")
    assert labels.loc[tid, "handling_dept_code"] == "ZJJ"
    untouched = sorted(_new_ids(tickets, day2))[1]
    assert labels.loc[untouched, "handling_dept_code"] == tickets.set_index("ticket_id").loc[untouched, "handling_dept_code"]
