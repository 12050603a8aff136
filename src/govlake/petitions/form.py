"""智能填单 (smart form fill): the intake form a new work order gets from its text.

Fields: three-level matter category (CategoryMatcher over the district's matter tree), request type
(cue words), standard address down to the community with a confidence (signals.address), keywords,
requester (who is asking: identity in the text, plus the requester id when the channel gave one)
and subject (诉求对象: the enterprise, unit or facility the request is about, else the matter).
Every ticket of the pipeline gets one row in gold.petition_forms; the API returns the same
form for a text (POST /petitions/form and inside POST /petitions/dispatch).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd

from govlake.petitions.category import CategoryMatcher
from govlake.petitions.request_type import classify_request_type

FORM_TABLE = "gold.petition_forms"
CATEGORY_SEP = "/"  # a category model's label: 一级/二级/三级
N_KEYWORDS = 5

# 诉求人身份: who is speaking, from first-person phrases. Order matters: the first match wins, the
# more specific identities come first.
REQUESTER_CUES = (
    ("退役军人", ("退役军人", "军属")),
    ("员工", ("员工", "工友", "上班", "打工", "被辞退", "辞退", "欠薪")),
    ("企业", ("负责人", "本公司", "我司", "企业主", "小微企业", "申报", "总部")),
    ("家长", ("孩子", "家长", "学生家长")),
    ("业主", ("业主", "买的楼盘", "买的房", "购房")),
    ("消费者", ("消费者", "买到", "办的预付卡", "退款")),
    ("患者", ("看病", "患者", "病人")),
    ("居民", ("居民", "住在", "家住", "楼下", "楼上", "小区")),
)
DEFAULT_REQUESTER = "群众"

# 诉求对象: a named unit ending in one of these (longest first so 有限公司 beats 公司).
_UNIT = ("有限责任公司", "有限公司", "分公司", "公司", "工厂", "电子厂", "厂", "医院", "诊所", "学校",
         "幼儿园", "超市", "商场", "餐馆", "物业", "健身房", "网吧", "工地", "楼盘", "养老院", "停车场")
_RE_UNIT = re.compile(r"([\u4e00-\u9fa5A-Za-z0-9（）()]{2,24}?(?:" + "|".join(sorted(_UNIT, key=len, reverse=True))
                      + r"))")
_RE_CLAUSE = re.compile(r"[。，,；;！!？?\s]")
_NOT_SUBJECT = re.compile(r"^(一家|这家|那家|一个|我们|我|本人|我家|他们|附近的?|旁边的?|楼下的?)")
# Parts of speech kept as keywords: nouns, verbal nouns, verbs (ns, places, belong to the address).
KEYWORD_POS = ("n", "nz", "nt", "nw", "vn", "v", "an")


@dataclass(frozen=True)
class PetitionForm:
    category_l1: str
    category_l2: str
    category_l3: str
    category_score: float
    request_type: str
    request_type_confidence: float
    address_standard: str | None  # 宝安区西乡街道固戍社区(固戍一路12号)
    street_code: str | None
    street_name: str | None
    community_code: str | None
    community_name: str | None
    address_level: str  # community | street | ambiguous | district | none
    address_confidence: float
    keywords: list[str] = field(default_factory=list)
    requester: str = DEFAULT_REQUESTER
    requester_id: str | None = None
    subject: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def category_tree() -> list[tuple[str, str, str]]:
    """The district's matter tree (事项分类): the three-level categories its tickets are filed
    under (the generator's templates follow the taidi2020 taxonomy plus 企业诉求)."""
    from govlake.generate.petition_templates import STREET_TEMPLATES, TEMPLATES

    paths = {t[2] for ts in TEMPLATES.values() for t in ts} | {t[2] for t in STREET_TEMPLATES}
    return sorted(paths)


def category_model_dir(settings) -> Path:
    """Where the online form looks for the category model (the pipeline publishes its latest)."""
    return settings.state_dir / "models" / "petition_category"


def online_category_model(settings):
    """The published category model, or None (then the matter tree's names are matched)."""
    from govlake.petitions.model import load_model

    try:
        return load_model(category_model_dir(settings))
    except FileNotFoundError:
        return None


@lru_cache(maxsize=1)
def default_matcher() -> CategoryMatcher:
    return CategoryMatcher(category_tree())


def _keywords(text: str, place_words: set[str], n: int = N_KEYWORDS) -> list[str]:
    import jieba.analyse

    out = []
    for w in jieba.analyse.extract_tags(text, topK=n + 8, allowPOS=KEYWORD_POS):
        if len(w) < 2 or w.isdigit() or any(w in p or p in w for p in place_words):
            continue  # a place is the address field's job, not a keyword
        out.append(w)
        if len(out) == n:
            break
    return out


def _requester(text: str) -> str:
    for kind, cues in REQUESTER_CUES:
        if any(c in text for c in cues):
            return kind
    return DEFAULT_REQUESTER


def _subject(text: str, title: str | None, cat_l3: str, place_words: set[str]) -> str:
    """The first named unit (公司/工厂/医院/...) without the place or speaker before it, else the
    title, else the first clause."""
    for m in _RE_UNIT.finditer(text):
        s = re.split(r"的|在|是|（|\(|有(?!限)", m.group(1))[-1]
        s = _NOT_SUBJECT.sub("", s)
        for p in sorted(place_words, key=len, reverse=True):  # 宝安区西乡街道XX公司 -> XX公司
            if s.startswith(p) and len(s) > len(p) + 1:
                s = s[len(p):]
        s = re.sub(r"^\d+号", "", s)
        if len(s) >= 2:
            return s
    if title:
        return title.strip()
    first = _RE_CLAUSE.split(text.strip(), 1)[0]
    return first[:20] or cat_l3


@dataclass(frozen=True)
class _Category:
    level1: str
    level2: str
    level3: str
    score3: float
    reason: str


def model_categories(model, texts: Sequence[str]) -> list[_Category]:
    """Categories from a model trained on filed tickets (labels l1/l2/l3, CATEGORY_SEP)."""
    out = []
    for top in model.top_k(list(texts), k=1, with_terms=0, terms_for=0):
        label, p, _ = top[0]
        l1, l2, l3 = (label.split(CATEGORY_SEP) + ["", "", ""])[:3]
        out.append(_Category(l1, l2, l3, round(float(p), 4), f"分类模型 {p:.2f}"))
    return out


def fill_form(text: str, *, title: str | None = None, address: str | None = None,
              requester_id: str | None = None, matcher: CategoryMatcher | None = None,
              level1: str | None = None, category_model=None, category=None) -> PetitionForm:
    """The form for one ticket. text: the whole message (title。content); address: the
    address field if the channel has one (else the address is read from the text).
    category_model: a model trained on the district's filed categories (the pipeline trains one
    per day, like the dispatch model); without it the names of the matter tree are matched."""
    from govlake.petitions.scoring import standard_address
    from govlake.signals.address import DISTRICT_NAME

    text = text or ""
    if category is not None:
        cat = category
    elif category_model is not None:
        cat = model_categories(category_model, [text])[0]
    else:
        cat = (matcher or default_matcher()).predict(text, level1=level1)
    rt = classify_request_type(text)
    a = standard_address(address, text)
    std = None
    if a.street_name:
        std = DISTRICT_NAME + a.street_name + (a.community_name or "") + (a.road or "") + (a.building or "")
    places = {w for w in (a.street_name, a.community_name, a.road, a.building, a.matched_text, DISTRICT_NAME) if w}
    places |= {w.removesuffix("街道") for w in places} | {w.removesuffix("社区") for w in places}
    places.discard("")
    kws = _keywords(text, places)
    reason = (f"分类: {cat.reason}；诉求类型: {rt.reason}；地址: {a.level} {a.confidence:.2f}"
              + (f" ({a.matched_text})" if a.matched_text else ""))
    return PetitionForm(
        cat.level1, cat.level2, cat.level3, cat.score3, rt.type, rt.confidence, std,
        a.street_code, a.street_name, a.community_code, a.community_name, a.level, float(a.confidence),
        kws, _requester(text), requester_id or None, _subject(text, title, cat.level3, places), reason)


FORM_COLUMNS = list(PetitionForm.__dataclass_fields__)


def fill_frame(pdf: pd.DataFrame, *, id_col: str = "ticket_id", text_col: str = "text",
               title_col: str | None = "title", address_col: str | None = "address_text",
               requester_col: str | None = "requester_id", category_model=None) -> pd.DataFrame:
    """pandas in (one row per ticket), one form row per ticket out: ticket_id + FORM_COLUMNS."""
    matcher = default_matcher()
    cats = (model_categories(category_model, pdf[text_col].fillna("").astype(str).tolist())
            if category_model is not None else [None] * len(pdf))

    def col(name):
        return pdf[name].where(pdf[name].notna(), None).tolist() if name and name in pdf.columns else [None] * len(pdf)

    rows = []
    for tid, text, title, addr, req, cat in zip(pdf[id_col].tolist(), col(text_col), col(title_col),
                                                col(address_col), col(requester_col), cats):
        f = fill_form(text or "", title=title, address=addr, requester_id=req, matcher=matcher, category=cat)
        rows.append({"ticket_id": tid, **f.as_dict()})
    return pd.DataFrame(rows, columns=["ticket_id", *FORM_COLUMNS])


def form_schema(id_type=None):
    from pyspark.sql import types as T

    s, d = T.StringType(), T.DoubleType()
    types = {"category_score": d, "request_type_confidence": d, "address_confidence": d,
             "keywords": T.ArrayType(s)}
    return T.StructType([T.StructField("ticket_id", id_type or s, False)]
                        + [T.StructField(c, types.get(c, s)) for c in FORM_COLUMNS])


def fill_dataframe(df, *, id_col: str = "ticket_id", text_col: str = "text", category_model_dir=None):
    """Spark DataFrame of tickets (ticket_id, text[, title, address_text, requester_id]) -> one
    form row per ticket (form_schema()), filled on the workers (the category model, if given,
    broadcast like the dispatch model)."""
    from govlake.petitions.scoring import broadcast_model, worker_model

    cols = [c for c in (id_col, text_col, "title", "address_text", "requester_id") if c in df.columns]
    schema = form_schema(df.schema[id_col].dataType)
    bc, meta = broadcast_model(df.sparkSession, category_model_dir) if category_model_dir else (None, None)

    def _fill(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        m = worker_model(bc, meta) if bc is not None else None
        for pdf in batches:
            if len(pdf):
                yield fill_frame(pdf, id_col=id_col, text_col=text_col, category_model=m)

    return df.select(*cols).mapInPandas(_fill, schema)


