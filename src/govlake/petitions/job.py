"""The batch dispatch job, called by the pipeline's dispatch step (the DAG's
`dispatch` task, `govlake run --steps dispatch`) and the tests.

A day of 智能分拨 (dispatch_day): train on tickets submitted before the day (never on the tickets
it scores), score the day's new tickets with the catalog blend (权责清单 / 属地 / history, weights
in catalog/dispatch.yaml), write gold.petition_dispatch, and publish the model for the online
route. Scoring goes through scoring.score_texts, the function the API calls.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from govlake import release
from govlake.lakehouse.staged import already_committed
from govlake.petitions.dispatch_replay import MODEL
from govlake.petitions.labels import LABEL_COL, latest_tickets, training_labels

SOURCE = "bronze.petitions"
OUTPUT = "gold.petition_dispatch"
ADDRESS_COL = "address_text"


def with_text(df, text_col: str = "text"):
    """Petition text as the model reads it: title。content (bronze.petitions has the two apart)."""
    from pyspark.sql import functions as F

    if text_col in df.columns:
        return df
    return df.withColumn(text_col, F.concat_ws("。", F.col("title"), F.col("content")))


def day_window(load_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The submit-time window of a load date's new tickets: the extract of load date L is taken at
    L 00:00 and its new tickets are those submitted on the day before, [L-1, L)."""
    end = dt.datetime.combine(load_date, dt.time())
    return end - dt.timedelta(days=1), end


def _ts(t: dt.datetime):
    """A wall-clock timestamp literal read in the session time zone, as ingest parsed submit_time
    (F.lit of a naive datetime would be read in the Python process's zone instead)."""
    from pyspark.sql import functions as F

    return F.lit(t.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp")


def train_before(lake, model_dir: str | Path, before: dt.datetime, *, input_table: str = SOURCE,
                 window_days: int = 365, label_col: str = LABEL_COL, label=None) -> dict:
    """Train on tickets submitted in [before - window_days, before) that have a label (the final
    handling department of closed tickets, training_labels; or the `label` Column given), and
    save to model_dir (once: an existing model there is kept, so a re-run of the day scores with
    the same model). -> the model's meta."""
    from pyspark.sql import functions as F

    from govlake.petitions.model import load_model, save_model, train

    if (Path(model_dir) / "model.json").is_file():
        return load_model(model_dir).meta
    start = before - dt.timedelta(days=window_days)
    hist = (latest_tickets(with_text(lake.read(input_table)))
            .where((F.col("submit_time") < _ts(before)) & (F.col("submit_time") >= _ts(start))))
    if label is None:
        hist = training_labels(lake, hist, label_col)
    lab = F.col(label_col) if label is None else label
    hist = (hist.select("text", lab.alias(label_col))
            .where(F.col(label_col).isNotNull() & (F.trim(F.col(label_col)) != ""))
            .toPandas())
    if hist.empty:
        raise RuntimeError(f"no handled tickets in {input_table} submitted before {before:%Y-%m-%d %H:%M} "
                           f"to train the dispatch model on (无可用于训练的历史工单)")
    model = train(hist["text"].tolist(), hist[label_col].tolist())
    return save_model(model, model_dir, training_data={
        "table": input_table, "version": lake.version(input_table), "rows": len(hist),
        "submitted_from": start.isoformat(), "submitted_before": before.isoformat(), "label_col": label_col,
        **({"labels": "final handling department of closed tickets (退单 / 快速裁决 feedback)"} if label is None else {})})


def publish_model(model_dir: str | Path, online_dir: str | Path) -> bool:
    """Copy a day's model to the online route's folder unless that one was trained on later
    tickets (a backfill must not replace a newer model). model.json goes last: the route reloads
    when it changes."""
    import json

    src, dst = Path(model_dir), Path(online_dir)
    new = json.loads((src / "model.json").read_text(encoding="utf-8"))
    if (dst / "model.json").is_file():
        cur = json.loads((dst / "model.json").read_text(encoding="utf-8"))
        if cur.get("training_data", {}).get("submitted_before", "") > new["training_data"].get("submitted_before", ""):
            return False
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("model.joblib", "model.json"):
        tmp = dst / f".{name}.tmp"
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, dst / name)
    return True


def _partitioned_by(lake, table: str) -> list[str]:
    from govlake.lakehouse import storage

    return list(storage.delta_table(lake.path(table)).metadata().partition_columns) if lake.exists(table) else []


