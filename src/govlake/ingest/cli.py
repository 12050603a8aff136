"""`govlake ingest`: landing CSV -> bronze Delta for one load date."""

from __future__ import annotations

import click

from govlake.settings import get_settings


@click.command("ingest")
@click.option("--load-date", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--source", "sources", multiple=True, help="source name (repeatable); default: all sources + departments")
@click.option("--group", type=click.Choice(["enterprises", "certificates", "petitions"]), default=None,
              help="a source group instead of --source")
def ingest(load_date, sources, group):
    """Ingest and reconcile; exits non-zero when rows read != written + quarantined."""
    from govlake.ingest import run_group_or_sources

    recs = run_group_or_sources(get_settings(), load_date.date(), list(sources) or None, group)
    for r in recs:
        rules = ", ".join(f"{k}={v}" for k, v in r.quarantined_by_rule.items())
        click.echo(f"{r.source:22s} read {r.rows_read:>9,d}  written {r.rows_written:>9,d}  quarantined "
                   f"{r.rows_quarantined:>6,d}  {'committed' if r.committed else 'already loaded'}  {r.seconds:.1f}s  {rules}")
