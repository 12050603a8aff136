"""The long tail of departments: labels with two rows are kept, trained and ranked (shared
calibration), frequent-only label sets keep sklearn's calibration; the taidi proxy of the
long-tail measurement (skips without the shared data)."""

from __future__ import annotations

import math
import random
import re

import numpy as np

from govlake.petitions.long_tail import unit_of, unmask

RARE = {  # departments with two tickets each, each with its own matter
    "民宗局": ["寺庙周边香火摊占道", "宗教场所消防隐患"],
    "人防办": ["人防工程地下室渗水", "防空警报试鸣扰民"],
    "气象局": ["避雷设施年检收费", "人工增雨作业通知"],
    "档案馆": ["查询婚姻登记档案", "退伍档案调取困难"],
}
FREQUENT = {
    "劳动和社会保障": ["公司拖欠工资", "社保没有缴纳", "劳动合同纠纷", "加班费不给"],
    "交通运输": ["公交车晚点", "道路拥堵严重", "出租车拒载", "红绿灯时间太短"],
    "环境保护": ["工厂排放废气", "河道污染发臭", "垃圾焚烧冒黑烟", "污水直排"],
}
FILL = ["请相关部门尽快处理", "希望领导重视", "已经持续很久了", "附近居民很有意见"]


def _rows(seed: int = 3):
    rnd = random.Random(seed)
    texts, labels = [], []
    for lab, phrases in FREQUENT.items():
        for _ in range(20):
            texts.append(f"{rnd.choice(phrases)}，{rnd.choice(phrases)}，{rnd.choice(FILL)}")
            labels.append(lab)
    for lab, (a, b) in RARE.items():  # two tickets about the department's matters
        texts += [f"{a}，{b}，{rnd.choice(FILL)}", f"{b}，还有{a}"]
        labels += [lab, lab]
    return texts, labels


def test_rare_departments_are_kept_and_ranked():
    from govlake.petitions.model import train

    texts, labels = _rows()
    m = train(texts, labels)
    assert m.meta["dropped_labels"] == {} and set(RARE) <= set(m.classes)
    assert "share one sigmoid" in m.meta["params"]["calibration"]
    P = m.predict_proba([f"{phrases[0]}，{FILL[0]}" for phrases in RARE.values()] + ["公司拖欠工资，社保没有缴纳"])
    assert np.allclose(P.sum(axis=1), 1.0) and (P > 0).all()
    top3 = [[m.classes[j] for j in row[:3]] for row in np.argsort(-P, axis=1)]
    assert all(lab in t for lab, t in zip(RARE, top3)), top3
    assert top3[-1][0] == "劳动和社会保障"


def test_frequent_labels_keep_sklearn_calibration():
    from govlake.petitions.model import fit_docs
    from govlake.petitions.text import to_docs

    texts, labels = _rows()
    keep = [i for i, lab in enumerate(labels) if lab in FREQUENT]
    docs = to_docs([texts[i] for i in keep])
    m = fit_docs(docs, [labels[i] for i in keep])
    X = m.vectorize(docs[:10])
    assert np.allclose(m.predict_proba_X(X), m._sklearn_clf.predict_proba(X), atol=1e-6)
    # with two-row labels the long-tail path fits them instead of failing on 3 folds
    lt = fit_docs(to_docs(texts), labels)
    assert not hasattr(lt, "_sklearn_clf") and set(RARE) <= set(lt.classes)
    assert lt.cal_a.shape == (len(lt.classes),) and np.isfinite(lt.cal_a).all()


def test_proxy_units_unmask_place_codes():
    assert unmask("A3区和K12县、B市") == "甲三区和子十二县、乙市"
    assert unit_of("反映A7县的问题，A市", "城乡建设") == "城乡建设|甲七县"
    assert unit_of("反映K市的问题", "教育文体") == "教育文体|子市"
    assert unit_of("没有地点", "卫生计生") == "卫生计生|市本级"


def test_taidi_proxy_is_a_long_tail(taidi_dir):
    from govlake.petitions.long_tail import fixed_split, long_tail_proxy

    texts, units, desc = long_tail_proxy(taidi_dir / "messages_labeled_raw.csv")
    assert desc["units"] >= 150 and desc["units_under_10"] > 0.8 * desc["units"]
    assert min(units.count(u) for u in set(units)) >= 3
    assert not any(re.search(r"[A-Z]\d{0,2}[市区县]", t) for t in texts)  # every masked place renamed
    tr, te = fixed_split(units)
    assert fixed_split(units) == (tr, te) and len(te) == math.ceil(0.2 * len(units))
    assert {units[i] for i in te} <= {units[i] for i in tr}  # every tested unit was seen in training