def run_dispatch(spark, lake, *, input_table: str, output_table: str, model_dir: str | Path,
                 text_col: str = "text", id_col: str = "ticket_id", k: int = 3,
                 as_of: dt.date | None = None, signals: dict | None = None,
                 where=None, address_col: str | None = None, replay: bool = False) -> dict:
    """Score the tickets of input_table (those matching `where`, a Spark Column or SQL string, if
    given) into output_table's partition `as_of` (one partition per dispatch date: a re-run of the
    date replaces its partition and leaves the other dates, so the table is the dispatch history
    the agreement over time is measured on). A table without text_col but with title and
    content is read as title。content. A dispatch table from before the history (not partitioned
    by as_of) is rewritten once as the first partition.

    Reconciles: every input ticket gets k rows (k = min(k, number of labels)), exactly one of
    them its lead department (主办); a mismatch raises instead of writing a partial dispatch.

    replay: also write, in the same partition, the 退单 / 快速裁决 replay rows (dispatch_replay) of
    the earlier tickets whose recorded events changed their departments (`dispatch_kind`
    model / replay).
    """
    from pyspark.sql import functions as F

    from govlake.petitions.scoring import get_model, score_dataframe

    as_of = as_of or dt.date.today()
    src = with_text(lake.read(input_table), text_col)
    if where is not None:
        src = src.where(where)
    src = src.dropDuplicates([id_col])
    n_in = src.count()
    out = score_dataframe(src, model_dir, text_col=text_col, id_col=id_col, k=k, signals=signals,
                          address_col=address_col).withColumn("as_of", F.lit(as_of))
    # when the departments were sent the ticket: the 退单 time limit runs from here
    out = out.withColumn("dispatched_at", F.current_timestamp()).withColumn("dispatch_kind", F.lit(MODEL))
    out = scored = out.cache()
    n_out = scored.count()
    n_tickets = scored.select("ticket_id").distinct().count()
    n_leads = scored.where(F.col("role") == "lead").count()
    k_eff = min(k, len(get_model(model_dir).classes))
    if n_tickets != n_in or n_out != n_in * k_eff or n_leads != n_in:
        scored.unpersist()
        raise RuntimeError(f"dispatch reconciliation failed: {n_in} tickets in, {n_tickets} scored, "
                           f"{n_out} rows (expected {n_in * k_eff}), {n_leads} lead departments")
    app_id = f"dispatch_petitions@{as_of.isoformat()}"
    replayed = 0
    if replay and lake.exists(output_table) and not already_committed(lake.path(output_table), app_id, 0):
        rep, replayed = _replay_rows(spark, lake, scored, model_dir, k=k, signals=signals, as_of=as_of)
        if rep is not None:
            out = scored.unionByName(rep)
    mode = "replace_partitions" if _partitioned_by(lake, output_table) == ["as_of"] else "overwrite"
    commit = _with_schema_merge(spark, lambda: lake.write(out, output_table, mode=mode, partition_by=["as_of"],
                                                          app_id=app_id, app_version=0))  # dispatch_kind came after the table: add it to older ones
    scored.unpersist()
    return {"input_table": input_table, "output_table": output_table, "as_of": as_of.isoformat(),
            "tickets_in": n_in, "rows_written": n_out, "model_version": get_model(model_dir).meta.get("version"),
            "replayed_tickets": replayed,
            "committed": getattr(commit, "committed", None), "version": getattr(commit, "version", None)}


def _with_schema_merge(spark, write):
    key = "spark.databricks.delta.schema.autoMerge.enabled"
    before = spark.conf.get(key, None)
    spark.conf.set(key, "true")
    try:
        return write()
    finally:
        spark.conf.unset(key) if before is None else spark.conf.set(key, before)


def _replay_rows(spark, lake, out, model_dir, *, k: int, signals: dict | None, as_of: dt.date):
    """The replay rows (dispatch_replay.replay_frame) as a DataFrame shaped like `out` (None when
    there are none) and the number of tickets they replay."""
    from govlake.catalog import load_departments
    from govlake.petitions.dispatch_replay import replay_frame
    from govlake.petitions.frames import spark_frame
    from govlake.petitions.scoring import get_model

    names = {d.code: d.name for d in load_departments(lake.settings.catalog_dir)}
    new_ids = {r[0] for r in out.select("ticket_id").collect()}
    pdf = replay_frame(lake, get_model(model_dir), k=k, signals=signals, names=names, skip=new_ids)
    if pdf.empty:
        return None, 0
    return spark_frame(spark, pdf, out.schema, as_of=as_of), int(pdf["ticket_id"].nunique())


