"""`govlake lineage TABLE [--column COL] [--upstream/--downstream] [--depth N]` (same as
`govlake lineage show ...`) and `govlake lineage validate [EVENTS_FILE...]`."""

from __future__ import annotations

from pathlib import Path

import click


class _DefaultToShow(click.Group):
    """`lineage TABLE ...` is `lineage show TABLE ...`: a first word that is not a subcommand
    is a table name."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("lineage", cls=_DefaultToShow)
def lineage():
    """Data lineage (数据血缘) from the OpenLineage events: `lineage TABLE` shows where a table
    comes from and who uses it; `lineage validate` checks the events against the spec."""


def _when(e) -> str:
    return e.time[:19].replace("T", " ")


@lineage.command("show")
@click.argument("table")
@click.option("--column", "-c", default=None, help="follow this column to its source columns (字段溯源)")
@click.option("--upstream/--downstream", "direction", default=None, help="only one direction (default: both)")
@click.option("--depth", "-d", type=int, default=None, help="levels to follow (default: all)")
def show(table, column, direction, depth):
    """Where TABLE comes from and who uses it (数据血缘), from the OpenLineage events."""
    from govlake.lineage.graph import load_graph
    from govlake.settings import get_settings

    s = get_settings()
    graph = load_graph(s.lineage_path, url=s.lineage_url if s.lineage_transport == "http" else None)
    if table not in graph.tables:
        raise click.ClickException(f"no lineage recorded for {table} (未找到该表的血缘记录); "
                                   f"known tables: {', '.join(sorted(graph.tables)) or 'none'}")
    if column:
        origins = graph.column_origins(table, column, depth)
        if not origins:
            raise click.ClickException(f"no column lineage recorded for {table}.{column}")
        click.echo(f"{table}.{column} comes from (字段来源):")
        for t, c, path in origins:
            click.echo(f"  <- {t}.{c}")
            for step in path:
                how = f": {step.transformation}" if step.transformation else ""
                ins = ", ".join(f"{a}.{b}" for a, b in step.inputs)
                click.echo(f"       {step.table}.{step.column} = [{step.job}] {ins}{how}")
        return
    if direction in (None, True):
        click.echo(f"upstream of {table} (上游):")
        for level, e in graph.upstream(table, depth):
            click.echo(f"  {'  ' * (level - 1)}<- {e.source}  via {e.job}  run {e.run_id} at {_when(e)}")
    if direction in (None, False):
        click.echo(f"downstream of {table} (下游及使用方):")
        for level, e in graph.downstream(table, depth):
            pad = "  " * (level - 1)
            if e.target.startswith("job:"):  # a reader: API consumer or check
                click.echo(f"  {pad}-> used by {e.job}  run {e.run_id} at {_when(e)}")
            else:
                click.echo(f"  {pad}-> {e.target}  via {e.job}  run {e.run_id} at {_when(e)}")


@lineage.command("validate")
@click.argument("events_file", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--spec", "spec_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the OpenLineage spec's JSON schemas (default: ../shared/openlineage-spec)")
@click.option("--show", "show_n", type=int, default=10, help="failing events to list (default 10)")
def validate(events_file, spec_dir, show_n):
    """Check OpenLineage events against the spec's JSON schemas (core and every facet), print
    pass/fail counts and the errors; exit 1 when any event fails. Default: the project's events
    file and openlineage-spark's beside it (spark-events.jsonl)."""
    from govlake.lineage.spec import SpecNotFound, load_spec, validate_file
    from govlake.settings import get_settings

    try:
        spec = load_spec(spec_dir)
    except SpecNotFound as e:
        raise click.ClickException(str(e)) from None
    files = list(events_file)
    if not files:
        s = get_settings()
        files = [p for p in (s.lineage_path, s.lineage_path.parent / "spark-events.jsonl") if p.exists()]
        if not files:
            raise click.ClickException(f"no events file at {s.lineage_path}")
    failed = 0
    for path in files:
        if not path.exists():
            raise click.ClickException(f"no events file at {path}")
        rep = validate_file(path, spec)
        failed += rep.failed
        click.echo(f"{path}: {rep.events} events, {rep.passed} pass, {rep.failed} fail (spec {spec.root})")
        for msg, n in rep.by_message().items():
            click.echo(f"  {n:6d} x {msg}")
        for line, job, errs in rep.failures[:show_n]:
            click.echo(f"  line {line} ({job}):")
            for e in errs[:5]:
                click.echo(f"      {e}")
    if failed:
        raise SystemExit(1)
