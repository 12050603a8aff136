"""Batch scoring on Spark (mapInPandas, broadcast model) and the job writing via Lakehouse."""

from __future__ import annotations

import datetime as dt

from govlake.petitions.scoring import score_dataframe, score_frame, get_model


def _tickets(spark):
    rows = [(f"T{i:03d}", t) for i, t in enumerate([
        "公司拖欠工资三个月，社保也没有交", "公交车晚点严重，道路拥堵", "工厂排放废气，河道污染发臭",
        "", "宝安区新安街道出租车拒载"])]
    return spark.createDataFrame(rows, "ticket_id string, text string")


def test_score_dataframe(spark, synth_model_dir):
    out = score_dataframe(_tickets(spark), synth_model_dir).toPandas()
    assert list(out.columns) == ["ticket_id", "rank", "dept_code", "dept_name", "probability",
                                 "reason", "role", "role_label", "role_reason", "model_version"]
    assert out.loc[out["rank"] == 1, "role"].eq("lead").all() and out.loc[out["rank"] > 1, "role"].eq("candidate").all()
    assert len(out) == 5 * 3  # the empty text still gets its 3 rows: nothing dropped
    assert set(out.groupby("ticket_id")["rank"].apply(tuple)) == {(1, 2, 3)}
    top = out[out["rank"] == 1].set_index("ticket_id")["dept_code"]
    assert top["T000"] == "劳动和社会保障" and top["T001"] == "交通运输" and top["T002"] == "环境保护"
    assert (out.groupby("ticket_id")["probability"].sum() <= 1 + 1e-9).all()
    assert out["model_version"].nunique() == 1
    # Spark and the pure-Python path agree
    local = score_frame(_tickets(spark).toPandas(), get_model(synth_model_dir))
    assert local.sort_values(["ticket_id", "rank"])["dept_code"].tolist() == \
        out.sort_values(["ticket_id", "rank"])["dept_code"].tolist()


def test_job_writes_and_is_idempotent(spark, lake, synth_model_dir):
    from govlake.petitions.job import run_dispatch

    lake.write(_tickets(spark), "silver.petitions_test", mode="overwrite")
    kw = dict(input_table="silver.petitions_test", output_table="gold.petition_dispatch_test",
              model_dir=synth_model_dir, as_of=dt.date(2026, 11, 22))
    res = run_dispatch(spark, lake, **kw)
    assert res["tickets_in"] == 5 and res["rows_written"] == 15 and res["committed"] is True
    assert lake.read("gold.petition_dispatch_test").count() == 15
    again = run_dispatch(spark, lake, **kw)
    assert again["committed"] is False  # same date: no second commit
