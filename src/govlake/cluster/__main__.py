"""python -m govlake.cluster up|down|status|env (make cluster-up / make cluster-down)."""

from __future__ import annotations

import json
import shlex
import sys
import time

import click

from govlake.cluster import components
from govlake.cluster.layout import Layout
from govlake.cluster.processes import ComponentFailed


@click.group()
def main():
    """The scale-out deployment on this machine (集群部署), state under .cluster/."""


@main.command()
def up():
    """Start every component (idempotent), each checked healthy."""
    layout = Layout.default()
    t = time.monotonic()
    click.echo(f"cluster up: state in {layout.root}")
    try:
        components.up(layout, echo=click.echo)
    except ComponentFailed as e:
        click.echo(f"ERROR: {e}", err=True)
        click.echo("(make cluster-down stops what did start)", err=True)
        sys.exit(1)
    click.echo(f"cluster up in {time.monotonic() - t:.1f} s: Spark {layout.spark_master_url} (UI {layout.spark_master_ui}), "
               f"S3 {layout.s3_endpoint} bucket govlake, Airflow {layout.airflow_url}")
    click.echo("Marquez: not started (its API server is not served from Maven Central here; docs/scale-out.md)")


@main.command()
def down():
    """Stop every component; nothing of the cluster keeps running."""
    layout = Layout.default()
    t = time.monotonic()
    components.down(layout, echo=click.echo)
    left = {k: v for k, v in components.status(layout).items() if v != "down"}
    if left:
        click.echo(f"ERROR: still running after cluster down: {left}", err=True)
        sys.exit(1)
    click.echo(f"cluster down in {time.monotonic() - t:.1f} s")


@main.command()
def status():
    """Each component: up or down."""
    click.echo(json.dumps(components.status(Layout.default()), indent=2))


@main.command()
def env():
    """The environment a Spark driver or Airflow CLI needs to use the cluster, as shell exports."""
    for k, v in Layout.default().airflow_env().items():
        click.echo(f"export {k}={shlex.quote(v)}")


if __name__ == "__main__":
    main()
