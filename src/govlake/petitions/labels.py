"""Feedback to labels (退单 / 快速裁决 → training labels): the department that finally handled each
closed ticket, read by training (job.train_before) and by the agreement report alike."""

from __future__ import annotations

LABEL_COL = "handling_dept_code"


def latest_tickets(df, id_col: str = "ticket_id"):
    """One row per ticket: the one from its latest load (a ticket is re-extracted while it lives)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if "_load_date" not in df.columns:
        return df.dropDuplicates([id_col])
    w = Window.partitionBy(id_col).orderBy(F.col("_load_date").desc())
    return df.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


def training_labels(lake, tickets, label_col: str = LABEL_COL):
    """Feedback to labels: the department that finally handled each closed ticket. A ticket with
    退单 / 快速裁决 events (ops.petition_dispatch_events) takes the arbitration's department, or the
    lead of its latest re-dispatch where the department on the ticket is one that returned it (or
    none is on it); every other ticket its handling department. Only closed tickets (closed_time
    set, where the table has it) teach: an open ticket's department is not final yet."""
    from pyspark.sql import functions as F

    from govlake.petitions.handling_events import TABLE as EVENTS, final_departments

    if "closed_time" in tickets.columns:
        tickets = tickets.where(F.col("closed_time").isNotNull())
    if not lake.exists(EVENTS):
        return tickets
    fin = final_departments(lake)
    if not fin.num_rows:
        return tickets
    spark = tickets.sparkSession
    fb = spark.createDataFrame(fin.to_pylist(), "ticket_id string, final_dept_code string, arbitrated boolean, "
                                                "returned_by array<string>")
    own = F.col(label_col)
    returned = F.coalesce(F.array_contains("_fb.returned_by", own), F.lit(True))  # no dept on it: true
    label = (F.when(F.col("_fb.arbitrated"), F.col("_fb.final_dept_code"))
             .when(F.col("_fb.final_dept_code").isNotNull() & returned, F.col("_fb.final_dept_code"))
             .otherwise(own))
    return (tickets.join(fb.alias("_fb"), "ticket_id", "left")
            .withColumn(label_col, label).drop("final_dept_code", "arbitrated", "returned_by"))
