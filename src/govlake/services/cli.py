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
    """诉求直达: submit an enterprise's request (the CLI twin of POST /enterprise-requests)."""


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
