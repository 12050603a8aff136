"""Entry point: decide every undecided application in ops.applications (秒批).

python spark_jobs/auto_approve.py [YYYY-MM-DD]"""

import datetime as dt
import sys

from govlake.lakehouse import Lakehouse
from govlake.policy.approval import auto_approve
from govlake.settings import get_settings
from govlake.spark import get_spark

if __name__ == "__main__":
    as_of = dt.date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else dt.date.today()
    s = get_settings()
    spark = get_spark(s, app_name="auto_approve")
    print(auto_approve(spark, Lakehouse(spark, s), as_of))
