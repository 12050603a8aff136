"""`govlake profile ...`: generate the dbt models, write the data dictionary, build, benchmark."""

from __future__ import annotations

import datetime as dt
import json

import click


@click.group()
def profile():
    """企业画像与标签 (enterprise profile and tags, policy profile)."""


@profile.command()
def generate():
    """Regenerate dbt/models/{intermediate,marts/enterprise,marts/policy} from catalog/."""
    from govlake.profile.dbt_models import generate as gen
    from govlake.settings import get_settings

    s = get_settings()
    changed = gen(s.dbt_dir, s.catalog_dir)
    click.echo(f"{len(changed)} files changed" + "".join(f"\n  {c}" for c in changed))


@profile.command()
@click.option("--out", type=click.Path(), default=None, help="default: docs/data_dictionary.md")
def dictionary(out):
    """Write the data dictionary (数据字典) of all fields and tags."""
    from pathlib import Path

    from govlake.profile.dictionary import write_dictionary
    from govlake.settings import get_settings

    s = get_settings()
    path = write_dictionary(s.catalog_dir, Path(out) if out else s.repo_root / "docs" / "data_dictionary.md")
    click.echo(f"wrote {path}")


@profile.command()
@click.option("--as-of", "as_of", default=None, help="yyyy-MM-dd (default today)")
@click.option("--incremental", is_flag=True)
@click.option("--engine", type=click.Choice(["dbt", "direct"]), default="dbt")
def build(as_of, incremental, engine):
    """Build and publish gold.enterprise_profile / enterprise_tags / policy_profile / policy_tags."""
    from govlake.lakehouse import Lakehouse
    from govlake.profile.build import build_profile
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    spark = get_spark(s)
    res = build_profile(spark, Lakehouse(spark, s), as_of or dt.date.today(), incremental=incremental, engine=engine)
    click.echo(json.dumps(res, ensure_ascii=False, indent=2))


@profile.command()
@click.option("--scale", type=int, default=20000)
@click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None,
              help="lake of an earlier bench whose full build finished: run only DuckDB and the incremental")
@click.option("--lake", default=None,
              help="lake root URI for the bench (s3a://bucket/prefix: in the object store); default a new /tmp folder")
@click.option("--full-only", is_flag=True, help="only the synthetic bronze and the full build (no DuckDB, no incremental)")
def bench(scale, resume, lake, full_only):
    """Benchmark the profile build (Spark vs DuckDB on the same generated SQL)."""
    from govlake.profile.bench import bench_profile

    click.echo(json.dumps(bench_profile(scale, resume=resume, lake=lake, full_only=full_only), ensure_ascii=False, indent=2))
