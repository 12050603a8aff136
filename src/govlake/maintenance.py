"""Table hygiene, the daily chain's last step (表维护): every table's properties brought in line
with the catalog, small files compacted (OPTIMIZE), files no version within the retention
window reads removed (VACUUM: time travel for audit keeps `retention_days`), and the staging
folders of interrupted writes cleared (safe under the run lock: no other writer is running).
A table whose last commit is this step's own (nothing written since) is left alone, so a re-run
for the same day commits nothing."""

from __future__ import annotations

import shutil
import time

from govlake.lakehouse import Lakehouse
from govlake.lineage import DatasetRef

# OPTIMIZE lays these tables' rows out by the columns readers select on (Z-order).
ZORDER = {"gold.enterprise_tags": ["uscc"]}
OWN_OPERATIONS = {"OPTIMIZE", "VACUUM START", "VACUUM END", "SET TBLPROPERTIES"}


def maintain_tables(lake: Lakehouse, run=None) -> dict[str, dict]:
    out = {}
    for table in lake.tables():
        if lake.history(table)[0].get("operation") in OWN_OPERATIONS:
            out[table] = {"skipped": "unchanged since its last maintenance"}
            continue
        t0 = time.perf_counter()
        stale = sorted(lake.path(table).glob("_tmp-*"))
        for d in stale:
            shutil.rmtree(d, ignore_errors=True)
        changed = lake.set_properties(table)
        figures = lake.maintain(table, ZORDER.get(table))
        out[table] = {**figures, "properties_set": sorted(changed), "staging_cleared": len(stale),
                      "version": lake.version(table), "seconds": round(time.perf_counter() - t0, 2)}
        if run is not None:
            run.add_output(DatasetRef(table, version=out[table]["version"]))
    return out
