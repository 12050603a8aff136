"""Ingest 民生诉求工单 (petitions) for one load date into bronze.

    python spark_jobs/ingest_petitions.py --load-date 2026-11-21
"""

import argparse
import datetime as dt
import sys

from govlake.ingest import run_group_or_sources
from govlake.settings import get_settings


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--load-date", required=True, type=dt.date.fromisoformat)
    args = p.parse_args(argv)
    for r in run_group_or_sources(get_settings(), args.load_date, group="petitions"):
        print(f"{r.source}: read={r.rows_read} written={r.rows_written} quarantined={r.rows_quarantined} "
              f"committed={r.committed} {r.quarantined_by_rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
