"""The real top of Bao'an's address tree (streets, communities) from the divisions file shipped
in the package (govlake.reference); roads and buildings below it are generated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from govlake.reference import divisions_csv
from govlake.settings import Settings

# A few real trunk roads per street (used with generated local roads named after communities).
STREET_ROADS = {
    "新安街道": ["宝安大道", "新湖路", "建安一路", "创业一路", "前进一路", "宝城大道", "新城大道"],
    "西乡街道": ["宝安大道", "西乡大道", "前进二路", "固戍一路", "新湖路", "107国道", "铁仔路"],
    "航城街道": ["航城大道", "宝安大道", "鹤洲路", "黄田路", "107国道"],
    "福永街道": ["福永大道", "107国道", "凤塘大道", "怀德路", "新和大道"],
    "福海街道": ["福海大道", "宝安大道", "桥头路", "和平路", "塘尾路"],
    "沙井街道": ["沙井路", "新沙路", "北环路", "帝堂路", "宝安大道", "107国道"],
    "新桥街道": ["新沙路", "新玉路", "上寮路", "107国道"],
    "松岗街道": ["松福大道", "沙江路", "东方大道", "松白路", "广田路"],
    "燕罗街道": ["燕山大道", "罗田路", "松罗路", "广田路"],
    "石岩街道": ["石龙大道", "宝石路", "塘头大道", "石岩大道", "浪心路"],
}


@dataclass(frozen=True)
class Divisions:
    communities: pd.DataFrame  # street_code, street_name, community_code, community_name, stem

    @property
    def streets(self) -> pd.DataFrame:
        return self.communities.drop_duplicates("street_code")[["street_code", "street_name"]].reset_index(drop=True)


def load_divisions(settings: Settings | None = None) -> Divisions:
    """Bao'an's streets and communities (宝安区社区). `settings` is kept for callers' signature;
    the file is package reference data, not a setting."""
    df = pd.read_csv(divisions_csv(), dtype=str).apply(lambda s: s.str.strip())
    # The airport unit (机场虚拟社区) has no residents or enterprises of its own.
    df = df[df["street_name"].str.endswith("街道")].copy()
    df["community_name"] = df["community_name"].str.replace("居委会", "", regex=False)
    df["stem"] = df["community_name"].str.replace("社区", "", regex=False)
    return Divisions(df.sort_values("community_code").reset_index(drop=True))


def sample_addresses(rng: np.random.Generator, div: Divisions, n: int, kind: str = "enterprise") -> pd.DataFrame:
    """n addresses: community index plus road, number, building, floor, full address text."""
    c = div.communities
    ci = rng.integers(0, len(c), n)
    street = c["street_name"].to_numpy()[ci]
    stem = c["stem"].to_numpy()[ci]
    # Trunk road of the street or a local road named after the community (固戍一路, 沙井南路 ...).
    trunk = np.array([STREET_ROADS[s][k % len(STREET_ROADS[s])] for s, k in zip(street, rng.integers(0, 60, n))]) if n else np.array([], str)
    local_suffix = np.array(["一路", "二路", "路", "大道", "南路", "北路", "东路", "西路"])[rng.integers(0, 8, n)]
    local = np.char.add(stem.astype(str), local_suffix)
    road = np.where(rng.random(n) < 0.5, trunk, local)
    num = rng.integers(1, 400, n)
    b_kind = rng.integers(0, 5, n)
    b_no = rng.integers(1, 20, n).astype(str)
    bname = np.select(
        [b_kind == 0, b_kind == 1, b_kind == 2, b_kind == 3],
        [np.char.add(np.char.add(np.char.add(stem.astype(str), "工业园"), b_no), "栋"),
         np.char.add(np.char.add(stem.astype(str), "科技园"), np.char.add(b_no, "栋")),
         np.char.add(stem.astype(str), "商务大厦"),
         np.char.add(np.char.add(stem.astype(str), "花园"), np.char.add(b_no, "栋"))],
        default=np.char.add(stem.astype(str), "创新中心"),
    )
    floor = rng.integers(1, 25, n).astype(str)
    s = pd.DataFrame({
        "ci": ci, "street_code": c["street_code"].to_numpy()[ci], "street_name": street,
        "community_code": c["community_code"].to_numpy()[ci], "community_name": c["community_name"].to_numpy()[ci],
        "stem": stem, "road": road, "num": num.astype(str), "building": bname, "floor": floor,
    })
    s["address"] = ("深圳市宝安区" + s["street_name"] + s["community_name"] + s["road"] + s["num"] + "号"
                    + s["building"] + s["floor"] + "楼")
    return s
