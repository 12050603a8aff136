"""分拨准确率: top-1/top-3 agreement with the final handling department."""

from __future__ import annotations

from govlake.petitions.agreement import agreement
from govlake.petitions.dispatch import Recommendation


def _recs(*codes):
    return [Recommendation(i + 1, c, c, 0.5 / (i + 1), "r") for i, c in enumerate(codes)]


def test_agreement_counts_top1_and_top3_per_department():
    recs = [_recs("RLJ", "ST018", "SJJ"), _recs("ST018", "RLJ", "SJJ"), _recs("HBJ", "CGJ", "ZJJ"),
            _recs("CGJ", "HBJ", "ZJJ")]
    out = agreement(recs, ["RLJ", "RLJ", "JTJ", "HBJ"])
    assert (out["n"], out["top1"], out["top3"]) == (4, 0.25, 0.75)
    assert out["per_department"]["RLJ"] == {"n": 2, "top1": 0.5, "top3": 1.0}
    assert out["per_department"]["JTJ"] == {"n": 1, "top1": 0.0, "top3": 0.0}
    assert out["per_department"]["HBJ"] == {"n": 1, "top1": 0.0, "top3": 1.0}
