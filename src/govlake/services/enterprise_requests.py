"""诉求直达: an enterprise request is validated against its service's form, dispatched to the
responsible unit with a deadline in working days, tracked (received 已受理登记 → accepted 已签收 →
handled 已办理 → closed 已办结, or returned 已退回), rated by the enterprise (1-5) and kept with the
enterprise's file. `run_requests` generates a seeded stream of requests (key enterprises' partly
raised by their officials, 代提诉求) and writes ops.enterprise_requests and their events."""

from __future__ import annotations

import datetime as dt
import json
import zlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from govlake.catalog.work_calendar import WorkCalendar, load_work_calendar
from govlake.lakehouse import Lakehouse
from govlake.services import key_enterprises as ke
from govlake.services.service_catalog import Service, ServiceCatalog, load_services
from govlake.lakehouse.arrow_writes import content_digest, replace_table

REQUESTS, EVENTS = "ops.enterprise_requests", "ops.enterprise_request_events"
STATUS_ZH = {"received": "已受理登记", "accepted": "已签收", "handled": "已办理", "closed": "已办结", "returned": "已退回"}
NEXT = {"received": {"accepted", "returned"}, "accepted": {"handled", "returned"}, "handled": {"closed"},
        "closed": set(), "returned": set()}
WINDOW_DAYS = 120          # generated requests are submitted over this many days before as_of
REQUESTS_PER_ENTERPRISE = 0.08
KEY_REQUESTS_PER_ENTERPRISE = 3.0
PROXY_SHARE = 0.3          # of a key enterprise's requests, raised by its official (代提诉求)
BAD_FORM_SHARE = 0.03      # generated submissions with a form error: refused, never dispatched


class LifecycleError(ValueError):
    pass


# -- the units' and enterprises' actions (govlake.services.request_handling records them) -----------
ACTIONS = "ops.enterprise_request_actions"
ACTION_SCHEMA = pa.schema([
    ("action_id", pa.string()), ("request_id", pa.string()), ("action", pa.string()), ("actor", pa.string()),
    ("actor_dept", pa.string()), ("at", pa.string()), ("on", pa.date32()), ("note", pa.string()),
    ("evaluation", pa.string()), ("seq", pa.int64())])
# unit action -> (the status it acts on, the status it leads to); 中文 in ACTION_ZH
UNIT_ACTIONS = {"accept": ("received", "accepted"), "reply": ("accepted", "handled"), "close": ("handled", "closed")}
ACTION_ZH = {"submit": "受理登记", "accept": "签收", "reply": "办理答复", "close": "办结", "evaluate": "评价",
             "return": "退回", "reopen": "不满意重办"}
EVALUATIONS = ("满意", "基本满意", "不满意")
MAX_REOPENS = 1           # 不满意 reopens a request once; a second 不满意 stands
OPEN = ("received", "accepted")


class HandlingError(ValueError):
    """A refused action; status: the HTTP status it answers (403 not the caller's request,
    404 no such request, 409 wrong state or an action id used for another action, 422 bad input)."""

    def __init__(self, status: int, message: str, reason_zh: str):
        super().__init__(f"{message} ({reason_zh})")
        self.status = status
        self.reason_zh = reason_zh  # the portal shows it alone


@dataclass
class EnterpriseRequest:
    request_id: str
    uscc: str
    service: Service
    form: dict
    submitted_on: dt.date
    deadline: dt.date
    proxy_official: str | None = None
    status: str = "received"
    handled_on: dt.date | None = None
    rating: int | None = None
    events: list[dict] = field(default_factory=list)
    evaluation: str | None = None   # 满意 / 基本满意 / 不满意 (govlake.services.request_handling)
    reopened: int = 0               # times a 不满意 sent it back to the unit

    def move(self, to: str, on: dt.date, by: str, note: str = "") -> None:
        if to not in NEXT[self.status]:
            raise LifecycleError(f"{self.request_id}: cannot go from {self.status} ({STATUS_ZH[self.status]}) "
                                 f"to {to} ({STATUS_ZH.get(to, '?')})")
        if to == "returned" and not note:
            raise LifecycleError(f"{self.request_id}: a return needs its reason (退回须说明理由)")
        self.status = to
        if to == "handled":
            self.handled_on = on
        self.events.append({"status": to, "on": on, "by": by, "note": note})

    def evaluate(self, rating: int) -> None:
        """The enterprise's rating (满意度评价 1-5), once the request is closed."""
        if self.status != "closed":
            raise LifecycleError(f"{self.request_id}: only a closed request (已办结) can be rated, it is {self.status}")
        if not isinstance(rating, int) or not 1 <= rating <= 5:
            raise LifecycleError(f"rating must be 1-5 (评价须为1-5分), got {rating!r}")
        self.rating = rating
        self.evaluation = "满意" if rating >= 4 else "基本满意" if rating == 3 else "不满意"

    @property
    def on_time(self) -> bool | None:
        """Handled within the deadline (按时办理); None while not handled."""
        return None if self.handled_on is None else self.handled_on <= self.deadline


