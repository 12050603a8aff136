"""`govlake policy ...`: validate the catalog, match, evaluate one enterprise, push, approve, notices, bench."""

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
        manual = f" +{len(p.manual_clauses)} 人工核验" if p.manual_clauses else ""
        click.echo(f"{p.policy_id:32s} v{p.version} {p.kind:18s} {p.dept:5s} {len(p.clauses)} 条件{manual}  {p.name_zh}  {p.doc_no}")
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
    out = auto_approve(spark, Lakehouse(spark, s), _date(as_of))
    for line in out["summary_zh"]:
        click.echo(line)
    click.echo(json.dumps({k: v for k, v in out.items() if k != "summary_zh"}, ensure_ascii=False))


@policy.command("notices")
@click.option("--date", "on", default=None, help="YYYY-MM-DD: only notices whose 公示期 covers this day (default: all)")
def notices_cmd(on) -> None:
    """Print the approvals' public notice list (公示), gold.approval_notices: the automatic 秒批
    approvals and those a person approved on review (人工审核)."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.approval import NOTICE_WORKING_DAYS, NOTICES, read_notices
    from govlake.settings import get_settings

    rows = read_notices(Lakehouse(None, get_settings()), dt.date.fromisoformat(on) if on else None)
    click.echo(f"秒批资助公示（{NOTICES}；公示期 {NOTICE_WORKING_DAYS} 个工作日）" + (f"，公示中：{on}" if on else ""))
    click.echo("序号\t企业名称\t统一社会信用代码\t政策名称\t主管部门\t核准金额（万元）\t决定日期\t公示期\t审批方式")
    for i, r in enumerate(rows, 1):
        click.echo(f"{i}\t{r['enterprise_name']}\t{r['uscc_masked']}\t{r['policy_name_zh']}\t{r['dept'] or ''}\t"
                   f"{r['amount_wan']:g}\t{r['decision_date']}\t{r['notice_start']} 至 {r['notice_end']}\t"
                   f"{r.get('approval_mode') or '秒批自动审批'}")
    manual = sum(r.get("approval_mode") == "人工审核" for r in rows)
    click.echo(f"共 {len(rows)} 条（其中人工审核 {manual} 条）")


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


@policy.command("sandbox")
@click.argument("draft", type=click.Path(exists=True, dir_okay=False))
@click.option("--against", default=None, type=click.Path(exists=True, dir_okay=False),
              help="compare with another draft instead of the active version")
@click.option("--budget", "budget", default=None, type=float, help="budget in 万元 (who is funded, by the draft's ranking)")
@click.option("--points", default=20, show_default=True, help="points per sensitivity curve (0: no curves)")
@click.option("--range", "spread", default=0.5, show_default=True, help="curve range, ± share of each parameter's value")
@click.option("--by", "by", type=click.Choice(["street", "industry", "size"]), default=None,
              help="breakdown shown (default: all three)")
@click.option("--list", "cell", default=None, help="list the enterprises of one cell of --by (key or name), or entered / left")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today, or the draft's effective_from if later)")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="write the full report (every enterprise) as JSON")
def sandbox_cmd(draft, against, budget, points, spread, by, cell, as_of, as_json, out) -> None:
    """政策沙盘推演: reach, cost, sensitivity, diff and overlap of a draft policy; writes nothing to the lake."""
    from pathlib import Path

    from govlake.policy.sandbox import render_list_zh, render_zh, run_sandbox
    from govlake.settings import get_settings

    r = run_sandbox(draft, get_settings(), against=against, budget_wan=budget, points=points, spread=spread,
                    as_of=dt.date.fromisoformat(as_of) if as_of else None)
    if out:
        Path(out).write_text(json.dumps(r.to_dict(list_limit=None, full=True), ensure_ascii=False, indent=1), encoding="utf-8")
    if cell in ("entered", "left"):
        if r.diff is None:
            raise click.UsageError("no diff: the draft has nothing to compare with")
        wanted = set(getattr(r.diff, cell))
        rows = [x for x in r.enterprises() if x["uscc"] in wanted]
        rows += [{"uscc": u, "rank": None, "status": "out", "unmet_clause": None, "unmet_status": None, "amount_wan": None}
                 for u in sorted(wanted - {x["uscc"] for x in rows})]
        click.echo(render_list_zh(rows, f"{'新进入 entered' if cell == 'entered' else '退出 left'}（{r.diff.against}）"))
        return
    if cell is not None:
        dim = by or "street"
        click.echo(render_list_zh(r.enterprises(dim, cell), f"{dim} = {cell}"))
        return
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(render_zh(r, by=[by] if by else None))


@policy.group("review")
def review_group() -> None:
    """人工审核: the 秒批 applications routed to a person (转人工审核)."""


@review_group.command("list")
def review_list_cmd() -> None:
    """The applications waiting for a person's decision, oldest first."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.approval import local
    from govlake.policy.review import pending
    from govlake.settings import get_settings

    rows = pending(Lakehouse(None, get_settings()))
    for r in rows:
        click.echo(f"{r['application_id']}\t{r['uscc']}\t{r['policy_id']}\t转人工 {local(r['decided_at'])}\t"
                   f"{'；'.join(r['reasons_zh'] or [])}")
    click.echo(f"待人工审核 {len(rows)} 件")


@review_group.command("decide")
@click.argument("application_id")
@click.option("--approve/--reject", "approve", required=True, help="批准 or 不予批准")
@click.option("--reason", required=True, help="审核理由")
@click.option("--by", "by", required=True, help="审核人")
@click.option("--amount", type=float, default=None, help="核准金额（万元）; default the amount applied for")
@click.option("--at", "at", default=None, help="decision time YYYY-MM-DDTHH:MM[:SS] (Asia/Shanghai; default now)")
def review_decide_cmd(application_id, approve, reason, by, amount, at) -> None:
    """Record a person's decision (with its time) on a 转人工审核 application."""
    from govlake.lakehouse import Lakehouse
    from govlake.policy.review import ReviewError, decide_review
    from govlake.settings import get_settings
    from govlake.spark import get_spark

    s = get_settings()
    try:
        when = dt.datetime.fromisoformat(at) if at else None
    except ValueError:
        raise click.UsageError(f"--at {at!r}: expected YYYY-MM-DDTHH:MM[:SS]")
    try:
        out = decide_review(Lakehouse(get_spark(s), s), application_id, approve=approve, reason=reason, by=by,
                            amount_wan=amount, at=when)
    except ReviewError as e:
        raise click.ClickException(str(e))
    click.echo(json.dumps(out, ensure_ascii=False, indent=1))
