"""一企一档: one file per enterprise: its profile headline fields, tags, policies matched and
approvals received, its 诉求直达 requests, 挂点 officials and visits, and any relocation warning."""

from __future__ import annotations

import datetime as dt
import math

from govlake.lakehouse import Lakehouse
from govlake.release import version_of
from govlake.services import key_enterprises as ke
from govlake.catalog.work_calendar import load_work_calendar
from govlake.services.request_handling import live_requests, view
from govlake.services.request_intake import TZ_OFFSET
from govlake.services.relocation import WARNINGS

HEADLINE = ["uscc", "ent_name", "reg_status", "reg_date", "industry_code", "street_code", "reg_address", "legal_rep",
            "contact_phone", "reg_capital_wan", "revenue_y1_wan", "total_tax_y1_wan", "insured_headcount_y1",
            "is_above_scale_y1", "relocation_risk_score"]
TAGS, DECISIONS = "gold.enterprise_tags", "ops.approval_decisions"
MASK = "***"


def _plain(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v


def _rows(lake: Lakehouse, table: str, uscc: str, columns: list[str] | None = None, col: str = "uscc") -> list[dict]:
    if not lake.exists(table):
        return []
    v = version_of(lake, table)  # the released version (govlake.release)
    have = lake.arrow_schema(table, v).names
    cols = [c for c in (columns or have) if c in have]
    return [{k: _plain(x) for k, x in r.items()}
            for r in lake.to_arrow(table, version=v, columns=cols, where={col: uscc}).to_pylist()]


def profile_headline(lake: Lakehouse, uscc: str) -> dict:
    """The headline fields the profile has for uscc; KeyError if the profile has no such enterprise."""
    have = set(lake.arrow_schema(ke.PROFILE).names) if lake.exists(ke.PROFILE) else set()
    rows = _rows(lake, ke.PROFILE, uscc, [c for c in HEADLINE if c in have])
    if not rows:
        raise KeyError(f"no enterprise {uscc} in {ke.PROFILE} (企业画像中无此企业)")
    return rows[0]


def enterprise_file(lake: Lakehouse, uscc: str, *, masked: frozenset[str] = frozenset(),
                    hidden_fields: frozenset[str] = frozenset(), today: dt.date | None = None) -> dict:
    """The enterprise's file. masked: profile columns served as *** (the reader's grant, see
    govlake.access.levels.masked_columns); hidden_fields: profile fields kept out of the policy
    match explanations."""
    from govlake.policy.matches import read_matches

    profile = {k: (MASK if k in masked and v is not None else v) for k, v in profile_headline(lake, uscc).items()}
    tags = _rows(lake, TAGS, uscc, ["tag_id", "tag_name"])
    matches = read_matches(lake, uscc=uscc, hidden_fields=hidden_fields)["rows"]
    approvals = _rows(lake, DECISIONS, uscc, ["decision_id", "policy_id", "outcome", "outcome_zh",
                                              "amount_approved_wan", "as_of"])
    # in their current state, each with its events (submission, the unit's actions, the evaluation)
    day, cal = today or dt.datetime.now(TZ_OFFSET).date(), load_work_calendar(lake.settings.catalog_dir)
    requests = sorted((view(r, day, cal) for r in live_requests(lake, uscc=uscc)),
                      key=lambda r: (r["submitted_on"], r["request_id"]), reverse=True)
    key = _rows(lake, ke.KEY, uscc, ["rank", "rule_reason", "leader_id", "specialist_id"])
    visits = sorted(_rows(lake, ke.VISITS, uscc, ["visit_date", "official_id", "topic"]),
                    key=lambda r: r["visit_date"], reverse=True)
    warning = _rows(lake, WARNINGS, uscc, ["official", "risk", "reasons", "as_of"])
    return {
        "uscc": uscc, "profile": profile, "tags": tags,
        "policies": {"matched": [{k: _plain(v) for k, v in m.items()} for m in matches],
                     "received": [a for a in approvals if a.get("outcome") == "approve"],
                     "decisions": approvals},
        "requests": requests, "key_enterprise": key[0] if key else None, "visits": visits,
        "relocation_warning": warning[0] if warning else None,
        "summary": {"标签数 tags": len(tags), "匹配政策 policies_matched": len(matches),
                    "诉求 requests": len(requests), "走访 visits": len(visits)},
    }
