"""民生诉求工单: Chinese free text per department, addresses in the text, repeat requesters,
near-duplicates across channels, group petitions (bursts about one place), and SLA timestamps.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from govlake.catalog import Department
from govlake.generate.enterprises import _zfill
from govlake.generate.petition_templates import STREET_TEMPLATES, TEMPLATES, VAGUE, WHO

CHANNELS = ["12345热线", "微信公众号", "i深圳", "区长热线", "网格员上报", "网站留言"]
CHANNEL_P = [0.45, 0.15, 0.15, 0.05, 0.12, 0.08]
# Relative petition volume per handling department (streets share STREET_SHARE).
DEPT_WEIGHT = {"RLJ": 12, "ZJJ": 10, "CGJ": 9, "HBJ": 8, "JTJ": 6, "JYJ": 6, "WJJ": 4, "SJJ": 6, "SWJ": 2,
               "WTJ": 1.5, "SWUJ": 3, "YJJ": 2.5, "GTJ": 2, "MZJ": 2, "TJSWJ": 0.5, "ZSJ": 1, "GAFJ": 4,
               "FGJ": 1, "KCJ": 1, "GXJ": 1, "JRJ": 1, "QXZX": 1, "TZS": 0.4, "CZJ": 0.5}
STREET_SHARE = 0.18
VAGUE_SHARE = 0.07
NEAR_DUP_SHARE = 0.05


def _loc(rng, a: dict) -> tuple[str, str]:
    """(phrase used in the text, address_text field). Full, partial or colloquial."""
    k = rng.integers(0, 6)
    full = f"宝安区{a['street']}{a['community']}{a['road']}{a['num']}号{a['building']}"
    if k == 0:
        return full, full
    if k == 1:
        return f"{a['street']}{a['community']}", f"宝安区{a['street']}{a['community']}"
    if k == 2:
        return f"{a['community']}{a['building']}", f"{a['community']}{a['building']}"
    if k == 3:
        return f"{a['road']}{a['num']}号", f"宝安区{a['road']}{a['num']}号"
    if k == 4:
        return f"{a['stem']}这边", ""
    return f"{a['stem']}地铁站附近", f"{a['street']}{a['stem']}地铁站附近"


def generate_petitions(rng: np.random.Generator, pop: pd.DataFrame, depts: list[Department], n: int,
                       start: dt.datetime, days: float, as_of: dt.datetime, seq_offset: int = 0,
                       bursts: int | None = None) -> pd.DataFrame:
    """n tickets submitted in [start, start+days). pop: enterprise population (for places and
    related enterprises). as_of: the extract time (statuses and timestamps stop there).
    bursts: group petitions to inject (default burst_count(n)); their ticket ids are in
    .attrs["bursts"]."""
    n_bursts = burst_count(n) if bursts is None else bursts
    codes = [c for c in DEPT_WEIGHT]
    w = np.array([DEPT_WEIGHT[c] for c in codes], float)
    w = w / w.sum() * (1 - STREET_SHARE)
    street_depts = {d.street_code: d.code for d in depts if d.kind == "街道"}
    dept_of = np.array(codes + ["STREET"])[rng.choice(len(codes) + 1, n, p=np.append(w, STREET_SHARE))]
    ent_idx = rng.integers(0, len(pop), n)
    P = {c: pop[c].to_numpy() for c in ("name", "uscc", "street_code", "community_code", "_street_name",
                                         "_community_name", "_stem", "_road", "_building", "_trade")}
    # Requesters: a pool smaller than n with a heavy tail, so some people petition many times.
    pool = max(50, int(n * 0.7))
    req_w = 1.0 / np.arange(1, pool + 1) ** 0.45
    requester = rng.choice(pool, n, p=req_w / req_w.sum())
    req_id = np.char.add("U", _zfill(((requester * 7919 + 104729) % 10_000_000_000).astype(str), 10))
    phone_tail = rng.integers(1000, 9999, pool)
    phone_head = np.array(["138", "139", "135", "136", "137", "150", "158", "186", "189", "177"])[rng.integers(0, 10, pool)]
    channel = np.array(CHANNELS)[rng.choice(len(CHANNELS), n, p=CHANNEL_P)]
    # Submit times: uniform over the window, daytime heavy.
    day = rng.uniform(0, days, n).astype(int)
    hw = np.array([1, .5, .3, .3, .3, .5, 1, 2, 4, 7, 8, 7, 5, 6, 7, 7, 6, 5, 5, 5, 5, 4, 3, 2])
    hour = rng.choice(24, n, p=hw / hw.sum())
    sec = rng.integers(0, 3600, n)
    submit = np.datetime64(start, "s") + (day * 86400 + hour * 3600 + sec).astype("timedelta64[s]")

    rows = []
    vague = rng.random(n) < VAGUE_SHARE
    for i in range(n):
        d = dept_of[i]
        e = ent_idx[i]
        a = {"street": P["_street_name"][e], "community": P["_community_name"][e], "road": P["_road"][e],
             "num": str(int(rng.integers(1, 400))), "building": P["_building"][e], "stem": P["_stem"][e]}
        if d == "STREET":
            t = STREET_TEMPLATES[rng.integers(0, len(STREET_TEMPLATES))]
            d = street_depts[P["street_code"][e]]
        else:
            opts = TEMPLATES[d]
            t = opts[rng.integers(0, len(opts))]
        title, body, cat, rtype, about_ent = t
        if vague[i]:
            title, body = VAGUE[rng.integers(0, len(VAGUE))]
        loc, addr_text = _loc(rng, a)
        company = P["name"][e] if rng.random() < 0.6 else P["_trade"][e] + "公司"
        fill = {"loc": loc, "company": company, "n": int(rng.integers(2, 9)), "m": int(rng.integers(2, 7)),
                "who": WHO[rng.integers(0, len(WHO))]}
        rows.append((d, title.format(**fill), body.format(**fill), addr_text, cat, rtype,
                     P["uscc"][e] if about_ent and rng.random() < 0.7 else "",
                     P["street_code"][e], P["community_code"][e]))
    df = pd.DataFrame(rows, columns=["handling_dept_code", "title", "content", "address_text", "cat", "request_type",
                                     "related_uscc", "street_code", "community_code"])
    df["requester_id"] = req_id
    df["requester_phone"] = np.char.add(np.char.add(phone_head[requester], "****"), phone_tail[requester].astype(str))
    df.loc[channel == "网格员上报", "requester_id"] = np.char.add("WG", _zfill(
        (ent_idx[channel == "网格员上报"] % 400).astype(str), 4))
    df.loc[channel == "网格员上报", "requester_phone"] = ""
    df["channel"] = channel
    df["submit_time"] = submit
    df["_group"] = -1

    # Near-duplicates: the same requester raises the same issue again on another channel days later.
    dup = np.flatnonzero(rng.random(n) < NEAR_DUP_SHARE)
    src = rng.integers(0, n, len(dup))
    for j, s in zip(dup, src):
        for c in ("handling_dept_code", "address_text", "cat", "request_type", "related_uscc", "street_code",
                  "community_code", "requester_id", "requester_phone"):
            df.at[j, c] = df.at[s, c]
        df.at[j, "title"] = df.at[s, "title"] + ("（再次反映）" if rng.random() < 0.5 else "")
        df.at[j, "content"] = ("之前已经通过" + df.at[s, "channel"] + "反映过，" if rng.random() < 0.5 else "") + df.at[s, "content"]
        df.at[j, "channel"] = CHANNELS[(CHANNELS.index(df.at[s, "channel"]) + 1 + int(rng.integers(0, 5))) % len(CHANNELS)]
        df.at[j, "submit_time"] = df.at[s, "submit_time"] + np.timedelta64(int(rng.integers(3600, 4 * 86400)), "s")

    # Group petitions (群体诉求): residents of one place raise one matter within two days.
    bursts = _inject_bursts(rng, df, vague, ent_idx, P, start, days, as_of, n_bursts)
    df["submit_time"] = np.minimum(df["submit_time"].to_numpy(), np.datetime64(as_of, "s") - np.timedelta64(60, "s"))
    df = df.sort_values("submit_time", kind="stable").reset_index(drop=True)
    df["ticket_id"] = np.char.add(np.char.add("BA", df["submit_time"].dt.strftime("%Y%m%d").to_numpy().astype(str)),
                                  _zfill(np.arange(seq_offset, seq_offset + n).astype(str), 7))
    ids = {int(g): sorted(t.tolist()) for g, t in df.loc[df["_group"] >= 0].groupby("_group")["ticket_id"]}
    out = _lifecycle(rng, df, as_of)
    out.attrs["bursts"] = ids if bursts else {}  # injected group petitions, for tests and audits
    return out


def burst_count(n: int) -> int:
    """Group petitions per extract: about one per 1,000 petitions (a year of a 188k district: ~190),
    none in small daily deltas."""
    return max(3, round(n / 1000)) if n >= 500 else 0


def _inject_bursts(rng, df: pd.DataFrame, vague: np.ndarray, ent_idx: np.ndarray, P: dict,
                   start: dt.datetime, days: float, as_of: dt.datetime, n_bursts: int) -> int:
    """Each burst: 8-29 distinct residents (fresh requester ids, no grid reports) about the lead
    petition's matter at the lead's full address, all within 48 h. Burst starts are spread over
    the period; the last one is in the final two weeks, so the latest extract holds a live one
    inside the signals job's look-back."""
    n = len(df)
    if not n_bursts:
        return 0
    span = max(days - 2, 0.0)
    offs = np.sort(rng.uniform(0, span, n_bursts))
    offs[-1] = max(span - rng.uniform(0, min(14.0, span)), 0.0)
    specific = np.flatnonzero(~vague & (df["channel"].to_numpy() != "网格员上报"))
    pool = rng.permutation(specific if len(specific) >= 30 * n_bursts else n)  # disjoint bursts
    used = 0
    for g in range(n_bursts):
        size = min(int(rng.integers(8, 30)), len(pool) - used)
        members = pool[used:used + size]
        used += size
        lead, e = members[0], ent_idx[members[0]]
        full = (f"宝安区{P['_street_name'][e]}{P['_community_name'][e]}{P['_road'][e]}"
                f"{int(rng.integers(1, 400))}号{P['_building'][e]}")
        t0 = np.datetime64(start, "s") + np.timedelta64(int(offs[g] * 86400), "s")
        for k, j in enumerate(members):
            if k:
                for c in ("handling_dept_code", "title", "cat", "request_type", "related_uscc"):
                    df.at[j, c] = df.at[lead, c]
                df.at[j, "content"] = df.at[lead, "content"].replace(
                    "我们", "我们" + str(int(rng.integers(20, 200))) + "多人", 1)
            df.at[j, "address_text"] = full
            df.at[j, "street_code"] = P["street_code"][e]
            df.at[j, "community_code"] = P["community_code"][e]
            df.at[j, "requester_id"] = f"U9{g:04d}{k:05d}"  # distinct residents
            df.at[j, "requester_phone"] = f"13{int(rng.integers(0, 10))}****{int(rng.integers(1000, 9999))}"
            df.at[j, "submit_time"] = t0 + np.timedelta64(int(rng.integers(0, 2 * 86400)), "s")
        df.loc[members, "_group"] = g
    return n_bursts