def submit(catalog: ServiceCatalog, cal: WorkCalendar, *, request_id: str, uscc: str, service_id: str, form: dict,
           submitted_on: dt.date, proxy_official: str | None = None) -> EnterpriseRequest:
    """Validate the form (FormError with the Chinese labels) and dispatch to the service's unit:
    the deadline is the service's time limit in working days after submission."""
    svc = catalog.service(service_id)
    values = svc.validate(form)
    deadline = cal.workdays_after(submitted_on, svc.days)[1]
    r = EnterpriseRequest(request_id, uscc, svc, values, submitted_on, deadline, proxy_official)
    r.events.append({"status": "received", "on": submitted_on, "by": proxy_official or uscc,
                     "note": f"派发至 {svc.dept}，办理时限 {svc.days} 个工作日"})
    return r


# -- the fold of the recorded actions --------------------------------------------------------------------------------------
def apply_action(r: EnterpriseRequest, a: dict) -> dict:
    """Apply one action row (ACTION_SCHEMA's fields) to the request; append and return its event.
    Raises HandlingError(409) when the request's state does not allow it."""
    act, on = a["action"], a["on"]
    zh = ACTION_ZH.get(act, act)
    ev = {"action": act, "action_id": a["action_id"], "at": a["at"], "evaluation": a.get("evaluation")}
    if act in UNIT_ACTIONS:
        frm, to = UNIT_ACTIONS[act]
        if r.status != frm:
            raise HandlingError(409, f"{r.request_id} is {r.status} ({STATUS_ZH[r.status]}): {act} ({zh}) needs "
                                     f"{frm} ({STATUS_ZH[frm]})", f"当前状态不能{zh}")
        if act == "reply" and not (a.get("note") or "").strip():
            raise HandlingError(422, f"{r.request_id}: a reply needs the handling result", "办理答复须填写办理结果")
        r.move(to, on, a["actor"], a.get("note") or "")
        r.events[-1].update(ev)
        return r.events[-1]
    if act != "evaluate":
        raise HandlingError(422, f"unknown action {act!r}; one of accept, reply, close, evaluate", "未知操作")
    if r.status != "closed":
        raise HandlingError(409, f"{r.request_id} is {r.status} ({STATUS_ZH[r.status]}): only a closed request "
                                 "(已办结) can be evaluated", "办结后方可评价")
    if r.evaluation is not None:
        raise HandlingError(409, f"{r.request_id} was already evaluated {r.evaluation}", "已评价")
    if a.get("evaluation") not in EVALUATIONS:
        raise HandlingError(422, f"evaluation must be one of {', '.join(EVALUATIONS)}, got {a.get('evaluation')!r}",
                            "评价须为满意/基本满意/不满意")
    r.evaluation = a["evaluation"]
    if a["evaluation"] == "不满意" and r.reopened < MAX_REOPENS:
        r.reopened += 1
        # back to the unit, to be handled, closed and evaluated again; the first rating stays in the events
        r.status, r.handled_on, r.evaluation = "accepted", None, None
    ev = {"status": r.status, "on": on, "by": a["actor"], "note": a.get("note") or "", **ev}
    r.events.append(ev)
    return ev


