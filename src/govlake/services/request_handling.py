"""诉求直达 handling (办理): the responsible unit acts on a dispatched request, the enterprise
rates the outcome.

    unit:        签收 accept (received → accepted), 办理答复 reply with the handling result
                 (accepted → handled), 办结 close (handled → closed)
    enterprise:  评价 evaluate a closed request 满意 / 基本满意 / 不满意 with a comment; the first
                 不满意 reopens it (closed → accepted, 不满意重办), a later one stands

Every action is one append-only row of ops.enterprise_request_actions (delta-rs, like the
submissions) with its actor, the actor's unit and its time, idempotent by the caller's action id
(the same id with the same action returns the event already recorded; with another, ConflictError).
A request's state is never stored by an action: it is the fold of its events, the ones the daily
step has already written to ops.enterprise_request_events (generated progress, earlier actions)
followed by the actions recorded since (`live_requests`). The daily step folds the actions up to
its date with the same function (`enterprise_requests.apply_action`), so the table and the live
view agree."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pyarrow as pa

from govlake.access.reads import row_scope
from govlake.catalog.work_calendar import WorkCalendar, load_work_calendar
from govlake.lakehouse import Lakehouse
from govlake.lakehouse.arrow_writes import append_rows
from govlake.runlock import state_lock
from govlake.release import version_of
from govlake.services.enterprise_requests import (ACTION_OF_STATUS, ACTION_SCHEMA, ACTION_ZH, ACTIONS, EVENTS, OPEN,
                                                  REQUESTS, STATUS_ZH, UNIT_ACTIONS, EnterpriseRequest, HandlingError,
                                                  apply_action, fold, recorded_actions, request_of_submission)
from govlake.services.request_intake import SUBMISSIONS, TZ_OFFSET
from govlake.services.service_catalog import load_services

@dataclass(frozen=True)
class Event:
    """One recorded action as the caller gets it back (duplicate: the action id was already used
    for this same action, nothing new was recorded)."""
    action_id: str
    request_id: str
    action: str
    actor: str
    actor_dept: str
    at: str
    note: str
    evaluation: str | None
    status: str
    duplicate: bool = False

    def to_dict(self) -> dict:
        return {"action_id": self.action_id, "request_id": self.request_id, "action": self.action,
                "action_zh": ACTION_ZH[self.action], "actor": self.actor, "actor_dept": self.actor_dept,
                "at": self.at, "note": self.note, "evaluation": self.evaluation, "status": self.status,
                "status_zh": STATUS_ZH[self.status], "duplicate": self.duplicate}


# -- the live view ---------------------------------------------------------------------------------
def _released_requests(lake: Lakehouse, where: dict) -> list[dict]:
    if not lake.exists(REQUESTS):
        return []
    return lake.to_arrow(REQUESTS, version=version_of(lake, REQUESTS), where=where or None).to_pylist()


def _released_events(lake: Lakehouse, ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if not ids or not lake.exists(EVENTS):
        return out
    for e in sorted(lake.to_arrow(EVENTS, version=version_of(lake, EVENTS), where={"request_id": ids}).to_pylist(),
                    key=lambda e: e["seq"]):
        e.setdefault("action", ACTION_OF_STATUS.get(e["status"]))
        e.setdefault("action_id", None)
        e.setdefault("at", None)
        e.setdefault("evaluation", None)
        out.setdefault(e.pop("request_id"), []).append(e)
    return out


def _from_row(row: dict, events: list[dict], services) -> EnterpriseRequest:
    r = EnterpriseRequest(row["request_id"], row["uscc"], services.service(row["service_id"]), {}, row["submitted_on"],
                          row["deadline"], row.get("proxy_official"), row["status"], row.get("handled_on"),
                          row.get("rating"), [dict(e) for e in events], row.get("evaluation"),
                          int(row.get("reopened") or 0))
    return r


def _live(lake: Lakehouse, **where) -> tuple[list[EnterpriseRequest], list[dict]]:
    """live_requests, with the recorded actions of those requests (read once) it folded."""
    services = load_services(lake.settings.catalog_dir)
    dept, uscc, request_id = where.get("dept"), where.get("uscc"), where.get("request_id")
    rel_where = {k: v for k, v in (("dept_code", dept), ("uscc", uscc), ("request_id", request_id)) if v is not None}
    rows = _released_requests(lake, rel_where)
    events = _released_events(lake, [r["request_id"] for r in rows])
    reqs = [_from_row(r, events.get(r["request_id"], []), services) for r in rows]
    have = {r.request_id for r in reqs}
    if lake.exists(SUBMISSIONS):
        sub_where = {k: v for k, v in (("dept_code", dept), ("uscc", uscc), ("ticket_id", request_id)) if v is not None}
        for s in lake.to_arrow(SUBMISSIONS, where=sub_where or None).to_pylist():
            if s["ticket_id"] not in have:
                reqs.append(request_of_submission(s, services))
                have.add(s["ticket_id"])
    actions = recorded_actions(lake, request_ids=have)
    fold(reqs, actions)
    return reqs, actions


def live_requests(lake: Lakehouse, *, dept: str | None = None, uscc: str | None = None,
                  request_id: str | None = None) -> list[EnterpriseRequest]:
    """The requests (of a unit, an enterprise or one id) in their current state: the released
    ops.enterprise_requests with their events, the submissions the daily step has not taken in
    yet, then every action recorded since, folded in time order."""
    return _live(lake, dept=dept, uscc=uscc, request_id=request_id)[0]


def _action_zh(e: dict) -> str:
    zh = ACTION_ZH.get(e.get("action") or "", "")
    # the evaluation that sent the request back to the unit
    return f"{zh}·{ACTION_ZH['reopen']}" if e.get("action") == "evaluate" and e["status"] == "accepted" else zh


def view(r: EnterpriseRequest, today: dt.date, cal: WorkCalendar) -> dict:
    """A request as the unit's queue and the enterprise's file show it: overdue (逾期) when still
    open after its deadline; working days left (negative: working days overdue)."""
    if today <= r.deadline:
        left = sum(cal.is_workday(today + dt.timedelta(days=k)) for k in range(1, (r.deadline - today).days + 1))
    else:
        left = -sum(cal.is_workday(r.deadline + dt.timedelta(days=k)) for k in range(1, (today - r.deadline).days + 1))
    overdue = r.status in OPEN and today > r.deadline
    return {"request_id": r.request_id, "uscc": r.uscc, "category": r.service.category, "service_id": r.service.id,
            "service": r.service.name, "dept_code": r.service.dept, "days": r.service.days,
            "submitted_on": r.submitted_on.isoformat(), "deadline": r.deadline.isoformat(), "status": r.status,
            "status_zh": STATUS_ZH[r.status], "overdue": overdue, "overdue_zh": "已逾期" if overdue else "",
            "workdays_left": left if r.status in OPEN else None,
            "handled_on": r.handled_on.isoformat() if r.handled_on else None, "on_time": r.on_time,
            "evaluation": r.evaluation, "reopened": r.reopened, "proxy_official": r.proxy_official,
            "events": [{"seq": i, "action": e.get("action"), "action_zh": _action_zh(e),
                        "status": e["status"], "status_zh": STATUS_ZH[e["status"]],
                        "on": e["on"].isoformat() if isinstance(e["on"], dt.date) else e["on"], "at": e.get("at"),
                        "by": e["by"], "note": e["note"], "evaluation": e.get("evaluation")}
                       for i, e in enumerate(r.events)]}


def uscc_scope(g) -> list[str] | None:
    """The enterprises (uscc) a grant's rows cover; None: the grant is not limited to some."""
    scope = row_scope(g).get("uscc")
    return None if scope is None else list(scope)


