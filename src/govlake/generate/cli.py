"""`govlake generate`: seeded landing extracts (full, or the daily changes after a full load)."""

from __future__ import annotations

import datetime as dt

import click

from govlake.settings import get_settings


@click.command("generate")
@click.option("--scale", type=int, default=None, help="number of enterprises (default: settings.scale, 5000)")
@click.option("--seed", type=int, default=None, help="random seed (default: settings.seed)")
@click.option("--load-date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="extract date (default: today)")
@click.option("--changes-from", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="write the daily delta after the full extract of this date instead of a full extract")
@click.option("--fraction", type=float, default=0.01, show_default=True, help="share of enterprises changed (delta)")
@click.option("--bad-share", type=float, default=0.01, show_default=True, help="share of injected bad rows")
def generate(scale, seed, load_date, changes_from, fraction, bad_share):
    """Write landing/<source>/<date>/part-*.csv and landing/_manifests/<date>.json."""
    from govlake.generate import generate_all, generate_changes

    s = get_settings()
    d = load_date.date() if load_date else dt.date.today()
    seed = s.seed if seed is None else seed
    if changes_from:
        m = generate_changes(s, seed, changes_from.date(), d, fraction, bad_share=bad_share)
    else:
        m = generate_all(s, scale or s.scale, seed, d, bad_share=bad_share)
    for name, info in m["sources"].items():
        bad = ", ".join(f"{k}={v}" for k, v in info["bad_rows"].items() if v)
        click.echo(f"{name:22s} {info['rows']:>9,d} rows  bad: {bad}")
    click.echo(f"landing: {s.landing_dir}  manifest: _manifests/{d.isoformat()}.json")
