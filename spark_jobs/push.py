"""Entry point: enqueue eligible matches, send due notifications, publish ops.push_outbox.

python spark_jobs/push.py [YYYY-MM-DD] [--webhook-url URL]"""

import datetime as dt
import json
import sys

from govlake.lakehouse import Lakehouse
from govlake.policy.push import default_channels, push_run
from govlake.settings import get_settings
from govlake.spark import get_spark

if __name__ == "__main__":
    args = sys.argv[1:]
    url = args[args.index("--webhook-url") + 1] if "--webhook-url" in args else None
    pos = [a for a in args if not a.startswith("--") and a != url]
    as_of = dt.date.fromisoformat(pos[0]) if pos else dt.date.today()
    s = get_settings()
    lake = Lakehouse(get_spark(s, app_name="push"), s)
    print(json.dumps(push_run(lake, as_of, default_channels(s, url)), ensure_ascii=False))
