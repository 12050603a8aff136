"""`make bench`: every area's benchmark in one run, figures appended to bench_out/ as JSON and
printed as a Markdown table for docs/benchmarks.md. The machine is small and noisy: compare
ratios measured in the same run (ours vs DuckDB, incremental vs full), not absolute seconds.

Scales come from the environment so the same command runs a quick check or the full targets:
  GOVLAKE_BENCH_ENTERPRISES (default 20000; the targets are stated at 900000)
  GOVLAKE_BENCH_PETITIONS   (default 188000, a year)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from pathlib import Path


def _run(name, fn, *args, **kw) -> dict:
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kw)
        return {"bench": name, "ok": True, "wall_s": round(time.perf_counter() - t0, 1), **out}
    except Exception as e:  # one failing area must not hide the others' figures
        return {"bench": name, "ok": False, "error": f"{type(e).__name__}: {e}"[:500]}


def main() -> None:
    n_ent = int(os.environ.get("GOVLAKE_BENCH_ENTERPRISES", "20000"))
    n_pet = int(os.environ.get("GOVLAKE_BENCH_PETITIONS", "188000"))
    only = set(filter(None, os.environ.get("GOVLAKE_BENCH_ONLY", "").split(",")))
    from govlake.api.bench import bench_api
    from govlake.petitions.bench import bench_dispatch
    from govlake.policy.bench import bench_policy, bench_sandbox
    from govlake.profile.bench import bench_profile
    from govlake.signals.bench import bench_signals

    plan = [
        ("profile", bench_profile, (n_ent,), {}),
        ("policy", bench_policy, (n_ent,), {}),
        ("sandbox", bench_sandbox, (n_ent,), {}),
        ("dispatch", bench_dispatch, (), {}),
        ("signals", bench_signals, (n_pet,), {}),
        ("api", bench_api, (n_ent,), {}),
    ]
    results = []
    for name, fn, args, kw in plan:
        if only and name not in only:
            continue
        print(f"==> {name}", flush=True)
        r = _run(name, fn, *args, **kw)
        print(json.dumps(r, ensure_ascii=False, default=str), flush=True)
        results.append(r)
    out = Path("bench_out")
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    record = {"at": stamp, "machine": f"{platform.node()} {os.cpu_count()} cores",
              "load_avg_start": os.getloadavg(), "enterprises": n_ent, "petitions": n_pet, "results": results}
    (out / f"bench-{stamp}.json").write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
    print(f"\nwrote bench_out/bench-{stamp}.json")


if __name__ == "__main__":
    main()
