"""Benchmark: many policies x many enterprises (batch), one new policy, one enterprise online.

Timed: match_all_s = match_policies() for all policies end to end (read the profile snapshot,
evaluate, write and commit the keys and outcome tables of gold.policy_matches; match_all_cpu_s
= CPU seconds of the whole process tree meanwhile); match_one_new_s = the same for one new
policy (partition replace); online = evaluate_enterprise() per uscc from an in-memory snapshot
(wall and CPU time). Not timed: generating and writing the synthetic profile (profile_write_s).
The machine is shared: every figure comes with the 1-minute load average when it was taken.

The 342 bench policies are SYNTHETIC: parameter variations (numeric thresholds scaled by
0.7-1.3, seeded) of the real catalog policies, with ids <policy>_syn<k>. The profile is the
synthetic core-field profile from govlake.policy.synth (the real 1,500-field profile is not needed:
matching reads only the ~45 fields the policies use).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from govlake.catalog.policies import Policy, load_policies, parse_policy
from govlake.settings import Settings, get_settings

AS_OF = dt.date(2026, 5, 10)


def _vary(v, rng: random.Random):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    return round(v * rng.uniform(0.7, 1.3), 4)


def _vary_param(v, rng):
    if isinstance(v, list) and v and all(isinstance(e, dict) and "from" in e for e in v):
        return [{"from": e["from"], "value": _vary_param(e["value"], rng)} for e in v]
    if isinstance(v, list):
        vals = [_vary(x, rng) for x in v]
        return sorted(vals) if all(isinstance(x, (int, float)) for x in v) and v == sorted(v) else vals
    return _vary(v, rng)


def synthetic_policies(real: list[Policy], n: int, seed: int = 1) -> list[Policy]:
    """n policies by varying the parameters of the real ones (documented as synthetic)."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        base = real[k % len(real)]
        raw = dict(base.raw)
        raw["policy_id"] = f"{base.policy_id}_syn{k:03d}"
        raw["kind"] = "synthetic"
        raw["params"] = {name: _vary_param(v, rng) for name, v in (base.raw.get("params") or {}).items()}
        out.append(parse_policy(raw))
    return out


