"""Application intake for 秒批 from the platform's own flow: an enterprise that was pushed a
policy it is eligible for applies for it. In production applications arrive from the
enterprise service portal; on generated data a seeded share of eligible matches apply."""

from __future__ import annotations

import datetime as dt
import hashlib

from govlake.policy.approval import APPLICATIONS, load_trees, submit_applications
from govlake.policy.matches import read_matches


def _share(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def applications_from_matches(lake, as_of: dt.date, *, share: float = 0.3,
                              amount_wan: float = 50.0) -> list[dict]:
    """Deterministic: the same matches and date give the same applications (ids included).
    The matches are the current release's (read_matches: govlake.release), never a half-published run."""
    trees = load_trees(lake.settings.catalog_dir)
    rows = read_matches(lake, eligible=True, policy_ids=list(trees))["rows"]
    apps = []
    for pid, uscc in sorted({(r["policy_id"], r["uscc"]) for r in rows}):
        app_id = f"APP-{as_of:%Y%m%d}-{pid}-{uscc}"
        if _share(app_id) < share:
            # Some ask for more than the standard allows: those must go to a person.
            amount = amount_wan * (4 if _share(app_id + "#amount") < 0.1 else 1)
            apps.append({"application_id": app_id, "uscc": uscc, "policy_id": pid,
                         "requested_amount_wan": amount,
                         "submitted_at": dt.datetime.combine(as_of, dt.time(10, 0))})
    return apps


def submit_from_matches(lake, as_of: dt.date, **kw):
    """Submit the day's applications once (the batch's app id makes a re-run commit nothing)."""
    apps = applications_from_matches(lake, as_of, **kw)
    if apps:
        return submit_applications(lake, apps)
    return None


__all__ = ["APPLICATIONS", "applications_from_matches", "submit_from_matches"]