def fold(reqs: list[EnterpriseRequest], actions: list[dict]) -> int:
    """Apply the actions (in the order recorded) to the requests they name; an action the state does not
    allow (recorded against a state another writer changed since) is skipped. Returns the number
    applied."""
    by_id = {r.request_id: r for r in reqs}
    done = {e.get("action_id") for r in reqs for e in r.events if e.get("action_id")}
    n = 0
    # seq: the order the actions of one request were recorded in (times can tie within a second)
    for a in sorted(actions, key=lambda a: (a["request_id"], a["seq"])):
        r = by_id.get(a["request_id"])
        if r is None or a["action_id"] in done:
            continue
        try:
            apply_action(r, a)
            n += 1
        except HandlingError:
            continue
    return n


def recorded_actions(lake: Lakehouse, as_of: dt.date | None = None, *, request_ids=None) -> list[dict]:
    """The recorded actions (an intake table: its latest version), up to as_of."""
    if not lake.exists(ACTIONS):
        return []
    where = {"request_id": sorted(request_ids)} if request_ids is not None else None
    if request_ids is not None and not request_ids:
        return []
    rows = lake.to_arrow(ACTIONS, where=where).to_pylist()
    return [r for r in rows if as_of is None or r["on"] <= as_of]



def _workday_add(cal: WorkCalendar, day: dt.date, n: int) -> dt.date:
    return day if n <= 0 else cal.workdays_after(day, n)[1]


def _fill(svc: Service, rng) -> dict:
    out = {}
    for f in svc.form:
        r = f.rules
        if f.type == "phone":
            out[f.id] = "13" + "".join(str(d) for d in rng.integers(0, 10, 9))
        elif f.type == "text":
            out[f.id] = (f"关于{svc.name}的诉求，请协助办理" if f.id == "description" else f"{f.label}{int(rng.integers(1, 99))}"
                         ) if "pattern" not in r else f"ZL{int(rng.integers(10**11, 10**12))}"
        elif f.type in ("int", "number"):
            out[f.id] = int(rng.integers(max(1, int(r.get("min", 1))), int(min(r.get("max", 1000), 1000)) + 1))
        elif f.type == "date":
            out[f.id] = "2027-06-30"
        else:
            out[f.id] = r["options"][int(rng.integers(0, len(r["options"])))]
    return out


def generate(catalog: ServiceCatalog, cal: WorkCalendar, enterprises: list[str], key: dict[str, dict],
             as_of: dt.date, seed: int = 28) -> tuple[list[EnterpriseRequest], int]:
    """Requests submitted in the WINDOW_DAYS before as_of and their progress up to as_of; the
    number of submissions refused for a bad form. Units handle most within the limit; a unit's
    speed and a service's difficulty vary, so some are late; late ones are rated lower."""
    rng = np.random.default_rng(seed)
    services = sorted(catalog.services.values(), key=lambda s: s.id)
    unit_speed = {d: float(rng.uniform(0.4, 1.1)) for d in sorted({s.dept for s in services})}
    out, refused = [], 0
    for uscc in enterprises:
        k = key.get(uscc)
        n = int(rng.poisson(KEY_REQUESTS_PER_ENTERPRISE if k else REQUESTS_PER_ENTERPRISE))
        for _ in range(n):
            svc = services[int(rng.integers(0, len(services)))]
            day = as_of - dt.timedelta(days=int(rng.integers(0, WINDOW_DAYS)))
            form = _fill(svc, rng)
            if rng.random() < BAD_FORM_SHARE:
                form.pop("contact_phone")
            proxy = k["specialist_id"] if k and rng.random() < PROXY_SHARE else None
            rid = f"QS{day:%Y%m%d}{zlib.crc32(f'{uscc}{svc.id}{len(out)}{refused}'.encode()):08X}"
            try:
                r = submit(catalog, cal, request_id=rid, uscc=uscc, service_id=svc.id, form=form, submitted_on=day,
                           proxy_official=proxy)
            except ValueError:
                refused += 1
                continue
            _progress(r, cal, rng, unit_speed[svc.dept], as_of)
            out.append(r)
    return out, refused


