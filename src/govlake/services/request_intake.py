"""诉求直达 intake: an enterprise's request, submitted through the API (POST /enterprise-requests)
or the CLI (`govlake services request submit`), validated against its service's form, given a
ticket id (工单编号) and a due date in working days (catalog/work_calendar.yaml), and appended to
ops.enterprise_request_submissions (Delta, by delta-rs: the API runs without Spark).

Idempotent by the caller's client request id: the same id with the same request returns the
ticket already given (no second row); with a different request it is refused (ConflictError).
The daily step (`enterprise_requests.run_requests`) adds the submitted requests, dispatched to
their units, beside the generated ones in ops.enterprise_requests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import pyarrow as pa

from govlake.catalog.work_calendar import load_work_calendar
from govlake.lakehouse import Lakehouse
from govlake.lakehouse.arrow_writes import append_rows
from govlake.runlock import state_lock
from govlake.services.service_catalog import load_services

SUBMISSIONS = "ops.enterprise_request_submissions"
SCHEMA = pa.schema([
    ("ticket_id", pa.string()), ("client_request_id", pa.string()), ("consumer_id", pa.string()),
    ("uscc", pa.string()), ("service_id", pa.string()), ("dept_code", pa.string()), ("days", pa.int64()),
    ("form_json", pa.string()), ("proxy_official", pa.string()), ("submitted_at", pa.string()),
    ("submitted_on", pa.date32()), ("deadline", pa.date32())])
TZ_OFFSET = dt.timezone(dt.timedelta(hours=8))  # the district's clock (Asia/Shanghai, no DST)


class ConflictError(ValueError):
    """A client request id already used for a different request."""


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    client_request_id: str
    uscc: str
    service_id: str
    service: str
    category: str
    dept_code: str
    days: int
    submitted_at: str
    submitted_on: dt.date
    deadline: dt.date
    status: str = "received"
    status_zh: str = "已受理登记"
    duplicate: bool = False

    def to_dict(self) -> dict:
        return {"ticket_id": self.ticket_id, "client_request_id": self.client_request_id, "uscc": self.uscc,
                "service_id": self.service_id, "service": self.service, "category": self.category,
                "dept_code": self.dept_code, "days": self.days, "submitted_at": self.submitted_at,
                "submitted_on": self.submitted_on.isoformat(), "deadline": self.deadline.isoformat(),
                "status": self.status, "status_zh": self.status_zh, "duplicate": self.duplicate}


def ticket_id(consumer: str, client_request_id: str, day: dt.date) -> str:
    """QD + submission date + a digest of (caller, client id): the same submission, the same ticket."""
    h = hashlib.sha256(f"{consumer}\x1f{client_request_id}".encode()).hexdigest()[:10].upper()
    return f"QD{day:%Y%m%d}{h}"


def _ticket(row: dict, svc, duplicate: bool) -> Ticket:
    return Ticket(row["ticket_id"], row["client_request_id"], row["uscc"], row["service_id"], svc.name, svc.category,
                  row["dept_code"], int(row["days"]), row["submitted_at"], row["submitted_on"], row["deadline"],
                  duplicate=duplicate)


def submit_request(lake: Lakehouse, *, consumer: str, client_request_id: str, uscc: str, service_id: str,
                   form: dict, proxy_official: str | None = None, now: dt.datetime | None = None) -> Ticket:
    """Validate and record one submission. Raises KeyError (unknown service), FormError (the
    form's problems with their Chinese labels) or ConflictError; returns the ticket (duplicate=True
    when this client id was already submitted with the same request)."""
    s = lake.settings
    svc = load_services(s.catalog_dir).service(service_id)
    values = svc.validate(form)
    form_json = json.dumps(values, ensure_ascii=False, sort_keys=True)
    with state_lock(lake.settings, "enterprise_request_intake"):  # the state check and the append must not interleave
        if lake.exists(SUBMISSIONS):
            have = lake.to_arrow(SUBMISSIONS, where={"consumer_id": consumer, "client_request_id": client_request_id})
            if have.num_rows:
                row = have.to_pylist()[0]
                if (row["uscc"], row["service_id"], row["form_json"], row["proxy_official"]) != \
                        (uscc, service_id, form_json, proxy_official):
                    raise ConflictError(f"client request id {client_request_id!r} was already used for another request "
                                        f"(ticket {row['ticket_id']}) (客户端请求编号已用于其他诉求)")
                return _ticket(row, svc, duplicate=True)
        at = (now or dt.datetime.now(TZ_OFFSET)).astimezone(TZ_OFFSET).replace(microsecond=0)
        day = at.date()
        deadline = load_work_calendar(s.catalog_dir).workdays_after(day, svc.days)[1]
        row = {"ticket_id": ticket_id(consumer, client_request_id, day), "client_request_id": client_request_id,
               "consumer_id": consumer, "uscc": uscc, "service_id": service_id, "dept_code": svc.dept, "days": svc.days,
               "form_json": form_json, "proxy_official": proxy_official, "submitted_at": at.isoformat(),
               "submitted_on": day, "deadline": deadline}
        append_rows(lake, SUBMISSIONS, pa.Table.from_pylist([row], SCHEMA), f"request_submission@{row['ticket_id']}")
    return _ticket(row, svc, duplicate=False)


def submitted(lake: Lakehouse, as_of: dt.date) -> list[dict]:
    """The submissions made on or before as_of (an ops intake table: read at its latest version)."""
    if not lake.exists(SUBMISSIONS):
        return []
    return [r for r in lake.to_arrow(SUBMISSIONS).to_pylist() if r["submitted_on"] <= as_of]
