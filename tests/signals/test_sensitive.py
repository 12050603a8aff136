from collections import Counter

from govlake.signals.sensitive import SensitiveModel, classify, load_lexicon


def test_lexicon_severity_negation_exclusion():
    lex = load_lexicon()
    h = lex.match("楼下餐馆着火了，浓烟很大")
    assert h.categories == ["fire"] and h.severity == 4
    assert lex.match("昨天没有着火，只是冒了点烟").severity == 0           # negation
    assert lex.match("社区组织消防演练和防火宣传").severity == 0            # exclusion
    assert lex.match("老板拖欠工资三个月，工友们准备集体上访").categories == ["mass_incident", "wage_arrears"]
    assert lex.match("老板拖欠工资三个月，工友们准备集体上访").severity == 3


def test_lexicon_hits_on_real_messages(taidi):
    lex = load_lexicon()
    texts = (taidi["title"] + taidi["content"]).tolist()
    hits = Counter(c for t in texts for c in lex.match(t).categories)
    # the real board has fire, violence, wage arrears, demolition and fraud complaints
    for cat in ["fire", "violence", "wage_arrears", "forced_demolition", "financial_fraud"]:
        assert hits[cat] >= 5, (cat, hits)
    share = sum(1 for t in texts if lex.match(t).severity) / len(texts)
    assert 0.02 < share < 0.3, share  # a lexicon that flags most messages is noise


def test_model_scores_lexicon_positives_higher(taidi):
    texts = (taidi["title"] + taidi["content"]).tolist()
    m = SensitiveModel.train(texts[:2000])
    lex = load_lexicon()
    held = texts[3000:]
    y = [lex.match(t).severity > 0 for t in held]
    s = m.score(held)
    pos = sum(x for x, k in zip(s, y) if k) / max(1, sum(y))
    neg = sum(x for x, k in zip(s, y) if not k) / max(1, len(y) - sum(y))
    assert pos > neg + 0.2, (pos, neg)
    out = classify(["小区有人持刀砍人", "路灯不亮"], m)
    assert out[0]["alert_kind"] == "lexicon" and out[0]["severity"] == 3 and out[1]["severity"] == 0


def test_fast_score_matches_sklearn(taidi):
    """score() on a batch uses integer-key n-grams; it must give sklearn's probabilities."""
    texts = (taidi["title"] + taidi["content"]).tolist()
    m = SensitiveModel.train(texts[:1500])
    batch = texts[1500:1800] + ["  多个   空格\n\n换行 ABC", "", "着火了！！"] * 3
    ref = m.pipeline.predict_proba([t[:400] for t in batch])[:, 1]
    got = m.score(batch)
    assert len(got) == len(batch) and max(abs(a - b) for a, b in zip(got, ref)) <= 1.5e-4