def _lifecycle(rng, df: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    """Statuses and timestamps with SLA behaviour: dispatch within hours, first contact within
    about a working day, closure within days (some overdue); satisfaction follows speed."""
    n = len(df)
    now = np.datetime64(as_of, "s")
    submit = df["submit_time"].to_numpy().astype("datetime64[s]")
    s = lambda x: x.astype("timedelta64[s]")  # noqa: E731
    dispatched = submit + s(rng.lognormal(np.log(5400), 0.9, n))
    contact = dispatched + s(rng.lognormal(np.log(8 * 3600), 0.8, n))
    slow_dept = np.isin(df["handling_dept_code"], ["GTJ", "ZJJ", "RLJ"])
    closed = contact + s(rng.lognormal(np.log(np.where(slow_dept, 6, 3) * 86400), 0.9, n))
    is_closed = closed <= now
    is_contacted = contact <= now
    is_dispatched = dispatched <= now
    returned = is_closed & (rng.random(n) < 0.04)
    visited = is_closed & ~returned & (rng.random(n) < 0.6)
    status = np.select([returned, visited, is_closed, is_contacted, is_dispatched],
                       ["已退回", "已回访", "已办结", "处理中", "已派单"], default="已受理")
    nat = np.datetime64("NaT")
    df["status"] = status
    df["dispatched_time"] = np.where(is_dispatched, dispatched, nat)
    df["first_contact_time"] = np.where(is_contacted, contact, nat)
    df["closed_time"] = np.where(is_closed & ~returned, closed, nat)
    days = (closed - submit).astype(float) / 86400
    base = np.clip(np.round(5.2 - days / 4 + rng.normal(0, 0.8, n)), 1, 5)
    rated = visited
    for k, col in enumerate(["satisfaction_response", "satisfaction_attitude", "satisfaction_result", "satisfaction_overall"]):
        v = np.clip(base + rng.integers(-1, 2, n) * (rng.random(n) < 0.35), 1, 5)
        df[col] = np.where(rated, v, np.nan)
    df["reopen_count"] = np.where(rated & (base <= 2), rng.poisson(1.2, n), np.where(is_closed, 0, np.nan))
    web = np.isin(df["channel"], ["微信公众号", "i深圳", "网站留言"])
    votes = np.where(web, np.floor(rng.lognormal(0.5, 1.3, n)), 0) + np.where(df["_group"] >= 0, rng.integers(20, 300, n), 0)
    df["votes"] = votes.astype(int)
    cat = df.pop("cat")
    classified = rng.random(n) < 0.92
    df["category_l1"] = np.where(classified, [c[0] for c in cat], "")
    df["category_l2"] = np.where(classified, [c[1] for c in cat], "")
    df["category_l3"] = np.where(classified, [c[2] for c in cat], "")
    # Not yet dispatched: no handling department yet; geocoding fails for some addresses.
    df.loc[status == "已受理", "handling_dept_code"] = ""
    nogeo = rng.random(n) < 0.12
    df.loc[nogeo, ["street_code", "community_code"]] = ""
    return df.drop(columns=["_group"])
