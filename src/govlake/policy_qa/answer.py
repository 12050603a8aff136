"""Answer a question: the policies it concerns (BM25 over each policy's text), the articles
quoted from them (BM25 over their clauses within the policy), and, for a known enterprise, its
own result clause by clause from the online evaluator (govlake.policy.evaluate.PolicyEngine,
the same path as `govlake policy evaluate` and the API's policy matches)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from govlake.policy.compile import PASS
from govlake.policy.evaluate import PROFILE
from govlake.policy_qa.bm25 import BM25
from govlake.policy_qa.passages import PolicyText, load_policy_texts
from govlake.policy_qa.tokens import tokens

TOP_K = 3
QUOTES = 3
# an answer leaves out policies scoring under this share of the best one (retrieval still ranks them)
SHOWN_SHARE = 0.3
STATUS_ZH = {True: "满足", False: "不满足", None: "数据缺失"}


@dataclass
class Retriever:
    policies: list[PolicyText]

    def __post_init__(self):
        self.index = BM25([tokens(p.document()) for p in self.policies])
        self.clause_index = {p.policy_id: BM25([tokens(f"{x.label_zh} {x.text_zh}") for x in p.passages])
                             for p in self.policies}

    def rank(self, question: str, k: int = TOP_K) -> list[tuple[PolicyText, float]]:
        """The k policies the question concerns, best first (none when no word of it occurs)."""
        q = tokens(question, expand=True)
        scored = sorted(zip(self.policies, self.index.scores(q)), key=lambda t: (-t[1], t[0].policy_id))
        return [(p, round(s, 3)) for p, s in scored[:k] if s > 0]

    def quotes(self, question: str, p: PolicyText, n: int = QUOTES) -> list[dict]:
        """The passages of p closest to the question, in the policy's order; the funding standard
        is always among them (what the enterprise can get)."""
        q = tokens(question, expand=True)
        scores = self.clause_index[p.policy_id].scores(q)
        best = sorted(range(len(p.passages)), key=lambda i: -scores[i])
        chosen = {i for i in best[:n] if scores[i] > 0}
        chosen |= {i for i, x in enumerate(p.passages) if x.kind == "资助标准"}
        return [{"kind": p.passages[i].kind, "clause_id": p.passages[i].clause_id, "label_zh": p.passages[i].label_zh,
                 "text_zh": p.passages[i].text_zh} for i in sorted(chosen) if p.passages[i].kind != "政策"]


@lru_cache(maxsize=4)
def retriever(catalog_dir: Path) -> Retriever:
    return Retriever(load_policy_texts(catalog_dir))


def enterprise_result(engine, uscc: str, policy_id: str, as_of: dt.date) -> dict | None:
    """One enterprise's result for one policy, clause by clause, with the evaluator's own
    explanation and the values behind each unmet clause. None when the policy is not in force."""
    cp = next((c for c in engine.compiled(as_of) if c.policy.policy_id == policy_id), None)
    if cp is None:
        return None
    if engine.lake is None or not engine.lake.exists(PROFILE):
        raise FileNotFoundError(f"no {PROFILE}: build the profile first (企业画像不存在)")
    snap = engine.snapshot()
    row = snap.row(uscc)
    if row is None:
        raise KeyError(f"enterprise {uscc} is not in gold.enterprise_profile (企业不在画像库中)")
    tags = snap.tags(uscc)
    r = cp.evaluate(row, tags)
    clauses = []
    for c in cp.clauses:
        status = c.fn(row, tags)
        clauses.append({"clause_id": c.clause.id, "label_zh": c.clause.label_zh, "text_zh": c.clause.text_zh,
                        "result": r.clause_results[c.clause.id], "result_zh": STATUS_ZH[status],
                        "detail_zh": "" if r.clause_results[c.clause.id] == PASS else cp.unmet_detail(c, row, tags, status)})
    return {"eligible": r.eligible, "near_miss": r.near_miss, "needs_review": r.needs_review, "explanation_zh": r.explanation_zh,
            "manual_checks": list(cp.policy.manual_checks), "clauses": clauses}


def ask(question: str, catalog_dir: Path, *, uscc: str | None = None, engine=None,
        as_of: dt.date | None = None, k: int = TOP_K) -> dict:
    """{"question", "policies": [{policy_id, name_zh, score, title_zh, doc_no, article_zh, quotes,
    enterprise?}], "answer_zh"}; with uscc, each policy carries the enterprise's own result."""
    if not question or not question.strip():
        raise ValueError("a question is required (请输入问题)")
    r = retriever(catalog_dir)
    as_of = as_of or dt.date.today()
    out = []
    ranked = r.rank(question, k)
    for p, score in [(p, s) for p, s in ranked if s >= SHOWN_SHARE * ranked[0][1]]:
        item = {"policy_id": p.policy_id, "name_zh": p.name_zh, "score": score, "title_zh": p.title_zh,
                "doc_no": p.doc_no, "article_zh": p.article_zh, "source_url": p.source_url,
                "quotes": r.quotes(question, p)}
        if uscc is not None:
            item["enterprise"] = enterprise_result(engine, uscc, p.policy_id, as_of)
        out.append(item)
    return {"question": question, "uscc": uscc, "as_of": as_of.isoformat(), "policies": out,
            "answer_zh": answer_zh(out)}


def answer_zh(items: list[dict]) -> str:
    """A short Chinese answer: the policies found, their article and standard, the enterprise's verdict."""
    if not items:
        return "未找到相关政策，请换一种问法或咨询区企业服务中心。"
    lines = []
    for it in items:
        std = next((q["text_zh"] for q in it["quotes"] if q["kind"] == "资助标准"), "")
        head = f"《{it['name_zh']}》（{it['doc_no']}{'，' + it['article_zh'] if it['article_zh'] else ''}）"
        lines.append(head + (f"：{std}" if std else ""))
        e = it.get("enterprise")
        if e:
            verdict = ("符合全部可核验条件" if e["eligible"] else "其余条件均符合，待人工核验" if e.get("needs_review")
                       else "仅差一项条件" if e["near_miss"] else "尚不符合")
            lines.append(f"  贵企业{verdict}：{e['explanation_zh']}")
    return "\n".join(lines)
