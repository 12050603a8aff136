"""Generated petitions: injected repeats and a group burst are found; addresses match."""

import datetime as dt

import pandas as pd

from govlake.signals import detect
from govlake.signals.synth import synthetic_petitions


def _signals(p):
    p = detect.enrich(p)
    rep = pd.concat([detect.blocked_edges(p, "repeat"), detect.requester_edges(p)])
    merges = detect.merge_groups_from_edges(p, rep.drop_duplicates(["a", "b", "reason"]))
    alerts = detect.group_alerts_from_edges(p, detect.blocked_edges(p, "group"))
    return p, merges, alerts


def test_burst_raises_group_alert_and_repeat_is_merged(taidi_seeds):
    p = synthetic_petitions(1500, seed=5, start=dt.date(2026, 3, 1), days=30, repeat_share=0.0, bursts=1, burst_size=8)
    # the same requester again, three days later, through another channel
    first = p.iloc[10].copy()
    again = first.copy()
    again["ticket_id"], again["channel"] = "T-AGAIN", "区长热线"
    again["submit_time"] = first["submit_time"] + pd.Timedelta(days=3)
    p = pd.concat([p, again.to_frame().T], ignore_index=True)
    p["submit_time"] = pd.to_datetime(p["submit_time"])
    e, merges, alerts = _signals(p)

    g = merges.set_index("ticket_id")
    assert g.loc["T-AGAIN", "master_ticket_id"] == first["ticket_id"]
    assert "same_requester" in g.loc["T-AGAIN", "reason"]

    burst = set(p.loc[p["_burst"] == 0, "ticket_id"]) if "_burst" in p else set()
    assert len(alerts) >= 1
    hit = alerts[alerts["ticket_ids"].map(lambda ids: len(burst & set(ids)) >= 5)]
    assert len(hit) == 1 and hit["requester_count"].iloc[0] >= 5
    # nothing else in a month of random petitions looks like a group petition
    assert len(alerts) == 1


def test_no_group_alert_below_min_requesters(divisions):
    p = synthetic_petitions(400, seed=9, start=dt.date(2026, 3, 1), days=30, repeat_share=0.0, bursts=1, burst_size=4)
    _, _, alerts = _signals(p)
    assert alerts.empty


def test_generated_addresses_in_petitions_match(divisions):
    p = detect.enrich(synthetic_petitions(800, seed=2, days=30))
    with_addr = p[p["address_text"].notna()]
    assert (with_addr["std_street_code"] == with_addr["_truth_street"]).mean() >= 0.95
    colloquial = p[p["address_text"].isna() & p["content"].str.contains("那边")]
    assert (colloquial["std_street_code"] == colloquial["_truth_street"]).mean() >= 0.9
