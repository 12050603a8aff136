"""`govlake access ...` (访问控制) and `govlake audit ...` (审计).

The acting person is `--by USER` (or GOVLAKE_ACCOUNT): the store checks that account's role for
each decision. The CLI runs where the lake is, so it is an operator's tool; people elsewhere use
the portal, which verifies passwords.
"""

from __future__ import annotations

import json
import os
import sys

import click

from govlake.access.database import AccessError

rate_option = click.option("--rate", type=float,
                           help="requests per second (每秒请求数上限); default: the product's, else the platform's")
burst_option = click.option("--burst", type=int, help="requests at once above the rate (突发请求数)")
by_option = click.option("--by", envvar="GOVLAKE_ACCOUNT", required=True,
                         help="acting account (操作人账号), or GOVLAKE_ACCOUNT")


def _store():
    from govlake.access.store import open_store

    return open_store()


def _fail(e: Exception):
    raise click.ClickException(str(e))


@click.group()
def access():
    """Consumers, keys, applications and grants (调用方、密钥、申请与授权)."""


@access.command("bootstrap")
def bootstrap_cmd():
    """Create the store: catalog consumers and grants, an admin account (初始化). Idempotent."""
    from govlake.access.bootstrap import bootstrap
    from govlake.access.database import store_path
    from govlake.settings import get_settings

    store = _store()
    try:
        out = bootstrap(store, get_settings(), os.environ.get("GOVLAKE_ADMIN_PASSWORD") or None)
    except AccessError as e:
        _fail(e)
    click.echo(f"access store 访问控制库: {store_path()}")
    n_consumers = store.query("SELECT count(*) FROM consumers")[0][0]
    n_grants = store.query("SELECT count(*) FROM grants WHERE granted_by = 'catalog'")[0][0]
    click.echo(f"consumers 调用方: {n_consumers}; grants from catalog/products.yaml 目录授权: {n_grants} "
               f"({out['consumers']} consumers, {out['grants']} grants new in the catalog since the store was created)")
    if out["admin_created"]:
        click.echo("created account admin (平台管理员)")
    if not out["admin_has_password"]:
        click.echo("admin has no password yet (管理员尚未设置密码): govlake access account password admin, "
                   "or run bootstrap with GOVLAKE_ADMIN_PASSWORD set")


@access.group("account")
def account():
    """People's accounts (人员账号)."""


def _new_password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password (密码)", hide_input=True, confirmation_prompt=True)


@account.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "owner", "member"]), required=True,
              help="admin 管理员 | owner 部门数据负责人 | member 部门成员")
@click.option("--dept", help="department code (部门代码), for owner and member")
@click.option("--name", "display_name", help="display name (姓名)")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (从标准输入读取密码)")
@by_option
def account_add(username, role, dept, display_name, password_stdin, by):
    """Add an account (新增账号); admin only."""
    from govlake.access.accounts import create_account, require_role

    store = _store()
    try:
        require_role(store, by, {"admin"})
        create_account(store, username, _new_password(password_stdin), role, dept, display_name, by=by)
    except AccessError as e:
        _fail(e)
    click.echo(f"account {username} ({role}{' ' + dept if dept else ''}) created (账号已创建)")


@account.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin (从标准输入读取密码)")
def account_password(username, password_stdin):
    """Set an account's password (设置密码); run by the operator of the lake."""
    from govlake.access.accounts import set_password

    try:
        set_password(_store(), username, _new_password(password_stdin))
    except AccessError as e:
        _fail(e)
    click.echo(f"password of {username} set (密码已设置)")


@access.group("consumer")
def consumer():
    """Apps and departments calling the API (调用方)."""


@consumer.command("add")
@click.argument("consumer_id")
@click.option("--name", required=True, help="name (名称)")
@click.option("--dept", required=True, help="department code (所属部门)")
@by_option
def consumer_add(consumer_id, name, dept, by):
    """Register a consumer (登记调用方); admin only."""
    from govlake.access.consumers import add_consumer

    try:
        add_consumer(_store(), consumer_id, name, dept, by=by)
    except AccessError as e:
        _fail(e)
    click.echo(f"consumer {consumer_id} registered (调用方已登记)")


