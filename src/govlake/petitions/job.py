"""The batch dispatch job, callable from spark_jobs/dispatch_petitions.py, Airflow, or tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def run_dispatch(spark, lake, *, input_table: str, output_table: str, model_dir: str | Path,
                 text_col: str = "text", id_col: str = "ticket_id", k: int = 3,
                 as_of: dt.date | None = None, signals: dict | None = None) -> dict:
    """Score every ticket of input_table, overwrite output_table (idempotent per date).

    Reconciles: every input ticket gets k rows (k = min(k, number of labels)); a mismatch
    raises instead of writing a partial dispatch table.
    """
    from govlake.petitions.scoring import get_model, score_dataframe

    as_of = as_of or dt.date.today()
    src = lake.read(input_table)
    n_in = src.count()
    out = score_dataframe(src, model_dir, text_col=text_col, id_col=id_col, k=k, signals=signals)
    out = out.cache()
    n_out = out.count()
    n_tickets = out.select("ticket_id").distinct().count()
    k_eff = min(k, len(get_model(model_dir).classes))
    if n_tickets != n_in or n_out != n_in * k_eff:
        out.unpersist()
        raise RuntimeError(f"dispatch reconciliation failed: {n_in} tickets in, {n_tickets} scored, "
                           f"{n_out} rows (expected {n_in * k_eff})")
    commit = lake.write(out, output_table, mode="overwrite",
                        app_id=f"dispatch_petitions@{as_of.isoformat()}", app_version=0)
    out.unpersist()
    return {"input_table": input_table, "output_table": output_table, "tickets_in": n_in,
            "rows_written": n_out, "model_version": get_model(model_dir).meta.get("version"),
            "committed": getattr(commit, "committed", None), "version": getattr(commit, "version", None)}
