"""Fixtures: a small synthetic labelled set (no data needed) and the real taidi folder."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from govlake.settings import get_settings

TOPICS = {
    "劳动和社会保障": ["公司拖欠工资", "社保没有缴纳", "劳动合同纠纷", "加班费不给", "工伤认定", "养老保险转移"],
    "交通运输": ["公交车晚点", "道路拥堵严重", "出租车拒载", "红绿灯时间太短", "地铁站没有电梯", "货车超载"],
    "环境保护": ["工厂排放废气", "河道污染发臭", "垃圾焚烧冒黑烟", "污水直排", "工地扬尘", "养殖场臭味"],
}
FILLERS = ["请相关部门尽快处理", "希望领导重视", "已经持续很久了", "附近居民很有意见", "谢谢", "盼复"]
PLACES = ["宝安区西乡街道", "新安街道", "福永街道", "沙井街道", "石岩街道"]


def make_rows(n_per_class: int = 30, seed: int = 7) -> pd.DataFrame:
    rnd = random.Random(seed)
    rows = []
    for label, phrases in TOPICS.items():
        for _ in range(n_per_class):
            a, b = rnd.sample(phrases, 2)
            text = f"{rnd.choice(PLACES)}{a}，{b}，{rnd.choice(FILLERS)}。{rnd.choice(FILLERS)}"
            rows.append({"内容": text, "部门": label})
    rnd.shuffle(rows)
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def synth_df() -> pd.DataFrame:
    return make_rows()


@pytest.fixture(scope="session")
def synth_csv(tmp_path_factory, synth_df):
    p = tmp_path_factory.mktemp("petitions") / "synth.csv"
    synth_df.to_csv(p, index=False, encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def synth_model_dir(tmp_path_factory, synth_df):
    from govlake.petitions.model import save_model, train

    d = tmp_path_factory.mktemp("model") / "m"
    m = train(synth_df["内容"].tolist(), synth_df["部门"].tolist())
    save_model(m, d, training_data={"path": "synthetic", "rows": len(synth_df)})
    return d


@pytest.fixture(scope="session")
def taidi_dir():
    d = get_settings().shared_data_dir / "taidi2020"
    if not (d / "messages_labeled_raw.csv").is_file():
        pytest.skip(f"real data not found at {d} (see /work/shared/data/README.md)")
    return d