@access.group("key")
def key():
    """API keys (接口密钥)."""


@key.command("issue")
@click.argument("consumer_id")
@click.option("--days", type=int, default=365, show_default=True, help="valid days (有效天数)")
@by_option
def key_issue(consumer_id, days, by):
    """Issue a key; it is printed once and never stored (签发密钥，仅显示一次)."""
    from govlake.access.consumers import issue_key

    try:
        k = issue_key(_store(), consumer_id, by=by, days=days)
    except AccessError as e:
        _fail(e)
    click.echo(f"key_id {k.key_id} for {consumer_id}, expires {k.expires_at} (有效期至)")
    click.echo("secret key, shown once (密钥仅显示一次):")
    click.echo(k.token)


@key.command("revoke")
@click.argument("key_id")
@by_option
def key_revoke(key_id, by):
    """Revoke a key at once (吊销密钥)."""
    from govlake.access.consumers import revoke_key

    try:
        revoke_key(_store(), key_id, by=by)
    except AccessError as e:
        _fail(e)
    click.echo(f"key {key_id} revoked (密钥已吊销)")


def _scope(values: tuple[str, ...]) -> dict | None:
    out: dict[str, list[str]] = {}
    for v in values:
        col, _, vals = v.partition("=")
        if not col or not vals:
            raise click.BadParameter(f"--scope COLUMN=V1,V2 (数据范围), got {v!r}")
        out.setdefault(col, []).extend(x for x in vals.split(",") if x)
    return out or None


@access.command("apply")
@click.argument("consumer_id")
@click.argument("product")
@click.option("--purpose", required=True, help="purpose (用途)")
@click.option("--columns", help="comma-separated columns (字段); default: every column the levels allow")
@click.option("--scope", multiple=True, help="row scope COLUMN=V1,V2 (数据范围), repeatable")
@click.option("--days", type=int, default=365, show_default=True, help="duration (期限天数)")
@click.option("--sensitive", is_flag=True, help="include 敏感 columns (含敏感字段)")
@click.option("--export", "export_", is_flag=True, help="allow bulk export rows.csv (允许导出)")
@click.option("--daily-rows", type=int, help="rows per day (每日行数上限)")
@rate_option
@burst_option
@by_option
def apply_cmd(consumer_id, product, purpose, columns, scope, days, sensitive, export_, daily_rows, rate, burst, by):
    """Apply for a consumer to use a product (申请数据使用)."""
    from govlake.access.grants import apply

    try:
        a = apply(_store(), consumer_id, product, purpose, by=by, days=days, sensitive=sensitive, export=export_,
                  columns=[c.strip() for c in columns.split(",") if c.strip()] if columns else None,
                  row_scope=_scope(scope), daily_rows=daily_rows, rate_per_s=rate, rate_burst=burst)
    except AccessError as e:
        _fail(e)
    click.echo(f"application {a.id} filed, pending, {a.rate_per_s:g} requests/s burst {a.rate_burst} "
               f"(申请已提交，待审批)")


@access.command("applications")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]))
@click.option("--product")
def applications_cmd(status, product):
    """List applications (申请列表)."""
    from govlake.access.grants import list_applications

    for a in list_applications(_store(), status=status, product=product):
        click.echo(f"{a.id}\t{a.status}\t{a.consumer_id}\t{a.product}\t{'敏感 ' if a.sensitive else ''}"
                   f"{'export ' if a.export else ''}{a.purpose[:40]}")


@access.command("approve")
@click.argument("application_id", type=int)
@click.option("--rate", type=float, help="requests per second, if not as applied for (每秒请求数上限)")
@click.option("--burst", type=int, help="burst, if not as applied for (突发请求数)")
@by_option
def approve_cmd(application_id, rate, burst, by):
    """Approve an application (批准申请): owner of the product's department, or admin."""
    from govlake.access.grants import approve

    try:
        g = approve(_store(), application_id, by=by, rate_per_s=rate, rate_burst=burst)
    except AccessError as e:
        _fail(e)
    click.echo(f"grant {g.id}: {g.consumer_id} may use {g.product} until {g.valid_to}, "
               f"{g.rate_per_s:g} requests/s burst {g.rate_burst} (已授权)")


