"""分拨准确率 over time: does dispatch get better? The proposed departments of every dispatch date
(gold.petition_dispatch keeps one partition per date) against the department that finally handled
each closed ticket (labels.training_labels: the handling department, corrected by 退单 / 快速裁决),
per day and per week (weeks from Monday), overall (`dept_code = ALL`) and per final department.

Written by the dispatch step as gold.petition_dispatch_agreement (the whole report each day,
a small table); `agreement_report(lake)` computes it without writing.
"""

from __future__ import annotations

import datetime as dt

TABLE = "gold.petition_dispatch_agreement"
DISPATCH = "gold.petition_dispatch"
ALL = "ALL"


def agreement_report(lake, *, dispatch_table: str = DISPATCH, input_table: str = "bronze.petitions"):
    """Spark DataFrame: period (day / week), period_label (日 / 周), period_start, dept_code
    (final department, or ALL), dept_name, tickets, top1_hits, top3_hits, top1_rate, top3_rate."""
    from pyspark.sql import functions as F

    from govlake.petitions.labels import LABEL_COL, latest_tickets, training_labels

    recs = lake.read(dispatch_table)
    if "dispatch_kind" in recs.columns:  # the model's proposals only, not the 退单 replays (decided departments)
        recs = recs.where(F.coalesce(F.col("dispatch_kind"), F.lit("model")) == "model")
    final = (training_labels(lake, latest_tickets(lake.read(input_table)), LABEL_COL)
             .where(F.col(LABEL_COL).isNotNull() & (F.trim(F.col(LABEL_COL)) != ""))
             .select("ticket_id", F.col(LABEL_COL).alias("final_dept_code")))
    # each (ticket, dispatch date) counts once: its rank-1 department and its k departments
    per_ticket = (recs.groupBy("ticket_id", "as_of")
                  .agg(F.min(F.when(F.col("rank") == 1, F.col("dept_code"))).alias("top1"),
                       F.collect_set("dept_code").alias("top3"))
                  .join(final, "ticket_id")
                  .select("as_of", "final_dept_code",
                          (F.col("top1") == F.col("final_dept_code")).cast("int").alias("hit1"),
                          F.array_contains("top3", F.col("final_dept_code")).cast("int").alias("hit3")))
    periods = (per_ticket.withColumn("period", F.lit("day")).withColumn("period_label", F.lit("日"))
               .withColumn("period_start", F.col("as_of"))
               .unionByName(per_ticket.withColumn("period", F.lit("week")).withColumn("period_label", F.lit("周"))
                            .withColumn("period_start", F.to_date(F.date_trunc("week", F.col("as_of"))))))
    both = periods.withColumn("dept_code", F.col("final_dept_code")).unionByName(
        periods.withColumn("dept_code", F.lit(ALL)))
    return (both.groupBy("period", "period_label", "period_start", "dept_code")
            .agg(F.count("*").cast("long").alias("tickets"), F.sum("hit1").cast("long").alias("top1_hits"),
                 F.sum("hit3").cast("long").alias("top3_hits"))
            .withColumn("top1_rate", F.round(F.col("top1_hits") / F.col("tickets"), 4))
            .withColumn("top3_rate", F.round(F.col("top3_hits") / F.col("tickets"), 4)))


def write_agreement(lake, settings, as_of: dt.date, *, parent_run=None, dispatch_table: str = DISPATCH,
                    input_table: str = "bronze.petitions") -> dict:
    """The report with department names, gated against its contract (catalog/products.yaml) and
    written as a whole (idempotent per dispatch date); skipped while no dispatched ticket is closed."""
    from pyspark.sql import functions as F

    from govlake.catalog import load_departments
    from govlake.quality.gate import publish

    names = {d.code: d.name for d in load_departments(settings.catalog_dir)} | {ALL: "全部部门"}
    spark = lake.spark
    name_df = spark.createDataFrame(list(names.items()), "dept_code string, dept_name string")
    rep = (agreement_report(lake, dispatch_table=dispatch_table, input_table=input_table)
           .join(F.broadcast(name_df), "dept_code", "left")
           .withColumn("dept_name", F.coalesce("dept_name", "dept_code"))
           .select("period", "period_label", "period_start", "dept_code", "dept_name", "tickets",
                   "top1_hits", "top3_hits", "top1_rate", "top3_rate")).cache()
    n = rep.count()
    if n == 0:  # no dispatched ticket is closed yet: nothing to measure (the gate wants rows)
        rep.unpersist()
        return {"table": TABLE, "rows": 0, "committed": False, "version": None,
                "skipped": "no closed ticket among the dispatched ones yet (暂无已办结的分拨工单)"}
    commit = publish(rep, TABLE, lake, app_id=f"petition_dispatch_agreement@{as_of.isoformat()}",
                     parent_run=parent_run)
    rep.unpersist()
    return {"table": TABLE, "rows": n, "committed": getattr(commit, "committed", None),
            "version": getattr(commit, "version", None)}
