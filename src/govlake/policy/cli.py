"""`govlake policy ...`: validate the catalog, match, evaluate one enterprise, push, approve, bench."""

from __future__ import annotations

import datetime as dt
import json

import click


def _date(s: str | None) -> dt.date:
    return dt.date.fromisoformat(s) if s else dt.date.today()


@click.group("policy")
def policy() -> None:
    """政策找企业 / 秒批: policy rules, matching, push and instant approval."""


@policy.command("validate")
def validate_cmd() -> None:
    """Load and check every policy in catalog/policies and the 秒批 trees."""
    from govlake.catalog.policies import load_policies
    from govlake.policy.approval import load_trees
    from govlake.settings import get_settings

    s = get_settings()
    ps = load_policies(s.catalog_dir)
    trees = load_trees(s.catalog_dir)
    for p in ps:
        click.echo(f"{p.policy_id:32s} v{p.version} {p.kind:18s} {p.dept:5s} {len(p.clauses)} 条件  {p.name_zh}  {p.doc_no}")
    click.echo(f"{len(ps)} policies OK; {len(trees)} 秒批 trees OK")


@policy.command("match")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
@click.option("--changed-only", is_flag=True, help="match only new or changed policy versions")
def match_cmd(as_of, changed_only) -> None:
    """Match policies against gold.enterprise_profile into gold.policy_matches."""
    from govlake.catalog.policies import load_policies
    from govlake.lakehouse import Lakehouse
    from govlake.policy.match import changed_policies, match_policies
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    spark = get_spark(s)
    lake = Lakehouse(spark, s)
    pols = None
    if changed_only:
        pols = changed_policies(lake, load_policies(s.catalog_dir))
        if not pols:
            click.echo("no new or changed policy versions")
            return
    click.echo(match_policies(spark, lake, _date(as_of), policies=pols))


@policy.command("evaluate")
@click.argument("uscc")
@click.option("--as-of", default=None)
def evaluate_cmd(uscc, as_of) -> None:
    """All policies for one enterprise (online path, no Spark for the rules)."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.evaluate import PolicyEngine
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    eng = PolicyEngine.from_catalog(s.catalog_dir, Lakehouse(get_spark(s), s))
    for r in eng.evaluate(uscc, _date(as_of)):
        mark = "✓" if r.eligible else ("≈" if r.near_miss else "✗")
        click.echo(f"{mark} {r.policy_id} {r.name_zh}: {r.explanation_zh}")


@policy.command("push")
@click.option("--as-of", default=None)
@click.option("--webhook-url", default=None, help="enables the webhook channel")
def push_cmd(as_of, webhook_url) -> None:
    """Enqueue eligible matches, send due notifications, publish ops.push_outbox."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.push import default_channels, push_run
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    lake = Lakehouse(get_spark(s), s)
    click.echo(json.dumps(push_run(lake, _date(as_of), default_channels(s, webhook_url)), ensure_ascii=False))


@policy.command("approve")
@click.option("--as-of", default=None)
def approve_cmd(as_of) -> None:
    """Decide every undecided application in ops.applications (秒批)."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.approval import auto_approve
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    spark = get_spark(s)
    click.echo(auto_approve(spark, Lakehouse(spark, s), _date(as_of)))


@policy.command("replay")
@click.argument("decision_id")
def replay_cmd(decision_id) -> None:
    """Re-decide a recorded 秒批 decision on the data and rule versions it used."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.approval import decision_dict, replay
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    click.echo(json.dumps(decision_dict(replay(Lakehouse(get_spark(s), s), decision_id)), ensure_ascii=False, indent=1))


@policy.command("bench")
@click.option("--enterprises", default=100_000, show_default=True)
@click.option("--policies", default=342, show_default=True)
def bench_cmd(enterprises, policies) -> None:
    """342 policies x N enterprises, one new policy, online p99."""
    from govlake.policy.bench import bench_policy

    click.echo(json.dumps(bench_policy(enterprises, policies), indent=1))
