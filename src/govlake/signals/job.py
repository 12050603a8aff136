"""The petition signals job: bronze.petitions -> gold.petition_alerts, gold.petition_merge_groups,
gold.group_petition_alerts, gold.hot_topics, gold.address_review_queue.

Spark does the enrichment (mapInPandas: address + sensitive per row) and the blocking
(groupBy(block).applyInPandas: MinHash LSH inside each (place, time window) block); the driver
joins the returned edges into groups (union-find) and ranks the window's hot topics.
Every output row carries as_of; a rerun for the same as_of replaces that partition and the
app_id (petition_signals@<as_of>) makes a repeated run commit nothing.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from govlake import release
from govlake.lakehouse import Commit, Lakehouse
from govlake.lakehouse.staged import already_committed
from govlake.lineage.emitter import DatasetRef, job_run, schema_of
from govlake.petitions.frames import spark_frame
from govlake.signals import detect
from govlake.signals.address import REVIEW_THRESHOLD
from govlake.signals.hot_topics import hot_topics
from govlake.signals.sensitive import classify, get_model

JOB = "petition_signals"
SOURCE = "bronze.petitions"
LOOKBACK_DAYS = 90      # repeats/groups need 30 days/72 h of history; topics use the last 30 days
TOPIC_WINDOW_DAYS = 30

S = T.StringType()
ARR = T.ArrayType(T.StringType())
_EDGE = T.StructType([T.StructField("a", S), T.StructField("b", S),
                      T.StructField("sim", T.DoubleType()), T.StructField("reason", S)])

SCHEMAS = {
    "gold.petition_alerts": T.StructType([
        T.StructField("as_of", T.DateType()), T.StructField("ticket_id", S),
        T.StructField("submit_time", T.TimestampType()), T.StructField("channel", S),
        T.StructField("title", S), T.StructField("severity", T.IntegerType()),
        T.StructField("alert_kind", S), T.StructField("categories", ARR),
        T.StructField("category_labels", ARR), T.StructField("terms", ARR),
        T.StructField("model_score", T.DoubleType()), T.StructField("street_code", S),
        T.StructField("community_code", S)]),
    "gold.petition_merge_groups": T.StructType([
        T.StructField("as_of", T.DateType()), T.StructField("group_id", S), T.StructField("ticket_id", S),
        T.StructField("master_ticket_id", S), T.StructField("reason", S),
        T.StructField("similarity", T.DoubleType()), T.StructField("group_size", T.IntegerType()),
        T.StructField("requester_count", T.IntegerType()), T.StructField("channels", S)]),
    "gold.group_petition_alerts": T.StructType([
        T.StructField("as_of", T.DateType()), T.StructField("alert_id", S), T.StructField("place_key", S),
        T.StructField("street_code", S), T.StructField("community_code", S), T.StructField("subject", S),
        T.StructField("window_start", T.TimestampType()), T.StructField("window_end", T.TimestampType()),
        T.StructField("ticket_count", T.IntegerType()), T.StructField("requester_count", T.IntegerType()),
        T.StructField("severity", T.IntegerType()), T.StructField("ticket_ids", ARR)]),
    "gold.hot_topics": T.StructType([
        T.StructField("as_of", T.DateType()), T.StructField("rank", T.IntegerType()),
        T.StructField("topic_id", S), T.StructField("keywords", S), T.StructField("place", S),
        T.StructField("representative_title", S), T.StructField("ticket_count", T.IntegerType()),
        T.StructField("requester_count", T.IntegerType()), T.StructField("votes", T.LongType()),
        T.StructField("growth", T.DoubleType()), T.StructField("heat", T.DoubleType()),
        T.StructField("first_time", T.TimestampType()), T.StructField("last_time", T.TimestampType()),
        T.StructField("ticket_ids", ARR)]),
    "gold.address_review_queue": T.StructType([
        T.StructField("as_of", T.DateType()), T.StructField("ticket_id", S),
        T.StructField("address_text", S), T.StructField("matched_text", S),
        T.StructField("level", S), T.StructField("confidence", T.DoubleType()),
        T.StructField("candidate_street_code", S), T.StructField("candidate_community_code", S)]),
}
LABELS = {
    "gold.petition_alerts": "敏感事件预警", "gold.petition_merge_groups": "反复诉求并案",
    "gold.group_petition_alerts": "群体诉求预警", "gold.hot_topics": "热点诉求",
    "gold.address_review_queue": "地址人工复核队列",
}


def _latest(df: DataFrame) -> DataFrame:
    if "_load_date" not in df.columns:
        return df.dropDuplicates(["ticket_id"])
    w = Window.partitionBy("ticket_id").orderBy(F.col("_load_date").desc())
    return df.withColumn("_rn", F.row_number().over(w)).filter("_rn = 1").drop("_rn")


def _enriched(src: DataFrame, model) -> DataFrame:
    base = ["ticket_id", "channel", "submit_time", "requester_id", "title", "content", "address_text",
            "street_code", "community_code", "votes"]
    src = src.select(*[F.col(c) if c in src.columns else F.lit(None).cast(S).alias(c) for c in base])
    src = src.withColumn("votes", F.col("votes").cast("long"))
    types = {"double": T.DoubleType(), "string": S, "array<long>": T.ArrayType(T.LongType())}
    fields = list(src.schema.fields) + [T.StructField(c, types[t]) for c, t in detect.ENRICH_COLUMNS.items()] + [
        T.StructField("severity", T.IntegerType()), T.StructField("alert_kind", S),
        T.StructField("categories", ARR), T.StructField("category_labels", ARR),
        T.StructField("terms", ARR), T.StructField("model_score", T.DoubleType())]
    schema = T.StructType(fields)

    def fn(batches):
        for b in batches:
            e = detect.enrich(b)
            s = pd.DataFrame(classify([f"{t or ''}{c or ''}" for t, c in zip(b["title"], b["content"])], model),
                             index=e.index)
            yield pd.concat([e, s[["severity", "alert_kind", "categories", "category_labels", "terms",
                                   "model_score"]]], axis=1)[[f.name for f in fields]]

    return src.mapInPandas(fn, schema)


def _blocks(df: DataFrame, place_col: str, window_hours: int) -> DataFrame:
    k = F.floor(F.unix_timestamp("submit_time") / F.lit(3600 * window_hours)).cast("long")
    return (df.filter(F.col(place_col) != "")
            .withColumn("block_place", F.col(place_col))
            .withColumn("block_time", F.explode(F.array(k, k + 1))))


def _edges(df: DataFrame) -> pd.DataFrame:
    cols = ["ticket_id", "requester_id", "submit_time", "place_key", "street_block", "doc_text", "minhash"]
    slim = df.select(*cols)
    rep = _blocks(slim, "street_block", detect.REPEAT_WINDOW_DAYS * 24).groupBy("block_place", "block_time") \
        .applyInPandas(lambda g: detect.repeat_edges(g)[["a", "b", "sim", "reason"]], _EDGE)
    req = slim.groupBy("requester_id").applyInPandas(
        lambda g: detect.requester_edges(g)[["a", "b", "sim", "reason"]], _EDGE)
    grp = _blocks(slim, "place_key", detect.GROUP_WINDOW_HOURS).groupBy("block_place", "block_time") \
        .applyInPandas(lambda g: detect.group_edges(g)[["a", "b", "sim", "reason"]], _EDGE)
    repeat = pd.concat([rep.toPandas(), req.toPandas()], ignore_index=True)
    return repeat, grp.toPandas().drop_duplicates(["a", "b"])


def compute_signals(spark: SparkSession, petitions: DataFrame, as_of: dt.date, settings=None) -> dict[str, pd.DataFrame]:
    """The signals as pandas frames (no writes): what run_signals publishes."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0))
    src = _latest(petitions).filter((F.col("submit_time") < F.lit(end)) &
                                    (F.col("submit_time") >= F.lit(end - dt.timedelta(days=LOOKBACK_DAYS))))
    model = get_model(settings, fallback_texts=lambda: [
        r[0] for r in src.select(F.concat_ws("", "title", "content")).limit(20000).collect()])
    enr = _enriched(src, model).cache()
    repeat_edges, group_edges = _edges(enr)
    p = enr.drop("content", "minhash").toPandas()
    p["content"] = ""  # topics read content from the window frame below
    p["submit_time"] = pd.to_datetime(p["submit_time"])
    sev = dict(zip(p["ticket_id"], p["severity"]))
    merges = detect.merge_groups_from_edges(p, repeat_edges.drop_duplicates(["a", "b", "reason"]))
    groups = detect.group_alerts_from_edges(p, group_edges, sev)
    recent = enr.filter(F.col("submit_time") >= F.lit(end - dt.timedelta(days=TOPIC_WINDOW_DAYS))) \
        .select("ticket_id", "submit_time", "requester_id", "title", "content", "votes", "street_block").toPandas()
    topics = hot_topics(recent, as_of, window_days=TOPIC_WINDOW_DAYS) if len(recent) else \
        pd.DataFrame(columns=[f.name for f in SCHEMAS["gold.hot_topics"].fields if f.name != "as_of"])
    alerts = p[p["alert_kind"].notna()].assign(street_code=p["eff_street_code"], community_code=p["eff_community_code"])
    review = p[p["address_confidence"] < REVIEW_THRESHOLD].rename(columns={
        "address_matched_text": "matched_text", "address_level": "level", "address_confidence": "confidence",
        "std_street_code": "candidate_street_code", "std_community_code": "candidate_community_code"})
    enr.unpersist()
    return {"gold.petition_alerts": alerts, "gold.petition_merge_groups": merges,
            "gold.group_petition_alerts": groups, "gold.hot_topics": topics,
            "gold.address_review_queue": review, "_rows_in": len(p)}


