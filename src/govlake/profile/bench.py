"""Benchmark of the profile build: Spark (our path, bronze -> published gold) against DuckDB
running the same dbt models (as dbt compiles them for DuckDB) on the same staging data, plus a
1% incremental build. Run by `make bench` via bench_profile(scale)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

from govlake.cpu import tree_cpu_seconds

DUCKDB_MEMORY = "12GB"


def _tree() -> list[int]:
    """This process's descendants (the Spark JVM, the Python workers it forks)."""
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            ppid = next(line for line in (p / "status").read_text().splitlines() if line.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        children.setdefault(int(ppid.split(":")[1]), []).append(int(p.name))
    out, todo = [], list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _hwm_kb(pid: int | str) -> int:
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0
    return int(line.split()[1])


def _peak_rss_gb(include_self: bool = False) -> float | None:
    """Sum of the peak RSS (VmHWM) of this process's descendants (the Spark JVM and its Python
    workers) and, include_self, of this process: our build's memory. Without this process by
    default, which also hosts the DuckDB reference run; with it for an incremental, which
    computes in this process (after `_reset_peak_rss`)."""
    total = sum(_hwm_kb(pid) for pid in _tree()) + (_hwm_kb("self") if include_self else 0)
    return round(total / 1024 / 1024, 2) if total else None


def _reset_peak_rss() -> None:
    """Start the peak RSS of this process and its descendants afresh (Linux: clear_refs 5)."""
    for pid in ["self", *_tree()]:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def duckdb_profile_seconds(lake, as_of: dt.date) -> tuple[float, int]:
    """Load bronze as Arrow into DuckDB, build staging (latest row per key) and run the
    profile's dbt models as dbt compiles them for DuckDB (govlake.profile.compiled) into a
    Parquet file. Returns (seconds for the SQL and the write, rows)."""
    import duckdb

    from govlake.catalog.sources import load_sources
    from govlake.profile import compiled

    con = duckdb.connect()
    spill = Path(tempfile.mkdtemp(prefix="duckdb-spill-"))
    # Unbounded, DuckDB took 20 GB at 900,000 enterprises (the kernel killed the benchmark):
    # cap it at the memory our build must stay under, and let it spill like Spark does.
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'; SET temp_directory = '{spill}'; "
                "SET preserve_insertion_order = false")
    sources = load_sources(lake.settings.catalog_dir)
    for src in sources:
        con.register(f"bronze__{src.name}", lake.to_arrow(f"bronze.{src.name}"))
        con.execute(f"CREATE TABLE stg_{src.name} AS SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER "
                    f"(PARTITION BY {', '.join(src.key)} ORDER BY _load_date DESC) AS _rn FROM bronze__{src.name}) WHERE _rn = 1")
        con.unregister(f"bronze__{src.name}")
    sql = compiled.profile_sql(lake.settings.dbt_dir)  # (a compile, when the models changed, is not timed)
    compiled.set_dates(con, as_of)
    t = time.perf_counter()
    # Written to Parquet, like our build: every column computed, and the 1,500-column result is
    # streamed out rather than held in memory.
    out = Path(tempfile.mkdtemp(prefix="duckdb-profile-")) / "enterprise_profile.parquet"
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16384)")
    seconds = time.perf_counter() - t
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchall()[0][0]
    con.close()
    shutil.rmtree(out.parent, ignore_errors=True)
    shutil.rmtree(spill, ignore_errors=True)
    return seconds, rows


def _progress(out: dict, root) -> None:
    """Figures so far, on stderr and in <lake>/bench.json: a long run (900,000) that fails later
    still reports them, and `--resume <lake>` continues after the full build."""
    import json
    import sys

    text = json.dumps(out, ensure_ascii=False)
    print("profile bench so far:", text, file=sys.stderr, flush=True)
    (root / "bench.json").write_text(text + "\n", encoding="utf-8")


