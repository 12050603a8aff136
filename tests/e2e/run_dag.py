"""Run the govlake_demo DAG (generate + the daily chain) with dag.test() twice for one logical date, in a fresh Airflow home.

Runs as its own process (Airflow reads its config at import time): the test passes the lake
and Airflow home through GOVLAKE_* / AIRFLOW_* variables and reads the JSON written to
GOVLAKE_TEST_OUT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pendulum


def readers_disagree(lake, table: str) -> list[str]:
    """Where Spark (delta-spark) and delta-rs read the table differently: the row count at every
    version, and every row at the latest one (after the DAG's MERGEs, OPTIMIZE and VACUUM)."""
    import pyarrow as pa

    out = []
    for v in sorted(h["version"] for h in lake.history(table)):
        n_spark, n_rs = lake.read(table, v).count(), lake.row_count(table, v)
        if n_spark != n_rs:
            out.append(f"{table}@{v}: Spark {n_spark} rows, delta-rs {n_rs}")
    rs = lake.to_arrow(table)
    sp = lake.read(table).toArrow()
    sp = pa.Table.from_arrays([sp.column(c).cast(rs.schema.field(c).type) for c in rs.column_names], schema=rs.schema)

    def rows(t):
        return sorted((tuple(r.values()) for r in t.to_pylist()), key=repr)

    if rows(sp) != rows(rs):
        out.append(f"{table}: the latest version's rows differ between Spark and delta-rs")
    return out


def main() -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dags"))
    from govlake_demo import govlake_demo_dag

    from govlake.lakehouse import Lakehouse
    from govlake.pipeline import table_summary
    from govlake.settings import get_settings

    logical = pendulum.parse(os.environ.get("GOVLAKE_TEST_DS", "2026-11-21"), tz="UTC")
    states = []
    snapshots = []
    for _ in range(2):
        run = govlake_demo_dag.test(logical_date=logical)
        states.append(str(run.state))
        snapshots.append(table_summary(Lakehouse(None, get_settings())))
    from govlake.spark import get_spark

    lake = Lakehouse(get_spark(get_settings()), get_settings())
    disagree = [m for t in lake.tables() for m in readers_disagree(lake, t)]
    # A file, not stdout: Spark's shutdown logs to stdout after we are done.
    Path(os.environ["GOVLAKE_TEST_OUT"]).write_text(
        json.dumps({"states": states, "first": snapshots[0], "second": snapshots[1], "readers_disagree": disagree},
                   ensure_ascii=False))


if __name__ == "__main__":
    main()
