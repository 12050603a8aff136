"""`govlake lineage TABLE [--column COL] [--upstream/--downstream] [--depth N]`."""

from __future__ import annotations

import click


def _when(e) -> str:
    return e.time[:19].replace("T", " ")


@click.command("lineage")
@click.argument("table")
@click.option("--column", "-c", default=None, help="follow this column to its source columns (字段溯源)")
@click.option("--upstream/--downstream", "direction", default=None, help="only one direction (default: both)")
@click.option("--depth", "-d", type=int, default=None, help="levels to follow (default: all)")
def lineage(table, column, direction, depth):
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
