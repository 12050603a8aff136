"""Keyed-read benchmark of the API (`make bench`, area `api`): GET /enterprises/{uscc}/profile over
a released profile of n synthetic enterprises (govlake.policy.synth, written by Spark as the
policy benchmark does; not timed), served by uvicorn (`--workers N` processes) in a subprocess
over loopback, read by `clients` concurrent clients (one asyncio process, one keep-alive
connection each, random keys), two ways:
  closed loop  each client sends its next read when the answer arrives (no think time): the
               latency is clients / throughput, a measure of throughput more than of a read;
  open loop    each client on its own Poisson schedule, `rate` reads/s offered in total, latency
               counted from when a read was due (the definition the target is held to, DEFINITION).

The same run serves the app as deployed (API key, grant, rate bucket, daily cap, hash-chained
audit row, reader run) and the same app without its audit middleware, in interleaved blocks, so
the audit's share of the latency is measured under the same load. On a shared machine one block's
tail can move by more than the audit costs, so the open loop runs several pairs of short blocks
(audited, unaudited, then the other order) and reports each arm's median block p99 and the median
of the pairs' differences, each block's figure beside it (`summary`: the line for
docs/benchmarks.md). Also: one client alone (the service time without queueing). Figures in
milliseconds.

    .venv/bin/python -m govlake.api.bench 900000 [clients] [--workers 2] [--rate 200] [--pairs 6] [--block-s 6]
"""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AUDIT_ENV = "GOVLAKE_BENCH_API_AUDIT"
WORKER_HEALTHCHECK_S = 120   # as `govlake api serve --workers` (govlake.api.cli)
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
    from govlake.access import rate_limits
    from govlake.access.grants import MAX_DAILY_ROWS
    from govlake.products import get_product

    store = access.open_store(settings)
    if access.get_account(store, "bench_admin") is None:
        access.create_account(store, "bench_admin", None, "admin")
    owner_dept = get_product("gold.enterprise_profile", settings).owner
    if access.get_account(store, "bench_owner") is None:
        access.create_account(store, "bench_owner", None, "owner", owner_dept)
    for g in access.list_grants(store, consumer=CONSUMER, product="gold.enterprise_profile"):
        access.revoke_grant(store, g.id, by="bench_admin", reason="benchmark")
    # a rate above what the benchmark offers: it measures the reads, not the limiter's refusals
    a = access.apply(store, CONSUMER, "gold.enterprise_profile", "基准测试：接口键值读取", by="bench_admin",
                     daily_rows=MAX_DAILY_ROWS, rate_per_s=rate_limits.MAX_RATE_PER_S, rate_burst=rate_limits.MAX_BURST)
    access.approve(store, a.id, by="bench_owner")
    token = access.issue_key(store, CONSUMER, by="bench_admin").token
    store.close()
    return token


