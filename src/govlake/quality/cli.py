"""`govlake quality ...`: generate the suites from the catalog; validate a lake table."""

from __future__ import annotations

import sys

import click



@click.group()
def quality():
    """Data quality (数据质量): Great Expectations suites and gates."""


@quality.command("generate-suites")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="default: <repo>/expectations")
def generate_suites_command(out):
    """Write expectations/ from catalog/sources.yaml and catalog/products.yaml."""
    from pathlib import Path

    from govlake.quality.suites import generate_suites

    paths = generate_suites(out_dir=Path(out) if out else None)
    for p in paths:
        click.echo(str(p))
    click.echo(f"{len(paths)} suites written")


@quality.command("validate")
@click.argument("table")
@click.option("--suite", default=None, help="suite name or JSON path (default: named after the table)")
@click.option("--version", type=int, default=None, help="Delta version to validate (time travel)")
@click.option("--engine", type=click.Choice(["auto", "gx", "arrow"]), default="auto",
              help="gx: the table's GX Checkpoint; arrow: counted over the Delta snapshot; auto: arrow above "
                   "150 expectations")
def validate_command(table, suite, version, engine):
    """Validate a lake table against its suite; exit 1 when any expectation fails."""
    from govlake.lakehouse import Lakehouse
    from govlake.lakehouse.arrow_reads import snapshot_dataset
    from govlake.quality import validate
    from govlake.quality.engine import choose
    from govlake.quality.gate import resolve_suite
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    settings = get_settings()
    lake = Lakehouse(get_spark(settings), settings)
    s = resolve_suite(table, suite, settings)
    engine = choose(s, engine)
    arrow = snapshot_dataset(lake.path(table), version) if engine == "arrow" else None
    result = validate(lake.read(table, version), table, s, engine=engine, lake=lake, arrow=arrow)
    click.echo(result.summary())
    sys.exit(0 if result.success else 1)


@quality.command("docs")
def docs_command():
    """Build the Data Docs (质量报告) of every recorded validation; prints the page to open."""
    from govlake.lakehouse import Lakehouse
    from govlake.quality.data_docs import build_data_docs
    from govlake.settings import get_settings

    try:
        index, added = build_data_docs(Lakehouse(None, get_settings()))
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{added} validation pages added; open {index.as_uri()}")