def _progress(r: EnterpriseRequest, cal: WorkCalendar, rng, speed: float, as_of: dt.date) -> None:
    accept = _workday_add(cal, r.submitted_on, int(rng.integers(0, 2)))
    if accept > as_of:
        return
    if rng.random() < 0.05:
        r.move("returned", accept, r.service.dept, "不属于本单位职责，请改派或补充材料")
        return
    r.move("accepted", accept, r.service.dept)
    took = max(1, int(round(r.service.days * speed * float(rng.lognormal(0, 0.35)))))
    handled = _workday_add(cal, accept, took)
    if handled > as_of:
        return
    r.move("handled", handled, r.service.dept, "已按规定办理并答复企业")
    closed = _workday_add(cal, handled, int(rng.integers(1, 4)))
    if closed > as_of:
        return
    r.move("closed", closed, r.uscc, "企业确认办结")
    late = not r.on_time
    r.evaluate(int(np.clip(rng.normal(3.0 if late else 4.5, 0.7), 1, 5).round()))


REQUESTS_SCHEMA = pa.schema([
    ("request_id", pa.string()), ("uscc", pa.string()), ("category_id", pa.string()), ("category", pa.string()),
    ("service_id", pa.string()), ("service", pa.string()), ("dept_code", pa.string()), ("days", pa.int64()),
    ("submitted_on", pa.date32()), ("deadline", pa.date32()), ("status", pa.string()), ("status_zh", pa.string()),
    ("handled_on", pa.date32()), ("on_time", pa.bool_()), ("overdue", pa.bool_()), ("rating", pa.int64()),
    ("proxy_official", pa.string()), ("form_json", pa.string()), ("as_of", pa.date32()),
    ("evaluation", pa.string()), ("reopened", pa.int64())])
# action / action_id / at / evaluation: the unit's and the enterprise's recorded actions
# (govlake.services.request_handling); the generated progress has no action id or time
EVENTS_SCHEMA = pa.schema([("request_id", pa.string()), ("seq", pa.int64()), ("status", pa.string()),
                           ("status_zh", pa.string()), ("on", pa.date32()), ("by", pa.string()), ("note", pa.string()),
                           ("action", pa.string()), ("action_id", pa.string()), ("at", pa.string()),
                           ("evaluation", pa.string())])
ACTION_OF_STATUS = {"received": "submit", "accepted": "accept", "handled": "reply", "closed": "close",
                    "returned": "return"}


def request_rows(reqs: list[EnterpriseRequest], as_of: dt.date) -> list[dict]:
    return [{"request_id": r.request_id, "uscc": r.uscc, "category_id": r.service.category_id,
             "category": r.service.category, "service_id": r.service.id, "service": r.service.name,
             "dept_code": r.service.dept, "days": r.service.days, "submitted_on": r.submitted_on,
             "deadline": r.deadline, "status": r.status, "status_zh": STATUS_ZH[r.status], "handled_on": r.handled_on,
             "on_time": r.on_time, "overdue": r.handled_on is None and r.status != "returned" and as_of > r.deadline,
             "rating": r.rating, "proxy_official": r.proxy_official,
             "form_json": json.dumps(r.form, ensure_ascii=False, sort_keys=True), "as_of": as_of,
             "evaluation": r.evaluation, "reopened": r.reopened} for r in reqs]


def sla(rows: list[dict], by: str) -> list[dict]:
    """On-time rate (按时办理率) per `by` (dept_code or category) over the handled requests, with
    the overdue open ones and the mean rating."""
    groups: dict[str, dict] = {}
    for r in rows:
        g = groups.setdefault(r[by], {by: r[by], "requests": 0, "handled": 0, "on_time": 0, "overdue_open": 0,
                                      "ratings": []})
        g["requests"] += 1
        if r["on_time"] is not None:
            g["handled"] += 1
            g["on_time"] += bool(r["on_time"])
        g["overdue_open"] += bool(r["overdue"])
        if r["rating"] is not None:
            g["ratings"].append(r["rating"])
    out = []
    for g in groups.values():
        ratings = g.pop("ratings")
        g["on_time_rate"] = round(g["on_time"] / g["handled"], 4) if g["handled"] else None
        g["mean_rating"] = round(sum(ratings) / len(ratings), 2) if ratings else None
        out.append(g)
    return sorted(out, key=lambda g: str(g[by]))


