"""`govlake enterprise file USCC` (一企一档) and `govlake services requests|warn` (诉求直达, 外迁预警)."""

from __future__ import annotations

import datetime as dt
import json

import click


def _lake():
    from govlake.lakehouse import Lakehouse

    return Lakehouse(None)


def _day(s: str | None) -> dt.date:
    return dt.date.fromisoformat(s) if s else dt.date.today()


@click.group("enterprise")
def enterprise():
    """一企一档: one enterprise's file."""


@enterprise.command("file")
@click.argument("uscc")
def file_command(uscc: str):
    """The enterprise's file (profile, tags, policies, requests, visits, approvals) as JSON."""
    from govlake.services.enterprise_file import enterprise_file

    try:
        click.echo(json.dumps(enterprise_file(_lake(), uscc), ensure_ascii=False, indent=2, default=str))
    except KeyError as e:
        raise click.ClickException(str(e.args[0]))


@click.group("services")
def services():
    """企业服务: 诉求直达, 挂点服务, 外迁预警."""


@services.command("requests")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
def requests_command(as_of):
    """Generate and write the day's requests, officials, key enterprises, visits; print SLA figures."""
    from govlake.services.enterprise_requests import run_requests

    click.echo(json.dumps(run_requests(_lake(), _day(as_of)), ensure_ascii=False, indent=2, default=str))


@services.command("warn")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
@click.option("--official", default=None, help="only this official's queue")
def warn_command(as_of, official):
    """Train and validate the relocation model, write ops.relocation_warnings, print the queue."""
    from govlake.services.relocation import WARNINGS, run_relocation

    lake = _lake()
    out = run_relocation(lake, _day(as_of))
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    rows = lake.to_arrow(WARNINGS).to_pylist()
    for r in sorted(rows, key=lambda r: -r["risk"]):
        if official is None or r["official"] == official:
            click.echo(f"{r['official']}\t{r['uscc']}\t{r['risk']:.3f}\t{r['reasons']}")
