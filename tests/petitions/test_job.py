"""The pipeline's dispatch step (petitions.job.dispatch_day) on generated petitions in a lake:
only the day's new tickets are scored, by a model that never saw them, with the catalog blend,
and the batch rows equal what the online function returns."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from govlake.generate import labelled_sample
from govlake.petitions.blend_inputs import blend_inputs
from govlake.petitions.job import day_window, dispatch_day
from govlake.petitions.model import load_model
from govlake.petitions.scoring import default_model_dir, score_one
from govlake.settings import get_settings

LOAD = dt.date(2026, 11, 1)  # labelled_sample's extract time is LOAD 00:00


@pytest.fixture(scope="module")
def tickets() -> pd.DataFrame:
    df = labelled_sample(get_settings(), n=1500)
    cols = ["ticket_id", "title", "content", "address_text", "handling_dept_code", "submit_time",
            "requester_id", "community_code", "category_l1", "category_l2", "category_l3"]
    df = df[cols].copy()
    df["submit_time"] = df["submit_time"].dt.strftime("%Y-%m-%d %H:%M:%S")  # as landed: wall-clock text
    df["_load_date"] = LOAD
    return df


@pytest.mark.slow  # keeps make test under 15 min on a fresh clone (make test-slow runs it)
def test_dispatch_day_scores_only_new_tickets_with_a_model_that_never_saw_them(spark, lake, settings, tickets):
    from pyspark.sql import functions as F

    # ingest parses submit_time in the session's zone (Asia/Shanghai), whatever the process's zone
    sdf = spark.createDataFrame(tickets.astype(object).where(tickets.notna(), None))
    lake.write(sdf.withColumn("submit_time", F.col("submit_time").cast("timestamp")), "bronze.petitions")
    start, end = day_window(LOAD)
    submit = pd.to_datetime(tickets["submit_time"])
    new = tickets[(submit >= start) & (submit < end)]
    assert len(new) >= 2, "the generated day has too few tickets to test on"

    res = dispatch_day(spark, lake, settings, LOAD)
    out = lake.read("gold.petition_dispatch").toPandas()
    assert set(out["ticket_id"]) == set(new["ticket_id"]) and res["tickets_in"] == len(new)
    assert len(out) == 3 * len(new)

    meta = json.loads((default_model_dir(settings) / "model.json").read_text(encoding="utf-8"))  # published
    td = meta["training_data"]
    assert td["submitted_before"] == start.isoformat()
    assert td["rows"] == int((submit < start).sum())  # no ticket of the day in training

    # dept_name is the department's name; reasons come from the blend, not only the model
    names = {"RLJ": "区人力资源局", "ST018": "西乡街道办事处"}
    assert (out["dept_name"] != out["dept_code"]).all()
    assert all(out.loc[out["dept_code"] == c, "dept_name"].eq(n).all() for c, n in names.items())
    assert out["reason"].str.contains("权责清单|属地").any()

    # the batch rows are what the online route's function returns for the same ticket
    model = load_model(res["model_dir"])
    sig = blend_inputs(settings.catalog_dir, model)
    for _, t in new.iterrows():
        recs = score_one(f"{t['title']}。{t['content']}", model=model, address=t["address_text"], **sig)
        got = out[out["ticket_id"] == t["ticket_id"]].sort_values("rank")
        assert got["dept_code"].tolist() == [r.dept_code for r in recs]
        assert got["reason"].tolist() == [r.reason for r in recs]

    # 智能填单: every ticket of the extract has its form row with a standard address
    forms = lake.read("gold.petition_forms").toPandas().set_index("ticket_id")
    assert res["forms"]["tickets"] == len(tickets) and set(forms.index) == set(tickets["ticket_id"])
    filed = tickets[tickets["category_l3"] != ""].set_index("ticket_id")
    assert len(filed) > 1000
    same = (forms.loc[filed.index, ["category_l1", "category_l2", "category_l3"]]
            == filed[["category_l1", "category_l2", "category_l3"]]).all(axis=1)
    assert same.mean() > 0.85  # the category model learned from filed tickets, not the tree's names
    assert res["forms"]["tickets"] == len(tickets)
    assert forms["category_l3"].ne("").all() and forms["request_type"].isin(["咨询", "投诉", "建议", "求助", "举报"]).all()
    t = tickets.set_index("ticket_id")
    full = t["address_text"].str.contains("街道") & t["address_text"].str.contains("社区") & t["community_code"].ne("")
    assert full.sum() > 100
    got = forms.loc[full[full].index]
    assert (got["community_code"] == t.loc[got.index, "community_code"]).mean() > 0.95
    assert (got["address_level"] == "community").all() and got["address_confidence"].mean() > 0.9

    # the dispatch and its forms are released together; readers see that release
    from govlake import release
    rel = release.current(lake)
    assert rel.release_id == res["release"] and rel.step == "dispatch"
    assert {t: rel.tables[t] for t in ("gold.petition_dispatch", "gold.petition_forms")} == {
        t: lake.version(t) for t in ("gold.petition_dispatch", "gold.petition_forms")}

    again = dispatch_day(spark, lake, settings, LOAD)
    assert again["committed"] is False  # same load date: no second commit
    assert again["release"] == res["release"]  # nor a second release
    assert lake.read("gold.petition_forms").count() == len(tickets)