def _replace(lake: Lakehouse, table: str, data: pa.Table, as_of: dt.date, gate=None) -> dict:
    return replace_table(lake, table, data, f"services@{as_of.isoformat()}-{content_digest(data)}", gate=gate)


def request_of_submission(row: dict, catalog: ServiceCatalog, *, validate: bool = False) -> EnterpriseRequest:
    """A request submitted through the API or CLI (a row of govlake.services.request_intake's
    submissions), dispatched to its unit with the due date its ticket was given; it stays 已受理登记
    until a unit acts. validate: check the form again and keep its values (the daily step); else
    the form is left empty (the live view shows no form)."""
    svc = catalog.service(row["service_id"])
    form = svc.validate(json.loads(row["form_json"])) if validate else {}
    r = EnterpriseRequest(row["ticket_id"], row["uscc"], svc, form, row["submitted_on"], row["deadline"],
                          row["proxy_official"])
    r.events.append({"status": "received", "on": row["submitted_on"], "by": row["proxy_official"] or row["consumer_id"],
                     "note": f"派发至 {svc.dept}，办理时限 {svc.days} 个工作日", "action": "submit", "action_id": None,
                     "at": row["submitted_at"], "evaluation": None})
    return r


def from_submissions(catalog: ServiceCatalog, rows: list[dict]) -> list[EnterpriseRequest]:
    """The submitted requests, their forms validated, in the order they were submitted."""
    return [request_of_submission(row, catalog, validate=True)
            for row in sorted(rows, key=lambda r: (r["submitted_at"], r["ticket_id"]))]


def run_requests(lake: Lakehouse, as_of: dt.date, seed: int = 28, *, gate=None) -> dict:
    """The day's 挂点服务 and 诉求直达 tables from the released profile: officials, key
    enterprises, visits, requests (generated, and those submitted up to as_of) and their events;
    each gated (gate: govlake.services.table_gate; None in Spark-free tests of the computation)
    and counted back from the Delta log."""
    from govlake.services.request_intake import submitted

    s = lake.settings
    profile = ke.read_profile(lake, ke.PROFILE_COLUMNS).to_pylist()
    staff = ke.officials(s.catalog_dir)
    assigned = ke.assign(ke.select_key(profile), staff)
    visits = ke.visits(assigned, as_of, seed)
    catalog, cal = load_services(s.catalog_dir), load_work_calendar(s.catalog_dir)
    reqs, refused = generate(catalog, cal, sorted(r["uscc"] for r in profile), {a["uscc"]: a for a in assigned},
                             as_of, seed)
    real = from_submissions(catalog, submitted(lake, as_of))
    reqs += real
    # the units' and enterprises' actions recorded up to as_of, folded as the live view folds them
    actions = fold(reqs, recorded_actions(lake, as_of))
    rows = request_rows(reqs, as_of)
    events = [{"request_id": r.request_id, "seq": i, "status": e["status"], "status_zh": STATUS_ZH[e["status"]],
               "on": e["on"], "by": e["by"], "note": e["note"], "action": e.get("action") or ACTION_OF_STATUS[e["status"]],
               "action_id": e.get("action_id"), "at": e.get("at"), "evaluation": e.get("evaluation")}
              for r in reqs for i, e in enumerate(r.events)]
    # keyed on each table's rows: a re-run over the same profile commits nothing, a changed one does
    written = [_replace(lake, t, pa.Table.from_pylist(data, schema), as_of, gate) for t, data, schema in (
        (ke.OFFICIALS, staff, ke.OFFICIALS_SCHEMA), (ke.KEY, assigned, ke.KEY_SCHEMA), (ke.VISITS, visits, ke.VISITS_SCHEMA),
        (REQUESTS, rows, REQUESTS_SCHEMA), (EVENTS, events, EVENTS_SCHEMA))]
    return {"as_of": as_of.isoformat(), "enterprises": len(profile), "key_enterprises": len(assigned),
            "officials": len(staff), "visits": len(visits), "requests": len(rows), "submitted": len(real),
            "refused_bad_form": refused, "actions_applied": actions,
            "proxy_requests": sum(r["proxy_official"] is not None for r in rows), "tables": written,
            "sla_by_unit": sla(rows, "dept_code"), "sla_by_category": sla(rows, "category")}