@access.command("reject")
@click.argument("application_id", type=int)
@click.option("--reason", default="", help="reason (理由)")
@by_option
def reject_cmd(application_id, reason, by):
    """Reject an application (驳回申请)."""
    from govlake.access.grants import reject

    try:
        reject(_store(), application_id, by=by, reason=reason)
    except AccessError as e:
        _fail(e)
    click.echo(f"application {application_id} rejected (已驳回)")


@access.command("grants")
@click.option("--consumer")
@click.option("--product")
@click.option("--all", "all_", is_flag=True, help="also revoked and expired (含已撤销、已过期)")
@click.option("--expire", is_flag=True, help="first mark and audit grants past valid_to (标记过期授权)")
def grants_cmd(consumer, product, all_, expire):
    """List grants (授权列表)."""
    from govlake.access.grants import expire_grants, list_grants

    store = _store()
    if expire:
        for g in expire_grants(store):
            click.echo(f"expired (已过期): grant {g.id} {g.consumer_id} {g.product}")
    for g in list_grants(store, consumer=consumer, product=product, active_only=not all_):
        state = "revoked" if g.revoked_at else ("active" if g.active() else "expired")
        flags = " ".join(x for x, on in (("敏感", g.sensitive), ("export", g.export)) if on)
        rate = f"{g.rate_per_s:g}/s+{g.rate_burst}" if g.rate_per_s is not None else "default/s"
        click.echo(f"{g.id}\t{state}\t{g.consumer_id}\t{g.product}\t{g.valid_to[:10]}\t{rate}\t{flags}"
                   f"\t{json.dumps(g.row_scope, ensure_ascii=False) if g.row_scope else ''}\tby {g.granted_by}")


@access.command("revoke")
@click.argument("grant_id", type=int)
@click.option("--reason", default="", help="reason (理由)")
@by_option
def revoke_cmd(grant_id, reason, by):
    """Revoke a grant at once (撤销授权)."""
    from govlake.access.grants import revoke_grant

    try:
        revoke_grant(_store(), grant_id, by=by, reason=reason)
    except AccessError as e:
        _fail(e)
    click.echo(f"grant {grant_id} revoked (授权已撤销)")


@click.group()
def audit():
    """The audit trail of API requests and access decisions (审计日志)."""


@audit.command("list")
@click.option("--product")
@click.option("--consumer", help="consumer or account (调用方或账号)")
@click.option("--since", help="ISO date or time, UTC (起始时间)")
@click.option("--outcome", type=click.Choice(["allowed", "denied", "error"]))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def audit_list(product, consumer, since, outcome, limit, as_json):
    """Audit rows, newest first (审计记录)."""
    from govlake.access.audit import query_audit

    rows = query_audit(_store(), product=product, consumer=consumer, since=since, outcome=outcome, limit=limit)
    for r in rows:
        if as_json:
            click.echo(json.dumps({k: v for k, v in r.items() if k not in ("prev_hash", "hash")}, ensure_ascii=False))
        else:
            click.echo(f"{r['id']}\t{r['ts'][:19]}\t{r['outcome']}\t{r['status'] or ''}\t{r['actor'] or '-'}\t"
                       f"{r['action']}\t{r['product'] or ''}\t{'' if r['rows'] is None else r['rows']}\t"
                       f"{r['purpose'] or ''}\t{r['detail'] or ''}"[:240])


@audit.command("verify")
def audit_verify():
    """Check the hash chain (校验审计链); exits 1 naming the first broken row."""
    from govlake.access.audit import verify_audit

    check = verify_audit(_store())
    if not check.ok:
        click.echo(f"audit chain broken at row {check.first_broken} (审计链在第 {check.first_broken} 行断开): "
                   f"{check.reason}", err=True)
        sys.exit(1)
    click.echo(f"audit chain intact (审计链完整): {check.rows} rows")
