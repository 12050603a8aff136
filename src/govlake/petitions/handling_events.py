"""退单 and 快速裁决: a department returns a ticket it was sent, the ticket is re-dispatched without
it; the second return (two departments disputing it) goes to the district centre for 快速裁决,
whose decision is final. The final handling department feeds the next training's labels.

Kept as data, the append-only Delta table `ops.petition_dispatch_events`, one row per event
(退单 return, 重新分拨 redispatch, 提请快速裁决 arbitration_opened, 快速裁决 arbitration_decided),
written by delta-rs (no Spark: one small row per decision) and idempotent by event id: the id is
the Delta transaction id of its commit, so a retried request commits nothing. A ticket's state is
its dispatch (gold.petition_dispatch, the lead and assisting departments) followed by its events.
Rules (time limit, returns before arbitration, its working days, the arbiter) are in
catalog/dispatch.yaml `returns`; working days in catalog/work_calendar.yaml.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import pyarrow as pa

from govlake.lakehouse import Lakehouse
from govlake.settings import Settings

TABLE = "ops.petition_dispatch_events"
DISPATCH = "gold.petition_dispatch"
SOURCE = "bronze.petitions"
KINDS = {"return": "退单", "redispatch": "重新分拨", "arbitration_opened": "提请快速裁决",
         "arbitration_decided": "快速裁决"}
_ORDER = {k: i for i, k in enumerate(KINDS)}
_TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    pa.field("event_id", pa.string(), False, metadata={"comment": "事件编号"}),
    pa.field("ticket_id", pa.string(), False, metadata={"comment": "工单编号"}),
    pa.field("kind", pa.string(), False, metadata={"comment": "事件类型"}),
    pa.field("kind_label", pa.string(), False, metadata={"comment": "事件类型（中文）"}),
    pa.field("dept_code", pa.string(), True, metadata={"comment": "部门（退单部门 / 新主办 / 裁决承办部门）"}),
    pa.field("assist_dept_codes", pa.list_(pa.string()), True, metadata={"comment": "协办部门"}),
    pa.field("reason", pa.string(), True, metadata={"comment": "理由"}),
    pa.field("actor", pa.string(), False, metadata={"comment": "操作方"}),
    pa.field("deadline", pa.date32(), True, metadata={"comment": "裁决时限（工作日）"}),
    pa.field("event_time", _TS, False, metadata={"comment": "发生时间"}),
    pa.field("seq", pa.int32(), False, metadata={"comment": "工单内事件序号"}),
    pa.field("recorded_by", pa.string(), False, metadata={"comment": "登记人"}),
])


class HandlingError(ValueError):
    """A refused return or arbitration; `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ReturnRules:
    """catalog/dispatch.yaml `returns`."""

    return_hours: float = 24
    arbitration_after: int = 2
    arbitration_workdays: int = 2
    arbiter: str = "区民生诉求服务中心"
    arbiter_consumers: tuple[str, ...] = ("mysb_platform",)

    @classmethod
    def from_catalog(cls, catalog_dir) -> "ReturnRules":
        from govlake.petitions.blend_inputs import load_dispatch_config

        doc = load_dispatch_config(catalog_dir).returns or {}
        r = cls(float(doc.get("return_hours", 24)), int(doc.get("arbitration_after", 2)),
                int(doc.get("arbitration_workdays", 2)), str(doc.get("arbiter", cls.arbiter)),
                tuple(doc.get("arbiter_consumers") or cls.arbiter_consumers))
        if r.return_hours <= 0 or r.arbitration_after < 1 or r.arbitration_workdays < 1:
            raise ValueError(f"catalog/dispatch.yaml returns: limits must be positive, got {doc}")
        return r


@dataclass
class TicketState:
    """Where a ticket stands: its current lead and assisting departments, since when, its returns,
    and its arbitration."""

    ticket_id: str
    lead: str | None
    assisting: list[str]
    sent_at: dt.datetime | None
    returned_by: list[str] = field(default_factory=list)
    arbitration_deadline: dt.date | None = None
    decided: str | None = None           # the arbitration's department (final)
    events: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.decided:
            return "arbitrated"
        if self.arbitration_deadline:
            return "in_arbitration"
        return "returned_redispatched" if self.returned_by else "dispatched"

    def as_dict(self) -> dict:
        labels = {"dispatched": "已分拨", "returned_redispatched": "退单后重新分拨",
                  "in_arbitration": "快速裁决中", "arbitrated": "已裁决"}
        return {"ticket_id": self.ticket_id, "status": self.status, "status_label": labels[self.status],
                "lead_dept_code": self.lead, "assist_dept_codes": self.assisting,
                "sent_at": self.sent_at.isoformat() if self.sent_at else None, "returned_by": self.returned_by,
                "arbitration_deadline": self.arbitration_deadline.isoformat() if self.arbitration_deadline else None,
                "arbitrated_dept_code": self.decided,
                "events": [{k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in e.items()}
                           for e in self.events]}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


def event_id(ticket_id: str, kind: str, *parts) -> str:
    """Deterministic: the same decision recorded twice (a retry) has the same id."""
    h = hashlib.sha256("\x1f".join([ticket_id, kind, *map(str, parts)]).encode()).hexdigest()[:16]
    return f"PDE-{h}"


def events(lake: Lakehouse, ticket_id: str | None = None) -> list[dict]:
    """The events (of one ticket), oldest first."""
    if not lake.exists(TABLE):
        return []
    rows = lake.to_arrow(TABLE, where={"ticket_id": ticket_id} if ticket_id else None).to_pylist()
    # seq orders a ticket's events (a return and its consequence share their time)
    return sorted(rows, key=lambda r: (r["ticket_id"], r["seq"], _ORDER[r["kind"]]))


def append(lake: Lakehouse, rows: list[dict]) -> int:
    """Append the rows whose event id is new, one Delta commit each with the id as its transaction
    id (a retry commits nothing); the row count is reconciled with the log. -> rows committed."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    from govlake.lakehouse import storage

    path = lake.path(TABLE)
    done = 0
    for row in rows:
        exists = lake.exists(TABLE)
        if exists and storage.delta_table(path).transaction_version(row["event_id"]) is not None:
            continue
        before = lake.row_count(TABLE) if exists else 0
        path.parent.mkdir(parents=True, exist_ok=True)
        props = {k: v for k, v in lake.properties(TABLE).items() if k.startswith("delta.")}
        write_deltalake(storage.delta_uri(path), pa.Table.from_pylist([row], SCHEMA), mode="append",
                        storage_options=storage.delta_options(path),
                        configuration=None if exists else props,
                        commit_properties=CommitProperties(app_transactions=[Transaction(row["event_id"], 0)],
                                                           custom_metadata={"kind": row["kind"]}))
        if lake.row_count(TABLE) != before + 1:
            raise RuntimeError(f"{TABLE}: row count after appending {row['event_id']} is not {before + 1} (行数核对失败)")
        done += 1
    return done


def role_of(r: dict) -> str:
    """A dispatch row's role (主办 / 协办 / 备选); a row from before 主协办 has none: rank 1 leads."""
    return r.get("role") or ("lead" if r["rank"] == 1 else "candidate")


def latest_dispatch_rows(lake: Lakehouse, ticket_ids) -> dict[str, list[dict]]:
    """ticket_id -> its latest dispatch rows by rank (one scan for all the ids); a ticket never
    dispatched is absent."""
    ids = sorted(set(ticket_ids))
    if not ids or not lake.exists(DISPATCH):
        return {}
    by_ticket: dict[str, list[dict]] = {}
    for r in lake.to_arrow(DISPATCH, where={"ticket_id": ids}).to_pylist():
        by_ticket.setdefault(r["ticket_id"], []).append(r)
    out = {}
    for tid, rows in by_ticket.items():
        if "as_of" in rows[0]:  # a ticket dispatched again on a later date: its latest dispatch
            last = max(r["as_of"] for r in rows)
            rows = [r for r in rows if r["as_of"] == last]
        out[tid] = sorted(rows, key=lambda r: r["rank"])
    return out


def dispatch_rows(lake: Lakehouse, ticket_id: str) -> list[dict]:
    return latest_dispatch_rows(lake, [ticket_id]).get(ticket_id, [])


def state_from(ticket_id: str, rows: list[dict], ticket_events: list[dict]) -> TicketState:
    """The dispatch rows' lead and assisting departments, replayed through the ticket's events
    (oldest first). KeyError when there are no rows (the ticket was never dispatched)."""
    if not rows:
        raise KeyError(f"ticket {ticket_id} has no dispatch in {DISPATCH} (无分拨记录)")
    lead = next(r["dept_code"] for r in rows if role_of(r) == "lead")
    sent = rows[0].get("dispatched_at")
    if sent is None and rows[0].get("as_of"):
        sent = dt.datetime.combine(rows[0]["as_of"], dt.time())
    st = TicketState(ticket_id, lead, [r["dept_code"] for r in rows if role_of(r) == "assist"],
                     _utc(sent) if sent else None)
    for e in ticket_events:
        st.events.append(e)
        if e["kind"] == "return":
            st.returned_by.append(e["dept_code"])
        elif e["kind"] == "redispatch":
            st.lead, st.assisting, st.sent_at = e["dept_code"], list(e["assist_dept_codes"] or []), _utc(e["event_time"])
        elif e["kind"] == "arbitration_opened":
            st.arbitration_deadline = e["deadline"]
        elif e["kind"] == "arbitration_decided":
            st.decided, st.lead = e["dept_code"], e["dept_code"]
            st.assisting, st.sent_at = list(e["assist_dept_codes"] or []), _utc(e["event_time"])
    return st


def ticket_state(lake: Lakehouse, ticket_id: str) -> TicketState:
    """The dispatch's lead and assisting departments, replayed through the ticket's events.
    KeyError when the ticket was never dispatched."""
    rows = dispatch_rows(lake, ticket_id)
    return state_from(ticket_id, rows, events(lake, ticket_id) if rows else [])


def ticket_texts(lake: Lakehouse, ticket_ids) -> dict[str, tuple[str, str | None]]:
    """ticket_id -> (title。content, address_text) of its last bronze row, one scan for all the
    ids; HandlingError (404) names the first id (sorted) not in bronze."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return {}
    out = {}
    for r in lake.to_arrow(SOURCE, columns=["ticket_id", "title", "content", "address_text"],
                           where={"ticket_id": ids}).to_pylist():
        out[r["ticket_id"]] = ("。".join(x for x in (r.get("title"), r.get("content")) if x), r.get("address_text"))
    missing = [t for t in ids if t not in out]
    if missing:
        raise HandlingError(f"ticket {missing[0]} not found in {SOURCE} (工单不存在)", 404)
    return out


def redispatch(settings: Settings, lake: Lakehouse, ticket_id: str, exclude: list[str]):
    """The ticket's departments again, without `exclude`, by the online model and catalog blend
    (the function POST /petitions/dispatch uses). -> recommendations with roles."""
    from govlake.petitions.blend_inputs import blend_inputs, load_dispatch_config
    from govlake.petitions.scoring import default_model_dir, get_model, score_texts

    text, address = ticket_texts(lake, [ticket_id])[ticket_id]
    try:
        model = get_model(default_model_dir(settings))
    except FileNotFoundError as e:
        raise HandlingError(f"no dispatch model trained yet (分拨模型尚未训练): {e}", 503) from None
    cfg = load_dispatch_config(settings.catalog_dir)
    return score_texts(model, [text], addresses=[address], k=cfg.k,
                       signals=blend_inputs(settings.catalog_dir, model), exclude=exclude)[0]


def _known_dept(settings: Settings, code: str) -> None:
    from govlake.catalog import load_departments

    if code not in {d.code for d in load_departments(settings.catalog_dir)}:
        raise HandlingError(f"unknown department {code!r} in catalog/departments.yaml (部门不存在)", 422)


def return_ticket(settings: Settings, ticket_id: str, dept: str, reason: str, *, by: str,
                  at: dt.datetime | None = None) -> TicketState:
    """退单: `dept`, which the ticket was sent to (lead or assisting), hands it back with a reason,
    within `return_hours` of being sent. The ticket is re-dispatched without every department that
    returned it, or, at the `arbitration_after`-th return, goes to 快速裁决 with a deadline in
    working days. -> the ticket's state after it."""
    from govlake.catalog.work_calendar import load_work_calendar

    lake = Lakehouse(None, settings)
    rules = ReturnRules.from_catalog(settings.catalog_dir)
    reason = (reason or "").strip()
    if not reason:
        raise HandlingError("a return needs a reason (退单须说明理由)", 422)
    try:
        st = ticket_state(lake, ticket_id)
    except KeyError as e:
        raise HandlingError(str(e.args[0]), 404) from None
    if st.decided:
        raise HandlingError(f"ticket {ticket_id} was decided by 快速裁决 ({st.decided}); the decision is final "
                            f"(裁决为最终决定，不可退单)")
    if st.arbitration_deadline:
        raise HandlingError(f"ticket {ticket_id} awaits 快速裁决 by {rules.arbiter} until "
                            f"{st.arbitration_deadline} (已提请快速裁决)")
    if dept not in [st.lead, *st.assisting]:
        raise HandlingError(f"ticket {ticket_id} is not assigned to {dept} (lead {st.lead}, assisting "
                            f"{st.assisting or '-'}) (非本部门工单，不可退单)", 403)
    t = _utc(at) if at else _now()
    if st.sent_at is not None and t - st.sent_at > dt.timedelta(hours=rules.return_hours):
        raise HandlingError(f"the return window of {rules.return_hours:g} hours after dispatch "
                            f"({st.sent_at.isoformat()}) has passed (已超过退单时限)")
    n = len(st.returned_by) + 1
    seq = len(st.events)
    base = {"ticket_id": ticket_id, "assist_dept_codes": None, "deadline": None, "recorded_by": by, "seq": seq + 1}
    rows = [{**base, "seq": seq, "event_id": event_id(ticket_id, "return", dept, n), "kind": "return",
             "kind_label": KINDS["return"], "dept_code": dept, "reason": reason, "actor": dept, "event_time": t}]
    if n >= rules.arbitration_after:
        _, deadline = load_work_calendar(settings.catalog_dir).workdays_after(t.date(), rules.arbitration_workdays)
        rows.append({**base, "event_id": event_id(ticket_id, "arbitration_opened", n), "kind": "arbitration_opened",
                     "kind_label": KINDS["arbitration_opened"], "dept_code": None, "actor": rules.arbiter,
                     "reason": f"{n} 次退单（{', '.join(st.returned_by + [dept])}），提请{rules.arbiter}快速裁决",
                     "deadline": deadline, "event_time": t})
    else:
        recs = redispatch(settings, lake, ticket_id, st.returned_by + [dept])
        lead = recs[0]
        rows.append({**base, "event_id": event_id(ticket_id, "redispatch", n), "kind": "redispatch",
                     "kind_label": KINDS["redispatch"], "dept_code": lead.dept_code,
                     "assist_dept_codes": [r.dept_code for r in recs if r.role == "assist"],
                     "reason": f"{dept} 退单后重新分拨：{lead.reason}", "actor": "智能分拨", "event_time": t})
    append(lake, rows)
    return ticket_state(lake, ticket_id)


def arbitrate(settings: Settings, ticket_id: str, dept: str, *, by: str, reason: str = "",
              assisting: list[str] | None = None, recorded_by: str | None = None,
              at: dt.datetime | None = None) -> TicketState:
    """快速裁决: the district centre decides which department handles the ticket (final; later
    returns are refused). Only a ticket in arbitration can be decided, once."""
    lake = Lakehouse(None, settings)
    for code in [dept, *(assisting or [])]:
        _known_dept(settings, code)
    try:
        st = ticket_state(lake, ticket_id)
    except KeyError as e:
        raise HandlingError(str(e.args[0]), 404) from None
    if st.decided:
        if st.decided == dept:
            return st  # the same decision again (a retry)
        raise HandlingError(f"ticket {ticket_id} was already decided for {st.decided}; the decision is final "
                            f"(已裁决，裁决为最终决定)")
    if not st.arbitration_deadline:
        raise HandlingError(f"ticket {ticket_id} is not in 快速裁决 (returned {len(st.returned_by)} times) "
                            f"(未提请快速裁决)")
    t = _utc(at) if at else _now()
    append(lake, [{"event_id": event_id(ticket_id, "arbitration_decided"), "ticket_id": ticket_id,
                   "kind": "arbitration_decided", "kind_label": KINDS["arbitration_decided"], "dept_code": dept,
                   "assist_dept_codes": [c for c in (assisting or []) if c != dept], "reason": reason.strip() or None,
                   "actor": by, "deadline": st.arbitration_deadline, "event_time": t, "seq": len(st.events),
                   "recorded_by": recorded_by or by}])
    return ticket_state(lake, ticket_id)


def final_departments(lake: Lakehouse) -> pa.Table:
    """Per ticket with events: ticket_id, final_dept_code (the arbitration's department, else the
    lead of its latest re-dispatch) and returned_by (the departments that returned it). The
    training-data builder (job.train_before) takes final_dept_code as the label where the ticket
    was arbitrated, or where the department on the ticket returned it."""
    state: dict[str, dict] = {}
    for e in events(lake):
        s = state.setdefault(e["ticket_id"], {"ticket_id": e["ticket_id"], "final_dept_code": None,
                                              "arbitrated": False, "returned_by": []})
        if e["kind"] == "return":
            s["returned_by"].append(e["dept_code"])
        elif e["kind"] == "redispatch" and not s["arbitrated"]:
            s["final_dept_code"] = e["dept_code"]
        elif e["kind"] == "arbitration_decided":
            s["final_dept_code"], s["arbitrated"] = e["dept_code"], True
    return pa.Table.from_pylist(list(state.values()), pa.schema([
        ("ticket_id", pa.string()), ("final_dept_code", pa.string()), ("arbitrated", pa.bool_()),
        ("returned_by", pa.list_(pa.string()))]))
