"""The real taidi2020 messages (messages_with_votes.csv) as petitions, to check the signals on
real text. Place names there are masked (A市A5区), so the street block is the masked district."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from govlake.settings import Settings, get_settings

VOTES_FILE = "taidi2020/messages_with_votes.csv"


def votes_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).shared_data_dir / VOTES_FILE


def load_votes_messages(settings: Settings | None = None) -> pd.DataFrame:
    p = votes_path(settings)
    if not p.exists():
        raise FileNotFoundError(f"taidi2020 messages (泰迪杯留言) not found at {p}")
    rows = list(csv.DictReader(open(p, encoding="utf-8")))
    df = pd.DataFrame({
        "ticket_id": [r["留言编号"].strip() for r in rows],
        "channel": "网站留言",
        "submit_time": pd.to_datetime([r["留言时间"].strip() for r in rows], format="mixed"),
        "requester_id": [r["留言用户"].strip() for r in rows],
        "title": [r["留言主题"].strip() for r in rows],
        "content": [" ".join(r["留言详情"].split()) for r in rows],
        "address_text": None,
        "street_code": None,
        "community_code": None,
        "votes": [int(r["点赞数"] or 0) for r in rows],
        "votes_against": [int(r["反对数"] or 0) for r in rows],
    })
    return df