def bench_policy(n_enterprises: int, n_policies: int = 342, *, spark=None, settings: Settings | None = None,
                 online_samples: int = 1000, seed: int = 7) -> dict:
    """Run the three measurements; returns the figures (seconds unless named otherwise)."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.compile import compile_policies
    from govlake.policy.evaluate import ProfileSnapshot, evaluate_enterprise
    from govlake.policy.fields import core_fields, field_catalog
    from govlake.cpu import tree_cpu_seconds
    from govlake.policy.match import OUTCOMES, PROFILE, match_policies
    from govlake.policy.matches import read_matches
    from govlake.policy.synth import synthetic_profile_sql
    from govlake.spark import get_spark

    base_settings = settings or get_settings()
    tmp = Path(tempfile.mkdtemp(prefix="govlake-policy-bench-"))
    s = base_settings.model_copy(update={"lake_root": tmp})
    spark = spark or get_spark(s, app_name="govlake-policy-bench")
    lake = Lakehouse(spark, s)
    full = field_catalog(s.catalog_dir)
    fields = {k: full.get(k, v) for k, v in core_fields(s.catalog_dir).items()}
    real = load_policies(s.catalog_dir, {k: v.type for k, v in fields.items()})
    pols = synthetic_policies(real, n_policies, seed=seed)
    figures: dict = {"n_enterprises": n_enterprises, "n_policies": n_policies,
                     "spark_master": s.spark_master, "driver_memory": s.spark_driver_memory}

    t = time.perf_counter()
    lake.write(synthetic_profile_sql(spark, fields, n_enterprises, seed=seed), PROFILE)
    figures["profile_write_s"] = round(time.perf_counter() - t, 2)

    figures["load_avg_1m_before_match_all"] = os.getloadavg()[0]
    t, cpu0 = time.perf_counter(), tree_cpu_seconds(include_self=True)
    c = match_policies(spark, lake, AS_OF, policies=pols, fields=fields)
    figures["match_all_s"] = round(time.perf_counter() - t, 2)
    figures["match_all_cpu_s"] = round(tree_cpu_seconds(include_self=True) - cpu0, 1)
    figures["load_avg_1m_after_match_all"] = os.getloadavg()[0]
    figures["match_all_phases_s"] = c.seconds
    figures["match_key_rows_written"] = c.rows_written
    figures["pairs_evaluated"] = c.pairs_evaluated
    figures["pairs_kept"] = c.pairs_kept
    figures["pairs_eligible"] = c.eligible
    figures["pairs_per_s"] = round(c.pairs_evaluated / figures["match_all_s"])

    new = synthetic_policies(real, 1, seed=seed + 99)[0]
    new = parse_policy({**new.raw, "policy_id": "bench_new_policy"})
    figures["load_avg_1m_before_match_one"] = os.getloadavg()[0]
    t = time.perf_counter()
    c1 = match_policies(spark, lake, AS_OF, policies=[new], fields=fields)
    figures["match_one_new_s"] = round(time.perf_counter() - t, 2)
    figures["match_one_new_pairs_kept"] = c1.pairs_kept
    figures["match_one_new_phases_s"] = c1.seconds

    # Reading one enterprise's wide rows through the view (what the API and push do).
    rng = random.Random(seed + 1)
    read_lat = []
    for u in [f"91440306{rng.randrange(n_enterprises):010d}" for _ in range(20)]:
        t = time.perf_counter()
        read_matches(lake, uscc=u)
        read_lat.append((time.perf_counter() - t) * 1000)
    read_lat.sort()
    figures["view_read_one_enterprise_p50_ms"] = round(statistics.median(read_lat), 1)
    figures["view_read_one_enterprise_max_ms"] = round(read_lat[-1], 1)

    cps = compile_policies(pols, AS_OF, fields)
    t = time.perf_counter()
    snap = ProfileSnapshot.from_lake(lake, sorted({f for cp in cps for f in cp.fields_read}))
    figures["online_snapshot_load_s"] = round(time.perf_counter() - t, 2)
    rng = random.Random(seed)
    ids = [f"91440306{rng.randrange(n_enterprises):010d}" for _ in range(online_samples)]
    gc.collect()
    gc.freeze()  # a server does this after loading its snapshot: the GC then never rescans it
    figures["load_avg_1m_online"] = os.getloadavg()[0]
    lat, cpu = [], []
    for u in ids:
        t, c = time.perf_counter(), time.process_time()
        evaluate_enterprise(u, cps, snapshot=snap)
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    gc.unfreeze()
    for name, xs in (("online", lat), ("online_cpu", cpu)):
        xs.sort()
        figures[f"{name}_p50_ms"] = round(statistics.median(xs), 2)
        figures[f"{name}_p99_ms"] = round(xs[max(0, int(len(xs) * 0.99) - 1)], 2)
    figures["outcomes_table_version"] = lake.version(OUTCOMES)
    figures["lake"] = str(tmp)
    return figures


SANDBOX_DRAFT = "baoan_little_giant_reward.yaml"  # catalog/policies/drafts/: formula, ranking, 5 parameters


def bench_sandbox(n_enterprises: int, *, points: int = 20, spark=None, settings: Settings | None = None,
                  seed: int = 7) -> dict:
    """The policy sandbox (政策沙盘推演) over n synthetic enterprises: one draft (read the released
    profile through delta-rs, reach, cost against a budget, diff, overlap with the policies in
    force; no curves), then the same with a `points`-point curve for every numeric parameter.
    Not timed: writing the synthetic profile. Spark only writes it; the sandbox runs without it."""
    from pyspark.sql import functions as F

    from govlake.cpu import tree_cpu_seconds
    from govlake.lakehouse import Lakehouse
    from govlake.policy.fields import core_fields, field_catalog
    from govlake.policy.match import PROFILE
    from govlake.policy.sandbox import load_draft, run_sandbox
    from govlake.policy.synth import synthetic_profile_sql
    from govlake.spark import get_spark

    base_settings = settings or get_settings()
    tmp = Path(tempfile.mkdtemp(prefix="govlake-sandbox-bench-"))
    s = base_settings.model_copy(update={"lake_root": tmp})
    spark = spark or get_spark(s, app_name="govlake-sandbox-bench")
    lake = Lakehouse(spark, s)
    full = field_catalog(s.catalog_dir)
    fields = {k: full.get(k, v) for k, v in core_fields(s.catalog_dir).items()}
    streets = [f"4403060{c}" for c in range(17, 27)]  # Bao'an's ten streets, for the breakdown
    t = time.perf_counter()
    profile = synthetic_profile_sql(spark, fields, n_enterprises, seed=seed).withColumn(
        "street_code", F.element_at(F.array(*[F.lit(c) for c in streets]),
                                    (F.floor(F.rand(seed) * len(streets)) + 1).cast("int")))
    lake.write(profile, PROFILE)
    figures: dict = {"n_enterprises": n_enterprises, "profile_write_s": round(time.perf_counter() - t, 2),
                     "draft": SANDBOX_DRAFT}
    draft = load_draft(s.catalog_dir / "policies" / "drafts" / SANDBOX_DRAFT, s.catalog_dir, fields)
    gc.collect()
    for name, pts in (("one_draft", 0), (f"curves_{points}", points)):
        figures[f"load_avg_1m_before_{name}"] = os.getloadavg()[0]
        t, cpu0 = time.perf_counter(), tree_cpu_seconds(include_self=True)
        r = run_sandbox(draft, s, lake=Lakehouse(None, s), fields=fields, as_of=AS_OF, budget_wan=20_000, points=pts)
        figures[f"{name}_s"] = round(time.perf_counter() - t, 2)
        figures[f"{name}_cpu_s"] = round(tree_cpu_seconds(include_self=True) - cpu0, 1)
        figures[f"{name}_phases_s"] = r.seconds
    curves = [c for c in r.sensitivity if c.points]
    figures.update(eligible=r.eligible, near_miss=r.near_miss, total_wan=r.cost.total_wan, funded=r.cost.funded,
                   overlap_any=r.overlap_any, policies_in_force=len(r.overlap), curves=len(curves),
                   points_per_curve=[len(c.points) for c in curves],
                   seconds_per_curve=round(r.seconds["sensitivity"] / max(len(curves), 1), 2), lake=str(tmp))
    return figures


if __name__ == "__main__":  # python -m govlake.policy.bench 100000 | python -m govlake.policy.bench sandbox 900000
    import json
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "sandbox":
        print(json.dumps(bench_sandbox(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000), indent=1))
        sys.exit(0)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(json.dumps(bench_policy(n, int(sys.argv[2]) if len(sys.argv) > 2 else 342), indent=1))
