"""`govlake signals ...`: petition signals (敏感预警、反复诉求并案、群体诉求、热点、地址标准化)."""

from __future__ import annotations

import datetime as dt
import json

import click

from govlake.settings import get_settings


@click.group("signals")
def signals_cli() -> None:
    """Petition signals over bronze.petitions, published as gold tables."""


@signals_cli.command("run")
@click.option("--as-of", "as_of", required=True, help="logical date yyyy-MM-dd")
def run_cmd(as_of: str) -> None:
    """Compute and publish gold.petition_alerts / petition_merge_groups / group_petition_alerts /
    hot_topics / address_review_queue for AS_OF (idempotent per date)."""
    from govlake.lakehouse import Lakehouse
    from govlake.signals.job import run_signals
    from govlake.spark import get_spark

    s = get_settings()
    spark = get_spark(s)
    commits = run_signals(spark, Lakehouse(spark, s), dt.date.fromisoformat(as_of))
    for t, c in commits.items():
        click.echo(f"{t}: version {c.version}, {c.rows_written} rows" + ("" if c.committed else " (already committed)"))


@signals_cli.command("sla")
@click.option("--by", type=click.Choice(["dept", "street", "category"]), default=None,
              help="one row per 承办部门 / 街道 / 一级分类 (default: the district as a whole)")
@click.option("--since", default=None, help="only tickets submitted on or after yyyy-MM-dd")
@click.option("--top", default=20, show_default=True, help="rows shown with --by")
def sla_cmd(by: str | None, since: str | None, top: int) -> None:
    """按时办结率、回退率、督办、平均办理天数 from gold.fct_petition_sla (build it with
    `govlake dbt build --select +fct_petition_sla`)."""
    import pandas as pd

    from govlake.lakehouse import arrow_reads
    from govlake.signals.sla_summary import COLUMNS, FACT, GROUPS, LABELS, sla_summary

    s = get_settings()
    layer, _, name = FACT.partition(".")
    fact = arrow_reads.to_arrow(s.tables_dir / layer / name, columns=COLUMNS)
    df = sla_summary(fact, by, dt.date.fromisoformat(since) if since else None).head(top)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.precision", 3):
        click.echo(df.rename(columns={**LABELS, **({by: GROUPS[by][1]} if by else {})}).to_string(index=False))


@signals_cli.command("address")
@click.argument("text")
def address_cmd(text: str) -> None:
    """Standardise the address in TEXT (地址标准化), e.g. "西乡固戍那边"."""
    from govlake.signals.address import standardise

    click.echo(json.dumps(standardise(text).as_dict(), ensure_ascii=False, indent=1))


@signals_cli.command("sensitive")
@click.argument("text")
def sensitive_cmd(text: str) -> None:
    """Lexicon categories and severity of TEXT (敏感事件)."""
    from govlake.signals.sensitive import load_lexicon

    h = load_lexicon().match(text)
    click.echo(json.dumps(h.__dict__, ensure_ascii=False))


@signals_cli.command("taidi-topics")
@click.option("--top", default=10, show_default=True)
def taidi_topics_cmd(top: int) -> None:
    """Hot topics of the real taidi2020 board (the check in docs/signals.md)."""
    from govlake.signals import detect
    from govlake.signals.hot_topics import hot_topics
    from govlake.signals.taidi import load_votes_messages

    p = detect.enrich(load_votes_messages())
    h = hot_topics(p, p["submit_time"].max(), window_days=None, top=top)
    for r in h.itertuples():
        click.echo(f"{r.rank:>2} heat={r.heat:.2f} n={r.ticket_count} people={r.requester_count} "
                   f"votes={r.votes} [{r.keywords}] {r.representative_title}")


@signals_cli.command("bench")
@click.option("--n", default=188_000, show_default=True)
def bench_cmd(n: int) -> None:
    """Time and peak memory of the signals over N synthetic petitions (a year = 188,000)."""
    from govlake.signals.bench import bench_signals

    click.echo(json.dumps(bench_signals(n), ensure_ascii=False, indent=1))
