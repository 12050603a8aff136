"""`govlake dbt ...`: generate the staging layer, build, publish."""

from __future__ import annotations

import click

from govlake.settings import get_settings


@click.group("dbt")
def dbt_cli() -> None:
    """dbt project: staging generated from catalog/, marts published to Delta (gold.*)."""


@dbt_cli.command("generate-staging")
def generate_staging_cmd() -> None:
    """Regenerate dbt/models/staging from catalog/sources.yaml and dbt/macros/petition_service.sql
    from catalog/petition_service.yaml (commit the result)."""
    from govlake.transform.staging import generate_petition_macros, generate_staging

    files = generate_staging(get_settings())
    click.echo(f"wrote {len(files)} files to {files[0].parent}")
    click.echo(f"wrote {generate_petition_macros(get_settings())}")


@dbt_cli.command("build")
@click.option("--load-date", help="logical load date yyyy-MM-dd (var load_date); default: all loads")
@click.option("--select", "select", multiple=True, help="dbt selectors, e.g. staging, +dim_departments")
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="write the public marts that built to Delta afterwards")
def build_cmd(load_date: str | None, select: tuple[str, ...], publish: bool) -> None:
    """dbt build (models + tests) in-process on the embedded Spark, then publish the marts."""
    from govlake.lakehouse import Lakehouse
    from govlake.spark import get_spark
    from govlake.transform.publish import publish_models
    from govlake.transform.runner import DbtRunFailed, run_dbt

    s = get_settings()
    spark = get_spark(s)
    args = ["build", *(["--select", *select] if select else [])]
    try:
        result = run_dbt(spark, s, args, load_date=load_date)
    except DbtRunFailed as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"dbt build: {len(result.nodes)} nodes ok")
    if publish:
        suffix = load_date or "adhoc"
        for c in publish_models(spark, Lakehouse(spark, s), app_id_suffix=suffix):
            state = "committed" if c.committed else "already published"
            click.echo(f"{c.table} v{c.version}: {c.rows_written} rows ({state})")


@dbt_cli.command("bench-wide")
@click.option("--rows", default=20_000, show_default=True)
@click.option("--cols", default=1_500, show_default=True)
def bench_wide_cmd(rows: int, cols: int) -> None:
    """Measure a wide mart as dbt view vs table, each published to Delta (docs/dbt.md)."""
    import json

    from govlake.spark import get_spark
    from govlake.transform.bench import measure_wide

    s = get_settings()
    click.echo(json.dumps(measure_wide(get_spark(s), s, rows, cols), indent=1))
