"""Distances between Bao'an's streets, for the street part of the match score.

The street list comes from the divisions file (govlake.generate.divisions); the coordinates are
approximate street centres (街道办事处 area), good to a kilometre or two, which is all a
preference for "the same or a neighbouring street" needs."""

from __future__ import annotations

import math
from functools import lru_cache

from govlake.generate.divisions import load_divisions

# approximate centre (lat, lon) of each street
CENTRES = {
    "新安街道": (22.556, 113.884), "西乡街道": (22.580, 113.866), "航城街道": (22.618, 113.846),
    "福永街道": (22.672, 113.824), "福海街道": (22.686, 113.800), "沙井街道": (22.726, 113.808),
    "新桥街道": (22.742, 113.838), "松岗街道": (22.778, 113.842), "燕罗街道": (22.790, 113.882),
    "石岩街道": (22.682, 113.930),
}
NEIGHBOUR_KM = 8.0  # at most this far apart: 相邻街道 in the reasons


@lru_cache(maxsize=1)
def street_names() -> dict[str, str]:
    """street_code -> street name (街道), from the divisions file."""
    s = load_divisions().streets
    names = dict(zip(s["street_code"], s["street_name"]))
    unknown = [n for n in names.values() if n not in CENTRES]
    if unknown:
        raise ValueError(f"streets without a centre in govlake.space.streets: {unknown} (街道缺少坐标)")
    return names


def street_km(a: str, b: str) -> float:
    """Great-circle distance in km between two streets' centres (codes)."""
    names = street_names()
    (la1, lo1), (la2, lo2) = CENTRES[names[a]], CENTRES[names[b]]
    p1, p2, dl = math.radians(la1), math.radians(la2), math.radians(lo2 - lo1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def neighbours(code: str) -> list[str]:
    """Other streets within NEIGHBOUR_KM, nearest first."""
    return sorted((c for c in street_names() if c != code and street_km(code, c) <= NEIGHBOUR_KM),
                  key=lambda c: street_km(code, c))
