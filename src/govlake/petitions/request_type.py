"""诉求类型 request type (咨询/投诉/建议/求助/举报) by transparent cue words.

No labelled data exists for this, so a learned model would be guesswork. Each type has weighted
cue words; the title/opening counts double (people say what they want first). Confidence is the
winner's share of the total cue weight, shrunk when the evidence is thin; with no cue at all
the message is 投诉 (the most common type on hotlines) with confidence 0.2.
"""

from __future__ import annotations

from dataclasses import dataclass

from govlake.petitions.text import normalize

TYPES = ("咨询", "投诉", "建议", "求助", "举报")
DEFAULT_TYPE = "投诉"

# cue -> weight. Strong explicit verbs weigh 3, typical phrasing 2, weak hints 1.
CUES: dict[str, dict[str, float]] = {
    "咨询": {"咨询": 3, "请问": 3, "想问": 2, "问一下": 2, "是否可以": 2, "能否": 1, "如何办理": 3,
           "怎么办理": 3, "需要什么": 2, "什么条件": 2, "哪里办": 2, "多久": 1, "何时": 1,
           "什么时候": 1, "政策": 1, "流程": 1, "吗?": 1, "吗？": 1, "了解一下": 2},
    "投诉": {"投诉": 3, "不作为": 2, "乱收费": 2, "扰民": 2, "拖欠": 2, "态度恶劣": 2, "不满": 2,
           "严重影响": 2, "无人管": 2, "没人管": 2, "推诿": 2, "维权": 1, "损害": 1, "违规": 1,
           "噪音": 1, "欺骗": 1},
    "建议": {"建议": 3, "提议": 3, "倡议": 3, "希望能": 1, "希望政府": 2, "是否考虑": 2, "呼吁": 2,
           "增设": 2, "优化": 1, "改进": 1, "完善": 1, "能否考虑": 2},
    "求助": {"求助": 3, "救救": 3, "帮帮": 3, "帮助": 2, "急需": 2, "走投无路": 3, "无助": 2,
           "困难": 1, "请求": 1, "恳请": 2, "生活困难": 2, "看病难": 1},
    "举报": {"举报": 3, "检举": 3, "揭发": 3, "非法": 2, "违法": 2, "偷排": 2, "传销": 2, "贪污": 2,
           "受贿": 2, "黑恶": 2, "造假": 1, "私自": 1, "偷税": 2, "违建": 2, "违章搭建": 2},
}
HEAD_CHARS = 30


@dataclass(frozen=True)
class RequestType:
    type: str
    confidence: float
    cues: tuple[str, ...]  # the cue words that matched, for the reason text

    @property
    def reason(self) -> str:
        return ("线索词: " + ", ".join(self.cues)) if self.cues else "无明显线索词，按默认类型"


def classify_request_type(text: str, cues: dict[str, dict[str, float]] | None = None) -> RequestType:
    t = normalize(text).replace("?", "？") + " "
    headpart = t[:HEAD_CHARS]
    score = {k: 0.0 for k in TYPES}
    found: dict[str, list[str]] = {k: [] for k in TYPES}
    for typ, words in (cues or CUES).items():
        for w, wt in words.items():
            w = normalize(w).replace("?", "？")
            n = t.count(w)
            if n:
                score[typ] = score.get(typ, 0.0) + wt * min(n, 3) + (wt if w in headpart else 0)
                found.setdefault(typ, []).append(w)
    total = sum(score.values())
    if total == 0:
        return RequestType(DEFAULT_TYPE, 0.2, ())
    best = max(score, key=lambda k: (score[k], -TYPES.index(k) if k in TYPES else 0))
    share = score[best] / total
    confidence = share * min(1.0, total / 6.0)  # thin evidence (one weak cue) -> low confidence
    return RequestType(best, round(max(confidence, 0.2), 3), tuple(found[best]))