def unit_queue(lake: Lakehouse, dept: str, *, today: dt.date | None = None, include_done: bool = False,
               uscc_scope: list[str] | None = None) -> list[dict]:
    """A unit's requests (open ones unless include_done), overdue first, then by deadline."""
    today = today or dt.datetime.now(TZ_OFFSET).date()
    cal = load_work_calendar(lake.settings.catalog_dir)
    out = [view(r, today, cal) for r in live_requests(lake, dept=dept)
           if (include_done or r.status in OPEN) and (uscc_scope is None or r.uscc in uscc_scope)]
    return sorted(out, key=lambda v: (not v["overdue"], v["deadline"], v["request_id"]))


# -- recording an action ---------------------------------------------------------------------------
def default_action_id(request_id: str, action: str, actor: str, note: str, evaluation: str | None) -> str:
    """For a caller that gives none (the CLI): the same command twice is the same action."""
    h = hashlib.sha256("\x1f".join([request_id, action, actor, note, evaluation or ""]).encode()).hexdigest()[:16]
    return f"{action}-{h}"


def act(lake: Lakehouse, *, request_id: str, action: str, action_id: str, actor: str, actor_dept: str | None,
        note: str = "", evaluation: str | None = None, uscc_scope: list[str] | None = None,
        now: dt.datetime | None = None) -> Event:
    """Record one action. A unit action (accept, reply, close) only by a consumer of the request's
    unit; evaluate only by the enterprise's side (a caller whose grant's rows, uscc_scope, cover
    the enterprise when it has a scope; never the handling unit itself). Raises HandlingError."""
    if action not in (*UNIT_ACTIONS, "evaluate"):
        raise HandlingError(422, f"unknown action {action!r}; one of accept, reply, close, evaluate", "未知操作")
    note = (note or "").strip()
    with state_lock(lake.settings, "enterprise_request_actions"):  # the state check and the append must not interleave
        # the id may have been used for another request: looked up on its own
        prior = lake.to_arrow(ACTIONS, where={"action_id": action_id}).to_pylist() if lake.exists(ACTIONS) else []
        if prior:
            p = prior[0]
            if (p["request_id"], p["action"], p["actor"], p["note"], p["evaluation"]) != \
                    (request_id, action, actor, note, evaluation):
                raise HandlingError(409, f"action id {action_id!r} was already used for {p['action']} of "
                                         f"{p['request_id']} by {p['actor']}", "操作编号已被使用")
        found, recorded = _live(lake, request_id=request_id)
        if prior:
            return Event(action_id, request_id, action, actor, p["actor_dept"], p["at"], note, evaluation,
                         found[0].status, duplicate=True)
        if not found:
            raise HandlingError(404, f"no request {request_id}", "无此诉求")
        r = found[0]
        unit = r.service.dept
        if action in UNIT_ACTIONS and actor_dept != unit:
            raise HandlingError(403, f"{request_id} is assigned to {unit}; {actor} ({actor_dept or 'no unit'}) may not "
                                     f"{action} it", "非本单位承办的诉求")
        if action == "evaluate":
            if actor_dept == unit:
                raise HandlingError(403, f"{actor} belongs to the handling unit {unit}: the enterprise evaluates",
                                    "承办单位不能自行评价")
        # a grant limited to some enterprises acts on theirs only, for the unit as for the enterprise
        if uscc_scope is not None and r.uscc not in uscc_scope:
            raise HandlingError(403, f"{r.uscc} is outside the grant's rows (uscc)", "超出授权企业范围")
        at = (now or dt.datetime.now(TZ_OFFSET)).astimezone(TZ_OFFSET).replace(microsecond=0)
        seq = len(recorded)  # the request's actions recorded so far
        row = {"action_id": action_id, "request_id": request_id, "action": action, "actor": actor,
               "actor_dept": actor_dept or "", "at": at.isoformat(), "on": at.date(), "note": note,
               "evaluation": evaluation, "seq": seq}
        ev = apply_action(r, row)  # raises on a state the action does not fit: nothing recorded
        append_rows(lake, ACTIONS, pa.Table.from_pylist([row], ACTION_SCHEMA), f"request_action@{action_id}")
    return Event(action_id, request_id, action, actor, row["actor_dept"], row["at"], note, evaluation, ev["status"])
