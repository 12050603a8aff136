"""Entry point: match all active policies (or only changed ones) for a date.

python spark_jobs/match_policies.py [YYYY-MM-DD] [--changed-only]"""

import datetime as dt
import sys

from govlake.catalog.policies import load_policies
from govlake.lakehouse import Lakehouse
from govlake.policy.match import changed_policies, match_policies
from govlake.settings import get_settings
from govlake.spark import get_spark

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_of = dt.date.fromisoformat(args[0]) if args else dt.date.today()
    s = get_settings()
    spark = get_spark(s, app_name="match_policies")
    lake = Lakehouse(spark, s)
    pols = changed_policies(lake, load_policies(s.catalog_dir)) if "--changed-only" in sys.argv else None
    print(match_policies(spark, lake, as_of, policies=pols) if pols is None or pols else "nothing changed")
