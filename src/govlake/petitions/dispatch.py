"""Top-k department recommendations with a reason a dispatcher can read.

The model gives a distribution over its labels. Three optional signals can be blended in, each
also a distribution over departments, so the blend (a weighted mixture) is still a distribution
(probabilities sum to <= 1 over the top k):
  - 权责清单 responsibility list: keyword -> department; hits on the text
  - 属地 jurisdiction: street name -> street office department; found in the address (or text)
  - history prior: how often each department received petitions (e.g. last 90 days)
Every signal that contributes to a department adds a clause to its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from govlake.petitions.text import normalize


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    rank: int
    dept_code: str
    dept_name: str
    probability: float
    reason: str
    signals: dict = field(default_factory=dict, compare=False)  # per-signal share, for audit
    # 主协办 (handling_roles.assign_roles): lead / assist / candidate, 主办 / 协办 / 备选, and why
    role: str = ""
    role_label: str = ""
    role_reason: str = ""


@dataclass(frozen=True)
class BlendWeights:
    """Mixture weights; a signal without input (or without a hit) drops out and the rest
    are renormalised, so model-only scoring returns the model's probabilities unchanged."""

    model: float = 0.7
    keywords: float = 0.15
    jurisdiction: float = 0.1
    history: float = 0.05


def _dept_index(departments: Iterable[Department] | None) -> dict[str, Department]:
    idx: dict[str, Department] = {}
    for d in departments or ():
        idx[d.code] = d
        idx.setdefault(d.name, d)
    return idx


def _responsibility_pairs(responsibility, departments) -> list[tuple[str, str]]:
    """Accept {keyword: code}, [(keyword, code)], and Department.keywords."""
    pairs: list[tuple[str, str]] = []
    if isinstance(responsibility, Mapping):
        pairs += [(k, v) for k, v in responsibility.items()]
    elif responsibility:
        pairs += [(k, v) for k, v in responsibility]
    for d in departments or ():
        pairs += [(k, d.code) for k in d.keywords]
    return [(normalize(k), c) for k, c in pairs if k]


def blend(model_top: Sequence[tuple[str, float, list[str]]], text: str, *, k: int = 3,
          departments: Iterable[Department] | None = None,
          responsibility: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
          address: str | None = None, jurisdiction: Mapping[str, str] | None = None,
          history_prior: Mapping[str, float] | None = None,
          weights: BlendWeights = BlendWeights(), place: str | None = None) -> list[Recommendation]:
    """model_top: (label, probability, key terms) for the model's labels (all or its top-n).
    place: the standard address behind `address`, shown in the 属地 reason.

    Model labels are matched to departments by code, then by name; unmatched labels stand for
    themselves (code = name = label), which is what a model trained on department names gives.
    """
    departments = list(departments or ())
    index = _dept_index(departments)

    def dept(label: str) -> Department:
        return index.get(label) or Department(label, label)

    signals: dict[str, dict[str, float]] = {}  # signal -> {dept code: share}
    why: dict[str, list[str]] = {}

    model_dist: dict[str, float] = {}
    for label, p, terms in model_top:
        code = dept(label).code
        model_dist[code] = model_dist.get(code, 0.0) + p
        if terms:
            why.setdefault(code, []).append("关键词: " + ", ".join(terms))
    signals["model"] = model_dist

    norm_text = normalize(text)
    hits: dict[str, list[str]] = {}
    for kw, code in _responsibility_pairs(responsibility, departments):
        if kw in norm_text:
            hits.setdefault(code, []).append(kw)
    if hits:
        total = sum(len(v) for v in hits.values())
        signals["keywords"] = {c: len(v) / total for c, v in hits.items()}
        for c, v in hits.items():
            why.setdefault(c, []).append("权责清单: " + ", ".join(dict.fromkeys(v)))

    if jurisdiction:
        where = normalize(address if address else text)
        found = {code: street for street, code in jurisdiction.items() if street and normalize(street) in where}
        if found:
            signals["jurisdiction"] = {c: 1 / len(found) for c in found}
            for c, street in found.items():
                why.setdefault(c, []).append(f"属地: {street}" + (f"（标准地址 {place}）" if place else ""))

    if history_prior:
        tot = sum(v for v in history_prior.values() if v > 0)
        if tot > 0:
            signals["history"] = {c: v / tot for c, v in history_prior.items() if v > 0}

    w = {"model": weights.model, "keywords": weights.keywords,
         "jurisdiction": weights.jurisdiction, "history": weights.history}
    wsum = sum(w[s] for s in signals) or 1.0
    score: dict[str, float] = {}
    share: dict[str, dict[str, float]] = {}
    for s, dist in signals.items():
        for c, v in dist.items():
            part = w[s] / wsum * v
            score[c] = score.get(c, 0.0) + part
            share.setdefault(c, {})[s] = round(part, 4)

    ranked = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    out = []
    for r, (code, p) in enumerate(ranked, 1):
        d = index.get(code) or Department(code, code)
        clauses = list(why.get(code, []))
        if "model" in share.get(code, {}):
            clauses.insert(0, f"模型概率 {model_dist.get(code, 0.0):.2f}")
        if "history" in share.get(code, {}):
            clauses.append(f"历史占比 {signals['history'][code]:.0%}")
        out.append(Recommendation(r, d.code, d.name, float(p), "；".join(clauses) or "无明显依据",
                                  share.get(code, {})))
    return out
