"""`govlake ingest`: landing CSV -> bronze Delta for one load date."""

from __future__ import annotations

import click

from govlake.settings import get_settings


@click.command("ingest")
@click.option("--load-date", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--source", "sources", multiple=True, help="source name (repeatable), or departments (catalog/departments.yaml); default: all sources + departments")
@click.option("--group", type=click.Choice(["enterprises", "certificates", "petitions"]), default=None,
              help="a source group instead of --source")
def ingest(load_date, sources, group):
    """Ingest and reconcile. Exits non-zero when a file is rejected (header, encoding, too many
    quarantined records) or when records in the files != rows written + quarantined."""
    from govlake.ingest import LoadRejected, ReconciliationError, run_group_or_sources

    try:
        recs = run_group_or_sources(get_settings(), load_date.date(), list(sources) or None, group)
    except (LoadRejected, ReconciliationError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from e
    except KeyError as e:  # an unknown source or group name: its message lists the known ones
        raise click.ClickException(e.args[0]) from e
    for r in recs:
        rules = ", ".join(f"{k}={v}" for k, v in r.quarantined_by_rule.items())
        state = {"loaded": "committed", "unchanged": "already loaded", "restated": "restated"}.get(r.status, r.status)
        if r.status == "loaded" and not r.committed:
            state = "already loaded"
        click.echo(f"{r.source:22s} records {r.rows_read:>9,d}  written {r.rows_written:>9,d}  quarantined "
                   f"{r.rows_quarantined:>6,d}  {state}  {r.seconds:.1f}s  {rules}")
