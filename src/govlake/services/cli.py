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
    """Generate (with the submitted requests) and write the day's requests, officials, key
    enterprises, visits, each through its quality gate, release them; print SLA figures."""
    from govlake import release
    from govlake.services.enterprise_requests import run_requests
    from govlake.services.table_gate import TableGate

    lake, day = _lake(), _day(as_of)
    gate = TableGate(lake)
    out = run_requests(lake, day, gate=gate)
    gate.flush()
    out["release"] = release.publish(lake, f"services-requests@{day}", {w["table"]: w["version"] for w in out["tables"]},
                                     step="services").release_id
    click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))


@services.command("warn")
@click.option("--as-of", default=None, help="YYYY-MM-DD (default today)")
@click.option("--official", default=None, help="only this official's queue")
def warn_command(as_of, official):
    """Train and validate the relocation model, write ops.relocation_warnings (gated, released),
    print the queue."""
    from govlake import release
    from govlake.services.relocation import WARNINGS, run_relocation
    from govlake.services.table_gate import TableGate

    lake, day = _lake(), _day(as_of)
    gate = TableGate(lake)
    out = run_relocation(lake, day, gate=gate)
    gate.flush()
    out["release"] = release.publish(lake, f"services-warn@{day}", {w["table"]: w["version"] for w in out["tables"]},
                                     step="services").release_id
    click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    rows = lake.to_arrow(WARNINGS, version=release.version_of(lake, WARNINGS)).to_pylist()
    for r in sorted(rows, key=lambda r: -r["risk"]):
        if official is None or r["official"] == official:
            click.echo(f"{r['official']}\t{r['uscc']}\t{r['risk']:.3f}\t{r['reasons']}")


@services.group("request")
def request_group():
    """诉求直达: submit a request (POST /enterprise-requests); a unit lists, accepts, replies, closes; the
    enterprise evaluates (POST /enterprise-requests/{id}/actions)."""


@request_group.command("submit")
@click.option("--as", "consumer", required=True, help="the consumer submitting (needs a grant on ops.enterprise_requests)")
@click.option("--client-id", required=True, help="the caller's request id: the same id again returns the same ticket")
@click.option("--uscc", required=True, help="统一社会信用代码")
@click.option("--service", "service_id", required=True, help="服务事项编号 (catalog/enterprise_services.yaml)")
@click.option("--form", "form_json", default=None, help='the form as JSON, e.g. \'{"contact_phone": "13800000000"}\'')
@click.option("--field", "fields", multiple=True, metavar="ID=VALUE", help="one form field (repeatable; numbers as numbers)")
@click.option("--proxy-official", default=None, help="代提诉求: the official raising it for the enterprise")
def submit_command(consumer, client_id, uscc, service_id, form_json, fields, proxy_official):
    """Validate a request against its service's form, give it a ticket and due date, record it."""
    from govlake import access
    from govlake.services.request_intake import ConflictError, submit_request
    from govlake.services.service_catalog import FormError

    from govlake.services.service_catalog import load_services

    lake = _lake()
    form = json.loads(form_json) if form_json else {}
    try:
        types = {f.id: f.type for f in load_services(lake.settings.catalog_dir).service(service_id).form}
    except KeyError as e:
        raise click.ClickException(str(e.args[0]))
    for f in fields:
        k, sep, v = f.partition("=")
        if not sep:
            raise click.UsageError(f"--field {f!r}: expected ID=VALUE")
        # a value is text unless the service's form declares the field a number (a phone stays text)
        try:
            form[k] = int(v) if types.get(k) == "int" else float(v) if types.get(k) == "number" else v
        except ValueError:
            form[k] = v  # the form's validation names the field and its label
    store = access.open_store(lake.settings)
    try:
        g = access.active_grant(store, consumer, "ops.enterprise_requests")
        scope = (g.row_scope or {}) if g is not None else {}
        refused = ("no grant on ops.enterprise_requests (未获授权)" if g is None else
                   f"{uscc} is outside the grant's rows (超出授权企业范围)" if "uscc" in scope and uscc not in scope["uscc"]
                   else None)
        event = dict(actor_kind="consumer", actor=consumer, product="ops.enterprise_requests", client="cli",
                     filters={"uscc": uscc, "service_id": service_id, "client_request_id": client_id},
                     purpose=getattr(g, "purpose", None), grant_id=getattr(g, "id", None))
        if refused:
            access.append_audit(store, access.AuditEvent("services.request.submit", "denied", status=403,
                                                         detail=refused, **event))
            raise click.ClickException(f"{consumer}: {refused}")
        try:
            t = submit_request(lake, consumer=consumer, client_request_id=client_id, uscc=uscc,
                               service_id=service_id, form=form, proxy_official=proxy_official)
        except (FormError, ConflictError) as e:
            raise click.ClickException(str(e))
        except KeyError as e:
            raise click.ClickException(str(e.args[0]))
        access.append_audit(store, access.AuditEvent("services.request.submit", "allowed", status=200, rows=1,
                                                     detail=f"enterprise request {t.ticket_id}", **event))
    finally:
        store.close()
    click.echo(json.dumps(t.to_dict(), ensure_ascii=False, indent=2))