def _serve(settings, audit: bool, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "GOVLAKE_LAKE_ROOT": str(settings.lake_root), AUDIT_ENV: "1" if audit else "0",
           "GOVLAKE_LINEAGE_FILE": str(settings.lineage_path)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", f"govlake.api.bench:{served_app.__name__}",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--no-access-log", "--workers", str(workers),
                             # clients connect, then wait for every other client: keep them open
                             "--timeout-keep-alive", "120",
                             "--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_S)], env=env)
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


# -- load: one asyncio process, one keep-alive connection per client, plain HTTP/1.1 ------------
# (50 client threads with httpx would spend more CPU than the server on this two-core machine)
async def _get(reader, writer, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


def _request(token: str, uscc: str) -> bytes:
    return (f"GET /enterprises/{uscc}/profile HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


def _load(url: str, token: str, usccs: list[str], clients: int, per_client: int, seed: int,
          rate: float | None = None) -> dict:
    """`clients` connections, per_client keyed reads each. rate None: closed loop, each client
    sends its next request when the answer arrives (no think time). rate R: open loop, each client
    sends on its own Poisson schedule at R / clients per second (exponential think times), and a
    read's latency is counted from the time it was due, so a server falling behind is charged
    for the wait (no coordinated omission)."""
    import asyncio

    host, port = url.removeprefix("http://").split(":")
    lat: list[float] = []
    errors: list[str] = []

    async def client(i: int, barrier) -> None:
        rng = random.Random(seed * 1000 + i)
        reader, writer = await asyncio.open_connection(host, int(port))
        await _get(reader, writer, _request(token, rng.choice(usccs)))  # connected and warm before the clock
        await barrier.wait()  # every client connected: start together
        due = time.perf_counter() + (rng.expovariate(rate / clients) if rate else 0)
        for _ in range(per_client):
            if rate:
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
            else:
                due = time.perf_counter()
            status = await _get(reader, writer, _request(token, rng.choice(usccs)))
            lat.append(time.perf_counter() - due)
            if status != 200:
                errors.append(str(status))
            if rate:
                due += rng.expovariate(rate / clients)
        writer.close()

    async def main() -> float:
        barrier = asyncio.Barrier(clients)
        t0 = time.perf_counter()
        await asyncio.gather(*(client(i, barrier) for i in range(clients)))
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    if errors:
        raise RuntimeError(f"{len(errors)} reads failed, e.g. status {errors[0]}")
    return {"lat": lat, "wall": wall}


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children (uvicorn's workers),
    from /proc: what the reads cost the server whatever else the machine runs."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _measured(pids: list[int], *args, **kw) -> dict:
    """One block of load; the server CPU of the block is every server process's (both arms'
    servers and the host's audit fold process, wherever it runs: an idle server is charged to
    both arms alike, the fold to the arm whose reads it folds)."""
    c = sum(server_cpu_s(p) for p in pids)
    out = _load(*args, **kw)
    out["cpu"] = sum(server_cpu_s(p) for p in pids) - c
    return out


def _figures(prefix: str, runs: list[dict]) -> dict:
    xs = [x for r in runs for x in r["lat"]]
    wall = sum(r["wall"] for r in runs)
    cpu = sum(r.get("cpu", 0.0) for r in runs)
    return {f"{prefix}_reads": len(xs), f"{prefix}_p50_ms": _pct(xs, 50), f"{prefix}_p99_ms": _pct(xs, 99),
            f"{prefix}_reads_per_s": round(len(xs) / wall, 1) if wall else None,
            f"{prefix}_server_cpu_ms_per_read": round(cpu / len(xs) * 1000, 3) if xs else None}


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2) if xs else float("nan")


def _blocks(prefix: str, runs: list[dict]) -> dict:
    """An arm's open-loop blocks: each block's p50 and p99, and their medians (the arm's figure:
    one block disturbed by the rest of the machine moves a median little, a pooled p99 much)."""
    p50 = [_pct(r["lat"], 50) for r in runs]
    p99 = [_pct(r["lat"], 99) for r in runs]
    cpu = sum(r["cpu"] for r in runs)
    n = sum(len(r["lat"]) for r in runs)
    return {f"{prefix}_reads": n, f"{prefix}_p50_ms": _median(p50), f"{prefix}_p99_ms": _median(p99),
            f"{prefix}_p99_blocks_ms": p99, f"{prefix}_p99_pooled_ms": _pct([x for r in runs for x in r["lat"]], 99),
            f"{prefix}_server_cpu_ms_per_read": round(cpu / n * 1000, 3) if n else None}


DEFINITION = ("target (issue 31): keyed read GET /enterprises/{{uscc}}/profile, p99 < 20 ms with 50 concurrent "
              "clients over loopback; measured as open loop: {clients} keep-alive clients, each on its own Poisson "
              "schedule, {rate} requests/s offered in total, latency counted from the time a request was due; "
              "audited and unaudited blocks of {block_s} s interleaved ({pairs} pairs, the order alternating), "
              "an arm's p99 the median of its blocks' p99, the audit's share the median of the pairs' differences. "
              "Closed loop ({clients} clients, no think time) is reported beside it: its latency is clients / "
              "throughput whatever a read costs.")


def bench_api(n_enterprises: int, clients: int = 50, *, per_client: int = 40, rounds: int = 2,
              settings=None, seed: int = 7, workers: int | None = None, rate: float | None = None,
              pairs: int | None = None, block_s: float | None = None) -> dict:
    """Closed loop (no think time, `rounds` blocks per arm) and open loop at `rate` requests/s
    (`pairs` pairs of `block_s`-second blocks), audited (as deployed) and without the audit
    middleware, interleaved; the server with `workers` processes."""
    from govlake.settings import get_settings

    workers = workers or int(os.environ.get("GOVLAKE_BENCH_API_WORKERS", "2"))
    rate = rate or float(os.environ.get("GOVLAKE_BENCH_API_RATE", "200"))
    pairs = pairs or int(os.environ.get("GOVLAKE_BENCH_API_PAIRS", "6"))
    block_s = block_s or float(os.environ.get("GOVLAKE_BENCH_API_BLOCK_S", "6"))
    base = settings or get_settings()
    tmp = Path(tempfile.mkdtemp(prefix="govlake-api-bench-"))
    s = base.model_copy(update={"lake_root": tmp, "lineage_file": tmp / "lineage.jsonl"})
    figures: dict = {"n_enterprises": n_enterprises, "clients": clients, "workers": workers,
                     "definition": DEFINITION.format(rate=f"{rate:g}", clients=clients, block_s=f"{block_s:g}",
                                                     pairs=pairs),
                     "open_loop_rate_per_s": rate, "open_loop_pairs": pairs, "open_loop_block_s": block_s,
                     "profile_write_s": round(_write_profile(s, n_enterprises, seed), 1)}
    token = _key(s)
    rng = random.Random(seed)
    usccs = [f"91440306{i:010d}" for i in rng.sample(range(n_enterprises), min(n_enterprises, 20_000))]
    names = ("audited", "unaudited")
    closed: dict[str, list] = {n: [] for n in names}
    opened: dict[str, list] = {n: [] for n in names}
    servers: dict = {}
    try:
        for name in names:  # one after the other: the audited server's workers start the fold process
            servers[name] = _serve(s, name == "audited", workers)
        pids = [proc.pid for proc, _ in servers.values()]
        for name, (_, url) in servers.items():
            # warm: every worker loads the released snapshot on its first keyed read (not timed)
            for _ in range(3):
                _load(url, token, usccs, clients, 4, seed)
        one = _load(servers["audited"][1], token, usccs, 1, 300, seed + 1)
        figures.update(single_client_p50_ms=_pct(one["lat"], 50), single_client_p99_ms=_pct(one["lat"], 99))
        figures["load_avg_1m_before"] = os.getloadavg()[0]
        for r in range(rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                closed[name].append(_measured(pids, servers[name][1], token, usccs, clients, per_client, seed + 10 + r))
        per_block = max(1, math.ceil(rate * block_s / clients))
        for i in range(pairs):
            for name in (names if i % 2 == 0 else names[::-1]):  # A B B A ...: a drift of the machine cancels
                opened[name].append(_measured(pids, servers[name][1], token, usccs, clients, per_block,
                                              seed + 100 + i, rate=rate))
        figures["load_avg_1m_after"] = os.getloadavg()[0]
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=60)
    for name in names:
        figures.update(_figures(f"closed_{name}", closed[name]))
        figures.update(_blocks(f"open_{name}", opened[name]))
    a, u = figures["closed_audited_server_cpu_ms_per_read"], figures["closed_unaudited_server_cpu_ms_per_read"]
    figures["audit_server_cpu_ms_per_read"] = round(a - u, 3) if a and u else None
    a, u = figures["open_audited_server_cpu_ms_per_read"], figures["open_unaudited_server_cpu_ms_per_read"]
    figures["audit_server_cpu_ms_per_read_open"] = round(a - u, 3) if a and u else None
    d99 = [round(_pct(x["lat"], 99) - _pct(y["lat"], 99), 2) for x, y in zip(opened["audited"], opened["unaudited"])]
    d50 = [_pct(x["lat"], 50) - _pct(y["lat"], 50) for x, y in zip(opened["audited"], opened["unaudited"])]
    figures["audit_added_open_p99_pairs_ms"] = d99
    figures["audit_added_open_p99_ms"] = _median(d99)
    figures["audit_added_open_p50_ms"] = _median(d50)
    figures["target_p99_ms"] = 20
    figures["target_met_open_loop"] = figures["open_audited_p99_ms"] < 20
    figures["target_met_closed_loop"] = figures["closed_audited_p99_ms"] < 20
    figures["audit_target_met_open_loop"] = figures["audit_added_open_p99_ms"] < 2
    figures["summary"] = _summary(figures)
    shutil.rmtree(tmp, ignore_errors=True)
    return figures


def _summary(f: dict) -> str:
    """The open loop in a line for docs/benchmarks.md's API table."""
    def ms(xs):
        return ", ".join(f"{x:g}" for x in xs)
    return (f"open loop {f['open_loop_rate_per_s']:g} reads/s, {f['open_loop_pairs']} pairs of "
            f"{f['open_loop_block_s']:g} s blocks: p99 audited {f['open_audited_p99_ms']:g} ms "
            f"(blocks {ms(f['open_audited_p99_blocks_ms'])}), unaudited {f['open_unaudited_p99_ms']:g} ms "
            f"(blocks {ms(f['open_unaudited_p99_blocks_ms'])}); audit adds p99 {f['audit_added_open_p99_ms']:+g} ms "
            f"(pairs {ms(f['audit_added_open_p99_pairs_ms'])}), p50 {f['audit_added_open_p50_ms']:+g} ms; "
            f"server CPU per read audited {f['open_audited_server_cpu_ms_per_read']:g} / unaudited "
            f"{f['open_unaudited_server_cpu_ms_per_read']:g} ms")


if __name__ == "__main__":
    import json

    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=20_000)
    ap.add_argument("clients", type=int, nargs="?", default=50)
    ap.add_argument("--workers", type=int, default=None, help="uvicorn worker processes (default 2)")
    ap.add_argument("--rate", type=float, default=None, help="open-loop requests/s in total (default 200)")
    ap.add_argument("--per-client", type=int, default=40, help="closed loop: reads per client and block")
    ap.add_argument("--pairs", type=int, default=None, help="open loop: audited/unaudited block pairs (default 6)")
    ap.add_argument("--block-s", type=float, default=None, help="open loop: seconds per block (default 6)")
    a = ap.parse_args()
    print(json.dumps(bench_api(a.n, a.clients, workers=a.workers, rate=a.rate, per_client=a.per_client,
                               pairs=a.pairs, block_s=a.block_s), indent=1, ensure_ascii=False))
