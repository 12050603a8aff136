"""民生诉求工单: Chinese free text per department, addresses in the text, repeat requesters,
near-duplicates across channels, group petitions (bursts about one place), and SLA timestamps.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from govlake.catalog import Department
from govlake.catalog.petition_service import PetitionService, load_petition_service
from govlake.generate.enterprises import _zfill
from govlake.generate.petition_templates import STREET_TEMPLATES, TEMPLATES, VAGUE, WHO
from govlake.settings import get_settings

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
                       bursts: int | None = None, svc: PetitionService | None = None) -> pd.DataFrame:
    """n tickets submitted in [start, start+days). pop: enterprise population (for places and
    related enterprises). as_of: the extract time (statuses and timestamps stop there).
    bursts: group petitions to inject (default burst_count(n)); their ticket ids are in
    .attrs["bursts"]. svc: service levels and 回退 rule (default: catalog/petition_service.yaml)."""
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
    out = _lifecycle(rng, df, as_of, svc or load_petition_service(get_settings().catalog_dir))
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


def _lifecycle(rng, df: pd.DataFrame, as_of: dt.datetime, svc: PetitionService) -> pd.DataFrame:
    """The 民意速办 life cycle of catalog/petition_service.yaml, cut at as_of: assigned within
    hours, contacted within about a working day, simple matters closed within hours and normal ones
    within days (some late), a pre-evaluation message before closing, a rating on four dimensions
    that follows speed; a rating that fires the 回退 rule sends the ticket back for re-handling and
    a second rating, and a second dissatisfaction escalates it (专项督办)."""
    n = len(df)
    now = np.datetime64(as_of, "s")
    nat = np.datetime64("NaT")
    submit = df["submit_time"].to_numpy().astype("datetime64[s]")
    s = lambda x: x.astype("timedelta64[s]")  # noqa: E731
    # Simple matters are answered on the first call (same-day target); others wait for a visit.
    simple = np.isin(df["request_type"], list(svc.simple_request_types))
    dispatched = submit + s(rng.lognormal(np.log(5400), 0.9, n))
    contact = dispatched + s(rng.lognormal(np.log(np.where(simple, 1.5, 8) * 3600), 0.8, n))
    slow_dept = np.isin(df["handling_dept_code"], ["GTJ", "ZJJ", "RLJ"])
    median_h = np.where(simple, 2, np.where(slow_dept, 5 * 24, 2.5 * 24))
    closed = contact + s(rng.lognormal(np.log(median_h * 3600), 0.8, n))
    # The pre-evaluation message goes out shortly before closing; a few departments skip it.
    pre_eval = closed - s(rng.uniform(600, 4 * 3600, n))
    pre_eval = np.where(rng.random(n) < 0.95, np.maximum(pre_eval, contact), nat)
    returned_dispatch = rng.random(n) < 0.04            # 已退回: wrong department, back to dispatch
    reached = lambda t: ~np.isnat(t) & (t <= now)  # noqa: E731

    # First rating: about 60 % of closed tickets are rated within days of closing.
    days = (closed - submit).astype(float) / 86400
    rated_time = np.where(rng.random(n) < 0.6, closed + s(rng.lognormal(np.log(86400), 0.7, n)), nat)
    first = _ratings(rng, svc, np.clip(np.round(5.2 - days / 4 + rng.normal(0, 0.8, n)), 1, 5))
    rated = reached(rated_time) & ~returned_dispatch
    sent_back = rated & _fires(svc, first)
    # Re-handling after 回退: a second close and a second rating, better on average.
    reclosed = np.where(sent_back, rated_time + s(rng.lognormal(np.log(2 * 86400), 0.7, n)), nat)
    rerated_time = np.where(sent_back, reclosed + s(rng.lognormal(np.log(86400), 0.7, n)), nat)
    second = _ratings(rng, svc, np.clip(np.round(3.6 + rng.normal(0, 1.1, n)), 1, 5))
    rerated = sent_back & reached(rerated_time)
    escalated = rerated & _fires(svc, second)

    is_closed = reached(closed) & ~returned_dispatch
    status = np.select(
        [escalated, rerated, sent_back & reached(reclosed), sent_back, rated, is_closed,
         returned_dispatch & reached(closed), reached(contact), reached(dispatched)],
        ["专项督办", "已回访", "已办结", "已回退", "已回访", "已办结", "已退回", "处理中", "已派单"],
        default="已受理")
    df["status"] = status
    df["dispatched_time"] = np.where(reached(dispatched), dispatched, nat)
    df["first_contact_time"] = np.where(reached(contact), contact, nat)
    df["pre_eval_time"] = np.where(reached(pre_eval) & ~returned_dispatch, pre_eval, nat)
    df["closed_time"] = np.where(is_closed, closed, nat)
    df["rated_time"] = np.where(rated, rated_time, nat)
    for d in svc.dimensions:
        df[d.column] = np.where(rated, first[d.id], np.nan)
    df["reclosed_time"] = np.where(sent_back & reached(reclosed), reclosed, nat)
    df["rerated_time"] = np.where(rerated, rerated_time, nat)
    for d in svc.dimensions:
        df[d.rerating] = np.where(rerated, second[d.id], np.nan)
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


def _ratings(rng, svc: PetitionService, base: np.ndarray) -> dict[str, np.ndarray]:
    """Scores per rating dimension around a per-ticket base (one requester's mood shows in all)."""
    n = len(base)
    return {d.id: np.clip(base + rng.integers(-1, 2, n) * (rng.random(n) < 0.35), svc.rating_min, svc.rating_max)
            for d in svc.dimensions}


def _fires(svc: PetitionService, scores: dict[str, np.ndarray]) -> np.ndarray:
    """The catalog's 回退 rule over every ticket (the marts run it as PetitionService.dissatisfied_sql)."""
    return np.logical_or.reduce([scores[i] <= svc.return_max_score for i in svc.return_dimensions])