def _acting(lake, consumer: str, what: str, filters: dict):
    """The consumer's grant on ops.enterprise_requests and unit, and a function that appends the
    CLI's audit row (the API's middleware does it for the routes)."""
    from govlake import access
    from govlake.services.request_handling import uscc_scope

    store = access.open_store(lake.settings)
    g = access.active_grant(store, consumer, "ops.enterprise_requests")
    c = access.get_consumer(store, consumer)
    event = dict(actor_kind="consumer", actor=consumer, product="ops.enterprise_requests", client="cli",
                 filters=filters, purpose=getattr(g, "purpose", None), grant_id=getattr(g, "id", None))

    def audit(outcome: str, status: int, detail: str, rows: int = 0) -> None:
        access.append_audit(store, access.AuditEvent(what, outcome, status=status, rows=rows, detail=detail, **event))

    if g is None:
        audit("denied", 403, "no grant on ops.enterprise_requests (未获授权)")
        store.close()
        raise click.ClickException(f"{consumer}: no grant on ops.enterprise_requests (未获授权)")
    return store, (c.dept if c else None), uscc_scope(g), audit


@request_group.command("list")
@click.option("--as", "consumer", required=True, help="a consumer of the unit (its department is the unit)")
@click.option("--all", "include_done", is_flag=True, help="also the handled, closed and returned ones")
@click.option("--today", default=None, help="YYYY-MM-DD: count overdue against this day (default today, district time)")
@click.option("--json", "as_json", is_flag=True, help="print JSON (with each request's events)")
def list_command(consumer, include_done, today, as_json):
    """The unit's queue (本单位待办): open requests, overdue (逾期) first."""
    from govlake.services.request_handling import unit_queue

    lake = _lake()
    store, unit, scope, audit = _acting(lake, consumer, "services.request.list", {"include_done": include_done})
    try:
        # no --today: unit_queue's own default, today on the district's clock (not the host's date)
        day = dt.date.fromisoformat(today) if today else None
        rows = unit_queue(lake, unit, today=day, include_done=include_done, uscc_scope=scope) if unit else []
        audit("allowed", 200, f"queue of {unit}", rows=len(rows))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{unit} 本单位诉求：{len(rows)} 件，逾期 {sum(r['overdue'] for r in rows)} 件")
    click.echo("诉求编号\t服务事项\t状态\t提交日期\t截止日期\t剩余工作日\t逾期")
    for r in rows:
        left = "" if r["workdays_left"] is None else r["workdays_left"]
        click.echo(f"{r['request_id']}\t{r['service']}\t{r['status_zh']}\t{r['submitted_on']}\t{r['deadline']}\t"
                   f"{left}\t{r['overdue_zh']}")


def _act(consumer: str, request_id: str, action: str, action_id: str | None, note: str = "",
         evaluation: str | None = None) -> None:
    from govlake.services.request_handling import HandlingError, act, default_action_id

    lake = _lake()
    action_id = action_id or default_action_id(request_id, action, consumer, note.strip(), evaluation)
    store, unit, scope, audit = _acting(lake, consumer, f"services.request.{action}",
                                        {"request_id": request_id, "action_id": action_id})
    try:
        try:
            e = act(lake, request_id=request_id, action=action, action_id=action_id, actor=consumer, actor_dept=unit,
                    note=note, evaluation=evaluation, uscc_scope=scope)
        except HandlingError as err:
            audit("denied" if err.status == 403 else "error", err.status, str(err))
            raise click.ClickException(str(err))
        audit("allowed", 200, f"enterprise request {request_id} {action}" + (" (repeat)" if e.duplicate else ""), 1)
    finally:
        store.close()
    click.echo(json.dumps(e.to_dict(), ensure_ascii=False, indent=2))


_AS_UNIT = click.option("--as", "consumer", required=True, help="a consumer of the request's unit")
_ACTION_ID = click.option("--action-id", default=None,
                          help="the caller's action id (idempotent); default: derived from the command")


@request_group.command("accept")
@click.argument("request_id")
@_AS_UNIT
@_ACTION_ID
def accept_command(request_id, consumer, action_id):
    """签收: the unit takes the request on (已受理登记 → 已签收)."""
    _act(consumer, request_id, "accept", action_id)


@request_group.command("reply")
@click.argument("request_id")
@_AS_UNIT
@click.option("--result", required=True, help="办理结果: what the unit did and answers the enterprise")
@_ACTION_ID
def reply_command(request_id, consumer, result, action_id):
    """办理答复: the unit's handling result (已签收 → 已办理)."""
    _act(consumer, request_id, "reply", action_id, note=result)


@request_group.command("close")
@click.argument("request_id")
@_AS_UNIT
@click.option("--note", default="", help="办结说明")
@_ACTION_ID
def close_command(request_id, consumer, note, action_id):
    """办结: the unit closes the handled request (已办理 → 已办结)."""
    _act(consumer, request_id, "close", action_id, note=note)


@request_group.command("evaluate")
@click.argument("request_id")
@click.option("--as", "consumer", required=True, help="the enterprise's side (a grant covering the enterprise)")
@click.option("--evaluation", required=True, type=click.Choice(["满意", "基本满意", "不满意"]), help="满意度评价")
@click.option("--comment", default="", help="评价意见")
@_ACTION_ID
def evaluate_command(request_id, consumer, evaluation, comment, action_id):
    """评价: the enterprise rates a closed request; the first 不满意 reopens it (不满意重办)."""
    _act(consumer, request_id, "evaluate", action_id, note=comment, evaluation=evaluation)
