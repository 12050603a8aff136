"""The batch segmenter gives exactly jieba's tokens; the array TF-IDF gives sklearn's numbers;
model-only batch rows are what blend() returns."""

from __future__ import annotations

import random

import jieba
import numpy as np
import pandas as pd
import pytest

from govlake.petitions.segment import BatchSegmenter
from govlake.petitions.text import BATCH_MIN, normalize, tokenize, tokenize_many

ODD = [
    "", " ", "，。！", "abc 123 ，。", "Hello世界！！ 㐀a.b-c 100% 3.14元", "\r\n\t 你好\r\n再见",
    "宝安区西乡街道固戍社区宝安大道1234号固戍大厦5楼", "我们公司拖欠工资，已经3个月了！",
    "张三丰李四光王五六在某某某某路口摆摊", "c++和c#还有.net", "ａｂｃ１２３（全角）", "一" * 70,
    "的的的的的了了了", "蔡英文和习近平", "喵喵喵呜呜呜嘤嘤嘤", "x" * 40 + "中文" + "7" * 30,
]


def _random_texts(n: int, seed: int = 3) -> list[str]:
    rnd = random.Random(seed)
    alphabet = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生" \
               "拖欠工资社保噪音扰民小区物业投诉举报垃圾违建道路积水学校医院喵嘤呜，。！？ ab12%.-"
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 120))) for _ in range(n)]


@pytest.fixture(scope="module")
def seg():
    return BatchSegmenter()


def test_same_tokens_as_jieba_on_odd_and_random_text(seg):
    texts = [normalize(t) for t in ODD] + _random_texts(300)
    assert seg.lcut_many(texts) == [jieba.lcut(t) for t in texts]


def test_same_tokens_as_jieba_on_real_messages(seg, taidi_dir):
    df = pd.read_csv(taidi_dir / "messages_with_votes.csv")
    texts = [normalize(str(a) + str(b)) for a, b in zip(df.iloc[:1500, 2], df.iloc[:1500, 4])]
    got, ref = seg.lcut_many(texts), [jieba.lcut(t) for t in texts]
    bad = [i for i in range(len(texts)) if got[i] != ref[i]]
    assert not bad, (texts[bad[0]][:200], got[bad[0]][:40], ref[bad[0]][:40])


def test_tokenize_many_matches_tokenize():
    texts = (ODD * 2)[: max(BATCH_MIN, 20)] + _random_texts(50, seed=8)
    assert tokenize_many(texts) == [tokenize(t) for t in texts]
    assert tokenize_many(texts, max_chars=30) == [tokenize(t, max_chars=30) for t in texts]


def test_array_tfidf_matches_sklearn(synth_df):
    from govlake.petitions.features import VECTOR_MIN
    from govlake.petitions.model import fit_docs
    from govlake.petitions.text import to_docs

    docs = to_docs(synth_df["内容"].tolist())
    m = fit_docs(docs, synth_df["部门"].tolist())
    batch = docs[:60] + ["", "单", "未 见 过 的 词"]
    assert len(batch) >= VECTOR_MIN
    X, X_sk = m.features.transform(batch), m.features.transform_sklearn(batch)
    assert X.shape == X_sk.shape and abs(X - X_sk).max() < 1e-6


def test_model_only_rows_equal_blend(synth_model_dir, synth_df):
    from govlake.petitions.dispatch import blend
    from govlake.petitions.scoring import get_model, score_frame

    m = get_model(synth_model_dir)
    texts = synth_df["内容"].tolist()[:40] + ["", "完全无关的内容"]
    pdf = pd.DataFrame({"ticket_id": [f"T{i}" for i in range(len(texts))], "text": texts})
    out = score_frame(pdf, m, k=3)
    tops = m.top_k(texts, k=3, with_terms=3, terms_for=3)
    ref = [(f"T{i}", r.rank, r.dept_code, r.dept_name, r.probability, r.reason)
           for i, (t, top) in enumerate(zip(texts, tops)) for r in blend(top, t, k=3)]
    got = list(out[["ticket_id", "rank", "dept_code", "dept_name", "probability", "reason"]]
               .itertuples(index=False, name=None))
    assert got == ref
    assert np.isfinite(out["probability"]).all()