def bench_profile(scale: int = 20000, *, engine: str = "direct", resume: Path | None = None,
                  lake: str | None = None, full_only: bool = False) -> dict:
    """Figures at `scale` enterprises: full build seconds (bronze -> published), DuckDB seconds
    on the same SQL and data, ratio, incremental (1% changed) seconds and its share of full,
    peak RSS. Uses a throw-away lake under /tmp; resume: the lake of an earlier run whose full
    build finished (its bench.json), to run only the DuckDB reference and the incremental.
    lake: a lake root URI instead (s3a://…: the object store, the rest of the settings from the
    environment); full_only: stop after the full build."""
    import json

    from govlake.lakehouse import Lakehouse
    from govlake.profile.build import build_profile
    from govlake.profile.synthetic import write_bronze
    from govlake.settings import Settings
    from govlake.spark import get_spark

    settings = Settings(lake_root=str(resume or lake or tempfile.mkdtemp(prefix="profile-bench-")))
    root = settings.lake
    spark = get_spark(settings)
    lake = Lakehouse(spark, settings)
    d0, d1 = dt.date(2025, 6, 29), dt.date(2025, 6, 30)
    if resume:
        out = json.loads((root / "bench.json").read_text(encoding="utf-8"))
        if out.get("scale") != scale or "full_seconds" not in out or "incremental_1pct_seconds" in out:
            raise ValueError(f"{root}: bench.json is not a finished full build at scale {scale} awaiting the rest")
        out["resumed_in_a_new_process"] = True
    else:
        out = {"scale": scale, "engine": engine, "lake": settings.lake_root, "spark_master": settings.spark_master}
        t = time.perf_counter()
        write_bronze(spark, lake, scale, d1, d0)
        out["seconds_bronze_synthetic"] = round(time.perf_counter() - t, 1)
        # dbt's compiles of the models (cached by the project's content and, on Spark, the date) are
        # made before the clock starts: the bench times the build's computation, not dbt's parse
        from govlake.profile import compiled, direct

        compiled.profile_sql(settings.dbt_dir)
        compiled.scope_sql(settings.dbt_dir)
        if engine == "direct":
            compiled.spark_models(list(direct.MARTS), d1, settings.dbt_dir)
        out["load_avg_1m_start"] = round(os.getloadavg()[0], 2)
        cpu = tree_cpu_seconds(include_self=True)
        res = build_profile(spark, lake, d1, engine=engine)
        out["full_seconds"] = res["seconds_total"]
        out["full_profile_seconds"] = res["seconds_profile"]
        out["full_cpu_seconds"] = round(tree_cpu_seconds(include_self=True) - cpu, 1)
        out["full_phases"] = {k: v for k, v in res.items() if k.startswith(("seconds_", "task_seconds_"))}
        out["peak_rss_gb_full"] = _peak_rss_gb()
        _progress(out, root)
    if full_only:
        return out
    cpu = time.process_time()
    ddb, rows = duckdb_profile_seconds(lake, d1)
    out["duckdb_cpu_seconds"] = round(time.process_time() - cpu, 1)  # includes loading Arrow
    out["duckdb_seconds"] = round(ddb, 2)
    out["duckdb_rows"] = rows
    out["ratio_vs_duckdb"] = round(out["full_profile_seconds"] / ddb, 2) if ddb else None
    # Our profile phase also computes and writes the tags (in its write pass), the reference
    # does not: the ratio without the tasks' tag seconds spread over the cores (an estimate).
    tags = out["full_phases"].get("task_seconds_tags")
    if ddb and tags is not None:
        out["ratio_vs_duckdb_without_tags_est"] = round((out["full_profile_seconds"] - tags / spark.sparkContext.defaultParallelism) / ddb, 2)
    _progress(out, root)
    changed = max(1, scale // 100)
    write_bronze(spark, lake, scale, d1, d1, seed=11, id_offset=0, id_count=changed, mode="append")
    out["load_avg_1m_incremental_start"] = round(os.getloadavg()[0], 2)
    _reset_peak_rss()
    cpu = tree_cpu_seconds(include_self=True)
    inc = build_profile(spark, lake, d1, incremental=True, engine=engine)
    out["incremental_1pct_seconds"] = inc["seconds_total"]
    out["incremental_cpu_seconds"] = round(tree_cpu_seconds(include_self=True) - cpu, 1)
    out["incremental_share_of_full"] = round(inc["seconds_total"] / out["full_seconds"], 3)
    out["incremental_phases"] = {k: v for k, v in inc.items() if k.startswith(("seconds_", "task_seconds_"))}
    out["peak_rss_gb_incremental"] = _peak_rss_gb(include_self=True)  # it computes in this process
    out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    _progress(out, root)
    return out
