"""智能分拨 batch: score petitions with the dispatch model -> top-3 departments per ticket.

    python spark_jobs/dispatch_petitions.py --input-table silver.petitions --text-col text \
        --model lakehouse/state/models/petitions_dispatch --output-table gold.petition_dispatch
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from govlake.lakehouse import Lakehouse
from govlake.petitions.job import run_dispatch
from govlake.settings import get_settings
from govlake.spark import get_spark


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-table", default="silver.petitions")
    ap.add_argument("--text-col", default="text")
    ap.add_argument("--id-col", default="ticket_id")
    ap.add_argument("--model", required=True, help="model directory (model.joblib + model.json)")
    ap.add_argument("--output-table", default="gold.petition_dispatch")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--date", type=dt.date.fromisoformat, default=dt.date.today(),
                    help="logical date; one overwrite per date (idempotent)")
    args = ap.parse_args(argv)
    settings = get_settings()
    spark = get_spark(settings, app_name="dispatch_petitions")
    res = run_dispatch(spark, Lakehouse(spark, settings), input_table=args.input_table,
                       output_table=args.output_table, model_dir=args.model, text_col=args.text_col,
                       id_col=args.id_col, k=args.k, as_of=args.date)
    print(json.dumps(res, ensure_ascii=False))
    return res


if __name__ == "__main__":
    main()
