"""The signals on the real taidi2020 board (4,326 messages with votes)."""

import pandas as pd

from govlake.signals import detect
from govlake.signals.hot_topics import hot_topics


def test_hot_topics_are_coherent_and_cover_the_most_voted(taidi):
    top = hot_topics(taidi, taidi["submit_time"].max(), window_days=None, top=10)
    assert len(top) == 10 and list(top["heat"]) == sorted(top["heat"], reverse=True)
    titles = taidi.set_index("ticket_id")["title"]
    for r in top.head(5).itertuples():
        # coherent: most messages of a top topic share its two leading keywords (place + subject)
        kw = r.keywords.split(",")[:2]
        share = sum(all(k in titles[t] or k in titles[t].replace(" ", "") for k in kw[:1]) for t in r.ticket_ids) / len(r.ticket_ids)
        assert share >= 0.6, (r.keywords, share)
        assert r.ticket_count >= 2
    text = " ".join(top.head(5)["representative_title"])
    # the known hot issues of the board (2020 TipDM task): 丽发新城 mixing plant, 伊景园滨河苑 parking, 58车贷
    assert "搅拌" in text and "伊景园" in text and "58车贷" in text
    # the most-voted messages: at least 2 of the 5 sit in a top-5 topic
    most_voted = taidi.nlargest(5, "votes")["ticket_id"]
    in_top = set().union(*top.head(5)["ticket_ids"].map(set))
    assert sum(t in in_top for t in most_voted) >= 2


def test_real_near_duplicates_become_merge_groups(taidi):
    edges = pd.concat([detect.blocked_edges(taidi, "repeat"), detect.requester_edges(taidi)])
    m = detect.merge_groups_from_edges(taidi, edges.drop_duplicates(["a", "b", "reason"]))
    g = m.set_index("ticket_id")
    # the same user posting the same 丽发新城 complaint twice (189950 on 11-13, 231136 on 12-02)
    assert g.loc["189950", "group_id"] == g.loc["231136", "group_id"]
    assert g.loc["231136", "master_ticket_id"] == "189950"
    # the same title from two users on the same day (乡村医生执业许可证): same issue, not same requester
    assert g.loc["188416", "group_id"] == g.loc["323149", "group_id"]
    assert "same_issue" in g.loc["323149", "reason"]
    # masters are the earliest member of their group
    t = taidi.set_index("ticket_id")["submit_time"]
    for gid, grp in m.groupby("group_id"):
        assert t[grp["master_ticket_id"].iloc[0]] == t[grp["ticket_id"]].min()
    # it is selective: most messages are not merged
    assert m["ticket_id"].nunique() < 0.3 * len(taidi)
