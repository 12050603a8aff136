"""Tokens for policy retrieval: jieba (search mode, so 高新技术企业 also yields 高新 and 技术),
with the policy domain's words added, the abbreviations enterprises use expanded, and
question words dropped."""

from __future__ import annotations

import re
import threading

import jieba

# words jieba's dictionary splits badly in policy texts
DOMAIN_WORDS = ["高新技术企业", "国家高新技术企业", "专精特新", "小巨人", "单项冠军", "四上", "规模以上",
                "研发费用", "研发机构", "发明专利", "知识产权", "股权投资", "股权融资", "子基金", "引导基金",
                "科技桃花源", "创新集聚区", "营业收入", "主营业务收入", "零售额", "营业额", "住宿餐饮",
                "批发零售", "科技型中小企业", "创新型中小企业", "中小企业", "科技人员", "细分市场",
                "严重失信", "行政处罚", "纳统", "重新认定", "初次认定", "首次认定", "加计扣除", "所得税"]
# how enterprises say it -> the policy texts' words (added to the query, not replacing it)
ABBREVIATIONS = {
    "区里": "宝安区 宝安", "区级": "宝安区 宝安", "高企": "高新技术企业", "国高": "国家高新技术企业", "国高企": "国家高新技术企业", "规上": "规模以上 四上",
    "小巨人": "专精特新 小巨人", "专利": "发明专利 知识产权", "融资": "股权融资 股权投资", "研发中心": "研发机构",
    "复审": "重新认定", "到期": "重新认定", "第一次": "初次 首次", "头一回": "初次 首次", "饭店": "餐饮", "酒店": "住宿",
    "餐厅": "餐饮", "超市": "零售", "商场": "零售", "卖货": "销售 零售", "员工": "职工", "人数": "职工总数",
    "黑名单": "严重失信", "罚款": "行政处罚", "税率": "所得税 税率", "减税": "所得税 加计扣除", "投资机构": "股权投资",
    "基金": "子基金 引导基金", "冠军": "单项冠军", "销售额": "销售收入 营业收入", "收入": "营业收入",
}
STOP = set("的 了 吗 呢 吧 啊 么 是 在 和 与 及 或 我 我们 我司 公司 企业 单位 请问 想 要 能 能否 可以 可不可以 怎么 怎样 如何 "
           "什么 哪些 哪个 多少 有没有 有 没有 会 还 也 都 就 这个 那个 一下 需要 需 满足 符合 条件 申请 申报 政策 "
           "给 对 按 被 从 到 为 以 上 下 中 去年 今年 现在 已经 刚 一个 个 家 年 万元 元 多 少 吗？ 问".split())
_PUNCT = re.compile(r"[\s，。？！、；：“”\"'（）()《》〈〉【】\[\]…—·,.?!;:/%％~～-]+")
_lock = threading.Lock()
_tok: jieba.Tokenizer | None = None


def _tokenizer() -> jieba.Tokenizer:
    # a tokenizer of our own: adding words to jieba's default one would change other packages' tokens
    global _tok
    with _lock:
        if _tok is None:
            jieba.setLogLevel(60)
            t = jieba.Tokenizer()
            for w in DOMAIN_WORDS + list(ABBREVIATIONS):
                t.add_word(w, freq=50000)
            _tok = t
        return _tok


def tokens(text: str, *, expand: bool = False) -> list[str]:
    """Search-mode tokens without question words and punctuation; expand: add the policy words
    of the abbreviations found (for queries)."""
    out = []
    for w in _tokenizer().lcut_for_search(_PUNCT.sub(" ", text or "")):
        w = w.strip().lower()
        if not w or w in STOP or _PUNCT.fullmatch(w):
            continue
        out.append(w)
        if expand and w in ABBREVIATIONS:
            out.extend(x for part in ABBREVIATIONS[w].split() for x in tokens(part))
    return out
