"""Petition signals for one logical date: bronze.petitions -> gold.petition_alerts,
gold.petition_merge_groups, gold.group_petition_alerts, gold.hot_topics, gold.address_review_queue.

    python spark_jobs/petition_signals.py --as-of 2026-11-22
    spark-submit spark_jobs/petition_signals.py --as-of 2026-11-22
"""

from __future__ import annotations

import argparse
import datetime as dt

from govlake.lakehouse import Lakehouse
from govlake.settings import get_settings
from govlake.signals.job import run_signals
from govlake.spark import get_spark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--as-of", required=True, type=dt.date.fromisoformat)
    args = ap.parse_args()
    settings = get_settings()
    spark = get_spark(settings, app_name="petition_signals")
    for table, c in run_signals(spark, Lakehouse(spark, settings), args.as_of).items():
        print(f"{table}: version {c.version}, rows {c.rows_written}, committed {c.committed}")


if __name__ == "__main__":
    main()
