"""主协办 (lead and assisting departments) of a dispatch: one department leads (主办, 首办负责),
others assist (协办) where the 权责清单 says several departments share the matter or the text
touches another department's responsibilities.

Rules, in this order, capped at `max_assisting` (catalog/dispatch.yaml `co_handling`):
  1. shared matters (共管事项): a responsibility in catalog/departments.yaml with `shared_with`
     (department codes, or `属地街道` for the street office of the ticket's standard address).
     When its keywords occur in the text and the lead is one of the matter's departments, the
     others assist.
  2. the text: a recommended department (not the lead) whose own 权责清单 keywords occur in the
     text and whose blended probability is at least `min_probability`.
Assisting departments are always among the k recommended rows: one found outside the top k takes
the place of the lowest plain candidate (备选), so the dispatch table keeps k rows per ticket and
the online route shows the roles on its departments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from govlake.petitions.dispatch import Recommendation
from govlake.petitions.text import normalize

STREET_OFFICE = "属地街道"  # token in `shared_with`: the street office of the ticket's address
ROLE_LABELS = {"lead": "主办", "assist": "协办", "candidate": "备选"}


@dataclass(frozen=True)
class SharedMatter:
    """A 权责清单 matter several departments share (共管事项)."""

    matter: str
    owner: str                       # the department whose responsibility lists it
    keywords: tuple[str, ...]
    shared_with: tuple[str, ...]     # department codes or STREET_OFFICE


@dataclass(frozen=True)
class CoHandling:
    """catalog/dispatch.yaml `co_handling` plus the shared matters of catalog/departments.yaml."""

    shared_matters: tuple[SharedMatter, ...] = ()
    max_assisting: int = 2
    min_probability: float = 0.1
    names: dict | None = None        # dept code -> name, for assisting departments outside the ranking


def _with_role(r: Recommendation, rank: int, role: str, why: str) -> Recommendation:
    return dataclasses.replace(r, rank=rank, role=role, role_label=ROLE_LABELS[role], role_reason=why)


def assign_roles(ranked: Sequence[Recommendation], text: str, k: int, co: CoHandling | None,
                 street_office: str | None = None, exclude: frozenset[str] = frozenset()) -> list[Recommendation]:
    """ranked: the blend's recommendations, best first (more than k when co-handling may promote
    one), without the excluded departments. exclude: departments never given a role (those that
    returned the ticket). -> k recommendations with role (lead / assist / candidate), role_label
    and role_reason."""
    if not ranked:
        return []
    lead = ranked[0]
    co = co or CoHandling(max_assisting=0)
    cap = max(0, min(co.max_assisting, k - 1))
    by_code = {r.dept_code: r for r in ranked}
    assisting: dict[str, str] = {}
    lead_why = "综合得分最高，首办负责"
    norm = normalize(text)
    for m in co.shared_matters:
        hits = [kw for kw in m.keywords if normalize(kw) in norm]
        if not hits:
            continue
        members = [m.owner] + [street_office if c == STREET_OFFICE else c for c in m.shared_with]
        members = [c for c in dict.fromkeys(members) if c and c not in exclude]
        if lead.dept_code not in members:
            continue
        lead_why = f"共管事项「{m.matter}」牵头（权责清单: {', '.join(hits)}）"
        for c in members:
            if c != lead.dept_code and c not in assisting:
                where = "属地街道" if c == street_office and STREET_OFFICE in m.shared_with else "权责清单共管"
                assisting[c] = f"共管事项「{m.matter}」{where}协办（{', '.join(hits)}）"
    for r in ranked[1:]:
        if r.dept_code in assisting or r.dept_code == lead.dept_code:
            continue
        if "keywords" in r.signals and r.probability >= co.min_probability:
            own = next((c for c in r.reason.split("；") if c.startswith("权责清单")), "权责清单")
            assisting[r.dept_code] = f"诉求同时涉及其职责（{own}）"
    chosen = list(assisting.items())[:cap]

    out = [_with_role(lead, 1, "lead", lead_why)]
    helpers = []
    for code, why in chosen:
        r = by_code.get(code) or Recommendation(0, code, (co.names or {}).get(code, code), 0.0, why, {})
        helpers.append((r, why))
    helper_codes = {r.dept_code for r, _ in helpers}
    rest = [r for r in ranked[1:] if r.dept_code not in helper_codes][:max(0, k - 1 - len(helpers))]
    tail = sorted([(r, "assist", why) for r, why in helpers] + [(r, "candidate", "") for r in rest],
                  key=lambda e: (-e[0].probability, e[0].dept_code))
    for i, (r, role, why) in enumerate(tail, 2):
        out.append(_with_role(r, i, role, why or "备选承办部门"))
    return out
