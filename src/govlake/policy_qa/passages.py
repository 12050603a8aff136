"""The texts questions are answered from: for every policy of catalog/policies (not drafts or
test cases), its title, document number, article, funding standard, clauses (label and published
wording) and the checks a department makes by hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govlake import yamlio


@dataclass(frozen=True)
class Passage:
    policy_id: str
    kind: str  # 条件 clause | 资助标准 funding | 人工核验 manual check | 政策 title
    clause_id: str | None
    label_zh: str
    text_zh: str


@dataclass(frozen=True)
class PolicyText:
    policy_id: str
    name_zh: str
    title_zh: str
    doc_no: str
    article_zh: str
    standard_zh: str
    source_url: str
    passages: tuple[Passage, ...]

    def document(self) -> str:
        """The text the policy is retrieved by: its name and funding count twice (what people ask about)."""
        parts = [self.name_zh, self.name_zh, self.title_zh, self.doc_no, self.article_zh, self.standard_zh, self.standard_zh]
        parts += [f"{p.label_zh} {p.text_zh}" for p in self.passages if p.kind != "政策"]
        return "\n".join(parts)


def load_policy_texts(catalog_dir: Path) -> list[PolicyText]:
    out = []
    for f in sorted((catalog_dir / "policies").glob("*.yaml")):
        d = yamlio.safe_load(f.read_text(encoding="utf-8"))
        pid = d["policy_id"]
        funding = d.get("funding") or {}
        ps = [Passage(pid, "政策", None, d["name_zh"], d.get("title_zh") or "")]
        if funding.get("standard_zh"):
            ps.append(Passage(pid, "资助标准", None, "资助标准", funding["standard_zh"]))
        ps += [Passage(pid, "条件", c["id"], c["label_zh"], c.get("text_zh") or "") for c in d["clauses"]]
        ps += [Passage(pid, "人工核验", None, "人工核验", m) for m in d.get("manual_checks") or []]
        out.append(PolicyText(pid, d["name_zh"], d.get("title_zh") or "", d.get("doc_no") or "",
                              str(d.get("article_zh") or ""), funding.get("standard_zh") or "",
                              d.get("source_url") or "", tuple(ps)))
    return out
