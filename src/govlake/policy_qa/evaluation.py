"""Retrieval accuracy on a question set (tests/policy_qa/questions.yaml): a question counts as
answered at k when one of its expected policies is among the first k retrieved."""

from __future__ import annotations

from pathlib import Path

from govlake import yamlio
from govlake.policy_qa.answer import retriever
from govlake.settings import REPO_ROOT

QUESTIONS = REPO_ROOT / "tests" / "policy_qa" / "questions.yaml"


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    qs = yamlio.safe_load(path.read_text(encoding="utf-8")) or []
    bad = [q for q in qs if not (isinstance(q, dict) and q.get("q") and q.get("expect"))]
    if bad:
        raise ValueError(f"{path}: every question needs q and expect (policy ids), got {bad[:2]}")
    return qs


def evaluate(catalog_dir: Path, questions: list[dict]) -> dict:
    """{"questions", "top1", "top3", "top1_accuracy", "top3_accuracy", "misses": [...]}"""
    r = retriever(catalog_dir)
    known = {p.policy_id for p in r.policies}
    unknown = sorted({e for q in questions for e in q["expect"]} - known)
    if unknown:
        raise ValueError(f"questions expect policies not in the catalog: {unknown} (政策不存在)")
    top1 = top3 = 0
    misses = []
    for q in questions:
        got = [p.policy_id for p, _ in r.rank(q["q"], 3)]
        top1 += bool(got) and got[0] in q["expect"]
        if set(got) & set(q["expect"]):
            top3 += 1
        else:
            misses.append({"q": q["q"], "expect": q["expect"], "got": got})
    n = len(questions)
    return {"questions": n, "top1": top1, "top3": top3, "top1_accuracy": round(top1 / n, 4) if n else 0.0,
            "top3_accuracy": round(top3 / n, 4) if n else 0.0, "misses": misses}
