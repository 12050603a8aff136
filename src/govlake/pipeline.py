"""The daily chain, step by step. `govlake run` and the Airflow DAG call the same steps.

Each step is a function of a StepContext; it reads and writes only through the lakehouse,
emits its own OpenLineage runs (children of the step's run) and is idempotent per load date.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Callable

import click

from govlake.lakehouse import Lakehouse
from govlake.lineage import JobRun
from govlake.settings import Settings, get_settings


@dataclass
class StepContext:
    settings: Settings
    load_date: dt.date
    scale: int
    _spark: object = None
    _lake: Lakehouse | None = None
    run: JobRun | None = None
    results: dict = field(default_factory=dict)

    @property
    def spark(self):
        if self._spark is None:
            from govlake.spark import get_spark

            self._spark = get_spark(self.settings)
        return self._spark

    @property
    def lake(self) -> Lakehouse:
        if self._lake is None:
            self._lake = Lakehouse(self.spark, self.settings)
        return self._lake


def step_generate(ctx: StepContext):
    from govlake.generate import generate_all

    return generate_all(ctx.settings, scale=ctx.scale, seed=ctx.settings.seed, load_date=ctx.load_date)


def step_ingest(ctx: StepContext):
    from govlake.ingest import ingest_all

    return ingest_all(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_validate_bronze(ctx: StepContext):
    """Gate today's bronze partitions: a failed suite stops the chain before anything is published."""
    from pyspark.sql import functions as F

    from govlake.catalog.sources import load_sources
    from govlake.quality import gate

    results = {}
    for source in load_sources(ctx.settings.catalog_dir):
        table = f"bronze.{source.name}"
        df = ctx.lake.read(table).where(F.col("_load_date") == F.lit(ctx.load_date))
        results[table] = gate(df, table, parent_run=ctx.run)
    return results


def step_transform(ctx: StepContext):
    """dbt build (staging, profile, tags, policy portrait, SLA marts), then gated publish to gold."""
    from govlake.profile import build_profile

    return build_profile(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_dispatch(ctx: StepContext):
    from govlake.petitions.pipeline import train_and_score

    return train_and_score(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_signals(ctx: StepContext):
    from govlake.signals import run_signals

    return run_signals(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_match(ctx: StepContext):
    from govlake.policy.matching import match_policies

    return match_policies(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_push(ctx: StepContext):
    from govlake.policy.push import run_push

    return run_push(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_approve(ctx: StepContext):
    from govlake.policy.approval import run_auto_approve

    return run_auto_approve(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


# Order matters: each step reads what the ones before it wrote.
STEPS: dict[str, Callable[[StepContext], object]] = {
    "generate": step_generate,
    "ingest": step_ingest,
    "validate_bronze": step_validate_bronze,
    "transform": step_transform,
    "dispatch": step_dispatch,
    "signals": step_signals,
    "match": step_match,
    "push": step_push,
    "approve": step_approve,
}


def run_step(name: str, ctx: StepContext):
    from govlake.lineage import job_run

    with job_run(f"govlake.{name}", ctx.settings, integration="GOVLAKE",
                 nominal_time=f"{ctx.load_date.isoformat()}T00:00:00+08:00") as run:
        ctx.run = run
        t0 = time.perf_counter()
        result = STEPS[name](ctx)
        ctx.results[name] = {"seconds": round(time.perf_counter() - t0, 1), "result": result}
    return result


def run_pipeline(settings: Settings, load_date: dt.date, scale: int, steps: list[str] | None = None,
                 echo: Callable[[str], None] = print) -> StepContext:
    ctx = StepContext(settings=settings, load_date=load_date, scale=scale)
    for name in steps or list(STEPS):
        echo(f"==> {name}")
        run_step(name, ctx)
        echo(f"    done in {ctx.results[name]['seconds']} s")
    return ctx


def table_summary(lake: Lakehouse) -> list[dict]:
    """Every Delta table: path, latest version, row count (from the log's file stats, no Spark)."""
    from deltalake import DeltaTable
    import pyarrow as pa

    rows = []
    for name in lake.tables():
        dt_ = DeltaTable(str(lake.path(name)))
        adds = pa.table(dt_.get_add_actions(flatten=True))
        n = sum(adds.column("num_records").to_pylist()) if adds.num_rows else 0
        rows.append({"table": name, "version": dt_.version(), "rows": n, "path": str(lake.path(name))})
    return rows


def print_summary(lake: Lakehouse, settings: Settings, echo=print) -> None:
    rows = table_summary(lake)
    echo("")
    echo(f"{'table':40} {'version':>7} {'rows':>10}  path")
    for r in rows:
        echo(f"{r['table']:40} {r['version']:>7} {r['rows']:>10}  {r['path']}")
    echo("")
    echo(f"OpenLineage events: {settings.lineage_path}")


def default_load_date() -> dt.date:
    return dt.date.today() - dt.timedelta(days=1)


@click.command("run")
@click.option("--scale", type=int, default=None, help="number of enterprises (default: GOVLAKE_SCALE or 5000)")
@click.option("--load-date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="logical date (default: yesterday)")
@click.option("--steps", default=None, help=f"comma-separated subset of: {','.join(STEPS)}")
def run_command(scale, load_date, steps):
    """Run the whole chain end to end on generated data (全流程运行)."""
    settings = get_settings()
    day = load_date.date() if load_date else default_load_date()
    chosen = steps.split(",") if steps else None
    unknown = set(chosen or []) - set(STEPS)
    if unknown:
        raise click.UsageError(f"unknown steps {sorted(unknown)}; choose from {list(STEPS)}")
    t0 = time.perf_counter()
    ctx = run_pipeline(settings, day, scale or settings.scale, chosen, echo=click.echo)
    print_summary(ctx.lake, settings, echo=click.echo)
    click.echo(f"pipeline finished in {time.perf_counter() - t0:.0f} s for load date {day}")


@click.command("tables")
def tables_command():
    """List every table with its Delta version and row count (数据表清单)."""
    settings = get_settings()
    print_summary(Lakehouse(None, settings), settings, echo=click.echo)
