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
from govlake.runlock import run_lock
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

    from govlake.catalog import load_sources
    from govlake.quality import gate

    results = {}
    for name in load_sources(ctx.settings.catalog_dir).sources:
        table = f"bronze.{name}"
        df = ctx.lake.read(table).where(F.col("_load_date") == F.lit(ctx.load_date))
        r = gate(df, table, lake=ctx.lake, parent_run=ctx.run, record_key=ctx.load_date.isoformat())
        results[table] = {"rows": r.row_count, "expectations": r.n_expectations}
    return results


def _gate(ctx: StepContext):
    from govlake.quality import gate

    return lambda df, table, parent_run=None: gate(
        df, table, lake=ctx.lake, parent_run=parent_run or ctx.run, record_key=ctx.load_date.isoformat())


def step_transform(ctx: StepContext):
    """dbt: the profile, tags and policy portrait (generated from the catalog), then the other
    marts (departments, petition SLA); every mart passes its quality gate before it is published."""
    from govlake.profile.build import build_profile
    from govlake.transform import publish_models, run_dbt

    profile = build_profile(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run, engine="dbt")
    day = ctx.load_date.isoformat()
    selectors = ["+path:models/marts/core", "+path:models/marts/petitions"]
    run_dbt(ctx.spark, ctx.settings, ["build", "--select", *selectors], parent_run=ctx.run, load_date=day)
    models = ["dim_departments", "fct_petition_sla", "rpt_petition_sla_daily",
              "rpt_petition_sla_weekly", "rpt_petition_sla_monthly"]
    commits = publish_models(ctx.spark, ctx.lake, models, gate=_gate(ctx), app_id_suffix=day,
                             parent_run=ctx.run)
    return {"profile": profile, "marts": {c.table: c.version for c in commits}}


def step_dispatch(ctx: StepContext):
    """智能分拨 of the day's new tickets (petitions.job.dispatch_day, the one batch path): a model
    trained only on tickets submitted before the day, blended with the catalog's 权责清单 / 属地 /
    history, written to gold.petition_dispatch and published for the online route."""
    from govlake.petitions.job import dispatch_day

    return dispatch_day(ctx.spark, ctx.lake, ctx.settings, ctx.load_date, parent_run=ctx.run)


def step_signals(ctx: StepContext):
    """诉求信号 (sensitive, repeats, 群体诉求, hot topics) for the day; runs before transform, whose
    petition reports read the group alerts as the dbt source `signals`."""
    from govlake.signals.job import run_signals

    commits = run_signals(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)
    return {t: c.version for t, c in commits.items()}


def step_match(ctx: StepContext):
    from govlake.policy.match import match_policies

    c = match_policies(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)
    return {"version": c.version, "release": c.release}


def step_push(ctx: StepContext):
    from govlake.policy.push import default_channels, push_run

    return push_run(ctx.lake, ctx.load_date, default_channels(ctx.settings), parent_run=ctx.run)


