"""Application intake for 秒批 from the platform's own flow: an enterprise that was sent a policy
by push (ops.push_outbox, so it was eligible when matched) applies for the amount the policy's
funding standard gives it.

In production the enterprise service portal records each application and its submission time.
On generated data this module makes them, deterministically (seeded hashes, no clock):
- a `share` of the pushed (policy, enterprise) pairs apply, for the standard evaluated on the
  enterprise's released profile (funding.cap_wan); an `over_share` of those ask more (x1.5,
  rounded up to whole 万元), which the checks route to a person;
- submitted `minutes` after the first message was sent: log-normal, median MEDIAN_MINUTES;
- per policy, a `walk_in_share` (of its pushed applicants) of enterprises that were not pushed and
  fail a condition apply anyway on the as_of day, asking the median of the pushed applications;
  the checks reject them with the failed conditions.
Their channel is `generated`, so the timeline marks the submission time as modelled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import statistics

from govlake.catalog.policies import load_policies
from govlake.policy.approval import (
    APPLICATIONS, GENERATED, VersionedReader, first_push, funding_standard_wan, load_trees, submit_applications,
)
from govlake.policy.compile import CompiledPolicy
from govlake.policy.fields import field_catalog

MEDIAN_MINUTES, SIGMA = 9.0, 0.9  # push -> submission, log-normal
_NORMAL = statistics.NormalDist()


def _share(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def submit_minutes(key: str) -> float:
    """Minutes from the push message to the submission: log-normal, 1 minute to 2 days."""
    u = min(max(_share(key + "#minutes"), 1e-6), 1 - 1e-6)
    return round(min(max(MEDIAN_MINUTES * math.exp(SIGMA * _NORMAL.inv_cdf(u)), 1.0), 2880.0), 2)


def applications_from_push(lake, as_of: dt.date, *, share: float = 0.3, over_share: float = 0.08,
                           walk_in_share: float = 0.05) -> list[dict]:
    """Deterministic: the same outbox, profile and date give the same applications (ids included)."""
    s = lake.settings
    fields = field_catalog(s.catalog_dir)
    types = {k: v.type for k, v in fields.items()}
    trees = load_trees(s.catalog_dir)
    policies = {p.policy_id: p for p in load_policies(s.catalog_dir, types) if p.policy_id in trees}
    reader = VersionedReader(lake)
    if reader.table("gold.enterprise_profile") is None:
        return []
    seed = s.seed
    apps, pushed_by_policy = [], {}
    for (pid, uscc), msgs in sorted(first_push(lake).items()):
        policy = policies.get(pid)
        if policy is None:
            continue
        pushed_by_policy.setdefault(pid, set()).add(uscc)
        sent, _, version = msgs[0]
        key = f"{seed}|{pid}|{version}|{uscc}"
        if _share(key) >= share:
            continue
        row = reader.profile_row(uscc)
        if row is None:
            continue
        cap = funding_standard_wan(policy, row, as_of, types)
        if cap is None or cap <= 0:  # nothing to ask for
            continue
        amount = float(cap)
        if _share(key + "#amount") < over_share:
            amount = float(max(math.ceil(cap * 1.5), math.floor(cap) + 1))
        apps.append({"application_id": f"APP-{sent:%Y%m%d}-{pid}-v{version}-{uscc}", "uscc": uscc, "policy_id": pid,
                     "requested_amount_wan": amount, "channel": GENERATED,
                     "submitted_at": sent + dt.timedelta(minutes=submit_minutes(key))})
    for pid, policy in sorted(policies.items()):
        asked = [a["requested_amount_wan"] for a in apps if a["policy_id"] == pid]
        want = round(walk_in_share * len(asked))
        if not want:
            continue
        pushed = pushed_by_policy.get(pid, set())
        cp = CompiledPolicy(policy, as_of, fields)
        ranked = sorted((u for u in reader.usccs() if u not in pushed),
                        key=lambda u: hashlib.sha256(f"{seed}|{as_of}|{pid}|{u}|walk_in".encode()).digest())
        found = 0
        for uscc in ranked:
            row = reader.profile_row(uscc)
            if not any(c.fn(row, frozenset()) is False for c in cp.clauses):
                continue  # only enterprises that fail a condition walk in here
            found += 1
            key = f"{seed}|{as_of}|{pid}|{uscc}|walk_in"
            apps.append({"application_id": f"APP-{as_of:%Y%m%d}-{pid}-W-{uscc}", "uscc": uscc, "policy_id": pid,
                         "requested_amount_wan": float(statistics.median(asked)), "channel": GENERATED,
                         "submitted_at": dt.datetime.combine(as_of, dt.time(9, 0))
                         + dt.timedelta(minutes=round(_share(key) * 480))})
            if found == want:
                break
    return apps


def submit_from_push(lake, as_of: dt.date, **kw):
    """Submit the applications not yet submitted (a re-run commits nothing)."""
    return submit_applications(lake, applications_from_push(lake, as_of, **kw))


__all__ = ["APPLICATIONS", "applications_from_push", "submit_from_push"]
