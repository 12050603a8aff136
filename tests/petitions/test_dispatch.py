"""Top-3 recommendations, blending with 权责清单 / 属地 / history, online scoring."""

from __future__ import annotations

import time

from govlake.petitions.dispatch import BlendWeights, Department, blend
from govlake.petitions.scoring import recommend
from govlake.petitions.scoring import score_one

TEXT = "宝安区西乡街道某公司拖欠工资三个月，社保也没有缴纳，请尽快处理"


def _check(recs, k=3):
    assert [r.rank for r in recs] == list(range(1, k + 1))
    probs = [r.probability for r in recs]
    assert probs == sorted(probs, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probs) and sum(probs) <= 1.0 + 1e-9
    assert all(r.reason for r in recs)


def test_top3_model_only(synth_model_dir):
    recs = score_one(TEXT, model_dir=synth_model_dir)
    _check(recs)
    assert recs[0].dept_code == "劳动和社会保障"
    assert "关键词" in recs[0].reason and ("工资" in recs[0].reason or "社保" in recs[0].reason)


def test_recommend_batch(synth_model_dir):
    out = recommend([TEXT, "工厂排放废气，河道污染发臭"], k=3, model_dir=synth_model_dir)
    assert [o[0].dept_code for o in out] == ["劳动和社会保障", "环境保护"]
    for recs in out:
        _check(recs)


def test_blend_signals_add_reasons_and_stay_a_distribution(synth_model_dir):
    deps = [Department("RSJ", "区人力资源局", ("欠薪",)), Department("XX", "西乡街道办")]
    recs = score_one(TEXT, model_dir=synth_model_dir, departments=deps,
                     responsibility={"社保": "RSJ", "拖欠工资": "RSJ"},
                     address="宝安区西乡街道宝民一路", jurisdiction={"西乡街道": "XX", "新安街道": "XA"},
                     history_prior={"RSJ": 30, "XX": 10})
    _check(recs)
    by = {r.dept_code: r for r in recs}
    assert "权责清单: 社保, 拖欠工资" in by["RSJ"].reason and by["RSJ"].dept_name == "区人力资源局"
    assert "属地: 西乡街道" in by["XX"].reason
    assert "XA" not in by


def test_blend_without_signals_returns_model_probabilities():
    top = [("A", 0.6, ["甲乙"]), ("B", 0.3, []), ("C", 0.1, [])]
    recs = blend(top, "文本")
    assert [(r.dept_code, r.probability) for r in recs] == [("A", 0.6), ("B", 0.3), ("C", 0.1)]


def test_blend_keyword_can_promote_a_department():
    top = [("A", 0.5, []), ("B", 0.45, []), ("C", 0.05, [])]
    recs = blend(top, "这里有违章搭建", responsibility=[("违章搭建", "B")],
                 weights=BlendWeights(model=0.5, keywords=0.5))
    assert recs[0].dept_code == "B" and "权责清单: 违章搭建" in recs[0].reason


def test_online_latency_is_small(synth_model_dir):
    score_one(TEXT, model_dir=synth_model_dir)  # warm: model + jieba loaded once
    t = time.perf_counter()
    for _ in range(50):
        score_one(TEXT, model_dir=synth_model_dir)
    per_call_ms = (time.perf_counter() - t) / 50 * 1000
    assert per_call_ms < 100  # loose: shared CI machines; the real figure is in bench_dispatch
