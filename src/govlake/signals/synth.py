"""Synthetic petitions for tests and the benchmark when the generator's output is not at hand:
real taidi message texts as seeds (place names swapped for Bao'an addresses), plus injected
repeats (same requester again, other channel) and group bursts (many requesters, one place, 72 h).
Seeded: same arguments -> same rows."""

from __future__ import annotations

import datetime as dt
import random
import re

import pandas as pd

from govlake.signals.address import address_tree, format_address

CHANNELS = ["12345热线", "微信公众号", "i深圳", "区长热线", "网格员上报", "网站留言"]
REQUEST_TYPES = ["咨询", "投诉", "建议", "求助", "举报"]
_MASK = re.compile(r"[A-Z]市|[A-Z]\d{1,2}[区县]")
_FALLBACK = [("小区门口道路积水严重", "小区门口的道路一下雨就积水，行人车辆通行困难，希望尽快疏通排水管道。"),
             ("楼下餐馆油烟噪音扰民", "楼下新开的餐馆每天油烟很大，晚上还很吵，影响居民休息。"),
             ("工地夜间施工噪音", "附近工地每天晚上十一点以后还在施工，噪音很大，影响睡眠。")]


def _seeds(settings=None) -> list[tuple[str, str]]:
    from govlake.signals.taidi import load_votes_messages

    try:
        m = load_votes_messages(settings)
        return list(zip(m["title"], m["content"].str.slice(0, 400)))
    except FileNotFoundError:
        return _FALLBACK


def synthetic_petitions(n: int, seed: int = 7, start: dt.date = dt.date(2026, 1, 1), days: int = 365,
                        repeat_share: float = 0.05, bursts: int = 0, burst_size: int = 8,
                        settings=None) -> pd.DataFrame:
    rnd = random.Random(seed)
    tree = address_tree()
    seeds = _seeds(settings)
    t0 = dt.datetime.combine(start, dt.time(0))
    rows = []

    def one(i, c, title, content, when, requester, channel):
        form = rnd.random()
        full = format_address(c, rnd.randint(1, 3000), rnd.randint(0, 3), rnd.randint(1, 30))
        if form < 0.7:
            at = full
        elif form < 0.9:  # colloquial, in the text only
            at, content = None, f"{c.street_short}{c.short}那边，{content}"
        else:
            at = None
        title = _MASK.sub("", title)
        content = _MASK.sub("", content)
        rows.append({
            "ticket_id": f"T{i:08d}", "channel": channel, "submit_time": when,
            "requester_id": requester, "requester_phone": None, "title": title, "content": content,
            "address_text": at, "related_uscc": None, "category_l1": None, "category_l2": None,
            "category_l3": None, "request_type": rnd.choice(REQUEST_TYPES), "handling_dept_code": None,
            "street_code": None, "community_code": None, "status": "已受理", "dispatched_time": None,
            "first_contact_time": None, "pre_eval_time": None, "closed_time": None, "rated_time": None,
            "satisfaction_speed": None, "satisfaction_effect": None, "satisfaction_experience": None,
            "satisfaction_feedback": None, "reclosed_time": None, "rerated_time": None,
            "resatisfaction_speed": None, "resatisfaction_effect": None, "resatisfaction_experience": None,
            "resatisfaction_feedback": None, "votes": rnd.choice([0, 0, 0, 1, 2, 5]),
            "_truth_community": c.code, "_truth_street": c.street_code,
        })

    i = 0
    while i < n:
        c = rnd.choice(tree)
        title, content = rnd.choice(seeds)
        when = t0 + dt.timedelta(seconds=rnd.randint(0, days * 86400 - 1))
        req = f"R{rnd.randint(0, n * 2):08d}"
        one(i, c, title, content, when, req, rnd.choice(CHANNELS))
        i += 1
        if rnd.random() < repeat_share and i < n:  # the same requester again, another channel
            later = when + dt.timedelta(days=rnd.randint(1, 20), seconds=rnd.randint(0, 3600))
            one(i, c, title, "再次反映：" + content, later, req, rnd.choice(CHANNELS))
            i += 1
    for b in range(bursts):
        c = rnd.choice(tree)
        title, content = rnd.choice(seeds)
        when = t0 + dt.timedelta(days=rnd.randint(0, max(0, days - 4)))
        for k in range(burst_size):
            one(i, c, title, content[:200] + f"（第{k + 1}位业主）",
                when + dt.timedelta(hours=rnd.uniform(0, 48)), f"B{b:03d}{k:03d}", rnd.choice(CHANNELS))
            rows[-1]["_burst"] = b
            i += 1
    df = pd.DataFrame(rows)
    df["submit_time"] = pd.to_datetime(df["submit_time"])
    return df
