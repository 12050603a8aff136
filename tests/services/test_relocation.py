from __future__ import annotations

import datetime as dt

from services_lake import usccs
from govlake.services import key_enterprises as ke
from govlake.services.relocation import (REAL_SIGNALS, SIGNALS, WARNINGS, generate_history, run_relocation,
                                         train_and_validate)


def test_model_beats_the_headcount_baseline_on_later_quarters():
    model, m = train_and_validate(generate_history(usccs(3000), seed=5))
    assert m["test_moves"] > 50  # enough moves in the held-out quarters to measure on
    assert m["auc"] > m["baseline_auc"] + 0.03 and m["auc"] > 0.75
    assert m["precision_at_k"] > m["baseline_precision_at_k"] and m["precision_at_k"] > 3 * m["base_rate"]


def test_warnings_name_real_signals_and_go_to_officials(services_lake):
    from govlake.services.enterprise_requests import run_requests

    as_of = dt.date(2026, 12, 1)
    run_requests(services_lake, as_of)
    out = run_relocation(services_lake, as_of)
    rows = services_lake.to_arrow(WARNINGS).to_pylist()
    assert len(rows) == out["warnings"] == services_lake.row_count(WARNINGS) > 0
    real = {SIGNALS[s][0] for s in REAL_SIGNALS}
    decoy = SIGNALS["policy_queries"][0]
    staff = {o["official_id"] for o in ke.officials(services_lake.settings.catalog_dir)}
    for r in rows:
        named = [p.split("（")[0] for p in r["reasons"].split("；")]
        assert named and set(named) <= real and decoy not in named
        assert r["official"] in staff and 0 < r["risk"] < 1 and r["as_of"] == as_of
