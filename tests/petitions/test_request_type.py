from __future__ import annotations

import pytest

from govlake.petitions.request_type import TYPES, classify_request_type


@pytest.mark.parametrize("text,expected", [
    ("请问新生儿医保怎么办理？需要什么材料？", "咨询"),
    ("投诉某物业公司乱收费，态度恶劣", "投诉"),
    ("建议在西乡地铁站增设公共自行车停放点", "建议"),
    ("家里老人重病，生活困难，恳请政府帮助，求助", "求助"),
    ("举报某工厂夜间偷排污水，违法排放", "举报"),
])
def test_cue_words(text, expected):
    r = classify_request_type(text)
    assert r.type == expected and r.confidence >= 0.5 and r.cues
    assert "线索词" in r.reason


def test_no_cue_defaults_with_low_confidence():
    r = classify_request_type("小区门口那条路")
    assert r.type in TYPES and r.confidence == 0.2 and r.cues == ()


def test_title_counts_double():
    # both 建议 and 投诉 occur; the one stated first (in the title) wins
    r = classify_request_type("建议：优化公交线路。" + "。" * 40 + "之前投诉过一次")
    assert r.type == "建议"
