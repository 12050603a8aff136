"""`govlake cleanroom ...` (数据沙箱): submit jobs, record enterprises' authorisations, list jobs,
set a consumer's k. An operator's tool run where the lake is; outside parties use POST /cleanroom/jobs."""

from __future__ import annotations

import json

import click

by_option = click.option("--by", envvar="GOVLAKE_ACCOUNT", required=True,
                         help="acting account (操作人账号), or GOVLAKE_ACCOUNT")


def _settings():
    from govlake.settings import get_settings

    return get_settings()


def _account(by: str, *roles: str):
    from govlake.access import get_account, open_store

    store = open_store(_settings())
    try:
        acct = get_account(store, by)
    finally:
        store.close()
    if acct is None or (roles and acct.role not in roles):
        raise click.ClickException(f"{by} is not an account with role {'/'.join(roles) or 'any'} (操作人无权限)")


@click.group()
def cleanroom():
    """Data sandbox: computations run inside, only safe results leave (数据沙箱：可用不可见)."""


@cleanroom.command("submit")
@click.option("--consumer", required=True, help="the submitting consumer (调用方编号)")
@click.option("--sql", help="a SELECT ... GROUP BY aggregate over granted products (聚合查询)")
@click.option("--model", help="a registered model (catalog/cleanroom_models.yaml) (登记模型)")
@click.option("--uscc", "usccs", multiple=True, help="enterprises to score (repeatable; default: every authorising one)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def submit_cmd(consumer, sql, model, usccs, as_json):
    """Run a job; print the released cells or scores (提交沙箱作业)."""
    from govlake.cleanroom.jobs import JobRefused, submit_model, submit_sql

    if bool(sql) == bool(model):
        raise click.UsageError("give exactly one of --sql or --model")
    if usccs and not model:
        raise click.UsageError("--uscc goes with --model")
    try:
        r = submit_sql(_settings(), consumer, sql) if sql else \
            submit_model(_settings(), consumer, model, usccs=list(usccs) or None)
    except JobRefused as e:
        raise click.ClickException(f"job {e.job_id} refused (作业被拒绝, audit #{e.audit_id}): {e}")
    if as_json:
        click.echo(json.dumps(r.to_dict(), ensure_ascii=False, default=str, indent=1))
        return
    click.echo(f"job {r.job_id} ({r.kind}) k={r.k} inputs {r.inputs} code sha256 {r.code_sha256[:12]}")
    click.echo(f"released {r.cells_released} (发布), suppressed {r.cells_suppressed} (抑制), "
               f"enterprises {r.enterprises} (覆盖企业)")
    click.echo("\t".join(r.columns))
    for row in r.rows:
        click.echo("\t".join("" if row[c] is None else str(row[c]) for c in r.columns))
    if r.not_found:
        click.echo(f"no result for {len(r.not_found)} requested enterprises: {', '.join(r.not_found[:10])}")


@cleanroom.command("authorise")
@click.argument("uscc")
@click.option("--party", required=True, help="the consumer the enterprise authorises (被授权方)")
@click.option("--purpose", required=True, help="用途, e.g. 融资预授信 (a model's purpose)")
@click.option("--days", type=int, default=365, show_default=True, help="授权期限（天）")
@by_option
def authorise_cmd(uscc, party, purpose, days, by):
    """Record an enterprise's authorisation of a party (登记企业授权) in ops.enterprise_authorisations."""
    from govlake.cleanroom.authorisations import AuthorisationError, record

    _account(by)
    try:
        a = record(_settings(), uscc, party, purpose, days=days, by=by)
    except AuthorisationError as e:
        raise click.ClickException(str(e))
    click.echo(f"{a.authorisation_id}: {a.uscc} authorises {a.party} for {a.purpose} until {a.expires_at:%Y-%m-%d}")


@cleanroom.command("revoke")
@click.argument("authorisation_id")
@by_option
def revoke_cmd(authorisation_id, by):
    """The enterprise withdraws an authorisation (撤回企业授权)."""
    from govlake.cleanroom.authorisations import AuthorisationError, revoke

    _account(by)
    try:
        a = revoke(_settings(), authorisation_id, by=by)
    except AuthorisationError as e:
        raise click.ClickException(str(e))
    click.echo(f"{a.authorisation_id} revoked at {a.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


@cleanroom.command("authorisations")
@click.option("--party", help="only this party (被授权方)")
def authorisations_cmd(party):
    """Enterprises' authorisations, newest first (企业授权列表)."""
    from govlake.cleanroom.authorisations import all_authorisations

    for a in all_authorisations(_settings()):
        if party and a.party != party:
            continue
        state = "revoked" if a.revoked_at else "active" if a.active() else "expired"
        click.echo(f"{a.authorisation_id}  {a.uscc}  {a.party:<20s} {a.purpose}  "
                   f"{a.granted_at:%Y-%m-%d}..{a.expires_at:%Y-%m-%d}  {state}  "
                   f"(recorded by {a.recorded_by} at {a.recorded_at:%Y-%m-%d %H:%M})")


@cleanroom.command("jobs")
@click.option("--consumer", help="only this consumer")
@click.option("--limit", type=int, default=20, show_default=True)
def jobs_cmd(consumer, limit):
    """Sandbox jobs, newest first: outcome, what left, code hash (沙箱作业记录)."""
    from govlake.cleanroom.ledger import Ledger

    ledger = Ledger(_settings())
    try:
        rows = ledger.jobs(consumer, limit)
    finally:
        ledger.close()
    for j in rows:
        click.echo(f"#{j['id']}  {j['submitted_at'][:19]}  {j['consumer_id']:<20s} {j['kind']:<5s} {j['outcome']:<7s} "
                   f"released {j['cells_released']} suppressed {j['cells_suppressed']} enterprises {j['enterprises']}  "
                   f"code {j['code_sha256'][:12]}  audit #{j['audit_id']}  inputs {j['inputs']}"
                   + (f"\n      reason: {j['reason']}" if j["reason"] else ""))


def _admin_ledger_call(by: str, change) -> None:
    """An administrator's change to the ledger, stamped now; a refused change is a clear CLI error."""
    import datetime as dt

    from govlake.cleanroom.ledger import Ledger

    _account(by, "admin")
    ledger = Ledger(_settings())
    try:
        change(ledger, dt.datetime.now(dt.timezone.utc).isoformat())
    except ValueError as e:
        raise click.ClickException(str(e))
    finally:
        ledger.close()


@cleanroom.command("set-k")
@click.argument("consumer")
@click.argument("k", type=int)
@by_option
def set_k_cmd(consumer, k, by):
    """Set a consumer's k, the fewest enterprises a released cell covers (最小单元企业数)."""
    _admin_ledger_call(by, lambda ledger, at: ledger.set_k(consumer, k, by=by, at=at))
    click.echo(f"{consumer}: k = {k}")


@cleanroom.command("set-org")
@click.argument("consumer")
@click.argument("org")
@by_option
def set_org_cmd(consumer, org, by):
    """Put a consumer in an organisation (组织): consumers of one organisation — and of one
    department — share one differencing history, so two of them cannot combine their answers."""
    _admin_ledger_call(by, lambda ledger, at: ledger.set_organisation(consumer, org, by=by, at=at))
    click.echo(f"{consumer}: organisation {org}")
