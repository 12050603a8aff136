"""挂点服务: key enterprises (重点企业) chosen by a stated rule from the released profile, the
officials who serve them (挂点领导 from a functional department, 服务专员 of the enterprise's
street) and their visit records (走访记录, generated).

The rule (重点企业认定规则): an enterprise in business (登记状态 存续/在业) that is 规上 (“四上”
last year) or 高新 (high-tech revenue last year) or pays tax last year ranks by last year's tax
paid, then revenue; the top KEY_SHARE of all enterprises are key (the district's 11,935 of
900,000). Officials are generated: LEADERS_PER_DEPT per functional department, SPECIALISTS_PER_STREET
per street; key enterprises are spread over them round-robin in rank order."""

from __future__ import annotations

import datetime as dt
import math
import zlib

import numpy as np
import pyarrow as pa

from govlake.catalog.departments import load_departments
from govlake.lakehouse import Lakehouse

PROFILE = "gold.enterprise_profile"
OFFICIALS, KEY, VISITS = "ops.service_officials", "ops.key_enterprises", "ops.enterprise_visits"
KEY_SHARE = 11_935 / 900_000
LEADERS_PER_DEPT, SPECIALISTS_PER_STREET = 2, 4
PROFILE_COLUMNS = ["uscc", "ent_name", "street_code", "reg_status", "is_above_scale_y1", "hightech_revenue_y1_wan",
                   "total_tax_y1_wan", "revenue_y1_wan"]
VISIT_TOPICS = ["政策宣讲", "经营情况了解", "用工需求", "产业空间需求", "融资需求", "诉求回访", "安全生产提醒"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"


def read_profile(lake: Lakehouse, columns: list[str]) -> pa.Table:
    """The profile's columns that exist (a small lake may lack some; missing ones are null)."""
    if not lake.exists(PROFILE):
        raise FileNotFoundError(f"{PROFILE} (企业画像) has not been published yet: run the profile build first")
    from govlake.release import version_of

    v = version_of(lake, PROFILE)  # the released profile, never a build not yet released
    have = set(lake.arrow_schema(PROFILE, v).names)
    t = lake.to_arrow(PROFILE, version=v, columns=[c for c in columns if c in have])
    for c in columns:
        if c not in have:
            t = t.append_column(c, pa.nulls(t.num_rows))
    return t.select(columns)


def _name(seed: int) -> str:
    return SURNAMES[seed % len(SURNAMES)] + GIVEN[(seed // 7) % len(GIVEN)] + GIVEN[(seed // 131) % len(GIVEN)]


def officials(catalog_dir) -> list[dict]:
    out = []
    for d in load_departments(catalog_dir):
        if d.name.startswith("深圳市"):
            continue  # city bureaus serve no district enterprise
        if d.kind == "职能部门":
            out += [{"official_id": f"{d.code}-L{i}", "name": _name(zlib.crc32(f"{d.code}L{i}".encode())),
                     "role": "挂点领导", "dept_code": d.code, "street_code": None} for i in range(1, LEADERS_PER_DEPT + 1)]
        else:
            out += [{"official_id": f"{d.code}-S{i}", "name": _name(zlib.crc32(f"{d.code}S{i}".encode())),
                     "role": "服务专员", "dept_code": d.code, "street_code": d.street_code}
                    for i in range(1, SPECIALISTS_PER_STREET + 1)]
    return out


def _num(v) -> float:
    return 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def select_key(profile_rows: list[dict]) -> list[dict]:
    """The key enterprises by the rule, best first, each with the reason it qualifies."""
    n_key = math.ceil(len(profile_rows) * KEY_SHARE)
    cands = []
    for r in profile_rows:
        if r["reg_status"] not in (None, "存续", "在业"):
            continue
        why = [w for w, ok in (("规上", bool(r["is_above_scale_y1"])), ("高新", _num(r["hightech_revenue_y1_wan"]) > 0),
                               ("纳税", _num(r["total_tax_y1_wan"]) > 0)) if ok]
        if why:
            cands.append((-_num(r["total_tax_y1_wan"]), -_num(r["revenue_y1_wan"]), r["uscc"], r, why))
    cands.sort(key=lambda c: c[:3])
    return [{**c[3], "rule_reason": "、".join(c[4]) + f"；上年纳税 {_num(c[3]['total_tax_y1_wan']):.1f} 万元，排名第 {i + 1}"}
            for i, c in enumerate(cands[:n_key])]


def assign(key: list[dict], staff: list[dict]) -> list[dict]:
    """Each key enterprise gets a 挂点领导 (round-robin over all) and its street's 服务专员."""
    leaders = [o for o in staff if o["role"] == "挂点领导"]
    by_street: dict[str, list[dict]] = {}
    for o in staff:
        if o["role"] == "服务专员":
            by_street.setdefault(o["street_code"], []).append(o)
    all_spec = [o for v in by_street.values() for o in v]
    out, seen = [], {}
    for i, r in enumerate(key):
        pool = by_street.get(r["street_code"]) or all_spec
        k = seen.get(r["street_code"], 0)
        seen[r["street_code"]] = k + 1
        out.append({"uscc": r["uscc"], "ent_name": r["ent_name"], "street_code": r["street_code"], "rank": i + 1,
                    "rule_reason": r["rule_reason"], "leader_id": leaders[i % len(leaders)]["official_id"],
                    "specialist_id": pool[k % len(pool)]["official_id"]})
    return out


def visits(assigned: list[dict], as_of: dt.date, seed: int, days: int = 180) -> list[dict]:
    """Generated visits over the `days` before as_of: each key enterprise 1-4 by its specialist,
    and one in three also by its leader."""
    rng = np.random.default_rng(seed)
    out = []
    for a in assigned:
        who = [a["specialist_id"]] * int(rng.integers(1, 5)) + ([a["leader_id"]] if rng.random() < 1 / 3 else [])
        for off in who:
            day = as_of - dt.timedelta(days=int(rng.integers(0, days)))
            tag = zlib.crc32(f"{a['uscc']}{off}{day}".encode())
            out.append({"visit_id": f"V{tag:08x}{len(out):06d}",
                        "uscc": a["uscc"], "official_id": off, "visit_date": day,
                        "topic": VISIT_TOPICS[int(rng.integers(0, len(VISIT_TOPICS)))]})
    return sorted(out, key=lambda v: (v["visit_date"], v["visit_id"]))


OFFICIALS_SCHEMA = pa.schema([("official_id", pa.string()), ("name", pa.string()), ("role", pa.string()),
                              ("dept_code", pa.string()), ("street_code", pa.string())])
KEY_SCHEMA = pa.schema([("uscc", pa.string()), ("ent_name", pa.string()), ("street_code", pa.string()),
                        ("rank", pa.int64()), ("rule_reason", pa.string()), ("leader_id", pa.string()),
                        ("specialist_id", pa.string())])
VISITS_SCHEMA = pa.schema([("visit_id", pa.string()), ("uscc", pa.string()), ("official_id", pa.string()),
                           ("visit_date", pa.date32()), ("topic", pa.string())])