def write_forms(lake, load_date: dt.date, *, input_table: str = SOURCE, parent_run=None,
                category_model_dir: str | Path | None = None) -> dict:
    """智能填单 for every ticket of the load date's extract (its latest row): one form row per
    ticket in gold.petition_forms, standard address included; gated against the product's
    contract and merged by ticket_id (catalog/products.yaml)."""
    from pyspark.sql import functions as F

    from govlake.petitions.form import FORM_TABLE, fill_dataframe
    from govlake.quality.gate import publish

    src = with_text(lake.read(input_table)).where(F.col("_load_date") == F.lit(load_date)).dropDuplicates(["ticket_id"])
    forms = fill_dataframe(src, category_model_dir=category_model_dir).withColumn("load_date", F.lit(load_date)).cache()
    n_in, n_out = src.count(), forms.count()
    if n_in != n_out:
        forms.unpersist()
        raise RuntimeError(f"form fill reconciliation failed: {n_in} tickets in, {n_out} forms")
    commit = publish(forms, FORM_TABLE, lake, app_id=f"petition_forms@{load_date.isoformat()}", parent_run=parent_run)
    forms.unpersist()
    return {"table": FORM_TABLE, "tickets": n_in, "committed": getattr(commit, "committed", None),
            "version": getattr(commit, "version", None)}


def dispatch_day(spark, lake, settings, load_date: dt.date, *, input_table: str = SOURCE,
                 output_table: str = OUTPUT, parent_run=None) -> dict:
    """The pipeline's dispatch step: the day's new tickets (submitted in day_window(load_date),
    from that load), scored by a model trained on tickets submitted before the window."""
    from pyspark.sql import functions as F

    from govlake.petitions.blend_inputs import blend_inputs, load_dispatch_config
    from govlake.petitions.dispatch_agreement import write_agreement
    from govlake.petitions.form import CATEGORY_SEP, category_model_dir
    from govlake.petitions.model import load_model
    from govlake.petitions.scoring import default_model_dir

    cfg = load_dispatch_config(settings.catalog_dir)
    start, end = day_window(load_date)
    model_dir = settings.state_dir / "models" / "dispatch" / load_date.isoformat()
    meta = train_before(lake, model_dir, start, input_table=input_table, window_days=cfg.train_window_days)
    model = load_model(model_dir)
    new = ((F.col("_load_date") == F.lit(load_date)) & (F.col("submit_time") >= _ts(start))
           & (F.col("submit_time") < _ts(end)))
    res = run_dispatch(spark, lake, input_table=input_table, output_table=output_table, model_dir=model_dir,
                       k=cfg.k, as_of=load_date, signals=blend_inputs(settings.catalog_dir, model),
                       where=new, address_col=ADDRESS_COL, replay=True)
    published = publish_model(model_dir, default_model_dir(settings))
    # 智能填单's category model: learned like the dispatch model, from the categories the district
    # filed on tickets before the day (the matter tree's names match far worse).
    cat_dir = settings.state_dir / "models" / "form_category" / load_date.isoformat()
    try:
        train_before(lake, cat_dir, start, input_table=input_table, window_days=cfg.train_window_days,
                     label_col="category_path", label=F.when(
                         F.col("category_l3") != "", F.concat_ws(CATEGORY_SEP, "category_l1", "category_l2", "category_l3")))
        publish_model(cat_dir, category_model_dir(settings))
    except RuntimeError:  # no filed categories yet: the form falls back to the tree's names
        cat_dir = None
    forms = write_forms(lake, load_date, input_table=input_table, parent_run=parent_run,
                        category_model_dir=cat_dir)
    # 分拨准确率 over time: every dispatch date so far against the final handling departments
    agreement = write_agreement(lake, settings, load_date, parent_run=parent_run, dispatch_table=output_table,
                                input_table=input_table)
    # the day's dispatch, its forms and the agreement report become visible together (govlake.release)
    rel = release.publish(lake, parent_run.run_id if parent_run else f"dispatch_day@{load_date.isoformat()}",
                          [output_table, forms["table"]] + ([agreement["table"]] if lake.exists(agreement["table"]) else []),
                          step="dispatch")
    return {**res, "forms": forms, "agreement": agreement, "model_dir": str(model_dir), "trained_on_rows": meta.get("training_data", {}).get("rows"),
            "trained_before": start.isoformat(), "published_online": published, "release": rel.release_id}
