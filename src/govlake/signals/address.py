"""Address standardisation (地址标准化): find address mentions in free Chinese text and match
them to the standard address tree 区 / 街道 / 社区 / 道路 / 建筑物.

The top of the tree is real (NBS 2021 codes of Bao'an's 11 street-level units and 141
communities); roads and buildings below each community are generated deterministically by
`address_tree()` so the generator and this matcher agree on them (see docs/signals.md).

Matching is evidence scoring, not a single regex: a community named with its suffix
(固戍社区 / 固戍村), a street (西乡街道, colloquial 西乡那边), a gazetteer road or building each
add evidence to the communities they belong to; the best community wins if its evidence is
consistent, otherwise the match stays at street level. The confidence says how sure we are;
below REVIEW_THRESHOLD a ticket goes to the review queue (gold.address_review_queue).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from govlake import yamlio
from govlake.reference import divisions_csv as _reference_divisions_csv
from govlake.settings import get_settings

DISTRICT_NAME = "宝安区"
REVIEW_THRESHOLD = 0.5

_COMMUNITY_SUFFIX = re.compile(r"(社区居委会|社区居委|虚拟社区|居委会|社区|村委会)$")
_COLLOQUIAL = "那边|这边|那里|这里|一带|附近|周边|旁边|片区|那块|这块"
BUILDING_KINDS = ("花园", "大厦", "工业区", "商业中心")


@dataclass(frozen=True)
class Community:
    code: str
    name: str          # 固戍社区
    short: str         # 固戍
    street_code: str
    street_name: str   # 西乡街道
    street_short: str  # 西乡
    roads: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()


@dataclass
class AddressMatch:
    street_code: str | None
    street_name: str | None
    community_code: str | None
    community_name: str | None
    road: str | None
    building: str | None
    confidence: float
    matched_text: str | None
    level: str = "none"  # community | street | district | none

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- tree
def _short_street(name: str) -> str:
    if "机场" in name:  # bare "机场" is too common a word to mean the airport unit
        return "宝安国际机场"
    return name.removesuffix("街道")


def _short_community(name: str) -> str:
    if "机场" in name:
        return "机场"
    return _COMMUNITY_SUFFIX.sub("", name)


@lru_cache(maxsize=4)
def address_tree(divisions_csv: str | None = None) -> tuple[Community, ...]:
    """The standard address tree: every community with its street, generated roads and
    buildings. Deterministic: same divisions file -> same tree (the generator should use it)."""
    path = Path(divisions_csv) if divisions_csv else _reference_divisions_csv()
    if not path.exists():
        raise FileNotFoundError(f"address tree needs the divisions file (行政区划) at {path}")
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    arterials = yamlio.safe_load(open(get_settings().catalog_dir / "address_tree" / "arterials.yaml",
                                    encoding="utf-8"))["arterials"]
    shorts = [_short_community(r["community_name"]) for r in rows]
    out = []
    for r, short in zip(rows, shorts):
        st_short = _short_street(r["street_name"])
        # A community name used by two streets (径贝, 麻布) gets street-prefixed buildings.
        bprefix = st_short + short if shorts.count(short) > 1 else short
        roads = (f"{short}一路", f"{short}二路", *arterials.get(st_short, []))
        out.append(Community(
            code=r["community_code"], name=short + "社区", short=short,
            street_code=r["street_code"], street_name=r["street_name"], street_short=st_short,
            roads=tuple(dict.fromkeys(roads)),
            buildings=tuple(bprefix + k for k in BUILDING_KINDS),
        ))
    return tuple(out)


def format_address(c: Community, road_no: int, building_idx: int, floor: int) -> str:
    """The canonical full address form the generator writes (宝安区西乡街道固戍社区固戍一路12号固戍大厦5楼)."""
    road = c.roads[road_no % len(c.roads)]
    return (f"{DISTRICT_NAME}{c.street_name}{c.name}{road}{road_no}号"
            f"{c.buildings[building_idx % len(c.buildings)]}{floor}楼")


# ----------------------------------------------------------------------------- matcher
class _Index:
    def __init__(self, tree: tuple[Community, ...]):
        self.tree = tree
        self.by_code = {c.code: c for c in tree}
        self.streets = {}
        for c in tree:
            self.streets.setdefault(c.street_code, (c.street_name, c.street_short))
        self.comm_by_short: dict[str, list[Community]] = {}
        self.comm_by_road: dict[str, list[Community]] = {}
        self.comm_by_building: dict[str, Community] = {}
        for c in tree:
            self.comm_by_short.setdefault(c.short, []).append(c)
            for r in c.roads:
                self.comm_by_road.setdefault(r, []).append(c)
            for b in c.buildings:
                self.comm_by_building[b] = c
        alt = lambda names: "|".join(sorted(map(re.escape, names), key=len, reverse=True))
        shorts = alt(self.comm_by_short)
        st_shorts = alt({s for _, s in self.streets.values()})
        # 固戍社区 / 固戍村 / 固戍居委会 ; bare forms need a colloquial tail (西乡固戍那边)
        self.re_comm = re.compile(rf"({shorts})(?:社区居委会|社区|居委会|村委会|村)")
        self.re_comm_coll = re.compile(rf"({shorts})(?:{_COLLOQUIAL})")
        self.re_street = re.compile(rf"({st_shorts})(街道|街道办|街)")
        self.re_street_bare = re.compile(rf"({st_shorts})(?!社区|村|一路|二路|大道|路)")
        self.re_building = re.compile(alt(self.comm_by_building))
        self.re_road = re.compile(alt(self.comm_by_road))
        self.re_road_no = re.compile(r"(\d{1,5})号")
        self.re_district = re.compile(r"宝安区?")


@lru_cache(maxsize=4)
def _index(divisions_csv: str | None = None) -> _Index:
    return _Index(address_tree(divisions_csv))


def normalise(text: str | None) -> str:
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"\s+", "", t)


def standardise(text: str | None, divisions_csv: str | None = None) -> AddressMatch:
    """Match the address mentioned in `text` to the tree. Confidence in [0, 1]:
    community named + street consistent ~0.9+, community or building alone 0.7-0.8,
    street only 0.5-0.6, district only 0.2, nothing 0."""
    ix = _index(divisions_csv)
    t = normalise(text)
    spans: list[tuple[int, int]] = []
    comm_score: dict[str, float] = {}
    street_score: dict[str, float] = {}

    def add_comm(cs: list[Community], w: float, span):
        spans.append(span)
        share = w / len(cs) if len(cs) > 1 else w  # an ambiguous name splits its evidence
        for c in cs:
            comm_score[c.code] = comm_score.get(c.code, 0) + share

    def add_street(code: str, w: float, span):
        spans.append(span)
        street_score[code] = max(street_score.get(code, 0), w)

    short_to_street = {s: code for code, (_, s) in ix.streets.items()}
    for m in ix.re_street.finditer(t):
        add_street(short_to_street[m.group(1)], 0.6, m.span())
    for m in ix.re_comm.finditer(t):
        add_comm(ix.comm_by_short[m.group(1)], 0.6, m.span())
    for m in ix.re_comm_coll.finditer(t):
        # "福永那边" means the street when a street shares the community's name
        if m.group(1) in short_to_street or any(a <= m.start() < b for a, b in spans):
            continue
        add_comm(ix.comm_by_short[m.group(1)], 0.45, m.span())
    for m in ix.re_street_bare.finditer(t):
        if any(a <= m.start() < b for a, b in spans):
            continue
        add_street(short_to_street[m.group(1)], 0.5, m.span())
    building = None
    for m in ix.re_building.finditer(t):
        building = m.group(0)
        add_comm([ix.comm_by_building[building]], 0.5, m.span())
    road = None
    for m in ix.re_road.finditer(t):
        if any(a <= m.start() < b for a, b in spans):
            continue
        cs = ix.comm_by_road.get(m.group(0))
        if not cs:
            continue
        road = m.group(0)
        end = m.end()
        no = ix.re_road_no.match(t, end)
        if no:
            road, end = road + no.group(0), no.end()
        spans.append((m.start(), end))
        if len(cs) <= 2:  # a community's own road; arterials only hint at the street
            add_comm(cs, 0.25, (m.start(), end))
        for sc in {c.street_code for c in cs}:
            street_score[sc] = max(street_score.get(sc, 0), 0.3 / len({c.street_code for c in cs}))
        break

    matched = t[min(a for a, _ in spans):max(b for _, b in spans)] if spans else None
    # Community: its own evidence plus a bonus when its street was also named.
    best, best_score = None, 0.0
    for code, s in comm_score.items():
        c = ix.by_code[code]
        total = s + (0.3 if street_score.get(c.street_code, 0) >= 0.5 else 0.0)
        conflict = any(v >= 0.5 for k, v in street_score.items() if k != c.street_code)
        if conflict:
            total -= 0.25
        if total > best_score or (total == best_score and best and code < best.code):
            best, best_score = c, total
    if best is not None and best_score >= 0.4:
        conf = round(min(0.99, 0.2 + best_score * 0.85), 3)
        return AddressMatch(best.street_code, best.street_name, best.code, best.name,
                            road, building, conf, matched, "community")
    if street_score:
        code, s = max(street_score.items(), key=lambda kv: (kv[1], kv[0]))
        if s >= 0.3:
            conf = round(min(0.7, s) if len(street_score) == 1 else s * 0.6, 3)
            return AddressMatch(code, ix.streets[code][0], None, None, road, building, conf,
                                matched, "street")
    if spans:  # an ambiguous name or an arterial road only: keep what we saw for review
        return AddressMatch(None, None, None, None, road, building, 0.3 if comm_score else 0.15,
                            matched, "ambiguous")
    m = ix.re_district.search(t)
    if m:
        return AddressMatch(None, None, None, None, road, building, 0.2, m.group(0), "district")
    return AddressMatch(None, None, None, None, road, building, 0.0, None, "none")