def run_signals(spark: SparkSession, lake: Lakehouse, as_of: dt.date, *, petitions: DataFrame | None = None,
                parent_run=None) -> dict[str, Commit]:
    """Compute and publish the petition signals for as_of (reads bronze.petitions unless given)."""
    app_id = f"{JOB}@{as_of.isoformat()}"
    with job_run(JOB, lake.settings, nominal_time=f"{as_of.isoformat()}T00:00:00+08:00", parent=parent_run) as run:
        src = petitions if petitions is not None else lake.read(SOURCE)
        run.add_input(DatasetRef(SOURCE, schema=schema_of(src)))
        if all(lake.exists(t) and already_committed(lake.path(t), app_id, 0) for t in SCHEMAS):
            # a rerun of a published date: nothing to compute, nothing commits (the release too,
            # unless a crash came between the commits and the release)
            commits = {t: Commit(t, lake.version(t), 0, 0, 0, False) for t in SCHEMAS}
            release.publish(lake, run.run_id, {t: c.version for t, c in commits.items()}, step="signals")
            return commits
        out = compute_signals(spark, src, as_of, lake.settings)
        commits = {}
        lineage_cols = {
            "gold.petition_alerts": {"severity": [(SOURCE, "title"), (SOURCE, "content")]},
            "gold.petition_merge_groups": {"group_id": [(SOURCE, "requester_id"), (SOURCE, "content"), (SOURCE, "address_text"), (SOURCE, "submit_time")]},
            "gold.group_petition_alerts": {"requester_count": [(SOURCE, "requester_id"), (SOURCE, "content"), (SOURCE, "submit_time")]},
            "gold.hot_topics": {"heat": [(SOURCE, "title"), (SOURCE, "content"), (SOURCE, "requester_id"), (SOURCE, "votes")]},
            "gold.address_review_queue": {"confidence": [(SOURCE, "address_text"), (SOURCE, "content")]},
        }
        for table, schema in SCHEMAS.items():
            df = spark_frame(spark, out[table], schema, as_of=as_of)
            c = lake.write(df, table, mode="replace_partitions", partition_by=["as_of"], app_id=app_id,
                           metadata={"label": LABELS[table], "as_of": as_of.isoformat()})
            commits[table] = c
            run.add_output(DatasetRef(table, schema=schema_of(df), rows=len(out[table]), version=c.version,
                                      column_lineage=lineage_cols[table],
                                      transformations={k: LABELS[table] for k in lineage_cols[table]},
                                      assertions=[{"assertion": "rows_in_window", "success": True,
                                                   "column": None}] if table == "gold.petition_alerts" else None))
        # the five signal tables become visible together (govlake.release)
        release.publish(lake, run.run_id, {t: c.version for t, c in commits.items()}, step="signals")
        return commits