def step_approve(ctx: StepContext):
    """秒批: applications from the pushed enterprises (generated here; the portal's in production),
    decided by the catalog's trees; returns the day's figures (shares, time to decision) and their
    Chinese summary lines, which the run prints."""
    from govlake.policy.approval import auto_approve
    from govlake.policy.intake import submit_from_push

    submit_from_push(ctx.lake, ctx.load_date)
    return auto_approve(ctx.spark, ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_enterprise_services(ctx: StepContext):
    """亲清政企 services over the released profile: 产业空间撮合 (parks, needs, two-way matches),
    诉求直达 with 挂点服务 (requests, key enterprises, visits), then 外迁预警 (it reads the key
    enterprises and their officials). Every table passes its quality gate before its commit and
    all are released together (govlake.services.daily_release); the figures (requests, space
    matches, warnings) are printed with the run."""
    from govlake.services.daily_release import run_enterprise_services

    return run_enterprise_services(ctx.lake, ctx.load_date, parent_run=ctx.run)


def step_precredit(ctx: StepContext):
    """融资预授信: train the pre-credit model if no published one has the current recipe
    (features, generator, n, seed; a re-run trains nothing), then score the released profile so
    the route and the sandbox model answer (govlake.precredit.refresh). No Spark."""
    from govlake.lakehouse import Lakehouse
    from govlake.precredit.refresh import refresh

    return refresh(ctx.settings, Lakehouse(None, ctx.settings), ctx.run)


def step_maintain(ctx: StepContext):
    """Table upkeep, then the day's validations added to the Data Docs a person opens (质量报告)."""
    from govlake.maintenance import maintain_tables
    from govlake.quality.data_docs import build_data_docs

    tables = maintain_tables(ctx.lake, ctx.run)
    index, pages = build_data_docs(ctx.lake)
    return {"tables": tables, "data_docs": {"index": str(index), "pages_added": pages}}


# Order matters: each step reads what the ones before it wrote.
STEPS: dict[str, Callable[[StepContext], object]] = {
    "generate": step_generate,
    "ingest": step_ingest,
    "validate_bronze": step_validate_bronze,
    "signals": step_signals,      # before transform: the 日报/周报/月报 read its group alerts
    "transform": step_transform,
    "dispatch": step_dispatch,
    "match": step_match,
    "push": step_push,
    "approve": step_approve,
    "enterprise_services": step_enterprise_services,
    "precredit": step_precredit,
    "maintain": step_maintain,
}


# The daily DAG's wiring: each step and the steps it waits for. `generate` is not a daily step:
# the extracts come from the source systems; the demo DAG puts it before `ingest`.
UPSTREAM: dict[str, tuple[str, ...]] = {
    "ingest": (),
    "validate_bronze": ("ingest",),
    "signals": ("validate_bronze",),
    "transform": ("validate_bronze", "signals"),  # the reports read gold.group_petition_alerts
    "dispatch": ("validate_bronze",),
    "match": ("transform",),
    "push": ("match",),
    "approve": ("push",),
    "enterprise_services": ("transform",),
    "precredit": ("transform",),
    "maintain": ("approve", "dispatch", "signals", "enterprise_services", "precredit"),
}


# An Airflow task waits this long for the lake's lock: the DAG runs dispatch beside transform
# and signals, and those tasks take turns instead of failing. A `govlake run` does not wait
# (run_lock_wait_seconds), so a person starting one beside the DAG is told at once.
TASK_LOCK_WAIT_SECONDS = 3600


def run_step(name: str, ctx: StepContext, lock_wait_seconds: float | None = None):
    """One step under the lake's run lock (an Airflow task takes it here, waiting up to
    lock_wait_seconds; inside `govlake run` the run already holds it and this only re-enters it)."""
    from govlake.lineage import job_run

    with run_lock(ctx.settings, load_date=ctx.load_date, steps=[name], wait_seconds=lock_wait_seconds), \
         job_run(f"govlake.{name}", ctx.settings, integration="GOVLAKE",
                 nominal_time=f"{ctx.load_date.isoformat()}T00:00:00+08:00") as run:
        ctx.run = run
        t0 = time.perf_counter()
        result = STEPS[name](ctx)
        ctx.results[name] = {"seconds": round(time.perf_counter() - t0, 1), "result": result}
    return result


def run_airflow_task(step: str, ds: str) -> dict:
    """One step as an Airflow task: the step's lineage (its own, dbt's and Spark's events) nests
    under the task's OpenLineage run (the provider's parent and root ids, passed on through
    OPENLINEAGE_PARENT_ID / OPENLINEAGE_ROOT_PARENT_ID before any Spark session starts), and the
    lake's run lock is waited for while a sibling task holds it."""
    import os

    from airflow.providers.openlineage.plugins.macros import lineage_parent_id, lineage_root_parent_id
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    os.environ["OPENLINEAGE_PARENT_ID"] = lineage_parent_id(ti)
    os.environ["OPENLINEAGE_ROOT_PARENT_ID"] = lineage_root_parent_id(ti)
    settings = get_settings()
    ctx = StepContext(settings=settings, load_date=dt.date.fromisoformat(ds), scale=settings.scale)
    run_step(step, ctx, lock_wait_seconds=TASK_LOCK_WAIT_SECONDS)
    return {"step": step, "seconds": ctx.results[step]["seconds"], "run_id": ctx.run.run_id}


def run_pipeline(settings: Settings, load_date: dt.date, scale: int, steps: list[str] | None = None,
                 echo: Callable[[str], None] = print) -> StepContext:
    """The chosen steps in order, holding the lake's run lock throughout (RunLockBusy, before any
    Spark session, when another run holds it)."""
    chosen = steps or list(STEPS)
    with run_lock(settings, load_date=load_date, steps=chosen, echo=echo):
        ctx = StepContext(settings=settings, load_date=load_date, scale=scale)
        for name in chosen:
            echo(f"==> {name}")
            run_step(name, ctx)
            echo(f"    done in {ctx.results[name]['seconds']} s")
            result = ctx.results[name]["result"]
            for line in result.get("summary_zh", []) if isinstance(result, dict) else []:
                echo(f"    {line}")  # a step's figures in the run's output (the approve step's)
    return ctx


def table_summary(lake: Lakehouse) -> list[dict]:
    """Every Delta table: path, latest version, row count (from the log's file stats, no Spark)."""
    return [{"table": name, "version": lake.version(name), "rows": lake.row_count(name), "path": str(lake.path(name))}
            for name in lake.tables()]


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
