"""Batch replay of 退单 / 快速裁决: after a day's dispatch, a ticket returned online by its lead and one
decided by 快速裁决 are replayed by the next day's dispatch step, so gold.petition_dispatch names
the departments the online state names (the returning department nowhere, the arbitrated one as
the lead); the model's own rows and the agreement over them are untouched; a re-run commits
nothing."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from govlake.generate import labelled_sample
from govlake.settings import get_settings

LOAD = dt.date(2026, 11, 1)
DAY2 = LOAD + dt.timedelta(days=1)
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
    base = labelled_sample(get_settings(), n=300)[COLS].copy()
    base["_load_date"] = LOAD
    day1 = _day(base, 10, 1, "RA", dt.datetime(2026, 10, 31, 8), LOAD)
    day2 = _day(base, 8, 2, "RB", dt.datetime(2026, 11, 1, 8), DAY2)
    df = pd.concat([base, day1, day2], ignore_index=True)
    for c in ("submit_time", "closed_time"):
        df[c] = pd.to_datetime(df[c]).dt.strftime("%Y-%m-%d %H:%M:%S").where(df[c].notna(), None)
    return df


def _dispatch(spark, lake, settings, load: dt.date) -> dict:
    """dispatch_day's dispatch part (train before the day, score the day's tickets, replay)."""
    from pyspark.sql import functions as F

    from govlake.petitions.blend_inputs import blend_inputs
    from govlake.petitions.job import _ts, day_window, publish_model, run_dispatch, train_before
    from govlake.petitions.model import load_model
    from govlake.petitions.scoring import default_model_dir

    start, end = day_window(load)
    model_dir = settings.state_dir / "models" / "dispatch" / load.isoformat()
    train_before(lake, model_dir, start)
    new = (F.col("_load_date") == F.lit(load)) & (F.col("submit_time") >= _ts(start)) & (F.col("submit_time") < _ts(end))
    res = run_dispatch(spark, lake, input_table="bronze.petitions", output_table="gold.petition_dispatch",
                       model_dir=model_dir, as_of=load, where=new, replay=True,
                       signals=blend_inputs(settings.catalog_dir, load_model(model_dir)), address_col="address_text")
    publish_model(model_dir, default_model_dir(settings))
    return res


@pytest.mark.slow  # two days of dispatch with model training on real Spark; make test-slow runs it
def test_next_dispatch_replays_returns_and_arbitration(spark, lake, settings, tickets):
    from pyspark.sql import functions as F

    from govlake.petitions.dispatch_agreement import agreement_report
    from govlake.petitions.handling_events import arbitrate, dispatch_rows, return_ticket, ticket_state

    sdf = spark.createDataFrame(tickets.astype(object).where(tickets.notna(), None))
    lake.write(sdf.withColumn("submit_time", F.col("submit_time").cast("timestamp"))
               .withColumn("closed_time", F.col("closed_time").cast("timestamp")), "bronze.petitions")
    first = _dispatch(spark, lake, settings, LOAD)
    assert first["replayed_tickets"] == 0 and first["tickets_in"] == 10

    day1 = sorted(t for t in tickets["ticket_id"] if t.startswith("RA"))
    x, y = day1[0], day1[1]
    a = ticket_state(lake, x).lead
    st_x = return_ticket(settings, x, a, "非本部门职责", by="test")
    assert st_x.lead != a
    y1 = ticket_state(lake, y).lead
    y2 = return_ticket(settings, y, y1, "非本部门职责", by="test").lead
    return_ticket(settings, y, y2, "属地事项", by="test")
    decided = "ZJJ" if "ZJJ" not in (y1, y2) else "RLJ"
    arbitrate(settings, y, decided, by="区民生诉求服务中心 张三", reason="物业管理")
    # before the replay the batch table still names the returning department as the lead
    assert [r["dept_code"] for r in dispatch_rows(lake, x) if r["role"] == "lead"] == [a]

    second = _dispatch(spark, lake, settings, DAY2)
    assert second["replayed_tickets"] == 2 and second["tickets_in"] == 8
    table = lake.read("gold.petition_dispatch").toPandas()
    day2 = table[table["as_of"] == DAY2]
    assert len(day2[day2["dispatch_kind"] == "model"]) == 8 * 3
    assert set(day2.loc[day2["dispatch_kind"] == "replay", "ticket_id"]) == {x, y}
    assert (table.loc[table["as_of"] == LOAD, "dispatch_kind"] == "model").all()  # the model's rows stay

    for tid in (x, y):  # the batch table's current departments are the online state's
        rows, st = dispatch_rows(lake, tid), ticket_state(lake, tid)
        assert {r["dispatch_kind"] for r in rows} == {"replay"}
        assert [r["dept_code"] for r in rows if r["role"] == "lead"] == [st.lead]
        assert sorted(r["dept_code"] for r in rows if r["role"] == "assist") == sorted(st.assisting)
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert a not in {r["dept_code"] for r in dispatch_rows(lake, x)}  # never dispatched to A again
    assert ticket_state(lake, x).lead == st_x.lead
    lead_y = [r for r in dispatch_rows(lake, y) if r["role"] == "lead"][0]
    assert lead_y["dept_code"] == decided and "快速裁决" in lead_y["role_reason"]
    assert not {y1, y2} & {r["dept_code"] for r in dispatch_rows(lake, y)}

    # agreement counts the model's proposals only: day 2 has its 8 new tickets, not the replays
    rep = agreement_report(lake).toPandas()
    day_all = rep[(rep["period"] == "day") & (rep["dept_code"] == "ALL")].set_index("period_start")
    assert day_all.loc[DAY2, "tickets"] == 8 and day_all.loc[LOAD, "tickets"] == 10

    n = len(table)
    again = _dispatch(spark, lake, settings, DAY2)  # a re-run of the day commits nothing
    assert again["committed"] is False and len(lake.read("gold.petition_dispatch").toPandas()) == n

    from govlake.petitions.dispatch_replay import replay_frame
    from govlake.petitions.scoring import default_model_dir, get_model

    assert replay_frame(lake, get_model(default_model_dir(settings)), k=3, signals=None, names={}).empty
