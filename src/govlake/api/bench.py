"""Keyed-read benchmark of the API (`make bench`, area `api`): GET /enterprises/{uscc}/profile over
a released profile of n synthetic enterprises (govlake.policy.synth, written by Spark as the
policy benchmark does; not timed), served by uvicorn in a subprocess over loopback, read by
`clients` concurrent clients (threads, one keep-alive httpx connection each, random keys).

The same run serves the app as deployed (API key, grant, daily cap, hash-chained audit row) and
the same app without its audit middleware, in alternating blocks, so the audit's share of the
latency is measured under the same load. Also: one client alone (the service time without
queueing). Figures in milliseconds.

    .venv/bin/python -m govlake.api.bench 900000 [clients]
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

AUDIT_ENV = "GOVLAKE_BENCH_API_AUDIT"
CONSUMER = "kcj_policy_portal"


def served_app():
    """The app uvicorn serves (factory): as deployed, or without the audit middleware when
    GOVLAKE_BENCH_API_AUDIT=0 (the benchmark's reference only)."""
    from govlake.api.app import create_app
    from govlake.api.audit_middleware import AuditMiddleware

    app = create_app()
    if os.environ.get(AUDIT_ENV, "1") == "0":
        app.user_middleware = [m for m in app.user_middleware if m.cls is not AuditMiddleware]
    return app


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000, 2) if xs else float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_profile(settings, n: int, seed: int) -> float:
    from govlake.lakehouse import Lakehouse
    from govlake.policy.fields import core_fields, field_catalog
    from govlake.policy.synth import synthetic_profile_sql
    from govlake.spark import get_spark

    spark = get_spark(settings, app_name="govlake-api-bench")
    full = field_catalog(settings.catalog_dir)
    fields = {k: full.get(k, v) for k, v in core_fields(settings.catalog_dir).items()}
    t = time.perf_counter()
    Lakehouse(spark, settings).write(synthetic_profile_sql(spark, fields, n, seed=seed), "gold.enterprise_profile")
    took = time.perf_counter() - t
    spark.stop()  # the reads run without Spark, as served
    return took


def _key(settings) -> str:
    """An API key of a consumer granted the profile with a cap above the benchmark's reads."""
    from govlake import access
    from govlake.access.grants import MAX_DAILY_ROWS
    from govlake.products import get_product

    store = access.open_store(settings)
    if access.get_account(store, "bench_admin") is None:
        access.create_account(store, "bench_admin", None, "admin")
    owner_dept = get_product("gold.enterprise_profile", settings).owner
    access.create_account(store, "bench_owner", None, "owner", owner_dept)
    for g in access.list_grants(store, consumer=CONSUMER, product="gold.enterprise_profile"):
        access.revoke_grant(store, g.id, by="bench_admin", reason="benchmark")
    a = access.apply(store, CONSUMER, "gold.enterprise_profile", "基准测试：接口键值读取", by="bench_admin",
                     daily_rows=MAX_DAILY_ROWS)
    access.approve(store, a.id, by="bench_owner")
    token = access.issue_key(store, CONSUMER, by="bench_admin").token
    store.close()
    return token


def _serve(settings, audit: bool) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GOVLAKE_LAKE_ROOT": str(settings.lake_root), AUDIT_ENV: "1" if audit else "0",
           "GOVLAKE_LINEAGE_FILE": str(settings.lineage_path)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", f"govlake.api.bench:{served_app.__name__}",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--no-access-log"], env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start")


def _load(url: str, token: str, usccs: list[str], clients: int, per_client: int, seed: int) -> dict:
    """`clients` threads, each a keep-alive connection doing per_client keyed reads back to back."""
    import httpx

    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        mine, bad = [], []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
            c.get(f"/enterprises/{rng.choice(usccs)}/profile")  # connect before the clock starts
            start.wait()
            for _ in range(per_client):
                t = time.perf_counter()
                r = c.get(f"/enterprises/{rng.choice(usccs)}/profile")
                mine.append(time.perf_counter() - t)
                if r.status_code != 200:
                    bad.append(f"{r.status_code} {r.text[:200]}")
        with lock:
            lat.extend(mine)
            errors.extend(bad)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} reads failed, e.g. {errors[0]}")
    return {"lat": lat, "wall": wall}


def bench_api(n_enterprises: int, clients: int = 50, *, per_client: int = 40, rounds: int = 2,
              settings=None, seed: int = 7) -> dict:
    from govlake.settings import get_settings

    base = settings or get_settings()
    tmp = Path(tempfile.mkdtemp(prefix="govlake-api-bench-"))
    s = base.model_copy(update={"lake_root": tmp, "lineage_file": tmp / "lineage.jsonl"})
    figures: dict = {"n_enterprises": n_enterprises, "clients": clients,
                     "profile_write_s": round(_write_profile(s, n_enterprises, seed), 1)}
    token = _key(s)
    rng = random.Random(seed)
    usccs = [f"91440306{i:010d}" for i in rng.sample(range(n_enterprises), min(n_enterprises, 20_000))]
    got: dict[str, list[float]] = {"audited": [], "unaudited": []}
    walls: dict[str, float] = {"audited": 0.0, "unaudited": 0.0}
    servers = {name: _serve(s, name == "audited") for name in got}
    try:
        for name, (_, url) in servers.items():  # warm: the snapshot in memory, caches
            _load(url, token, usccs, 4, 10, seed)
        one = _load(servers["audited"][1], token, usccs, 1, 200, seed + 1)
        figures.update(single_client_p50_ms=_pct(one["lat"], 50), single_client_p99_ms=_pct(one["lat"], 99))
        figures["load_avg_1m_before"] = os.getloadavg()[0]
        for r in range(rounds):
            for name in (("audited", "unaudited") if r % 2 == 0 else ("unaudited", "audited")):
                out = _load(servers[name][1], token, usccs, clients, per_client, seed + 10 + r)
                got[name] += out["lat"]
                walls[name] += out["wall"]
        figures["load_avg_1m_after"] = os.getloadavg()[0]
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    for name, xs in got.items():
        figures[f"{name}_reads"] = len(xs)
        figures[f"{name}_p50_ms"] = _pct(xs, 50)
        figures[f"{name}_p99_ms"] = _pct(xs, 99)
        figures[f"{name}_reads_per_s"] = round(len(xs) / walls[name], 1)
    figures["audit_added_p99_ms"] = round(figures["audited_p99_ms"] - figures["unaudited_p99_ms"], 2)
    figures["audit_added_p50_ms"] = round(figures["audited_p50_ms"] - figures["unaudited_p50_ms"], 2)
    figures["target_p99_ms"], figures["target_met"] = 20, figures["audited_p99_ms"] < 20
    shutil.rmtree(tmp, ignore_errors=True)
    return figures


if __name__ == "__main__":
    import json

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(json.dumps(bench_api(n, int(sys.argv[2]) if len(sys.argv) > 2 else 50), indent=1))
