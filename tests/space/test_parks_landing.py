"""The park inventory lands as an extract and is ingested like any source: every record
accounted for (read = written + quarantined), a park without its street or its area quarantined
with the rule and column, the injected defects quarantined per rule as the generator's counts say,
and gold.industrial_parks published from bronze without them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter

from govlake.catalog import load_sources
from govlake.generate import land_parks, parks_frame
from govlake.generate.extract import format_frame
from govlake.ingest import QUARANTINE, ingest_source
from govlake.space.inventory import PARKS, parks_from_bronze, write_parks

D = dt.date(2026, 12, 1)


def test_parks_landed_ingested_quarantined_and_published(lake, settings):
    m = land_parks(settings, D, n=300)  # with the generator's injected defects, one per bad row
    path = settings.landing_dir / "industrial_parks" / D.isoformat() / m["files"][0]
    src = load_sources(settings.catalog_dir)["industrial_parks"]
    clean = {r["park_id"]: r for r in format_frame(parks_frame(D, 300), src).to_dict("records")}
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8", errors="replace"))))
    seen = Counter(r["park_id"] for r in rows)
    # three parks the generator left intact lose their street, street code or area
    intact = [r["park_id"] for r in rows if seen[r["park_id"]] == 1 and r == clean.get(r["park_id"])][:3]
    blank = dict(zip(intact, ["street_name", "total_area_sqm", "street_code"]))
    data = path.read_bytes().split(b"\n")
    for i, r in enumerate(rows, 1):  # edit those lines only, the others keep their bytes (GBK defects too)
        if r["park_id"] in blank:
            r = {**r, blank[r["park_id"]]: ""}
            out = io.StringIO()
            csv.DictWriter(out, fieldnames=list(r), lineterminator="").writerow(r)
            data[i] = out.getvalue().encode("utf-8")
    path.write_bytes(b"\n".join(data))

    rec = ingest_source(lake.spark, lake, "industrial_parks", D)
    want = {k: v for k, v in m["bad_rows"].items() if v}
    want["required"] = want.get("required", 0) + 3
    assert rec.ok and rec.quarantined_by_rule == want
    assert rec.rows_read == m["rows"] and rec.rows_written == m["rows"] - m["bad_total"] - 3
    q = lake.to_arrow(QUARANTINE, where={"source": "industrial_parks"}).to_pylist()
    assert len(q) == rec.rows_quarantined
    mine = {r["column"]: r for r in q if any(f'"park_id":"{p}"' in r["raw"] for p in intact)}
    assert set(mine) == {"street_name", "total_area_sqm", "street_code"}
    assert mine["street_name"]["rule"] == "required" and "所属街道" in mine["street_name"]["detail"]
    assert "总面积" in mine["total_area_sqm"]["detail"]

    out = write_parks(lake, D)
    ids = lake.to_arrow(PARKS, columns=["park_id"])["park_id"].to_pylist()
    assert out["source"] == "bronze.industrial_parks" and out["rows"] == len(ids) == len(set(ids)) == rec.rows_written
    assert not set(ids) & set(intact) and len(ids) < 300
    assert not write_parks(lake, D)["committed"]  # the same bronze: nothing committed
    assert parks_from_bronze(lake, D - dt.timedelta(days=1)).num_rows == 0  # nothing loaded before D
